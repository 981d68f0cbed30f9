import type { BatchFailure, Queue, QueueDepth, ReceiveOptions, ReceivedMessage, SendOptions, VisibilityChange } from '../../../shared/ports/queue';

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
  receiveCount: number;
  visibleAt: number;
  receiptHandle?: string;
}

/**
 * An in-memory queue with SQS visibility semantics on the real clock, for testing the worker loop in isolation.
 * Empty receives wait a few milliseconds (a real long poll never returns instantly), so the loop cannot spin.
 * Like SQS, a receipt handle stops working once its message's visibility has run out and it was received again.
 */
export class MemoryQueue implements Queue {
  readonly messages: StoredMessage[] = [];
  readonly deleted: string[] = [];
  readonly deadLetters: { body: string; attributes: Readonly<Record<string, string>> }[] = [];
  readonly visibilityChanges: VisibilityChange[] = [];
  readonly receiveCalls: ReceiveOptions[] = [];
  readonly deleteCalls: string[][] = [];
  readonly sent: { body: string; options: SendOptions }[] = [];
  private nextId = 0;
  private handles = 0;

  constructor(private readonly defaultVisibilitySeconds = 30, private readonly emptyPollMs = 5) {}

  /** Adds a message synchronously (for setting up tests); returns its id. */
  add(body: string, attributes: Readonly<Record<string, string>> = {}, delaySeconds = 0): string {
    const messageId = `m-${++this.nextId}`;
    this.messages.push({ messageId, body, attributes, receiveCount: 0, visibleAt: delaySeconds === 0 ? 0 : Date.now() + delaySeconds * 1000 });
    return messageId;
  }

  async send(body: string, options: SendOptions = {}): Promise<string> {
    this.sent.push({ body, options });
    return this.add(body, options.attributes ?? {}, options.delaySeconds ?? 0);
  }

  async sendToDeadLetterQueue(body: string, attributes: Readonly<Record<string, string>>): Promise<void> {
    this.deadLetters.push({ body, attributes });
  }

  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    this.receiveCalls.push(options);
    const now = Date.now();
    const visible = this.messages.filter((message) => message.visibleAt <= now).slice(0, options.maxMessages);
    if (visible.length === 0) {
      await new Promise<void>((resolve) => {
        const onAbort = () => { clearTimeout(timer); resolve(); };
        const timer = setTimeout(() => { options.signal?.removeEventListener('abort', onAbort); resolve(); }, this.emptyPollMs);
        options.signal?.addEventListener('abort', onAbort, { once: true });
      });
      return [];
    }
    return visible.map((message) => {
      message.receiveCount++;
      message.visibleAt = now + 1000 * (options.visibilityTimeoutSeconds ?? this.defaultVisibilitySeconds);
      message.receiptHandle = `h-${++this.handles}`;
      return { messageId: message.messageId, receiptHandle: message.receiptHandle, body: message.body, receiveCount: message.receiveCount, attributes: message.attributes };
    });
  }

  async deleteMessages(receiptHandles: readonly string[]): Promise<BatchFailure[]> {
    this.deleteCalls.push([...receiptHandles]);
    const failures: BatchFailure[] = [];
    for (const handle of receiptHandles) {
      const index = this.messages.findIndex((message) => message.receiptHandle === handle);
      if (index < 0) failures.push({ receiptHandle: handle, reason: 'ReceiptHandleIsInvalid' });
      else this.deleted.push(this.messages.splice(index, 1)[0].messageId);
    }
    return failures;
  }

  async changeVisibility(changes: readonly VisibilityChange[]): Promise<BatchFailure[]> {
    this.visibilityChanges.push(...changes);
    const failures: BatchFailure[] = [];
    for (const change of changes) {
      const message = this.messages.find((candidate) => candidate.receiptHandle === change.receiptHandle);
      if (message === undefined) failures.push({ receiptHandle: change.receiptHandle, reason: 'ReceiptHandleIsInvalid: no such message' });
      else message.visibleAt = Date.now() + change.timeoutSeconds * 1000;
    }
    return failures;
  }

  async depth(): Promise<QueueDepth> {
    const now = Date.now();
    const visible = this.messages.filter((message) => message.visibleAt <= now).length;
    return { visible, inFlight: this.messages.length - visible, delayed: 0 };
  }

  async close(): Promise<void> {}
}
