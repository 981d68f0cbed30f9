import type { JobRuntime } from '../../src/job/job-module';
import { BATCH_KNOBS, type BatchKnob } from '../../../shared/batch/batch-knobs';
import { EnvReader } from '../../src/job/env-reader';
import { readMongoDbSettings, type MongoDbSettings } from './mongodb-settings';

export type ResultStoreSettings =
  | { readonly kind: 'dynamodb'; readonly table: string; readonly endpoint?: string }
  | { readonly kind: 'mongodb'; readonly mongodb: MongoDbSettings };

/** The batch job's settings (see app/jobs/batch/README.md, "Configuration"). */
export interface BatchSettings {
  /** BATCH_SIZE (default 100): records per model call. */
  readonly batchSize: number;
  /** BATCH_FLUSH_MS (default 1000): a batch goes this long after its first record even when not full. */
  readonly flushMs: number;
  /** MAX_CONCURRENCY (default: the vCPUs): batches scored at once. */
  readonly maxConcurrentBatches: number;
  /** DOWNLOAD_TIMEOUT_MS (default 3000): one input's download. */
  readonly downloadTimeoutMs: number;
  /** DOWNLOAD_CONCURRENCY (default 16): a batch's downloads in flight at once. */
  readonly downloadConcurrency: number;
  /** INFERENCE_TIMEOUT_MS (default 5000): one model call. */
  readonly inferenceTimeoutMs: number;
  /** STORE_TIMEOUT_MS (default 30000): one lookup or bulk write; a stalled store cannot hold a batch's slots. */
  readonly storeTimeoutMs: number;
  /** WRITE_CHUNK_SIZE (default 500): results per bulk write; each adapter splits further to its store's limit. */
  readonly writeChunkSize: number;
  /** MAX_RECORD_BYTES (default 16 MiB): the largest input one record may have; it is held in memory. */
  readonly maxRecordBytes: number;
  /** ALLOWED_SOURCE_BUCKETS (comma list): the buckets records may point at; unset, any bucket the role can read. */
  readonly allowedBuckets?: readonly string[];
  /** RESULT_STORE (dynamodb, the default, or mongodb) and its settings: RESULTS_TABLE, DYNAMODB_ENDPOINT; MONGODB_*. */
  readonly resultStore: ResultStoreSettings;
  /** MODEL_PATH: a model artifact to load instead of the shipped audio anomaly model. */
  readonly modelPath?: string;
  /** METRICS_NAMESPACE, as the worker's. */
  readonly metricsNamespace: string;
}

/** The worker's own ceiling on CONCURRENCY. */
const MAX_WORKER_SLOTS = 4096;

export function readBatchSettings(env: NodeJS.ProcessEnv, runtime: JobRuntime): BatchSettings {
  const read = new EnvReader(env);
  const storeKind = read.oneOf('RESULT_STORE', ['dynamodb', 'mongodb'] as const, 'dynamodb');
  const dynamodb = storeKind === 'dynamodb'
    ? {
      kind: 'dynamodb' as const,
      table: read.required('RESULTS_TABLE', 'the DynamoDB results table name'),
      ...(read.present('DYNAMODB_ENDPOINT') !== undefined ? { endpoint: read.present('DYNAMODB_ENDPOINT')! } : {}),
    }
    : undefined;
  const allowedBuckets = read.list('ALLOWED_SOURCE_BUCKETS');
  const knob = (name: Exclude<BatchKnob, 'MAX_CONCURRENCY'>) => read.int(name, BATCH_KNOBS[name].fallback, BATCH_KNOBS[name].min, BATCH_KNOBS[name].max);
  const settings: BatchSettings = {
    batchSize: knob('BATCH_SIZE'),
    flushMs: knob('BATCH_FLUSH_MS'),
    maxConcurrentBatches: read.int('MAX_CONCURRENCY', defaultConcurrentBatches(runtime.cpuCount), BATCH_KNOBS.MAX_CONCURRENCY.min, BATCH_KNOBS.MAX_CONCURRENCY.max),
    downloadTimeoutMs: knob('DOWNLOAD_TIMEOUT_MS'),
    downloadConcurrency: knob('DOWNLOAD_CONCURRENCY'),
    inferenceTimeoutMs: knob('INFERENCE_TIMEOUT_MS'),
    writeChunkSize: knob('WRITE_CHUNK_SIZE'),
    storeTimeoutMs: knob('STORE_TIMEOUT_MS'),
    maxRecordBytes: knob('MAX_RECORD_BYTES'),
    ...(allowedBuckets !== undefined ? { allowedBuckets } : {}),
    // MongoDB's variables are checked on their own, after these (their reader never echoes a secret).
    resultStore: dynamodb ?? { kind: 'mongodb', mongodb: { uri: '', database: '', collection: '' } },
    ...(read.present('MODEL_PATH') !== undefined ? { modelPath: read.present('MODEL_PATH')! } : {}),
    metricsNamespace: env.METRICS_NAMESPACE?.trim() || 'S3QueueWorker',
  };
  read.throwIfInvalid();
  return storeKind === 'mongodb' ? { ...settings, resultStore: { kind: 'mongodb', mongodb: readMongoDbSettings(env) } } : settings;
}

function defaultConcurrentBatches(cpuCount: number): number {
  return Math.max(1, Math.round(cpuCount));
}

/**
 * The worker's slots for a batch job: every running batch's messages plus one batch filling, so receiving stops by
 * itself when that many are held (backpressure) and every held message is heartbeated. Read leniently: a bad value
 * is reported by readBatchSettings, and the default stands in meanwhile.
 */
export function batchBufferSlots(cpuCount: number, env: NodeJS.ProcessEnv): number {
  const lenient = (name: string, fallback: number, max: number) => {
    const value = Number(env[name]?.trim());
    return Number.isInteger(value) && value >= 1 && value <= max ? value : fallback;
  };
  const batchSize = lenient('BATCH_SIZE', BATCH_KNOBS.BATCH_SIZE.fallback, BATCH_KNOBS.BATCH_SIZE.max);
  return Math.min(MAX_WORKER_SLOTS, batchSize * (lenient('MAX_CONCURRENCY', defaultConcurrentBatches(cpuCount), BATCH_KNOBS.MAX_CONCURRENCY.max) + 1));
}
