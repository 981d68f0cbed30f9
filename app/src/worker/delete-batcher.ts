import type { Log } from '../../../shared/log/logger';
import type { Queue } from '../../../shared/ports/queue';

const SQS_BATCH_LIMIT = 10;

/**
 * Collects finished messages and deletes them ten at a time (one SQS request instead of ten), flushing a partial
 * batch after a short linger so a slow trickle is not held back. A message whose delete is lost to a crash is simply
 * redelivered and skipped by the idempotency check.
 */
export class DeleteBatcher {
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inProgress = new Set<Promise<void>>();

  constructor(
    private readonly queue: Queue,
    private readonly log: Log,
    private readonly lingerMs = 200,
  ) {}

  add(receiptHandle: string): void {
    this.pending.push(receiptHandle);
    if (this.pending.length >= SQS_BATCH_LIMIT) this.flushFull();
    else this.timer ??= setTimeout(() => this.flushAll(), this.lingerMs);
  }

  /** Deletes everything pending and waits for every delete under way. */
  async drain(): Promise<void> {
    this.flushAll();
    while (this.inProgress.size > 0) await Promise.all([...this.inProgress]);
  }

  private flushFull(): void {
    while (this.pending.length >= SQS_BATCH_LIMIT) this.send(this.pending.splice(0, SQS_BATCH_LIMIT));
  }

  private flushAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) this.send(this.pending.splice(0, SQS_BATCH_LIMIT));
  }

  private send(handles: string[]): void {
    const request = this.queue
      .deleteMessages(handles)
      .then((failures) => {
        for (const failure of failures) this.log.warn('delete failed', { reason: failure.reason });
      })
      .catch((error: unknown) => this.log.warn('delete failed', { reason: String(error), count: handles.length }))
      .finally(() => this.inProgress.delete(request));
    this.inProgress.add(request);
  }
}
