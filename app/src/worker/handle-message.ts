import { classifyFailure, TransientError } from '../../../shared/errors';
import { parseMessageBody, type ObjectEvent, type ParsedRecord } from '../../../shared/events/parse-message';
import type { ReceivedMessage } from '../../../shared/ports/queue';
import type { RetryPolicy } from '../../../shared/retry';
import { handleObject, type ObjectHandlerConfig, type ObjectHandlerDeps } from './handle-object';
import { carriedAttempts, type RecordFailure } from './settlement';

export interface MessageHandlerConfig extends ObjectHandlerConfig {
  readonly allowedSourceBuckets?: readonly string[];
}

export interface MessageHandlerDeps extends Omit<ObjectHandlerDeps, 'retry' | 'stopping' | 'config'> {
  readonly config: MessageHandlerConfig;
  readonly retry: RetryPolicy;
}

export interface HandleContext {
  /** Aborted when the worker gives the message up (deadline, outage outlasting its wait, lost visibility). */
  readonly signal: AbortSignal;
  /** Aborted when the task is asked to stop (the Spot notice); jobs running programs pass it on. */
  readonly stopping?: AbortSignal;
}

/** What happened to each record of one message; the worker turns it into a delete, a release or a reroute. */
export interface MessageOutcome {
  /** Distinct records (duplicates merged); 0 for an s3:TestEvent. */
  readonly recordCount: number;
  readonly failures: readonly RecordFailure[];
  /** A message body holding just these records (indices as in `failures`). */
  bodyFor(indices: readonly number[]): string;
}

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
  const retry = { ...deps.retry, signal: context.signal };
  const stopping = context.stopping ?? new AbortController().signal;
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
      await handleObject(object, redelivered, { ...deps, retry, stopping });
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
