import { classifyFailure, InputTooLargeError, PermanentError, SourceMissingError, TransientError, WorkerError } from '../../../shared/errors';
import { mapLimited } from '../../../shared/runtime/map-limited';
import type { ObjectStore } from '../../src/ports/object-store';
import { BucketNotAllowedError, DownloadTimeoutError, InferenceError, InputMissingError, InvalidResultError, ResultNotDurableError } from './batch-errors';
import type { BatchSettings } from './batch-settings';
import type { ScoreOutcome, ScoringInput, ScoringModel } from './model/scoring-model';
import type { RecordMessage } from './record-message';
import { chunks, type ResultStore, type ScoredResult } from './result-store';

/** What became of one record of a batch; the worker deletes its message for `scored` and `skipped` only. */
export type RecordOutcome =
  | { readonly kind: 'scored'; readonly score: number }
  | { readonly kind: 'skipped' }
  | { readonly kind: 'failed'; readonly error: WorkerError };

export interface BatchTimings {
  readonly lookupMs: number;
  readonly fetchMs: number;
  readonly inferenceMs: number;
  readonly writeMs: number;
}

export interface ScoredBatch {
  /** One per record given, in order. */
  readonly outcomes: readonly RecordOutcome[];
  readonly timings: BatchTimings;
}

export interface ScoreBatchDeps {
  readonly objects: ObjectStore;
  readonly results: ResultStore;
  readonly model: ScoringModel;
  readonly settings: Pick<BatchSettings, 'downloadTimeoutMs' | 'downloadConcurrency' | 'inferenceTimeoutMs' | 'writeChunkSize' | 'storeTimeoutMs' | 'maxRecordBytes' | 'allowedBuckets'>;
  readonly now: () => number;
  readonly clock?: () => Date;
}

/**
 * One batch, start to durable results: one bulk lookup of results that exist (those records are skipped), the other
 * inputs fetched at once with a timeout each, one model call with a timeout, results written in chunks. Each record
 * ends on its own: a missing or undecodable input fails that record alone, and a record is `scored` only when the
 * store said its result is durable, so no message is deleted whose result could be missing.
 *
 * Throws only when the batch as a whole cannot start (the lookup failed or outlived STORE_TIMEOUT_MS), with a
 * TransientError: then every record is retried. Every store call has that timeout, so a stalled store never holds a
 * batch (and its messages' slots) for longer.
 */
export async function scoreBatch(records: readonly RecordMessage[], deps: ScoreBatchDeps): Promise<ScoredBatch> {
  const outcomeById = new Map<string, RecordOutcome>();
  // The same record twice in a batch (a redelivery while the first copy waits) is scored once; both copies share it.
  const distinct = [...new Map(records.map((record) => [record.id, record])).values()];

  let mark = deps.now();
  const lap = () => {
    const now = deps.now();
    const elapsed = now - mark;
    mark = now;
    return elapsed;
  };
  const existing = await lookUpExisting(distinct.map((record) => record.id), deps);
  for (const id of existing) outcomeById.set(id, { kind: 'skipped' });
  const lookupMs = lap();

  const toFetch = distinct.filter((record) => !existing.has(record.id));
  const fetched = await mapLimited(toFetch, deps.settings.downloadConcurrency, async (record) => {
    try {
      return { record, input: await fetchInput(record, deps) };
    } catch (error) {
      outcomeById.set(record.id, { kind: 'failed', error: asWorkerError(error) });
      return undefined;
    }
  });
  const inputs = fetched.filter((entry) => entry !== undefined);
  const fetchMs = lap();

  const scored = inputs.length === 0 ? [] : await scoreWithTimeout(inputs.map((entry) => entry.input), deps);
  const inferenceMs = lap();
  // The inputs' bytes are not needed past the model: free them before the writes, which may take a while.
  const scoredRecords = inputs.map((entry) => entry.record);
  inputs.length = 0;

  const modelVersion = deps.model.version;
  const scoredAt = (deps.clock?.() ?? new Date()).toISOString();
  const toWrite: ScoredResult[] = [];
  scored.forEach((outcome, index) => {
    const record = scoredRecords[index]!;
    if (outcome instanceof InferenceError) {
      outcomeById.set(record.id, { kind: 'failed', error: outcome });
      return;
    }
    if (!outcome.ok) {
      outcomeById.set(record.id, { kind: 'failed', error: outcome.error });
      return;
    }
    const result: ScoredResult = { id: record.id, score: outcome.score, modelVersion, scoredAt, ...(outcome.details !== undefined ? { details: outcome.details } : {}) };
    const problem = unstorable(result);
    // One unstorable result would fail its whole bulk write, every time: it fails alone, before the write.
    if (problem !== undefined) outcomeById.set(record.id, { kind: 'failed', error: new InvalidResultError(`record ${record.id}'s result cannot be stored: ${problem}`) });
    else toWrite.push(result);
  });

  for (const chunk of chunks(toWrite, deps.settings.writeChunkSize)) {
    const scoreOf = new Map(chunk.map((result) => [result.id, result.score]));
    try {
      const timeout = AbortSignal.timeout(deps.settings.storeTimeoutMs);
      const outcome = await abortable(deps.results.write(chunk), timeout).catch((error: unknown) => {
        if (timeout.aborted) throw new Error(`the write took over STORE_TIMEOUT_MS (${deps.settings.storeTimeoutMs})`);
        throw error;
      });
      for (const id of outcome.written) outcomeById.set(id, { kind: 'scored', score: scoreOf.get(id)! });
      for (const { id, reason } of outcome.failed) outcomeById.set(id, { kind: 'failed', error: new ResultNotDurableError(`the ${deps.results.name} store did not take record ${id}'s result: ${reason}`) });
    } catch (error) {
      // An adapter should report partial failures, not throw; if one throws, none of the chunk counts as written.
      const reason = classifyFailure(error).message;
      for (const id of scoreOf.keys()) outcomeById.set(id, { kind: 'failed', error: new ResultNotDurableError(`writing record ${id}'s result to the ${deps.results.name} store failed: ${reason}`) });
    }
  }
  const writeMs = lap();

  return {
    outcomes: records.map((record) => outcomeById.get(record.id) ?? { kind: 'failed', error: new ResultNotDurableError(`the ${deps.results.name} store reported nothing for record ${record.id}`) }),
    timings: { lookupMs, fetchMs, inferenceMs, writeMs },
  };
}

/** The ids that already have a result; any failure is the batch's, and worth a retry (a throttled or absent table). */
async function lookUpExisting(ids: readonly string[], deps: ScoreBatchDeps): Promise<Set<string>> {
  const timeout = AbortSignal.timeout(deps.settings.storeTimeoutMs);
  try {
    return await abortable(deps.results.existing(ids), timeout);
  } catch (error) {
    const why = timeout.aborted ? `took over STORE_TIMEOUT_MS (${deps.settings.storeTimeoutMs})` : `failed: ${classifyFailure(error).message}`;
    throw new TransientError('result-lookup-failed', `looking up ${ids.length} records in the ${deps.results.name} store ${why}`, { cause: error });
  }
}

/** A DynamoDB item is at most 400 KB; this leaves room for attribute names and the store's overhead. */
const MAX_RESULT_BYTES = 350 * 1024;

/** Pure: why a result could never be stored, or undefined. */
export function unstorable(result: ScoredResult): string | undefined {
  if (!Number.isFinite(result.score)) return `its score is ${String(result.score)}, not a finite number`;
  for (const [name, value] of Object.entries(result.details ?? {})) {
    if (typeof value === 'number' && !Number.isFinite(value)) return `details.${name} is ${String(value)}, not a finite number`;
  }
  const bytes = Buffer.byteLength(JSON.stringify(result));
  if (bytes > MAX_RESULT_BYTES) return `it is ${bytes} bytes, over ${MAX_RESULT_BYTES}`;
  return undefined;
}

async function fetchInput(record: RecordMessage, deps: ScoreBatchDeps): Promise<ScoringInput> {
  const where = `s3://${record.bucket}/${record.key}`;
  const allowed = deps.settings.allowedBuckets;
  if (allowed !== undefined && !allowed.includes(record.bucket)) {
    throw new BucketNotAllowedError(`record ${record.id} points at bucket ${record.bucket}, which is not in ALLOWED_SOURCE_BUCKETS`);
  }
  const timeout = AbortSignal.timeout(deps.settings.downloadTimeoutMs);
  try {
    const object = await abortable(deps.objects.get(record, { maxBytes: deps.settings.maxRecordBytes, signal: timeout }), timeout);
    return { id: record.id, bytes: object.body };
  } catch (error) {
    if (error instanceof SourceMissingError) throw new InputMissingError(`record ${record.id}'s input ${where} does not exist`, { cause: error });
    if (error instanceof InputTooLargeError) throw new InputTooLargeError(`record ${record.id}'s input ${where} is over MAX_RECORD_BYTES (${deps.settings.maxRecordBytes})`, { cause: error });
    if (timeout.aborted) throw new DownloadTimeoutError(`downloading record ${record.id}'s input ${where} took over DOWNLOAD_TIMEOUT_MS (${deps.settings.downloadTimeoutMs})`);
    throw error;
  }
}

/** The model's outcomes, or the same InferenceError for every input when the call failed or ran out of time. */
async function scoreWithTimeout(inputs: readonly ScoringInput[], deps: ScoreBatchDeps): Promise<readonly (ScoreOutcome | InferenceError)[]> {
  const timeout = AbortSignal.timeout(deps.settings.inferenceTimeoutMs);
  try {
    const outcomes = await abortable(deps.model.score(inputs, timeout), timeout);
    if (outcomes.length !== inputs.length) throw new TypeError(`the model returned ${outcomes.length} outcomes for ${inputs.length} inputs`);
    return outcomes;
  } catch (error) {
    const failure = timeout.aborted
      ? new InferenceError('inference-timeout', `the model took over INFERENCE_TIMEOUT_MS (${deps.settings.inferenceTimeoutMs}) for a batch of ${inputs.length}`)
      : new InferenceError('inference-failed', `the model failed on a batch of ${inputs.length}: ${classifyFailure(error).message}`, { cause: error });
    return inputs.map(() => failure);
  }
}

/** Settles with the promise, or rejects once the signal aborts, whichever is first: a call that ignores its signal cannot hold the batch. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** An SDK or network error as the worker's own kind, so the record settles as classifyFailure decides. */
function asWorkerError(error: unknown): WorkerError {
  if (error instanceof WorkerError) return error;
  const failure = classifyFailure(error);
  return failure.kind === 'permanent'
    ? new UnclassifiedPermanentError(failure.reason, failure.message, { cause: error })
    : new TransientError(failure.reason, failure.message, { cause: error });
}

class UnclassifiedPermanentError extends PermanentError {
  override readonly name = 'PermanentError';
  constructor(readonly reason: string, message: string, options: { cause: unknown }) {
    super(message, options);
  }
}
