import type { QueueDepth, QueueDepthReader } from '../../shared/ports/queue';
import type { Task } from '@aws-sdk/client-ecs';
import type { ScalerConfig } from '../src/config';
import { DEFAULT_CRASH_LOOP } from '../src/crash-loop';
import type { ScalingInput } from '../src/policy';
import type { TaskHistory, TaskRecord } from '../src/ports/task-history';
import type { LaunchOptions, LaunchReport, TaskLauncher } from '../src/ports/task-launcher';

export function scalingInput(overrides: Partial<ScalingInput> = {}): ScalingInput {
  return { visible: 0, inFlight: 0, delayed: 0, running: 0, maxTasks: 10, messagesPerTask: 10, enabled: true, ...overrides };
}

/** The environment a deployed scaler Lambda gets; override or delete entries per test. */
export function scalerEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs',
    CLUSTER: 'workers',
    TASK_FAMILY: 'image-worker',
    SUBNETS: 'subnet-a,subnet-b,subnet-c',
    SECURITY_GROUPS: 'sg-worker',
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export function scalerConfig(overrides: Partial<ScalerConfig> = {}): ScalerConfig {
  return {
    queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs',
    cluster: 'workers',
    taskFamily: 'image-worker',
    subnets: ['subnet-a', 'subnet-b', 'subnet-c'],
    securityGroups: ['sg-worker'],
    capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 4 }, { capacityProvider: 'FARGATE', weight: 1 }],
    spotFallback: true,
    maxTasks: 10,
    messagesPerTask: 10,
    enabled: true,
    dryRun: false,
    startedBy: 's3-queue-scaler',
    metricsNamespace: 'S3QueueScaler',
    containerName: 'worker',
    logLevel: 'INFO',
    imageParameter: undefined,
    bootstrapImage: BOOTSTRAP_IMAGE,
    crashLoop: DEFAULT_CRASH_LOOP,
    ...overrides,
  };
}

export function fixedDepthReader(depth: Partial<QueueDepth>): QueueDepthReader & { calls: number } {
  const reader = {
    calls: 0,
    async depth(): Promise<QueueDepth> {
      reader.calls++;
      return { visible: 0, inFlight: 0, delayed: 0, ...depth };
    },
  };
  return reader;
}

/** A launcher that starts everything it is asked to (or fewer, when `capacity` runs out) and remembers the calls. */
export class FakeLauncher implements TaskLauncher {
  readonly launchCalls: number[] = [];
  readonly launchOptions: LaunchOptions[] = [];
  /** Called as a launch begins, e.g. to see what had been logged by then. */
  onLaunch: () => void = () => undefined;
  constructor(public running = 0, private capacity = Number.POSITIVE_INFINITY) {}

  async countRunning(): Promise<number> {
    return this.running;
  }

  async launch(count: number, options: LaunchOptions = {}): Promise<LaunchReport> {
    this.onLaunch();
    this.launchCalls.push(count);
    this.launchOptions.push(options);
    const launched = Math.min(count, this.capacity);
    this.capacity -= launched;
    this.running += launched;
    return {
      launched,
      failures: Array.from({ length: count - launched }, () => ({ reason: 'capacity-unavailable' })),
    };
  }
}

/** A RunTask response starting `count` tasks on one capacity provider, plus the given failures. */
export function runTaskOutput(count: number, capacityProviderName = 'FARGATE_SPOT', failures: { reason: string; arn?: string }[] = []) {
  return {
    tasks: Array.from({ length: count }, (_, i) => ({
      taskArn: `arn:aws:ecs:eu-west-1:123456789012:task/workers/${capacityProviderName}-${i}-${Math.random().toString(36).slice(2, 8)}`,
      capacityProviderName,
    })),
    failures,
  };
}

export const SPOT_CAPACITY_FAILURE = {
  reason: 'Capacity is unavailable at this time. Please try again later or in a different availability zone',
};

/** An error as the SDK throws it for an unmodelled service error: ECS has no ThrottlingException class. */
export function awsServiceError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode } });
}

export const BOOTSTRAP_IMAGE = 'public.ecr.aws/docker/library/node:22-slim';
export const WORKER_IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/image-worker:3f9c2ab';
/** A fixed "now" for the crash-loop tests: 2025-06-02T12:00:00Z. */
export const NOW = Date.UTC(2025, 5, 2, 12, 0, 0);
export const seconds = (n: number): number => n * 1000;

/** A task as the guard sees it; times in seconds before NOW. */
export function taskRecord(overrides: Partial<TaskRecord> & { ageSeconds?: number; ranSeconds?: number } = {}): TaskRecord {
  const { ageSeconds = 300, ranSeconds = 5, ...rest } = overrides;
  const createdAt = NOW - seconds(ageSeconds);
  const startedAt = createdAt + seconds(40);
  return {
    arn: `arn:aws:ecs:eu-west-1:123456789012:task/workers/${Math.random().toString(16).slice(2, 14)}`,
    status: 'stopped', createdAt, startedAt, stoppedAt: startedAt + seconds(ranSeconds),
    stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited', exitCode: 1, image: WORKER_IMAGE,
    ...rest,
  };
}

export function fixedHistory(tasks: readonly TaskRecord[]): TaskHistory & { calls: number } {
  const history = { calls: 0, async recentTasks() { history.calls++; return tasks; } };
  return history;
}

const TASK_ARN = 'arn:aws:ecs:eu-west-1:123456789012:task/workers/';

/**
 * A DescribeTasks task as the SDK hands it over (timestamps already Dates), for a worker that exited with `exitCode`
 * `ranSeconds` after it started; the defaults are a task that crashed five seconds in.
 */
export function describedTask(overrides: { id?: string; createdAt?: Date; ranSeconds?: number; exitCode?: number; image?: string } & Partial<Task> = {}): Task {
  const { id = '0f1e2d3c4b5a69788796a5b4c3d2e1f0', createdAt = new Date(NOW - seconds(300)), ranSeconds = 5, exitCode = 1, image = WORKER_IMAGE, ...rest } = overrides;
  const at = (offsetSeconds: number) => new Date(createdAt.getTime() + seconds(offsetSeconds));
  return {
    taskArn: TASK_ARN + id,
    clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/workers',
    taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/image-worker:7',
    group: 'family:image-worker',
    startedBy: 's3-queue-scaler',
    launchType: 'FARGATE',
    capacityProviderName: 'FARGATE_SPOT',
    platformVersion: '1.4.0',
    cpu: '2048',
    memory: '4096',
    lastStatus: 'STOPPED',
    desiredStatus: 'STOPPED',
    createdAt,
    pullStartedAt: at(20),
    pullStoppedAt: at(38),
    startedAt: at(40),
    stoppingAt: at(40 + ranSeconds),
    executionStoppedAt: at(40 + ranSeconds),
    stoppedAt: at(40 + ranSeconds + 12),
    stopCode: 'EssentialContainerExited',
    stoppedReason: 'Essential container in task exited',
    containers: [{
      containerArn: 'arn:aws:ecs:eu-west-1:123456789012:container/workers/' + id + '/6b1d1c52-0c1a-4a7e-9d55-2f3c0a1b2c3d',
      taskArn: TASK_ARN + id,
      name: 'worker',
      image,
      imageDigest: 'sha256:5b0b2f8e3c4d1a9f7e6d5c4b3a291807f6e5d4c3b2a19080706050403020100f',
      lastStatus: 'STOPPED',
      exitCode,
      networkInterfaces: [{ attachmentId: 'a1b2c3d4-0000-1111-2222-333344445555', privateIpv4Address: '10.40.17.23' }],
      healthStatus: 'UNKNOWN',
      cpu: '0',
    }],
    ...rest,
  };
}

/** A task ECS could not start: the image could not be pulled, so it has no startedAt and no exit code. */
export function failedToStartTask(id: string, createdAt: Date): Task {
  const reason = 'CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref ' +
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com/image-worker:3f9c2ab: not found';
  const task = describedTask({ id, createdAt });
  return {
    ...task,
    startedAt: undefined,
    stoppingAt: new Date(createdAt.getTime() + seconds(30)),
    executionStoppedAt: undefined,
    stoppedAt: new Date(createdAt.getTime() + seconds(42)),
    stopCode: 'TaskFailedToStart',
    stoppedReason: reason,
    containers: [{ ...task.containers![0]!, exitCode: undefined, reason }],
  };
}
