import type { QueueDepth, QueueDepthReader } from '../../app/src/ports/queue';
import type { ScalerConfig } from '../src/config';
import type { ScalingInput } from '../src/policy';
import type { LaunchReport, TaskLauncher } from '../src/ports/task-launcher';

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
  constructor(public running = 0, private capacity = Number.POSITIVE_INFINITY) {}

  async countRunning(): Promise<number> {
    return this.running;
  }

  async launch(count: number): Promise<LaunchReport> {
    this.launchCalls.push(count);
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
