import { rm } from 'node:fs/promises';
import { InputTooLargeError, SourceMissingError, TransientError } from '../../../shared/errors';
import type { ObjectEvent } from '../../../shared/events/parse-message';
import type { Log } from '../../../shared/log/logger';
import { OUTPUT_METADATA, outputMetadata, relativeSourceKey } from '../../../shared/naming/output-metadata';
import { assertKeyWithinLimit } from '../../../shared/naming/s3-limits';
import { retryTransient, type RetryPolicy } from '../../../shared/retry';
import type { WorkerStats } from '../metrics/worker-stats';
import { isFileOutput, type JobContext, type JobOutput, type JobSource, type ObjectInput, type ObjectJob } from '../job/object-job';
import type { Workspaces } from '../job/workspace';
import type { ObjectHead, ObjectStore } from '../ports/object-store';

export interface ObjectHandlerConfig {
  readonly destBucket: string;
  readonly destPrefix: string;
  readonly sourcePrefix: string;
  /** The largest object a `bytes` job takes into memory (MAX_INPUT_BYTES). */
  readonly maxInputBytes: number;
}

export interface ObjectHandlerDeps {
  readonly store: ObjectStore;
  readonly job: ObjectJob;
  /** For jobs that consume files: private directories on the task's disk, within its budget. */
  readonly workspaces?: Workspaces;
  readonly config: ObjectHandlerConfig;
  /** Carries the message's give-up signal. */
  readonly retry: RetryPolicy & { readonly signal: AbortSignal };
  readonly stopping: AbortSignal;
  readonly log: Log;
  readonly stats: WorkerStats;
  readonly now?: () => number;
  /** Settings that came with the request (see JobContext.settings). */
  readonly settings?: Readonly<Record<string, string>>;
}

/** A version of the source that changed under us this many times in a row is left to a later delivery. */
const FRESHNESS_ROUNDS = 3;
/** Outputs uploaded at once for one object: a program may leave thousands of files. */
const UPLOADS_AT_ONCE = 4;

/**
 * One object, start to done, the same for every object job: known outputs checked against S3's key limit before any
 * work; a redelivery whose outputs already match the source's current version skipped; the object read as the job
 * consumes it; the outputs written with the source's ETag; the source read back, and a version that changed meanwhile
 * processed too.
 */
export async function handleObject(object: ObjectEvent, redelivered: boolean, deps: ObjectHandlerDeps): Promise<void> {
  const { store, job, config, retry, log, stats } = deps;
  const now = deps.now ?? Date.now;
  const started = now();
  const relativeKey = relativeSourceKey(object.key, config.sourcePrefix);
  const keyFor = (name: string) => `${config.destPrefix}${name}`;

  const planned = job.plannedOutputs({ bucket: object.bucket, key: object.key, relativeKey });
  // A key S3 would refuse is known before any byte is read: fail now, not after the work.
  for (const output of planned ?? []) assertKeyWithinLimit(keyFor(output.name), `output ${output.name}`);

  // Only a redelivery can find its own outputs, so first deliveries skip the HEAD calls. The outputs must match this
  // event's version and that version must still be the source's: an older version's outputs written by a task that
  // was given up before its read-back must not be taken for done work when a newer version exists.
  if (redelivered && planned !== undefined && object.etag !== undefined) {
    const etag = object.etag;
    const [current, ...heads] = await Promise.all([
      retryTransient(() => store.head({ bucket: object.bucket, key: object.key }), retry),
      ...planned.map((output) => retryTransient(() => store.head({ bucket: config.destBucket, key: keyFor(output.name) }), retry)),
    ]);
    if ((current === undefined || current.etag === etag) && heads.every((head) => head?.metadata[OUTPUT_METADATA.sourceEtag] === etag)) {
      stats.recordSkipped();
      log.info('skipped', { bucket: object.bucket, key: object.key, reason: 'outputs already exist for this ETag', etag });
      return;
    }
  }

  // S3 delivers events at least once and out of order, so a slow older version can write after a newer one. After
  // writing, the source is read back: if it changed meanwhile, the newer version is processed too, so whichever
  // writer finishes last writes the newest version and the outputs always end up matching the source.
  const context: JobContext = { signal: retry.signal, stopping: deps.stopping, log, ...(deps.settings !== undefined ? { settings: deps.settings } : {}) };
  let bytesIn = 0;
  let bytesOut = 0;
  let outputCount = 0;
  for (let round = 1; ; round++) {
    const done = await withInput(object, relativeKey, deps, async (input) => {
      const outputs = await job.process(input, context);
      // Outputs named only now are checked before the first is written, so a refusal never leaves some of them.
      if (planned === undefined) for (const output of outputs) assertKeyWithinLimit(keyFor(output.name), `output ${output.name}`);
      const metadata = outputMetadata({ bucket: object.bucket, key: object.key, etag: input.source.etag });
      await forEachUntilFailure(outputs, UPLOADS_AT_ONCE, retry.signal, (output, signal) =>
        retryTransient(() => writeOutput(store, { bucket: config.destBucket, key: keyFor(output.name) }, output, metadata, signal), { ...retry, signal }));
      return { etag: input.source.etag, size: input.source.size, outputs };
    });
    bytesIn += done.size;
    bytesOut += done.outputs.reduce((total, output) => total + outputBytes(output), 0);
    outputCount = done.outputs.length;
    const current = await retryTransient(() => store.head({ bucket: object.bucket, key: object.key }), retry);
    if (current === undefined || current.etag === done.etag) break;
    log.info('source changed while processing: processing the newer version too', { bucket: object.bucket, key: object.key, processedEtag: done.etag, currentEtag: current.etag, round });
    if (round >= FRESHNESS_ROUNDS) {
      throw new TransientError('source-changing', `s3://${object.bucket}/${object.key} changed ${round} times while it was processed; a later delivery processes its newest version`);
    }
  }
  const durationMs = now() - started;
  stats.recordProcessed(bytesIn, bytesOut, outputCount, durationMs);
  log.info('processed', { bucket: object.bucket, key: object.key, outputs: outputCount, bytesIn, bytesOut, durationMs });
}

/** Reads the object the way the job consumes it and runs `use` on it; a file input's directory is always removed. */
async function withInput<T>(object: ObjectEvent, relativeKey: string, deps: ObjectHandlerDeps, use: (input: ObjectInput) => Promise<T>): Promise<T> {
  const { store, job, config, retry } = deps;
  const ref = { bucket: object.bucket, key: object.key };
  const sourceOf = (head: ObjectHead): JobSource => ({
    bucket: object.bucket, key: object.key, relativeKey, etag: head.etag, size: head.size,
    ...(head.contentType !== undefined ? { contentType: head.contentType } : {}),
  });
  if (job.consumes === 'bytes') {
    const stored = await retryTransient(() => store.get(ref, { maxBytes: config.maxInputBytes }), retry);
    return use({ kind: 'bytes', source: sourceOf(stored), bytes: stored.body });
  }
  const workspaces = deps.workspaces;
  if (workspaces === undefined) throw new TypeError(`the ${job.name} job consumes files but the worker opened no workspaces`);
  // The disk is reserved for the version there now, not the one the event announced: a newer, larger version (or a
  // producer's message without a size) must not fill the disk past its reservation.
  const current = await retryTransient(() => store.head(ref), retry);
  if (current === undefined) throw new SourceMissingError(`s3://${object.bucket}/${object.key} no longer exists`);
  const workspace = await workspaces.open(object.key, current.size, retry.signal);
  try {
    const head = await retryTransient(async () => {
      // A retried download starts again from no file: the store never appends to one.
      await rm(workspace.inputPath, { force: true });
      return store.download(ref, workspace.inputPath, { maxBytes: current.size, limitName: 'the size it was admitted with', signal: retry.signal });
    }, retry).catch((error: unknown) => {
      // Grown between the HEAD and the GET: not the input's fault, and no retry within this reservation can help; the
      // next delivery reserves for the new size.
      if (error instanceof InputTooLargeError) throw new TransientError('source-changing', `s3://${object.bucket}/${object.key} grew while it was being read`, { cause: error });
      throw error;
    });
    return await use({ kind: 'file', source: sourceOf(head), path: workspace.inputPath, outputDir: workspace.outputDir, tmpDir: workspace.tmpDir });
  } finally {
    // A directory that cannot be removed must not replace the object's own outcome; the next start sweeps it.
    await workspace.dispose().catch((error: unknown) => deps.log.warn('work directory not removed', { key: object.key, reason: error instanceof Error ? error.message : String(error) }));
  }
}

function writeOutput(store: ObjectStore, ref: { bucket: string; key: string }, output: JobOutput, metadata: Record<string, string>, signal: AbortSignal): Promise<void> {
  const options = { contentType: output.contentType, metadata };
  return isFileOutput(output) ? store.upload(ref, output.path, { ...options, signal }) : store.put(ref, output.body, options);
}

function outputBytes(output: JobOutput): number {
  return isFileOutput(output) ? output.size : output.body.length;
}

/**
 * Runs `each` over the items, `limit` at a time. The first failure stops the rest: nothing new starts, the ones under
 * way are aborted, and it is thrown only once all have settled, so no write outlives the attempt that made it (its
 * input directory removed, its message settled, a newer version maybe written since).
 */
async function forEachUntilFailure<T>(items: readonly T[], limit: number, signal: AbortSignal, each: (item: T, signal: AbortSignal) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const stopOnGiveUp = () => stop.abort(signal.reason);
  signal.addEventListener('abort', stopOnGiveUp, { once: true });
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (next < items.length && failure === undefined && !stop.signal.aborted) {
      try {
        await each(items[next++]!, stop.signal);
      } catch (error) {
        failure ??= { error };
        stop.abort(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  } finally {
    signal.removeEventListener('abort', stopOnGiveUp);
  }
  if (failure !== undefined) throw failure.error;
  if (signal.aborted) throw signal.reason;
}
