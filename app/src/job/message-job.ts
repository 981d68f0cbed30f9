import type { ObjectEvent } from '../../../shared/events/parse-message';
import type { LogFields } from '../../../shared/log/logger';
import type { RetryPolicy } from '../../../shared/retry';
import type { MessageSender } from '../ports/message-sender';
import type { ObjectStore } from '../ports/object-store';
import type { JobContext, ObjectJob } from './object-job';

/**
 * The second kind of job: one whose "done" is not files written under DEST_PREFIX but its own effects (messages sent
 * to other pipelines, run records written), such as the fan-out and the aggregator. It gets the worker's ports and
 * does its own reads and writes; the queue loop, heartbeat, graceful stop, retries and DLQ routing stay the worker's,
 * exactly as for an object job. Its effects must be idempotent: a message may come twice, or twice at once.
 */
export interface MessageJobContext extends JobContext {
  readonly store: ObjectStore;
  readonly sender: MessageSender;
  /** In-process retries for transient failures, carrying the message's give-up signal. */
  readonly retry: RetryPolicy & { readonly signal: AbortSignal };
  readonly message: {
    /** Stable across redeliveries of the same message. */
    readonly messageId: string;
    /** This attempt's number, counting attempts carried over from a re-queued copy. */
    readonly attempt: number;
    /** A transient failure now dead-letters the message: what must be recorded about a failure is recorded now. */
    readonly finalAttempt: boolean;
  };
}

export interface MessageJob {
  readonly kind: 'message';
  readonly name: string;
  /** For a job triggered by S3 objects (a manifest upload): one record of an S3 event. */
  handleObject?(object: ObjectEvent, context: MessageJobContext): Promise<void>;
  /** For a job fed its own requests: true for a body that is one (asked before the body is read as an S3 event). */
  acceptsRequest?(body: string): boolean;
  /** Throws as ObjectJob.process does: a PermanentError dead-letters with its reason, anything else is retried. */
  handleRequest?(body: string, context: MessageJobContext): Promise<void>;
  /** Settings worth one line in the `worker started` log; never secrets. */
  describe(): LogFields;
}

export type Job = ObjectJob | MessageJob;

export function isMessageJob(job: Job): job is MessageJob {
  return (job as MessageJob).kind === 'message';
}
