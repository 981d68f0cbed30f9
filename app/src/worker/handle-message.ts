import { classifyFailure, PermanentError, TransientError } from '../../../shared/errors';
import { parseMessageBody, type ObjectEvent, type ParsedRecord } from '../../../shared/events/parse-message';
import type { ReceivedMessage } from '../../../shared/ports/queue';
import type { RetryPolicy } from '../../../shared/retry';
import { looksLikeFanoutMessage, parseFanoutMessage } from '../../../shared/fanout/messages';
import type { FamilySettings } from '../config';
import { isMessageJob, type Job, type MessageJob, type MessageJobContext } from '../job/message-job';
import type { MessageSender } from '../ports/message-sender';
import { handleBatch } from './handle-batch';
import { handleObject, type ObjectHandlerConfig, type ObjectHandlerDeps } from './handle-object';
import { carriedAttempts, originMessageId, type RecordFailure } from './settlement';

export interface MessageHandlerConfig extends ObjectHandlerConfig {
  readonly allowedSourceBuckets?: readonly string[];
  /** The attempt on which a failure dead-letters (the worker's MAX_RECEIVE_COUNT or the queue's own). */
  readonly maxReceiveCount: number;
  /** Set on a fan-out family's worker: it takes that family's batch messages. */
  readonly family?: FamilySettings;
}

export interface MessageHandlerDeps extends Omit<ObjectHandlerDeps, 'retry' | 'stopping' | 'config' | 'job'> {
  readonly job: Job;
  readonly config: MessageHandlerConfig;
  readonly retry: RetryPolicy;
  /** For jobs and families that send to other pipelines' queues. */
  readonly sender?: MessageSender;
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
  const { job } = deps;
  if (looksLikeFanoutMessage(message.body) || (isMessageJob(job) && job.acceptsRequest?.(message.body) === true)) {
    return handleRequest(message, deps, context);
  }
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
      if (isMessageJob(job)) await handleObjectWithMessageJob(job, object, messageContext(message, deps, context));
      else await handleObject(object, redelivered, { ...deps, job, retry, stopping });
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

/**
 * A message that is not an S3 event: a message job's own request, or a fan-out batch for this family. It is one
 * record: it succeeds or fails whole.
 */
async function handleRequest(message: ReceivedMessage, deps: MessageHandlerDeps, context: HandleContext): Promise<MessageOutcome> {
  const single = (failure?: RecordFailure): MessageOutcome => ({ recordCount: 1, failures: failure === undefined ? [] : [failure], bodyFor: () => message.body });
  const { job } = deps;
  try {
    if (isMessageJob(job) && job.acceptsRequest?.(message.body) === true && job.handleRequest !== undefined) {
      await job.handleRequest(message.body, messageContext(message, deps, context));
      return single();
    }
    const request = parseFanoutMessage(message.body);
    if (request.kind !== 'fanout-batch' || deps.config.family === undefined || isMessageJob(job)) {
      throw new FanoutMessageMisroutedError(
        `a ${request.kind} message for run ${request.runId} reached the ${job.name} job${deps.config.family !== undefined ? ` of family ${deps.config.family.name}` : ''}, which does not take it: check the pipelines' queue URLs`,
      );
    }
    await handleBatch(request, { ...deps, job, family: deps.config.family, context: messageContext(message, deps, context), redelivered: message.receiveCount > 1 });
    return single();
  } catch (error) {
    // A missing object here is run state gone (a batch list deleted): never a skip, the run must hear of it.
    const failure = classifyFailure(error);
    return single({ index: 0, kind: failure.kind === 'missing' ? 'permanent' : failure.kind, reason: failure.reason, detail: failure.message, ...(failure.attemptsAllowed !== undefined ? { attemptsAllowed: failure.attemptsAllowed } : {}) });
  }
}

class FanoutMessageMisroutedError extends PermanentError {
  override readonly name = 'FanoutMessageMisroutedError';
  readonly reason = 'misrouted-message';
}

function messageContext(message: ReceivedMessage, deps: MessageHandlerDeps, context: HandleContext): MessageJobContext {
  const attempt = Math.max(1, carriedAttempts(message.attributes) + message.receiveCount);
  return {
    signal: context.signal,
    stopping: context.stopping ?? new AbortController().signal,
    log: deps.log,
    store: deps.store,
    sender: deps.sender ?? noSender,
    retry: { ...deps.retry, signal: context.signal },
    message: { messageId: originMessageId(message), attempt, finalAttempt: attempt >= deps.config.maxReceiveCount },
  };
}

const noSender: MessageSender = {
  sendAll: () => Promise.reject(new TypeError('this worker was started without a message sender')),
  close: () => Promise.resolve(),
};

async function handleObjectWithMessageJob(job: MessageJob, object: ObjectEvent, context: MessageJobContext): Promise<void> {
  if (job.handleObject === undefined) throw new FanoutMessageMisroutedError(`the ${job.name} job takes its own requests, not S3 events (s3://${object.bucket}/${object.key})`);
  await job.handleObject(object, context);
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
