import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../shared/errors';
import type { JobModule, JobRuntime } from './job/job-module';
import { DEFAULT_JOB, findJobModule, jobNames } from './job/job-registry';
import { deepFreeze, EnvReader } from './job/env-reader';
import { readWorkspaceSettings, type WorkspaceSettings } from './job/workspace-settings';
import { detectCpuCount } from './runtime/cpu-count';

/**
 * Messages one task may hold. A batch job's buffer is hundreds of small messages; an object job at this many would
 * be a mistake its memory shows at once.
 */
const MAX_CONCURRENCY = 4096;

/** The worker's configuration (the queue loop's, shared by every job): read once from the environment, validated, frozen. */
export interface WorkerConfig {
  /** QUEUE_URL: an SQS URL (http/https) or a local queue location (a path or file: URL to the SQLite file). */
  readonly queueUrl: string;
  readonly queueKind: 'sqs' | 'local';
  /**
   * DLQ_URL: the dead-letter queue's URL, required with an SQS queue: the worker sends what cannot succeed there
   * itself, with its reasons. A local queue file holds its own DLQ.
   */
  readonly deadLetterQueueUrl: string;
  /** MAX_RECEIVE_COUNT (default 5): the redrive policy's maxReceiveCount, so the last attempt dead-letters with its reason. */
  readonly maxReceiveCount: number;
  /** MESSAGE_DEADLINE_SECONDS (default 300): active work one message may take before it is given up. */
  readonly messageDeadlineSeconds: number;
  /** OUTAGE_WAIT_SECONDS (default 900): how long a message may wait out an S3 outage before it is handed back. */
  readonly outageWaitSeconds: number;
  /** DEST_BUCKET (required). */
  readonly destBucket: string;
  /** DEST_PREFIX (default ''): outputs land at DEST_PREFIX/<size>/<source key minus SOURCE_PREFIX>. */
  readonly destPrefix: string;
  /** SOURCE_PREFIX (default ''). */
  readonly sourcePrefix: string;
  /** ALLOWED_SOURCE_BUCKETS (optional, comma list): events naming any other bucket are malformed. */
  readonly allowedSourceBuckets?: readonly string[];
  /** CONCURRENCY: messages processed at once (default: the job's, from the vCPUs the cgroup grants). */
  readonly concurrency: number;
  /** RECEIVE_BATCH_SIZE 1..10 (default 10; 1 for a fan-out family). */
  readonly receiveBatchSize: number;
  /** WAIT_SECONDS 0..20 long-poll wait (default 20). */
  readonly waitSeconds: number;
  /** IDLE_POLLS (default 2): exit after this many consecutive empty long polls with nothing in flight. */
  readonly idlePolls: number;
  /** VISIBILITY_TIMEOUT_SECONDS (default 60): the heartbeat keeps in-progress messages invisible this long ahead. */
  readonly visibilityTimeoutSeconds: number;
  /** SHUTDOWN_GRACE_SECONDS (default 100, under ECS's 120 s stopTimeout). */
  readonly shutdownGraceSeconds: number;
  /** MAX_INPUT_BYTES (default 104857600 = 100 MiB): the largest object a `bytes` job takes into memory. */
  readonly maxInputBytes: number;
  /** TRANSIENT_RETRIES (default 3): in-process retries with backoff before the message is released for redelivery. */
  readonly transientRetries: number;
  /** THROUGHPUT_LOG_SECONDS (default 60). */
  readonly throughputLogSeconds: number;
  /** METRICS_NAMESPACE (default `S3QueueWorker`). */
  readonly metricsNamespace: string;
  /** LOG_LEVEL: DEBUG, INFO (default), WARN, ERROR. */
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** JOB (default `resize`): which job this worker runs (app/jobs/<name>). */
  readonly job: string;
  /** WORK_DIR, DISK_BUDGET_MIB, DISK_RESERVE_FACTOR: where jobs that consume files get their objects on disk. */
  readonly workspace: WorkspaceSettings;
  /**
   * FANOUT_FAMILY, AGGREGATE_QUEUE_URL, RUNS_PREFIX: set on a fan-out family's pipeline. Its worker then takes batch
   * messages of that family, runs its job on every file of the batch, records the batch in the run's ledger and
   * triggers the aggregation when the run is complete (see app/jobs/fanout/README.md).
   */
  readonly family?: FamilySettings;
}

export interface FamilySettings {
  readonly name: string;
  readonly aggregateQueueUrl: string;
  /** The run root batch messages must name, when set (the infra sets it; IAM allows nothing else anyway). */
  readonly runsPrefix?: string;
}

/**
 * Reads and validates every variable at once, so a bad deployment shows all its mistakes in one start, each naming
 * the variable, what it got, and the form expected.
 */
export function loadConfig(env: NodeJS.ProcessEnv, cpuCount: number = detectCpuCount()): WorkerConfig {
  const read = new EnvReader(env);
  // An unknown JOB is a problem reported with the rest; the default job's concurrency stands in meanwhile.
  const job = read.oneOf('JOB', jobNames(), DEFAULT_JOB);
  const jobModule = findJobModule(job)!;
  const queueUrl = read.required('QUEUE_URL', 'an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>) or a local queue file path');
  const queueKind: WorkerConfig['queueKind'] = /^https?:\/\//i.test(queueUrl) ? 'sqs' : 'local';
  const config: WorkerConfig = {
    queueUrl: queueKind === 'local' && queueUrl.startsWith('file:') ? fileURLToPath(queueUrl) : queueUrl,
    queueKind,
    deadLetterQueueUrl: queueKind === 'sqs' ? read.required('DLQ_URL', 'the dead-letter queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>-dlq)') : '',
    maxReceiveCount: read.int('MAX_RECEIVE_COUNT', 5, 1, 1000),
    messageDeadlineSeconds: read.int('MESSAGE_DEADLINE_SECONDS', 300, 1, 43_200),
    outageWaitSeconds: read.int('OUTAGE_WAIT_SECONDS', 900, 0, 43_200),
    destBucket: jobModule.writesToDestination === false ? (read.present('DEST_BUCKET') ?? '') : read.required('DEST_BUCKET', 'the destination bucket name'),
    destPrefix: normalisePrefix(env.DEST_PREFIX),
    sourcePrefix: normalisePrefix(env.SOURCE_PREFIX),
    ...(read.list('ALLOWED_SOURCE_BUCKETS') !== undefined ? { allowedSourceBuckets: read.list('ALLOWED_SOURCE_BUCKETS') } : {}),
    concurrency: read.int('CONCURRENCY', jobModule.defaultConcurrency(cpuCount, env), 1, MAX_CONCURRENCY),
    // A family's message is a whole batch, minutes of work: taking one per receive costs nothing, and keeps a batch
    // that kills its task every time (a file that gets it OOM-killed) from taking the batches received with it, time
    // after time, to the DLQ with it.
    receiveBatchSize: read.int('RECEIVE_BATCH_SIZE', env.FANOUT_FAMILY?.trim() ? 1 : 10, 1, 10),
    waitSeconds: read.int('WAIT_SECONDS', 20, 0, 20),
    idlePolls: read.int('IDLE_POLLS', 2, 1, 1000),
    visibilityTimeoutSeconds: read.int('VISIBILITY_TIMEOUT_SECONDS', 60, 10, 43200),
    shutdownGraceSeconds: read.int('SHUTDOWN_GRACE_SECONDS', 100, 0, 110),
    maxInputBytes: read.int('MAX_INPUT_BYTES', 100 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    transientRetries: read.int('TRANSIENT_RETRIES', 3, 0, 10),
    throughputLogSeconds: read.int('THROUGHPUT_LOG_SECONDS', 60, 1, 3600),
    metricsNamespace: env.METRICS_NAMESPACE?.trim() || 'S3QueueWorker',
    logLevel: read.oneOf('LOG_LEVEL', ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const, 'INFO'),
    job,
    workspace: readWorkspaceSettings(read),
    ...readFamilySettings(read, env),
  };
  read.throwIfInvalid();
  return deepFreeze(config);
}

/** The worker's settings and the job's, read together so one start names every mistake in both. */
export function loadWorkerAndJob(env: NodeJS.ProcessEnv, runtime: JobRuntime): { config: WorkerConfig; jobModule: JobModule; jobSettings: unknown } {
  const problems: string[] = [];
  let config: WorkerConfig | undefined;
  try {
    config = loadConfig(env, runtime.cpuCount);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(error.message);
  }
  // With an unknown JOB (already among the problems) the default job's settings are checked, so its mistakes show too.
  const jobModule = findJobModule(config?.job ?? env.JOB?.trim().toLowerCase() ?? '') ?? findJobModule(DEFAULT_JOB)!;
  let jobSettings: unknown;
  try {
    jobSettings = jobModule.readSettings(env, runtime);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(error.message);
  }
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems.join('\n'));
  return { config, jobModule, jobSettings };
}

function readFamilySettings(read: EnvReader, env: NodeJS.ProcessEnv): { family?: FamilySettings } {
  const name = read.parsed('FANOUT_FAMILY', undefined as string | undefined, (raw) => (/^[a-z][a-z0-9-]{0,39}$/.test(raw) ? raw : undefined), "the family's pipeline name (a-z, 0-9, -)");
  if (name === undefined) return {};
  const aggregateQueueUrl = read.required('AGGREGATE_QUEUE_URL', "the aggregator pipeline's queue URL (set with FANOUT_FAMILY)");
  const runsPrefix = env.RUNS_PREFIX === undefined ? undefined : normalisePrefix(env.RUNS_PREFIX);
  return { family: { name, aggregateQueueUrl, ...(runsPrefix !== undefined ? { runsPrefix } : {}) } };
}

/** `in` and `in/` mean the same folder; '' stays the bucket root. */
function normalisePrefix(value: string | undefined): string {
  const trimmed = (value ?? '').trim().replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

