import { DescribeTasksCommand, ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { EcsTaskHistory, toTaskRecord } from '../src/ecs-task-history';
import { NOW, WORKER_IMAGE, describedTask, failedToStartTask, scalerConfig, seconds } from './factories';

const ecsMock = mockClient(ECSClient);
const history = () => new EcsTaskHistory(new ECSClient({ region: 'eu-west-1' }), scalerConfig());
const arn = (id: string) => `arn:aws:ecs:eu-west-1:123456789012:task/workers/${id}`;

beforeEach(() => ecsMock.reset());

describe('EcsTaskHistory.recentTasks', () => {
  it('lists one page of stopped and one of running tasks of the family and describes each page in one call', async () => {
    const crashed = describedTask({ id: 'c1' });
    const running = describedTask({
      id: 'r1', lastStatus: 'RUNNING', desiredStatus: 'RUNNING', stoppingAt: undefined, executionStoppedAt: undefined, stoppedAt: undefined,
      stopCode: undefined, stoppedReason: undefined,
    });
    ecsMock.on(ListTasksCommand, { desiredStatus: 'STOPPED' }).resolves({ taskArns: [arn('c1')] });
    ecsMock.on(ListTasksCommand, { desiredStatus: 'RUNNING' }).resolves({ taskArns: [arn('r1')] });
    ecsMock.on(DescribeTasksCommand, { tasks: [arn('c1')] }).resolves({ tasks: [crashed], failures: [] });
    ecsMock.on(DescribeTasksCommand, { tasks: [arn('r1')] }).resolves({ tasks: [{ ...running, containers: [{ ...running.containers![0]!, lastStatus: 'RUNNING', exitCode: undefined }] }], failures: [] });

    const tasks = await history().recentTasks();

    expect(tasks.map((task) => [task.arn, task.status])).toEqual([[arn('c1'), 'stopped'], [arn('r1'), 'running']]);
    for (const desiredStatus of ['STOPPED', 'RUNNING'] as const) {
      expect(ecsMock).toHaveReceivedCommandWith(ListTasksCommand, { cluster: 'workers', family: 'image-worker', desiredStatus, maxResults: 100 });
    }
    expect(ecsMock).toHaveReceivedCommandWith(DescribeTasksCommand, { cluster: 'workers', tasks: [arn('c1')] });
    expect(ecsMock).toHaveReceivedCommandTimes(DescribeTasksCommand, 2);
  });

  it('makes no DescribeTasks call for an empty list', async () => {
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [] });
    expect(await history().recentTasks()).toEqual([]);
    expect(ecsMock).not.toHaveReceivedCommand(DescribeTasksCommand);
  });
});

describe('toTaskRecord', () => {
  it('reads the times, the stop code and the worker container of a crashed task', () => {
    const createdAt = new Date(NOW - seconds(300));
    expect(toTaskRecord(describedTask({ id: 'c1', createdAt, exitCode: 2 }), 'worker')).toEqual({
      arn: arn('c1'), status: 'stopped', createdAt: createdAt.getTime(), startedAt: createdAt.getTime() + seconds(40),
      stoppedAt: createdAt.getTime() + seconds(57), stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited',
      exitCode: 2, image: WORKER_IMAGE,
    });
  });

  it('keeps a task that never started without a start or an exit code, with its pull error', () => {
    const record = toTaskRecord(failedToStartTask('p1', new Date(NOW - seconds(200))), 'worker');
    expect(record).toMatchObject({ stopCode: 'TaskFailedToStart', containerReason: expect.stringMatching(/^CannotPullContainerError: /) });
    expect(record).not.toHaveProperty('startedAt');
    expect(record).not.toHaveProperty('exitCode');
  });

  it('finds the worker container by name among sidecars, and falls back to the first', () => {
    const task = describedTask({ id: 's1' });
    const sidecar = { ...task.containers![0]!, name: 'log-router', exitCode: 0, image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:stable' };
    expect(toTaskRecord({ ...task, containers: [sidecar, task.containers![0]!] }, 'worker')).toMatchObject({ exitCode: 1, image: WORKER_IMAGE });
    expect(toTaskRecord(task, 'app')).toMatchObject({ exitCode: 1 });
  });
});
