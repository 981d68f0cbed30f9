import { ConfigError } from '../../shared/errors';
import type { LogLevel } from '../../shared/log/logger';
import { DEFAULT_CRASH_LOOP, MAX_BACKOFF_SECONDS, type CrashLoopSettings } from './crash-loop';

/** The scaler's configuration, shared by the Lambda and `npm run scale`: read once from the environment, frozen. */
export interface CapacityProviderStrategyItem {
  readonly capacityProvider: string;
  readonly weight: number;
  readonly base?: number;
}

export interface ScalerConfig {
  /** QUEUE_URL: the SQS queue whose depth drives scaling. */
  readonly queueUrl: string;
  /** CLUSTER: ECS cluster name or ARN. */
  readonly cluster: string;
  /** TASK_FAMILY: launched without a revision, so the newest registered revision runs. */
  readonly taskFamily: string;
  /** SUBNETS: comma list of private subnets, at least one unless DRY_RUN. */
  readonly subnets: readonly string[];
  /** SECURITY_GROUPS: comma list, at least one unless DRY_RUN (never fall back to the VPC's default group). */
  readonly securityGroups: readonly string[];
  /** CAPACITY_PROVIDER_STRATEGY: `FARGATE_SPOT:4,FARGATE:1` (default); `NAME:weight:base`, at most one base. */
  readonly capacityProviderStrategy: readonly CapacityProviderStrategyItem[];
  /** SPOT_FALLBACK (default true): relaunch on FARGATE the tasks Spot had no capacity for. */
  readonly spotFallback: boolean;
  /** MAX_TASKS (default 10). */
  readonly maxTasks: number;
  /** MESSAGES_PER_TASK (default 10). */
  readonly messagesPerTask: number;
  /** SCALER_ENABLED (default true). */
  readonly enabled: boolean;
  /** DRY_RUN (default false): decide and log, launch nothing. */
  readonly dryRun: boolean;
  /** STARTED_BY (default `s3-queue-scaler`): set on every RunTask for traceability, at most 36 characters. */
  readonly startedBy: string;
  /** METRICS_NAMESPACE (default `S3QueueScaler`). */
  readonly metricsNamespace: string;
  /** CONTAINER_NAME (default `worker`): the worker container in the task definition. */
  readonly containerName: string;
  /** LOG_LEVEL: DEBUG, INFO (default), WARN, ERROR. */
  readonly logLevel: LogLevel;
  /**
   * IMAGE_PARAMETER: the SSM parameter holding the worker image (`/<name>/worker-image`). When set, nothing is launched
   * while it still names BOOTSTRAP_IMAGE, and the crash-loop guard judges only tasks of the current image.
   */
  readonly imageParameter: string | undefined;
  /** BOOTSTRAP_IMAGE (default `public.ecr.aws/docker/library/node:22-slim`, infra's bootstrapImage). */
  readonly bootstrapImage: string;
  /** CRASH_LOOP_TASKS (3, 0 = off), CRASH_LOOP_MIN_RUN_SECONDS (180), BACKOFF_BASE_SECONDS (240), BACKOFF_MAX_SECONDS (1200). */
  readonly crashLoop: CrashLoopSettings;
}

export const DEFAULT_CAPACITY_PROVIDER_STRATEGY: readonly CapacityProviderStrategyItem[] = Object.freeze([
  Object.freeze({ capacityProvider: 'FARGATE_SPOT', weight: 4 }),
  Object.freeze({ capacityProvider: 'FARGATE', weight: 1 }),
]);

/** ECS's own limit on `startedBy`. */
const STARTED_BY_MAX_LENGTH = 36;
const LOG_LEVELS: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];

/** Throws ConfigError naming the variable and the expected form. */
export function loadScalerConfig(env: NodeJS.ProcessEnv): ScalerConfig {
  const dryRun = readBoolean(env, 'DRY_RUN', false);
  const subnets = readList(env, 'SUBNETS');
  const securityGroups = readList(env, 'SECURITY_GROUPS');
  if (!dryRun && subnets.length === 0) {
    throw new ConfigError('SUBNETS is required (comma-separated private subnet IDs, e.g. subnet-0a1,subnet-0b2) unless DRY_RUN=true');
  }
  if (!dryRun && securityGroups.length === 0) {
    throw new ConfigError('SECURITY_GROUPS is required (comma-separated security group IDs, e.g. sg-0a1) unless DRY_RUN=true');
  }
  const startedBy = readString(env, 'STARTED_BY', 's3-queue-scaler');
  if (startedBy.length > STARTED_BY_MAX_LENGTH || !/^[A-Za-z0-9_-]+$/.test(startedBy)) {
    throw new ConfigError(`STARTED_BY must be 1-${STARTED_BY_MAX_LENGTH} letters, digits, hyphens or underscores, got "${startedBy}"`);
  }
  const logLevel = readString(env, 'LOG_LEVEL', 'INFO').toUpperCase() as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }
  return Object.freeze({
    queueUrl: readRequired(env, 'QUEUE_URL', 'the SQS queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/jobs'),
    cluster: readRequired(env, 'CLUSTER', 'the ECS cluster name or ARN'),
    taskFamily: readTaskFamily(env),
    subnets: Object.freeze(subnets),
    securityGroups: Object.freeze(securityGroups),
    capacityProviderStrategy: parseCapacityProviderStrategy(env.CAPACITY_PROVIDER_STRATEGY),
    spotFallback: readBoolean(env, 'SPOT_FALLBACK', true),
    maxTasks: readInteger(env, 'MAX_TASKS', 10, 1),
    messagesPerTask: readInteger(env, 'MESSAGES_PER_TASK', 10, 1),
    enabled: readBoolean(env, 'SCALER_ENABLED', true),
    dryRun,
    startedBy,
    metricsNamespace: readString(env, 'METRICS_NAMESPACE', 'S3QueueScaler'),
    containerName: readString(env, 'CONTAINER_NAME', 'worker'),
    logLevel,
    imageParameter: readOptional(env, 'IMAGE_PARAMETER'),
    bootstrapImage: readString(env, 'BOOTSTRAP_IMAGE', DEFAULT_BOOTSTRAP_IMAGE),
    crashLoop: readCrashLoop(env),
  });
}

/** What infra's ImagePointer creates the image parameter with, until the pipeline's first build overwrites it. */
export const DEFAULT_BOOTSTRAP_IMAGE = 'public.ecr.aws/docker/library/node:22-slim';

function readCrashLoop(env: NodeJS.ProcessEnv): CrashLoopSettings {
  const settings = {
    tasks: readInteger(env, 'CRASH_LOOP_TASKS', DEFAULT_CRASH_LOOP.tasks, 0),
    minRunSeconds: readInteger(env, 'CRASH_LOOP_MIN_RUN_SECONDS', DEFAULT_CRASH_LOOP.minRunSeconds, 1),
    backoffBaseSeconds: readInteger(env, 'BACKOFF_BASE_SECONDS', DEFAULT_CRASH_LOOP.backoffBaseSeconds, 1),
    backoffMaxSeconds: readInteger(env, 'BACKOFF_MAX_SECONDS', DEFAULT_CRASH_LOOP.backoffMaxSeconds, 1),
  };
  if (settings.backoffMaxSeconds < settings.backoffBaseSeconds) {
    throw new ConfigError(`BACKOFF_MAX_SECONDS (${settings.backoffMaxSeconds}) must be at least BACKOFF_BASE_SECONDS (${settings.backoffBaseSeconds})`);
  }
  if (settings.backoffMaxSeconds > MAX_BACKOFF_SECONDS) {
    throw new ConfigError(
      `BACKOFF_MAX_SECONDS must be at most ${MAX_BACKOFF_SECONDS}, got ${settings.backoffMaxSeconds}: the guard sees an hour of ECS history and ` +
        'needs the last two failed runs inside it to know the loop goes on',
    );
  }
  return Object.freeze(settings);
}

/** `FARGATE_SPOT:4,FARGATE:1`, or with a base on one entry: `FARGATE:1:1,FARGATE_SPOT:4`. */
export function parseCapacityProviderStrategy(value: string | undefined): readonly CapacityProviderStrategyItem[] {
  if (value === undefined || value.trim() === '') return DEFAULT_CAPACITY_PROVIDER_STRATEGY;
  const expected = 'expected NAME:weight[:base],... e.g. FARGATE_SPOT:4,FARGATE:1';
  const items = value.split(',').map((entry) => {
    const match = /^([A-Za-z0-9_-]+):(\d{1,4})(?::(\d{1,6}))?$/.exec(entry.trim());
    if (!match) throw new ConfigError(`CAPACITY_PROVIDER_STRATEGY entry "${entry.trim()}" is invalid: ${expected}`);
    const [, capacityProvider, weight, base] = match;
    if (Number(weight) > 1000) throw new ConfigError(`CAPACITY_PROVIDER_STRATEGY weight for ${capacityProvider} must be 0-1000, got ${weight}`);
    if (base !== undefined && Number(base) > 100000) {
      throw new ConfigError(`CAPACITY_PROVIDER_STRATEGY base for ${capacityProvider} must be 0-100000, got ${base}`);
    }
    return Object.freeze({
      capacityProvider: capacityProvider as string,
      weight: Number(weight),
      ...(base !== undefined ? { base: Number(base) } : {}),
    });
  });
  const names = items.map((item) => item.capacityProvider);
  if (new Set(names).size !== names.length) throw new ConfigError(`CAPACITY_PROVIDER_STRATEGY names a provider twice: ${value}`);
  if (items.filter((item) => item.base !== undefined).length > 1) {
    throw new ConfigError(`CAPACITY_PROVIDER_STRATEGY may give a base to one provider only (an ECS rule), got ${value}`);
  }
  if (!items.some((item) => item.weight > 0)) {
    throw new ConfigError(`CAPACITY_PROVIDER_STRATEGY needs at least one provider with a weight above 0, got ${value}`);
  }
  return Object.freeze(items);
}

function readRequired(env: NodeJS.ProcessEnv, name: string, form: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is required: ${form}`);
  return value;
}

/** A revision would pin the scaler to an old image; the family alone always runs the newest registered revision. */
function readTaskFamily(env: NodeJS.ProcessEnv): string {
  const family = readRequired(env, 'TASK_FAMILY', 'the task definition family name, without a revision');
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(family)) {
    throw new ConfigError(`TASK_FAMILY must be a family name (letters, digits, hyphens, underscores) without ":revision", got "${family}"`);
  }
  return family;
}

function readString(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name]?.trim();
  return value ? value : fallback;
}

function readOptional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function readList(env: NodeJS.ProcessEnv, name: string): string[] {
  return (env[name] ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
}

function readBoolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const value = env[name]?.trim().toLowerCase();
  if (value === undefined || value === '') return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function readInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new ConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
  return Number(raw);
}
