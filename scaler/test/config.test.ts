import { ConfigError } from '../../shared/errors';
import { loadScalerConfig, parseCapacityProviderStrategy } from '../src/config';
import { scalerEnv } from './factories';

describe('loadScalerConfig', () => {
  it('applies the documented defaults and freezes the result', () => {
    const config = loadScalerConfig(scalerEnv());
    expect(config).toEqual({
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
      bootstrapImage: 'public.ecr.aws/docker/library/node:22-slim',
      crashLoop: { tasks: 3, minRunSeconds: 180, backoffBaseSeconds: 240, backoffMaxSeconds: 1200 },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.subnets)).toBe(true);
  });

  it('reads every variable', () => {
    const config = loadScalerConfig(scalerEnv({
      SUBNETS: ' subnet-x , subnet-y ', SECURITY_GROUPS: 'sg-1,sg-2', CAPACITY_PROVIDER_STRATEGY: 'FARGATE:1:2,FARGATE_SPOT:3',
      SPOT_FALLBACK: 'false', MAX_TASKS: '50', MESSAGES_PER_TASK: '100', SCALER_ENABLED: '0', DRY_RUN: 'TRUE',
      STARTED_BY: 'nightly-batch', METRICS_NAMESPACE: 'Batch', CONTAINER_NAME: 'app', LOG_LEVEL: 'debug',
      IMAGE_PARAMETER: '/blue/worker-image', BOOTSTRAP_IMAGE: 'public.ecr.aws/docker/library/busybox:1', CRASH_LOOP_TASKS: '0',
      CRASH_LOOP_MIN_RUN_SECONDS: '300', BACKOFF_BASE_SECONDS: '120', BACKOFF_MAX_SECONDS: '600',
    }));
    expect(config).toMatchObject({
      subnets: ['subnet-x', 'subnet-y'], securityGroups: ['sg-1', 'sg-2'],
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1, base: 2 }, { capacityProvider: 'FARGATE_SPOT', weight: 3 }],
      spotFallback: false, maxTasks: 50, messagesPerTask: 100, enabled: false, dryRun: true, startedBy: 'nightly-batch',
      metricsNamespace: 'Batch', containerName: 'app', logLevel: 'DEBUG',
      imageParameter: '/blue/worker-image', bootstrapImage: 'public.ecr.aws/docker/library/busybox:1',
      crashLoop: { tasks: 0, minRunSeconds: 300, backoffBaseSeconds: 120, backoffMaxSeconds: 600 },
    });
  });

  it.each([
    ['QUEUE_URL', { QUEUE_URL: undefined }, /QUEUE_URL is required/],
    ['CLUSTER', { CLUSTER: '' }, /CLUSTER is required/],
    ['TASK_FAMILY', { TASK_FAMILY: undefined }, /TASK_FAMILY is required/],
    ['TASK_FAMILY with a revision', { TASK_FAMILY: 'image-worker:7' }, /TASK_FAMILY .*without ":revision"/],
    ['SUBNETS', { SUBNETS: ' , ' }, /SUBNETS is required \(comma-separated/],
    ['SECURITY_GROUPS', { SECURITY_GROUPS: undefined }, /SECURITY_GROUPS is required/],
    ['MAX_TASKS', { MAX_TASKS: '0' }, /MAX_TASKS must be an integer >= 1, got "0"/],
    ['MESSAGES_PER_TASK', { MESSAGES_PER_TASK: '2.5' }, /MESSAGES_PER_TASK must be an integer/],
    ['SCALER_ENABLED', { SCALER_ENABLED: 'yes' }, /SCALER_ENABLED must be true or false, got "yes"/],
    ['SPOT_FALLBACK', { SPOT_FALLBACK: 'maybe' }, /SPOT_FALLBACK must be true or false/],
    ['STARTED_BY', { STARTED_BY: 'x'.repeat(37) }, /STARTED_BY must be 1-36/],
    ['LOG_LEVEL', { LOG_LEVEL: 'TRACE' }, /LOG_LEVEL must be one of/],
    ['CAPACITY_PROVIDER_STRATEGY', { CAPACITY_PROVIDER_STRATEGY: 'FARGATE_SPOT=4' }, /CAPACITY_PROVIDER_STRATEGY entry "FARGATE_SPOT=4" is invalid/],
    ['CRASH_LOOP_TASKS', { CRASH_LOOP_TASKS: '-1' }, /CRASH_LOOP_TASKS must be an integer >= 0, got "-1"/],
    ['CRASH_LOOP_MIN_RUN_SECONDS', { CRASH_LOOP_MIN_RUN_SECONDS: '0' }, /CRASH_LOOP_MIN_RUN_SECONDS must be an integer >= 1/],
    ['BACKOFF_MAX_SECONDS below the base', { BACKOFF_BASE_SECONDS: '600', BACKOFF_MAX_SECONDS: '300' }, /BACKOFF_MAX_SECONDS \(300\) must be at least BACKOFF_BASE_SECONDS \(600\)/],
    ['BACKOFF_MAX_SECONDS over 25 minutes', { BACKOFF_MAX_SECONDS: '1800' }, /BACKOFF_MAX_SECONDS must be at most 1500, got 1800: the guard sees an hour/],
  ])('names %s and its expected form', (_name, overrides, message) => {
    expect(() => loadScalerConfig(scalerEnv(overrides))).toThrow(ConfigError);
    expect(() => loadScalerConfig(scalerEnv(overrides))).toThrow(message);
  });

  it('lets a dry run go without subnets and security groups', () => {
    const config = loadScalerConfig(scalerEnv({ SUBNETS: undefined, SECURITY_GROUPS: undefined, DRY_RUN: 'true' }));
    expect(config.subnets).toEqual([]);
    expect(config.dryRun).toBe(true);
  });
});

describe('parseCapacityProviderStrategy', () => {
  it('defaults to FARGATE_SPOT weighted 4 over FARGATE 1', () => {
    expect(parseCapacityProviderStrategy(undefined)).toEqual([
      { capacityProvider: 'FARGATE_SPOT', weight: 4 }, { capacityProvider: 'FARGATE', weight: 1 },
    ]);
  });

  it.each([
    ['two bases', 'FARGATE_SPOT:4:1,FARGATE:1:1', /base to one provider only/],
    ['a duplicate provider', 'FARGATE:1,FARGATE:2', /names a provider twice/],
    ['only zero weights', 'FARGATE_SPOT:0,FARGATE:0', /weight above 0/],
    ['a weight over 1000', 'FARGATE:1001', /must be 0-1000/],
    ['an empty entry', 'FARGATE:1,', /entry "" is invalid/],
  ])('rejects %s', (_case, value, message) => {
    expect(() => parseCapacityProviderStrategy(value)).toThrow(message);
  });
});
