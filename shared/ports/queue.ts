/**
 * The queue port: the subset of SQS semantics the worker, the scaler and the local pipeline rely on.
 * Adapters: `SqsQueue` (AWS) and `LocalQueue` (embedded SQLite). Both must behave alike for the worker's sake:
 * a received message stays invisible for the queue's visibility timeout unless its visibility is changed,
 * a message received more than maxReceiveCount times moves to the dead-letter queue.
 */
export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** How many times this message has been received, this receive included (SQS ApproximateReceiveCount). */
  readonly receiveCount: number;
  /** String message attributes (SQS MessageAttributes); `{}` when it has none. */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface SendOptions {
  /** 0..900, as in SQS. */
  readonly delaySeconds?: number;
  /** String message attributes; at most 10, as in SQS. */
  readonly attributes?: Readonly<Record<string, string>>;
}

export interface ReceiveOptions {
  /** 1..10, as in SQS. */
  readonly maxMessages: number;
  /** Long-poll wait, 0..20 s, as in SQS. */
  readonly waitSeconds: number;
  /**
   * Visibility for the received messages (SQS ReceiveMessage VisibilityTimeout); the queue's default when omitted.
   * The worker sets it so its heartbeat schedule does not depend on how the queue was configured.
   */
  readonly visibilityTimeoutSeconds?: number;
  /** Aborting ends the long poll at once with no messages. */
  readonly signal?: AbortSignal;
}

export interface VisibilityChange {
  readonly receiptHandle: string;
  /** 0 makes the message visible again at once; at most 43200 (12 h). */
  readonly timeoutSeconds: number;
}

export interface PeekedDeadLetter {
  readonly messageId: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface BatchFailure {
  readonly receiptHandle: string;
  readonly reason: string;
}

/** Approximate counts, as SQS reports them: they lag and `visible` excludes in-flight messages. */
export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export interface QueueDepthReader {
  depth(): Promise<QueueDepth>;
}

export interface Queue extends QueueDepthReader {
  /**
   * The queue's own redrive limit when the adapter can know it (a local queue file stores it); for SQS it comes
   * from the worker's MAX_RECEIVE_COUNT, which the infra sets from the same value as the redrive policy.
   */
  readonly maxReceiveCount?: number;
  receive(options: ReceiveOptions): Promise<ReceivedMessage[]>;
  /** Puts a new message on this queue; returns its id. */
  send(body: string, options?: SendOptions): Promise<string>;
  /**
   * Puts a message straight on this queue's dead-letter queue, with attributes saying why: the worker dead-letters
   * what it knows cannot succeed instead of waiting out maxReceiveCount receives that would lose the reason.
   */
  sendToDeadLetterQueue(body: string, attributes: Readonly<Record<string, string>>): Promise<void>;
  /**
   * Looks at up to `max` messages in the dead-letter queue without taking them (SQS: a receive with a visibility
   * timeout of 0). Message ids are the original ones: SQS keeps them when it moves a message there.
   */
  peekDeadLetters?(max: number): Promise<readonly PeekedDeadLetter[]>;
  /** Deletes up to any number of messages, batching by 10; returns the ones that could not be deleted. */
  deleteMessages(receiptHandles: readonly string[]): Promise<BatchFailure[]>;
  /** Changes visibility of any number of messages, batching by 10; returns the ones that failed. */
  changeVisibility(changes: readonly VisibilityChange[]): Promise<BatchFailure[]>;
  close(): Promise<void>;
}
