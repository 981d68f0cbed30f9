import type { BatchFailure, Queue, QueueDepth, ReceiveOptions, ReceivedMessage, SendOptions, VisibilityChange } from '../../../shared/ports/queue';

/** SQS requests a queue client makes, as SQS would bill them: batch calls carry at most 10 entries. */
export interface QueueCallCounts {
  readonly receives: number;
  readonly emptyReceives: number;
  readonly deleteBatches: number;
  readonly visibilityBatches: number;
  readonly depthReads: number;
  readonly sends: number;
}

const SQS_BATCH_LIMIT = 10;

/** Wraps any Queue and counts the SQS requests the same calls would make against SQS. */
export class CountingQueue implements Queue {
  private counts: QueueCallCounts = { receives: 0, emptyReceives: 0, deleteBatches: 0, visibilityBatches: 0, depthReads: 0, sends: 0 };

  constructor(private readonly inner: Queue) {}

  calls(): QueueCallCounts {
    return { ...this.counts };
  }

  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    const messages = await this.inner.receive(options);
    this.add({ receives: 1, emptyReceives: messages.length === 0 ? 1 : 0 });
    return messages;
  }

  send(body: string, options?: SendOptions): Promise<string> {
    this.add({ sends: 1 });
    return this.inner.send(body, options);
  }

  sendToDeadLetterQueue(body: string, attributes: Readonly<Record<string, string>>): Promise<void> {
    this.add({ sends: 1 });
    return this.inner.sendToDeadLetterQueue(body, attributes);
  }

  deleteMessages(receiptHandles: readonly string[]): Promise<BatchFailure[]> {
    this.add({ deleteBatches: Math.ceil(receiptHandles.length / SQS_BATCH_LIMIT) });
    return this.inner.deleteMessages(receiptHandles);
  }

  changeVisibility(changes: readonly VisibilityChange[]): Promise<BatchFailure[]> {
    this.add({ visibilityBatches: Math.ceil(changes.length / SQS_BATCH_LIMIT) });
    return this.inner.changeVisibility(changes);
  }

  depth(): Promise<QueueDepth> {
    this.add({ depthReads: 1 });
    return this.inner.depth();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private add(delta: Partial<QueueCallCounts>): void {
    const counts = { ...this.counts };
    for (const [name, value] of Object.entries(delta) as [keyof QueueCallCounts, number][]) counts[name] += value;
    this.counts = counts;
  }
}
