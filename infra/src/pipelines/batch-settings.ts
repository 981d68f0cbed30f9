import { BATCH_KNOBS as WORKER_BATCH_KNOBS } from '../../../shared/batch/batch-knobs';
import type { PipelineConfig } from './pipeline-config';

/**
 * Batched inference pipelines (`job: "batch"`): the queue is fed by a discovery task that scans a source DynamoDB
 * table for a date and sends one record message per record; the worker scores the records in batches and writes the
 * results to a DynamoDB results table. A batch pipeline is `feed: "messages"` (its default): no S3 notification
 * reaches it. It reads the audio files its records point at, in `audioBucket` under `audioPrefix`, and nothing else of
 * S3. Pure.
 */
export const BATCH_JOB = 'batch';
/** The one store the infra provisions (the worker also knows MongoDB, configured outside this stack). */
export const RESULT_STORES = ['dynamodb'] as const;
export type ResultStore = (typeof RESULT_STORES)[number];
/** Discovery runs for "yesterday" at 01:30 UTC every day unless told otherwise. */
export const DEFAULT_DISCOVERY_SCHEDULE = 'cron(30 1 * * ? *)';
/**
 * The scaler launches ⌈visible / messagesPerTask⌉ tasks. A batch task holds BATCH_SIZE × MAX_CONCURRENCY + BATCH_SIZE
 * messages at once and works through thousands an hour, so a task per 10 visible messages (the stack's default) would
 * start a task per few records. 1000 is the target backlog per task: about the buffer of a few full refills.
 */
export const DEFAULT_BATCH_MESSAGES_PER_TASK = 1000;

/** What a `job: "batch"` pipeline says in `batch`; every field is optional. */
export interface BatchSettingsInput {
  readonly sourceTableName?: string;
  readonly audioBucket?: string;
  readonly audioPrefix?: string;
  readonly discoverySchedule?: string;
  readonly resultStore?: string;
}

export interface BatchSettings {
  /**
   * An existing table of yours to discover records in (a name in this account and region, or a table ARN); empty:
   * the stack creates an example source table `<base>-records` (partition key `date` S, sort key `id` S).
   */
  readonly sourceTableName: string;
  /** The bucket the records point at; empty: the stack's source bucket. */
  readonly audioBucket: string;
  /**
   * The key prefix the records point under: all the batch role may read. Default: `<pipeline>/` in the stack's source
   * bucket (the rest of it belongs to the S3-fed pipelines), `''` (the whole bucket) in a bucket of your own.
   */
  readonly audioPrefix: string;
  /** An EventBridge schedule expression for discovery; empty: no schedule, one-off runs only. */
  readonly discoverySchedule: string;
  readonly resultStore: ResultStore;
}

/** The worker variables a batch pipeline's sizing knobs are (jobEnvironment), with their allowed ranges. */
export const BATCH_KNOBS: Readonly<Record<string, readonly [number, number]>> = Object.fromEntries(
  Object.entries(WORKER_BATCH_KNOBS).map(([name, range]) => [name, [range.min, range.max] as const]),
);

const KNOWN = ['sourceTableName', 'audioBucket', 'audioPrefix', 'discoverySchedule', 'resultStore'];
/** DynamoDB table names: 3-255 of letters, digits, `_`, `-`, `.`. */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const TABLE_ARN = /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[A-Za-z0-9_.-]{3,255}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const UNSAFE_IN_KEYS = /[*?]|\$\{/;
/** EventBridge's two forms; the fields themselves are EventBridge's to check. */
const SCHEDULE = /^(cron\((\S+ ){5}\S+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$/;

/** The settings with defaults filled in. `pipelineName` makes the default audio prefix in the stack's own bucket. */
export function resolveBatchSettings(input: BatchSettingsInput | undefined, pipelineName: string): BatchSettings {
  const given = input ?? {};
  const audioBucket = given.audioBucket ?? '';
  return {
    sourceTableName: given.sourceTableName ?? '',
    audioBucket,
    audioPrefix: given.audioPrefix ?? (audioBucket === '' ? `${pipelineName}/` : ''),
    discoverySchedule: given.discoverySchedule ?? DEFAULT_DISCOVERY_SCHEDULE,
    resultStore: (given.resultStore ?? 'dynamodb') as ResultStore,
  };
}

/** The problems of one pipeline's job, feed and batch settings, each naming the pipeline and field. */
export function batchSettingProblems(label: string, p: PipelineConfig, rawBatch: unknown, given: (field: string) => boolean): string[] {
  const problems: string[] = [];
  if (p.job !== BATCH_JOB) {
    if (rawBatch !== undefined) problems.push(`${label}.batch: only a pipeline running job "${BATCH_JOB}" has batch settings`);
    return problems;
  }
  if (p.feed !== 'messages') problems.push(`${label}.feed="${String(p.feed)}": a batch pipeline is fed by its discovery task's record messages (feed "messages", its default)`);
  if (given('fanout')) problems.push(`${label}.fanout: a batch pipeline is fed by its discovery task, not a fan-out group`);
  if (rawBatch !== undefined && (typeof rawBatch !== 'object' || rawBatch === null || Array.isArray(rawBatch))) {
    problems.push(`${label}.batch: an object such as {"sourceTableName":"recordings","discoverySchedule":"cron(30 1 * * ? *)"}`);
    return problems;
  }
  for (const key of Object.keys((rawBatch ?? {}) as object).filter((key) => !KNOWN.includes(key))) {
    problems.push(`${label}.batch.${key}: not a batch setting (known: ${KNOWN.join(', ')})`);
  }
  const b = p.batch!;
  const where = (field: string) => `${label}.batch.${field}`;
  if (typeof b.sourceTableName !== 'string' || (b.sourceTableName !== '' && !TABLE_NAME.test(b.sourceTableName) && !TABLE_ARN.test(b.sourceTableName))) {
    problems.push(`${where('sourceTableName')}="${String(b.sourceTableName)}": a DynamoDB table name (3-255 letters, digits, _ - .) or table ARN, or empty for the example table`);
  }
  if (typeof b.audioBucket !== 'string' || (b.audioBucket !== '' && !BUCKET.test(b.audioBucket))) {
    problems.push(`${where('audioBucket')}="${String(b.audioBucket)}": an S3 bucket name, or empty for the stack's source bucket`);
  }
  if (typeof b.audioPrefix !== 'string' || b.audioPrefix.startsWith('/') || UNSAFE_IN_KEYS.test(b.audioPrefix)) {
    problems.push(`${where('audioPrefix')}="${String(b.audioPrefix)}": a key prefix such as audio/, without a leading slash, *, ? or \${`);
  } else if (b.audioBucket === '' && b.audioPrefix === '') {
    problems.push(`${where('audioPrefix')}: empty would let the batch role read the whole source bucket, which the S3-fed pipelines share; give a prefix of its own`);
  }
  if (typeof b.discoverySchedule !== 'string' || (b.discoverySchedule !== '' && !SCHEDULE.test(b.discoverySchedule))) {
    problems.push(`${where('discoverySchedule')}="${String(b.discoverySchedule)}": an EventBridge expression such as ${DEFAULT_DISCOVERY_SCHEDULE} or rate(1 day), or empty for one-off runs only`);
  }
  if (!(RESULT_STORES as readonly unknown[]).includes(b.resultStore)) {
    problems.push(`${where('resultStore')}="${String(b.resultStore)}": ${RESULT_STORES.join(', ')} (the store this stack provisions)`);
  }
  for (const [name, [min, max]] of Object.entries(BATCH_KNOBS)) {
    const value = p.jobEnvironment[name];
    if (value !== undefined && (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)) {
      problems.push(`${label}.jobEnvironment.${name}="${value}": an integer from ${min} to ${max}`);
    }
  }
  return problems;
}

/**
 * Across pipelines: a batch pipeline reading the stack's source bucket reads every key under its audio prefix, so no
 * S3-fed pipeline's filter may match a key there, and no two batch pipelines may share one (each role reads only its
 * own records' files).
 */
export function batchReadProblems(pipelines: readonly PipelineConfig[], overlaps: (a: string, b: string) => boolean, s3RulePrefixes: (p: PipelineConfig) => string[]): string[] {
  const problems: string[] = [];
  const batches = pipelines.filter((p) => p.job === BATCH_JOB && p.batch !== undefined && p.batch.audioBucket === '');
  for (const [i, batch] of batches.entries()) {
    const prefix = batch.batch!.audioPrefix;
    for (const other of pipelines.filter((p) => p.feed !== 'messages')) {
      if (s3RulePrefixes(other).some((rulePrefix) => overlaps(rulePrefix, prefix))) {
        problems.push(`pipelines "${other.name}" and "${batch.name}": source filter of "${other.name}" matches keys under "${prefix}", the audio prefix batch pipeline "${batch.name}" ` +
          'reads: give them distinct prefixes (e.g. sourcePrefix "photos/" for the S3-fed pipeline)');
      }
    }
    for (const other of batches.slice(i + 1)) {
      if (overlaps(prefix, other.batch!.audioPrefix)) problems.push(`pipelines "${batch.name}" and "${other.name}": audio prefixes "${prefix}" and "${other.batch!.audioPrefix}" overlap in the source bucket`);
    }
  }
  return problems;
}

/** The batch pipelines of a configuration. */
export function batchPipelines(pipelines: readonly PipelineConfig[]): PipelineConfig[] {
  return pipelines.filter((p) => p.job === BATCH_JOB && p.batch !== undefined);
}
