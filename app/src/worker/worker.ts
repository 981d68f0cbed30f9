import type { Log } from '../log/logger';
import type { MetricsSink } from '../metrics/emf-publisher';
import type { WorkerStats } from '../metrics/worker-stats';
import type { Queue, ReceivedMessage } from '../ports/queue';
import { DeleteBatcher } from './delete-batcher';
import type { MessageOutcome } from './handle-message';
import { realSleep, type Sleep } from './retry';

export interface WorkerLoopConfig {
  readonly concurrency: number;
  readonly receiveBatchSize: number;
  readonly waitSeconds: number;
  readonly idlePolls: number;
  readonly visibilityTimeoutSeconds: number;
  readonly shutdownGraceSeconds: number;
  readonly throughputLogSeconds: number;
}

export interface WorkerDeps {
  readonly queue: Queue;
  readonly handle: (message: ReceivedMessage) => Promise<MessageOutcome>;
  readonly config: WorkerLoopConfig;
  readonly log: Log;
  readonly stats: WorkerStats;
  readonly metrics: MetricsSink;
  readonly sleep?: Sleep;
  readonly now?: () => number;
}

export type ExitReason = 'drained' | 'stopped' | 'forced' | 'receive-failing';

export interface RunSummary {
  readonly reason: ExitReason;
  readonly received: number;
  readonly released: number;
}

interface InFlight {
  readonly message: ReceivedMessage;
  extendedAt: number;
  released: boolean;
}

/** Consecutive failed receives after which the worker gives up (the scaler starts a fresh task later). */
const MAX_CONSECUTIVE_RECEIVE_FAILURES = 8;

/** Redelivery delay after transient failures outlasted the in-process retries: grows with each delivery. */
export function transientReleaseDelaySeconds(receiveCount: number): number {
  return Math.min(900, 5 * 2 ** Math.max(0, receiveCount - 1));
}

/**
 * The self-draining queue loop: keeps up to `concurrency` messages in flight, receiving again as soon as a slot
 * frees (no waiting for whole batches), heartbeats visibility for slow messages, and returns once the queue has stayed
 * empty for `idlePolls` long polls with nothing in flight. `stop()` is the Spot notice: stop receiving, let in-flight
 * work finish within the grace period, hand back the rest at once. A second `stop()` hands back everything now.
 */
export class Worker {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly receiveAbort = new AbortController();
  private readonly deletes: DeleteBatcher;
  private readonly sleep: Sleep;
  private readonly now: () => number;
  private stopping = false;
  private forced = false;
  private wakeLoop: () => void = () => undefined;
  private wakeShutdown: () => void = () => undefined;
  private received = 0;
  private released = 0;
  private windowStartedAt: number;

  constructor(private readonly deps: WorkerDeps) {
    this.deletes = new DeleteBatcher(deps.queue, deps.log);
    this.sleep = deps.sleep ?? realSleep;
    this.now = deps.now ?? Date.now;
    this.windowStartedAt = this.now();
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  stop(): void {
    if (this.stopping) {
      this.forced = true;
      this.deps.log.warn('second stop signal: releasing all in-flight messages now', { inFlight: this.inFlight.size });
    } else {
      this.stopping = true;
      this.deps.log.info('stop requested: no more receives, finishing in-flight work', {
        inFlight: this.inFlight.size,
        graceSeconds: this.deps.config.shutdownGraceSeconds,
      });
      this.receiveAbort.abort();
    }
    this.wakeLoop();
    this.wakeShutdown();
  }

  async run(): Promise<RunSummary> {
    const { config, log } = this.deps;
    const heartbeat = setInterval(() => void this.heartbeat(), heartbeatIntervalMs(config.visibilityTimeoutSeconds) / 2);
    const throughput = setInterval(() => this.reportThroughput(), config.throughputLogSeconds * 1000);
    heartbeat.unref();
    throughput.unref();
    let reason: ExitReason = 'stopped';
    try {
      reason = await this.receiveLoop();
      if (this.stopping) reason = await this.finishWithinGrace();
    } finally {
      clearInterval(heartbeat);
      clearInterval(throughput);
      await this.deletes.drain();
      this.reportThroughput();
    }
    log.info('worker exiting', { reason, received: this.received, released: this.released, ...this.deps.stats.totals() });
    return { reason, received: this.received, released: this.released };
  }

  private async receiveLoop(): Promise<ExitReason> {
    const { queue, config, log } = this.deps;
    let emptyPolls = 0;
    let receiveFailures = 0;
    while (!this.stopping) {
      await this.waitForFreeSlot();
      if (this.stopping) break;
      let messages: ReceivedMessage[];
      try {
        messages = await queue.receive({
          maxMessages: Math.min(config.receiveBatchSize, config.concurrency - this.inFlight.size),
          waitSeconds: config.waitSeconds,
          visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
          signal: this.receiveAbort.signal,
        });
        receiveFailures = 0;
      } catch (error) {
        receiveFailures++;
        log.warn('receive failed', { reason: error instanceof Error ? error.message : String(error), consecutive: receiveFailures });
        if (receiveFailures >= MAX_CONSECUTIVE_RECEIVE_FAILURES) return 'receive-failing';
        await this.sleep(Math.min(20_000, 250 * 2 ** receiveFailures));
        continue;
      }
      if (this.stopping) {
        // Received while the stop arrived: hand them straight back rather than start work we may not finish.
        await this.release(messages.map((message) => ({ message, extendedAt: this.now(), released: false })));
        break;
      }
      if (messages.length === 0) {
        emptyPolls++;
        if (emptyPolls >= config.idlePolls && this.inFlight.size === 0) return 'drained';
        continue;
      }
      emptyPolls = 0;
      for (const message of messages) this.start(message);
    }
    return 'stopped';
  }

  private start(message: ReceivedMessage): void {
    const entry: InFlight = { message, extendedAt: this.now(), released: false };
    this.inFlight.set(message.receiptHandle, entry);
    this.received++;
    this.deps.log.info('received', { messageId: message.messageId, receiveCount: message.receiveCount });
    void this.deps
      .handle(message)
      .catch((error: unknown): MessageOutcome => ({
        action: 'release',
        kind: 'transient',
        reason: 'unexpected-error',
        detail: error instanceof Error ? error.message : String(error),
      }))
      .then((outcome) => this.settle(entry, outcome));
  }

  private async settle(entry: InFlight, outcome: MessageOutcome): Promise<void> {
    if (!entry.released) {
      if (outcome.action === 'delete') {
        this.deletes.add(entry.message.receiptHandle);
      } else {
        // Counted as in flight until the release lands, so the loop cannot call the queue drained before it has.
        entry.released = true;
        const { message } = entry;
        const delay = outcome.kind === 'permanent' ? 0 : transientReleaseDelaySeconds(message.receiveCount);
        this.deps.stats.recordFailed();
        this.deps.log.error('failed', {
          messageId: message.messageId,
          receiveCount: message.receiveCount,
          key: outcome.key,
          kind: outcome.kind,
          reason: outcome.reason,
          detail: outcome.detail,
          retryInSeconds: delay,
        });
        const failures = await this.deps.queue.changeVisibility([{ receiptHandle: message.receiptHandle, timeoutSeconds: delay }]);
        for (const failure of failures) this.deps.log.warn('release failed', { messageId: message.messageId, reason: failure.reason });
      }
    }
    this.inFlight.delete(entry.message.receiptHandle);
    this.wakeLoop();
    if (this.inFlight.size === 0) this.wakeShutdown();
  }

  private waitForFreeSlot(): Promise<void> {
    if (this.inFlight.size < this.deps.config.concurrency) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeLoop = () => {
        if (this.stopping || this.inFlight.size < this.deps.config.concurrency) resolve();
      };
    });
  }

  private async finishWithinGrace(): Promise<ExitReason> {
    if (this.inFlight.size > 0 && !this.forced) {
      let graceTimer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, this.deps.config.shutdownGraceSeconds * 1000);
        this.wakeShutdown = () => {
          if (this.forced || this.inFlight.size === 0) resolve();
        };
      });
      clearTimeout(graceTimer);
    }
    await this.release([...this.inFlight.values()].filter((entry) => !entry.released));
    return this.forced ? 'forced' : 'stopped';
  }

  /** Makes messages visible again at once so another worker can take them without waiting for the timeout. */
  private async release(entries: InFlight[]): Promise<void> {
    if (entries.length === 0) return;
    for (const entry of entries) entry.released = true;
    this.released += entries.length;
    const failures = await this.deps.queue.changeVisibility(
      entries.map((entry) => ({ receiptHandle: entry.message.receiptHandle, timeoutSeconds: 0 })),
    );
    this.deps.log.info('released unfinished messages', {
      count: entries.length,
      messageIds: entries.map((entry) => entry.message.messageId),
      failures: failures.length,
    });
  }

  private async heartbeat(): Promise<void> {
    const { config, queue, log } = this.deps;
    const now = this.now();
    const due = [...this.inFlight.values()].filter(
      (entry) => !entry.released && now - entry.extendedAt >= heartbeatIntervalMs(config.visibilityTimeoutSeconds),
    );
    if (due.length === 0) return;
    for (const entry of due) entry.extendedAt = now;
    const failures = await queue.changeVisibility(
      due.map((entry) => ({ receiptHandle: entry.message.receiptHandle, timeoutSeconds: config.visibilityTimeoutSeconds })),
    );
    log.debug('heartbeat', { extended: due.length - failures.length, failures: failures.length });
    for (const failure of failures) log.warn('heartbeat failed', { reason: failure.reason });
  }

  private reportThroughput(): void {
    const window = this.deps.stats.takeWindow();
    const now = this.now();
    const elapsedMs = Math.max(1, now - this.windowStartedAt);
    this.windowStartedAt = now;
    const perMinute = (count: number) => Math.round((count * 60_000) / elapsedMs);
    this.deps.log.info('throughput', {
      processedPerMin: perMinute(window.processed),
      processed: window.processed,
      skipped: window.skipped,
      failures: window.failed,
      inFlight: this.inFlight.size,
    });
    this.deps.metrics.publish(window, this.inFlight.size);
  }
}

/**
 * Messages are extended once they are a third of the visibility timeout old, checked twice as often, so a message
 * always has at least half its timeout left and a failed heartbeat can be retried before it expires.
 */
function heartbeatIntervalMs(visibilityTimeoutSeconds: number): number {
  return Math.max(1000, (visibilityTimeoutSeconds * 1000) / 3);
}
