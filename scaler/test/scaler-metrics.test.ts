import { Metrics } from '@aws-lambda-powertools/metrics';
import { backlogPerTask, createEmfScalerMetrics } from '../src/scaler-metrics';

describe('createEmfScalerMetrics', () => {
  it('publishes one EMF document with every scaler metric', () => {
    const metrics = new Metrics({ namespace: 'S3QueueScaler', serviceName: 's3-queue-scaler' });
    const published: ReturnType<Metrics['serializeMetrics']>[] = [];
    jest.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => {
      published.push(metrics.serializeMetrics());
      return metrics;
    });

    createEmfScalerMetrics(metrics).publish({
      visible: 90, inFlight: 12, running: 2, launched: 4, failures: 1, waitingForImage: false, crashLoopBackoff: true, startFailures: 7,
    });

    expect(published).toHaveLength(1);
    const [document] = published;
    expect(document?._aws.CloudWatchMetrics[0]?.Namespace).toBe('S3QueueScaler');
    expect(document).toMatchObject({
      QueueVisible: 90, QueueInFlight: 12, RunningTasks: 2, BacklogPerTask: 15, TasksLaunched: 4, LaunchFailures: 1,
      WaitingForImage: 0, CrashLoopBackoff: 1, StartFailures: 7,
    });
  });
});

describe('backlogPerTask', () => {
  it('divides the visible backlog by the tasks that will be working on it, at least one', () => {
    const quiet = { inFlight: 0, failures: 0, waitingForImage: false, crashLoopBackoff: false, startFailures: 0 };
    expect(backlogPerTask({ ...quiet, visible: 50, running: 0, launched: 0 })).toBe(50);
    expect(backlogPerTask({ ...quiet, visible: 50, running: 3, launched: 2 })).toBe(10);
  });
});
