import { rm } from 'node:fs/promises';
import { TransientError } from '../../../shared/errors';
import type { ObjectEvent } from '../../../shared/events/parse-message';
import type { Log } from '../../../shared/log/logger';
import { OUTPUT_METADATA, outputMetadata, relativeSourceKey } from '../../../shared/naming/output-metadata';
import { assertKeyWithinLimit } from '../../../shared/naming/s3-limits';
import { retryTransient, type RetryPolicy } from '../../../shared/retry';
import type { WorkerStats } from '../metrics/worker-stats';
import { isFileOutput, type JobContext, type JobOutput, type JobSource, type ObjectInput, type ObjectJob } from '../job/object-job';
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
  readonly config: ObjectHandlerConfig;
  /** Carries the message's give-up signal. */
  readonly retry: RetryPolicy & { readonly signal: AbortSignal };
  readonly stopping: AbortSignal;
  readonly log: Log;
  readonly stats: WorkerStats;
  readonly now?: () => number;
}

/** A version of the source that changed under us this many times in a row is left to a later delivery. */
const FRESHNESS_ROUNDS = 3;
/** Outputs uploaded at once for one object: a program may leave thousands of files. */
const UPLOADS_AT_ONCE = 8;

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
  const context: JobContext = { signal: retry.signal, stopping: deps.stopping, log };
  let bytesIn = 0;
  let bytesOut = 0;
  let outputCount = 0;
  for (let round = 1; ; round++) {
    const done = await withInput(object, relativeKey, deps, async (input) => {
      const outputs = await job.process(input, context);
      const metadata = outputMetadata({ bucket: object.bucket, key: object.key, etag: input.source.etag });
      await forEachLimited(outputs, UPLOADS_AT_ONCE, (output) => retryTransient(() => writeOutput(store, { bucket: config.destBucket, key: keyFor(output.name) }, output, metadata, retry.signal), retry));
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
  const workspaces = job.workspaces;
  if (workspaces === undefined) throw new TypeError(`the ${job.name} job consumes files but has no workspaces`);
  // The event's size is the version announced; a HEAD finds it when a producer's message did not say.
  const size = object.size ?? (await retryTransient(() => store.head(ref), retry))?.size ?? 0;
  const workspace = await workspaces.open(object.key, job.diskBytesFor?.(size) ?? size, retry.signal);
  try {
    const head = await retryTransient(async () => {
      // A retried download starts again from no file: the store never appends to one.
      await rm(workspace.inputPath, { force: true });
      return store.download(ref, workspace.inputPath, { maxBytes: workspaces.budgetBytes, limitName: 'DISK_BUDGET_MIB', signal: retry.signal });
    }, retry);
    return await use({ kind: 'file', source: sourceOf(head), path: workspace.inputPath, outputDir: workspace.outputDir, tmpDir: workspace.tmpDir });
  } finally {
    await workspace.dispose();
  }
}

function writeOutput(store: ObjectStore, ref: { bucket: string; key: string }, output: JobOutput, metadata: Record<string, string>, signal: AbortSignal): Promise<void> {
  const options = { contentType: output.contentType, metadata };
  return isFileOutput(output) ? store.upload(ref, output.path, { ...options, signal }) : store.put(ref, output.body, options);
}

function outputBytes(output: JobOutput): number {
  return isFileOutput(output) ? output.size : output.body.length;
}

async function forEachLimited<T>(items: readonly T[], limit: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await each(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
