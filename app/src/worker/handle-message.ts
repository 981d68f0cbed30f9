import { classifyFailure, TransientError } from '../../../shared/errors';
import { parseMessageBody, type ObjectEvent, type ParsedRecord } from '../../../shared/events/parse-message';
import type { Log } from '../../../shared/log/logger';
import type { WorkerStats } from '../metrics/worker-stats';
import { OUTPUT_METADATA, outputKey, outputMetadata } from '../naming/output-key';
import { assertKeyWithinLimit } from '../../../shared/naming/s3-limits';
import type { ReceivedMessage } from '../../../shared/ports/queue';
import type { ObjectStore } from '../ports/object-store';
import type { OutputSpec, Processor } from '../ports/processor';
import { retryTransient, type RetryPolicy } from '../../../shared/retry';
import { carriedAttempts, type RecordFailure } from './settlement';

export interface MessageHandlerConfig {
  readonly destBucket: string;
  readonly destPrefix: string;
  readonly sourcePrefix: string;
  readonly maxInputBytes: number;
  readonly allowedSourceBuckets?: readonly string[];
}

export interface MessageHandlerDeps {
  readonly store: ObjectStore;
  readonly processor: Processor;
  readonly config: MessageHandlerConfig;
  readonly retry: RetryPolicy;
  readonly log: Log;
  readonly stats: WorkerStats;
  readonly now?: () => number;
}

export interface HandleContext {
  /** Aborted when the worker gives the message up (deadline, outage outlasting its wait, lost visibility). */
  readonly signal: AbortSignal;
}

/** What happened to each record of one message; the worker turns it into a delete, a release or a reroute. */
export interface MessageOutcome {
  /** Distinct records (duplicates merged); 0 for an s3:TestEvent. */
  readonly recordCount: number;
  readonly failures: readonly RecordFailure[];
  /** A message body holding just these records (indices as in `failures`). */
  bodyFor(indices: readonly number[]): string;
}

/** A version of the source that changed under us this many times in a row is left to a later delivery. */
const FRESHNESS_ROUNDS = 3;

/**
 * Handles every record of one message, each on its own: a bad record fails alone and the others are still done.
 * Duplicate records (the same object version twice) are handled once.
 */
export async function handleMessage(message: ReceivedMessage, deps: MessageHandlerDeps, context: HandleContext = { signal: new AbortController().signal }): Promise<MessageOutcome> {
  let parsed;
  try {
    parsed = parseMessageBody(message.body, deps.config.allowedSourceBuckets);
  } catch (error) {
    return { recordCount: 1, failures: [failureOf(0, undefined, error)], bodyFor: () => message.body };
  }
  if (parsed.kind === 'test-event') {
    deps.log.info('skipped', { messageId: message.messageId, reason: 's3-test-event' });
    return { recordCount: 0, failures: [], bodyFor: () => message.body };
  }
  const distinct = mergeDuplicates(parsed.records);
  const redelivered = message.receiveCount > 1 || carriedAttempts(message.attributes) > 0;
  const retry: RetryPolicy = { ...deps.retry, signal: context.signal };
  const failures: RecordFailure[] = [];
  for (const [index, { record }] of distinct.entries()) {
    if (context.signal.aborted) {
      // Given up: what was not attempted is not done, and must not be acknowledged with the rest.
      failures.push(failureOf(index, record.ok ? record.object.key : undefined, context.signal.reason ?? new TransientError('given-up', 'the worker gave this message up')));
      continue;
    }
    if (!record.ok) {
      failures.push(failureOf(index, undefined, record.error));
      continue;
    }
    const object = record.object;
    if (isFolderMarker(object)) {
      // The S3 console's "create folder" writes an empty `name/` object; it is not input and never will be.
      deps.stats.recordSkipped();
      deps.log.info('skipped', { messageId: message.messageId, bucket: object.bucket, key: object.key, reason: 'folder marker' });
      continue;
    }
    try {
      await handleObject(object, redelivered, { ...deps, retry });
    } catch (error) {
      const failure = failureOf(index, object.key, error);
      if (failure === undefined) {
        deps.stats.recordSkipped();
        deps.log.info('skipped', { messageId: message.messageId, bucket: object.bucket, key: object.key, reason: 'source missing' });
      } else {
        failures.push(failure);
      }
    }
  }
  return { recordCount: distinct.length, failures, bodyFor: (indices) => parsed.bodyFor(indices.map((index) => distinct[index].rawIndex)) };
}

function failureOf(index: number, key: string | undefined, error: unknown): RecordFailure;
function failureOf(index: number, key: string, error: unknown): RecordFailure | undefined;
function failureOf(index: number, key: string | undefined, error: unknown): RecordFailure | undefined {
  const failure = classifyFailure(error);
  if (failure.kind === 'missing') return undefined;
  return {
    index,
    ...(key !== undefined ? { key } : {}),
    kind: failure.kind,
    reason: failure.reason,
    detail: failure.message,
    ...(failure.attemptsAllowed !== undefined ? { attemptsAllowed: failure.attemptsAllowed } : {}),
  };
}

/** The same object version named twice in one message (S3 never does, producers and fan-outs can) is one record. */
function mergeDuplicates(records: readonly ParsedRecord[]): { record: ParsedRecord; rawIndex: number }[] {
  const seen = new Set<string>();
  const distinct: { record: ParsedRecord; rawIndex: number }[] = [];
  records.forEach((record, rawIndex) => {
    if (record.ok) {
      // Same key and same content is the same work, whichever event announced it.
      const { bucket, key, etag, sequencer } = record.object;
      const identity = JSON.stringify([bucket, key, etag ?? sequencer ?? '']);
      if (seen.has(identity)) return;
      seen.add(identity);
    }
    distinct.push({ record, rawIndex });
  });
  return distinct;
}

function isFolderMarker(object: ObjectEvent): boolean {
  return object.key.endsWith('/') && (object.size ?? 0) === 0;
}

async function handleObject(object: ObjectEvent, redelivered: boolean, deps: MessageHandlerDeps): Promise<void> {
  const { store, processor, config, retry, log, stats } = deps;
  const now = deps.now ?? Date.now;
  const started = now();
  const keyFor = (spec: OutputSpec) =>
    outputKey({ destPrefix: config.destPrefix, sourcePrefix: config.sourcePrefix, sourceKey: object.key, outputName: spec.name, extension: spec.extension });

  const planned = processor.plannedOutputs();
  // A key S3 would refuse is known before any byte is read: fail now, not after the work.
  for (const spec of planned ?? []) assertKeyWithinLimit(keyFor(spec), `output ${spec.name}`);

  // Only a redelivery can find its own outputs, so first deliveries skip the HEAD calls. The outputs must match this
  // event's version and that version must still be the source's: an older version's outputs written by a task that
  // was given up before its read-back must not be taken for done work when a newer version exists.
  if (redelivered && planned !== undefined && object.etag !== undefined) {
    const etag = object.etag;
    const [current, ...heads] = await Promise.all([
      retryTransient(() => store.head({ bucket: object.bucket, key: object.key }), retry),
      ...planned.map((spec) => retryTransient(() => store.head({ bucket: config.destBucket, key: keyFor(spec) }), retry)),
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
  let bytesIn = 0;
  let bytesOut = 0;
  let sizes: string[] = [];
  for (let round = 1; ; round++) {
    const source = await retryTransient(() => store.get({ bucket: object.bucket, key: object.key }, { maxBytes: config.maxInputBytes }), retry);
    const outputs = await processor.process({
      bytes: source.body,
      source: { bucket: object.bucket, key: object.key, etag: source.etag, size: source.size, contentType: source.contentType },
    }, retry.signal);
    const metadata = outputMetadata({ bucket: object.bucket, key: object.key, etag: source.etag });
    await Promise.all(
      outputs.map((output) =>
        retryTransient(() => store.put({ bucket: config.destBucket, key: keyFor(output) }, output.body, { contentType: output.contentType, metadata }), retry),
      ),
    );
    bytesIn += source.size;
    bytesOut += outputs.reduce((total, output) => total + output.body.length, 0);
    sizes = outputs.map((output) => output.name);
    const current = await retryTransient(() => store.head({ bucket: object.bucket, key: object.key }), retry);
    if (current === undefined || current.etag === source.etag) break;
    log.info('source changed while processing: processing the newer version too', { bucket: object.bucket, key: object.key, processedEtag: source.etag, currentEtag: current.etag, round });
    if (round >= FRESHNESS_ROUNDS) {
      throw new TransientError('source-changing', `s3://${object.bucket}/${object.key} changed ${round} times while it was processed; a later delivery processes its newest version`);
    }
  }
  const durationMs = now() - started;
  stats.recordProcessed(bytesIn, bytesOut, sizes.length, durationMs);
  log.info('processed', { bucket: object.bucket, key: object.key, sizes, bytesIn, bytesOut, durationMs });
}
