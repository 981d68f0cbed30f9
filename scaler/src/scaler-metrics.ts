import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';

export interface ScalerSample {
  readonly visible: number;
  readonly inFlight: number;
  /** Running or pending before this run's launches. */
  readonly running: number;
  readonly launched: number;
  readonly failures: number;
  /** Launches held because the task definition still runs the bootstrap image. */
  readonly waitingForImage: boolean;
  /** Launches held or cut to a probe because recent tasks failed at start: what the crash-loop alarm watches. */
  readonly crashLoopBackoff: boolean;
  /** Consecutive start failures the crash-loop guard saw (0 when it was not consulted). */
  readonly startFailures: number;
}

export interface ScalerMetricsSink {
  publish(sample: ScalerSample): void;
}

/**
 * Visible messages per task that will be working on them after this run (at least one, so an idle fleet with a
 * backlog shows the whole backlog): the number a target-tracking alarm or a dashboard would watch.
 */
export function backlogPerTask(sample: ScalerSample): number {
  return sample.visible / Math.max(1, sample.running + sample.launched);
}

/** CloudWatch Embedded Metric Format on stdout: one log line per run, no PutMetricData call or permission needed. */
export function createEmfScalerMetrics(metrics: Metrics): ScalerMetricsSink {
  return {
    publish(sample) {
      metrics.addMetric('QueueVisible', MetricUnit.Count, sample.visible);
      metrics.addMetric('QueueInFlight', MetricUnit.Count, sample.inFlight);
      metrics.addMetric('RunningTasks', MetricUnit.Count, sample.running);
      metrics.addMetric('BacklogPerTask', MetricUnit.Count, backlogPerTask(sample));
      metrics.addMetric('TasksLaunched', MetricUnit.Count, sample.launched);
      metrics.addMetric('LaunchFailures', MetricUnit.Count, sample.failures);
      metrics.addMetric('WaitingForImage', MetricUnit.Count, sample.waitingForImage ? 1 : 0);
      metrics.addMetric('CrashLoopBackoff', MetricUnit.Count, sample.crashLoopBackoff ? 1 : 0);
      metrics.addMetric('StartFailures', MetricUnit.Count, sample.startFailures);
      metrics.publishStoredMetrics();
    },
  };
}
