/**
 * The batch job's sizing variables and their ranges, in one place: the worker checks them at start
 * (app/jobs/batch/batch-settings.ts) and the infra at synth (infra/src/pipelines/batch-settings.ts), so a value the
 * synth accepts is never one the worker refuses.
 */
export const BATCH_KNOBS = {
  /** Records per model call. */
  BATCH_SIZE: { min: 1, max: 1000, fallback: 100 },
  /** A batch goes this long after its first record even when not full. */
  BATCH_FLUSH_MS: { min: 0, max: 60_000, fallback: 1000 },
  /** Batches scored at once; the default is the vCPUs. */
  MAX_CONCURRENCY: { min: 1, max: 64, fallback: undefined },
  DOWNLOAD_TIMEOUT_MS: { min: 100, max: 300_000, fallback: 3000 },
  DOWNLOAD_CONCURRENCY: { min: 1, max: 256, fallback: 16 },
  INFERENCE_TIMEOUT_MS: { min: 100, max: 600_000, fallback: 5000 },
  /** One call to the result store (a lookup, a bulk write): past it the batch's records are retried, not held. */
  STORE_TIMEOUT_MS: { min: 100, max: 600_000, fallback: 30_000 },
  /** Results per bulk write; each adapter splits further to its store's own limit (DynamoDB 25, MongoDB 500). */
  WRITE_CHUNK_SIZE: { min: 1, max: 10_000, fallback: 500 },
  MAX_RECORD_BYTES: { min: 1, max: 1024 * 1024 * 1024, fallback: 16 * 1024 * 1024 },
} as const;

export type BatchKnob = keyof typeof BATCH_KNOBS;
