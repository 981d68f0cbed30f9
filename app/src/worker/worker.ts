import { DeadlineExceededError, TransientError } from '../../../shared/errors';
import type { Log } from '../../../shared/log/logger';
import type { MetricsSink } from '../metrics/emf-publisher';
import type { WorkerStats } from '../metrics/worker-stats';
import type { Queue, ReceivedMessage } from '../../../shared/ports/queue';
import { DeleteBatcher } from './delete-batcher';
import type { HandleContext, MessageOutcome } from './handle-message';
import type { HealthGate } from './health-gate';
import { realSleep, type Sleep } from '../../../shared/retry';
import { ATTEMPTS_ATTRIBUTE, carriedAttempts, deadLetterAttributes, ORIGIN_ATTRIBUTE, originMessageId, planSettlement, type RecordFailure } from './settlement';

export interface WorkerLoopConfig {
  readonly concurrency: number;
  readonly receiveBatchSize: number;
  readonly waitSeconds: number;
  readonly idlePolls: number;
  readonly visibilityTimeoutSeconds: number;
  readonly shutdownGraceSeconds: number;
  readonly throughputLogSeconds: number;
  /** The redrive policy's maxReceiveCount: the worker dead-letters on the last attempt itself, with the reason. */
  readonly maxReceiveCount: number;
  /** Active work one message may take before it is given up (time waiting out an outage does not count). */
  readonly messageDeadlineSeconds: number;
  /** How long one message may wait out an outage before it is handed back. */
  readonly outageWaitSeconds: number;
}

export interface WorkerDeps {
  readonly queue: Queue;
  readonly handle: (message: ReceivedMessage, context: HandleContext) => Promise<MessageOutcome>;
  readonly config: WorkerLoopConfig;
  readonly log: Log;
  readonly stats: WorkerStats;
  readonly metrics: MetricsSink;
  /** The gate the handler's calls record into; while it is open the worker receives nothing new. */
  readonly gate?: HealthGate;
  readonly sleep?: Sleep;
  readonly now?: () => number;
}

export type ExitReason = 'drained' | 'stopped' | 'forced' | 'receive-failing' | 'stuck';

export interface RunSummary {
  readonly reason: ExitReason;
  readonly received: number;
  readonly released: number;
  /** Handlers still running for messages already given up (a native render that outlived its deadline). */
  readonly abandonedStillRunning: number;
}

interface InFlight {
  readonly message: ReceivedMessage;
  readonly controller: AbortController;
  extendedAt: number;
  lastTick: number;
  activeMs: number;
  outageMs: number;
  /** Its message has been deleted, released, rerouted or lost: nothing more may be done with its receipt handle. */
  settled: boolean;
  /** Given up while its handler still ran: the handler keeps a slot until it returns. */
  givenUp: boolean;
}

/** Consecutive failed receives after which the worker gives up (the scaler starts a fresh task later). */
const MAX_CONSECUTIVE_RECEIVE_FAILURES = 8;
const WATCH_INTERVAL_MS = 1000;
/** SQS's answers for a receipt handle that no longer owns its message: its visibility ran out and it moved on. */
const LOST_VISIBILITY = /^(MessageNotInflight|ReceiptHandleIsInvalid|InvalidParameterValue)/;

/**
 * The self-draining queue loop: keeps up to `concurrency` messages in flight, receiving again as soon as a slot
 * frees (no waiting for whole batches), heartbeats visibility for slow messages, and returns once the queue has stayed
 * empty for `idlePolls` long polls with nothing in flight. `stop()` is the Spot notice: stop receiving, let in-flight
 * work finish within the grace period, hand back the rest at once. A second `stop()` hands back everything now.
 *
 * What becomes of a handled message is `planSettlement`'s decision; this class only carries it out. A message that
 * outlives its deadline or its outage wait is given up: settled as failed at once, its handler told to stop. Until
 * that handler really returns (a native render cannot be interrupted), it keeps its slot, so the task never runs
 * more work at once than it was sized for.
 */
export class Worker {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly receiveAbort = new AbortController();
  private readonly deletes: DeleteBatcher;
  private readonly sleep: Sleep;
  private readonly now: () => number;
  private stopping = false;
  private forced = false;
  private stuck = false;
  private allSlotsAbandonedSince: number | undefined;
  private abandoned = 0;
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
    const heartbeat = setInterval(
      () => void this.heartbeat().catch((error: unknown) => log.warn('heartbeat failed', { reason: errorText(error) })),
      heartbeatIntervalMs(config.visibilityTimeoutSeconds) / 2,
    );
    const watch = setInterval(() => this.watchDeadlines(), WATCH_INTERVAL_MS);
    const throughput = setInterval(() => this.reportThroughput(), config.throughputLogSeconds * 1000);
    heartbeat.unref();
    watch.unref();
    throughput.unref();
    let reason: ExitReason = 'stopped';
    try {
      reason = await this.receiveLoop();
      // Receives failing is no reason to abandon work under way: finish it as a stop would, then hand back the rest.
      if (this.stopping || reason === 'receive-failing') {
        const finished = await this.finishWithinGrace();
        if (reason !== 'receive-failing' && reason !== 'stuck') reason = finished;
      }
    } finally {
      clearInterval(heartbeat);
      clearInterval(watch);
      clearInterval(throughput);
      await this.deletes.drain();
      this.reportThroughput();
    }
    log.info('worker exiting', { reason, received: this.received, released: this.released, abandonedStillRunning: this.abandoned, ...this.deps.stats.totals() });
    return { reason, received: this.received, released: this.released, abandonedStillRunning: this.abandoned };
  }

  private async receiveLoop(): Promise<ExitReason> {
    const { queue, config, log, gate } = this.deps;
    let emptyPolls = 0;
    let receiveFailures = 0;
    while (!this.stopping) {
      await this.waitForFreeSlot();
      // During an outage's pause new work would only wait at the gate too, and SQS would count its receive: leave it
      // queued. Once the pause is over, new work goes ahead as a probe like any other call.
      await gate?.ready(this.receiveAbort.signal);
      if (this.stopping) break;
      let messages: ReceivedMessage[];
      try {
        messages = await queue.receive({
          maxMessages: Math.min(config.receiveBatchSize, config.concurrency - this.slotsUsed()),
          waitSeconds: config.waitSeconds,
          visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
          signal: this.receiveAbort.signal,
        });
        receiveFailures = 0;
      } catch (error) {
        receiveFailures++;
        log.warn('receive failed', { reason: errorText(error), consecutive: receiveFailures });
        if (receiveFailures >= MAX_CONSECUTIVE_RECEIVE_FAILURES) return 'receive-failing';
        // A stop must not wait out this pause: the grace period is counted from the signal.
        await Promise.race([this.sleep(Math.min(20_000, 250 * 2 ** receiveFailures)), whenAborted(this.receiveAbort.signal)]);
        continue;
      }
      if (this.stopping) {
        // Received while the stop arrived: hand them straight back rather than start work we may not finish.
        await this.release(messages.map((message) => this.entryFor(message)));
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
    return this.stuck ? 'stuck' : 'stopped';
  }

  private entryFor(message: ReceivedMessage): InFlight {
    const now = this.now();
    return { message, controller: new AbortController(), extendedAt: now, lastTick: now, activeMs: 0, outageMs: 0, settled: false, givenUp: false };
  }

  private slotsUsed(): number {
    return this.inFlight.size + this.abandoned;
  }

  private start(message: ReceivedMessage): void {
    const entry = this.entryFor(message);
    this.inFlight.set(message.receiptHandle, entry);
    this.received++;
    this.deps.log.info('received', { messageId: message.messageId, receiveCount: message.receiveCount });
    void this.deps
      // The stop signal doubles as the job's notice: programs it runs get the Spot notice too.
      .handle(message, { signal: entry.controller.signal, stopping: this.receiveAbort.signal })
      .catch((error: unknown): MessageOutcome => wholeMessageFailure(message, 'unexpected-error', errorText(error)))
      .then(async (outcome) => {
        if (entry.givenUp) {
          // Given up earlier; its handler has only now returned, and its slot is free again.
          this.abandoned--;
          this.wakeLoop();
          return;
        }
        // Already handed back by a stop: nothing more to do with it.
        if (!entry.settled) await this.settle(entry, outcome);
      })
      .catch((error: unknown) => this.settleFailed(message, error));
  }

  /**
   * The queue refused a delete, release or reroute outright (a local queue file busy or closed; SQS adapters return
   * failures instead of throwing). Nothing is lost: the message becomes visible again when its timeout runs out.
   */
  private settleFailed(message: ReceivedMessage, error: unknown): void {
    this.deps.log.warn('settle failed: the message comes back when its visibility runs out', { messageId: message.messageId, reason: errorText(error) });
  }

  private async settle(entry: InFlight, outcome: MessageOutcome): Promise<void> {
    entry.settled = true;
    const { message } = entry;
    if (this.stopping && outcome.failures.length > 0 && outcome.failures.every((failure) => failure.kind === 'transient')) {
      // Failed while the task stops (a program ending on the forwarded Spot notice, a call cut short): the stop's
      // doing, not the input's. Handed back at once like unfinished work, never dead-lettered for it, even on the
      // last attempt; SQS's redrive, two receives later, stays the backstop.
      this.logFailures(message, outcome.failures, { outcome: 'released-on-stop', attempts: message.receiveCount });
      try {
        await this.release([entry]);
      } finally {
        this.forget(entry);
      }
      return;
    }
    const plan = planSettlement({
      receiveCount: message.receiveCount,
      carriedAttempts: carriedAttempts(message.attributes),
      maxReceiveCount: this.deps.config.maxReceiveCount,
      recordCount: outcome.recordCount,
      failures: outcome.failures,
    });
    try {
      if (plan.action === 'delete') {
        this.deletes.add(message.receiptHandle);
      } else if (plan.action === 'release') {
        this.logFailures(message, outcome.failures, { outcome: 'retry', attempts: plan.attempts, retryInSeconds: plan.delaySeconds });
        await this.changeVisibility(message, plan.delaySeconds);
      } else {
        this.logFailures(message, plan.deadLetter, { outcome: 'dead-lettered', attempts: plan.attempts });
        this.logFailures(message, plan.retry, { outcome: 'retry', attempts: plan.attempts, retryInSeconds: plan.delaySeconds });
        if (await this.reroute(message, outcome, plan)) this.deletes.add(message.receiptHandle);
        else await this.changeVisibility(message, plan.delaySeconds);
      }
    } finally {
      this.forget(entry);
    }
  }

  /**
   * Sends the dead-lettered and the re-queued parts, and only then lets the original go. A failed send keeps the
   * original (released, so it is tried again), which at worst dead-letters a record twice, never loses one.
   */
  private async reroute(message: ReceivedMessage, outcome: MessageOutcome, plan: { deadLetter: readonly RecordFailure[]; retry: readonly RecordFailure[]; attempts: number; delaySeconds: number }): Promise<boolean> {
    const { queue, log } = this.deps;
    try {
      if (plan.deadLetter.length > 0) {
        await queue.sendToDeadLetterQueue(
          outcome.bodyFor(plan.deadLetter.map((failure) => failure.index)),
          deadLetterAttributes(plan.deadLetter, { messageId: originMessageId(message), attempts: plan.attempts, at: new Date(this.now()) }),
        );
      }
      if (plan.retry.length > 0) {
        await queue.send(outcome.bodyFor(plan.retry.map((failure) => failure.index)), {
          delaySeconds: plan.delaySeconds,
          attributes: { [ATTEMPTS_ATTRIBUTE]: String(plan.attempts), [ORIGIN_ATTRIBUTE]: originMessageId(message) },
        });
      }
      return true;
    } catch (error) {
      log.warn('reroute failed: releasing the whole message instead', { messageId: message.messageId, reason: errorText(error) });
      return false;
    }
  }

  private logFailures(message: ReceivedMessage, failures: readonly RecordFailure[], fields: { outcome: string; attempts: number; retryInSeconds?: number }): void {
    for (const failure of failures) {
      this.deps.stats.recordFailed();
      this.deps.log.error('failed', {
        messageId: message.messageId,
        receiveCount: message.receiveCount,
        key: failure.key,
        kind: failure.kind,
        reason: failure.reason,
        detail: failure.detail,
        ...fields,
      });
    }
  }

  private async changeVisibility(message: ReceivedMessage, timeoutSeconds: number): Promise<void> {
    const failures = await this.deps.queue.changeVisibility([{ receiptHandle: message.receiptHandle, timeoutSeconds }]);
    for (const failure of failures) this.deps.log.warn('release failed', { messageId: message.messageId, reason: failure.reason });
  }

  /**
   * Gives a message up now: settled as a failure of the whole message (a redelivery skips the records already done),
   * its handler told to stop. Called from the watch and the heartbeat, never while the message is being settled.
   */
  private abandon(entry: InFlight, error: TransientError): void {
    if (entry.settled) return;
    entry.controller.abort(error);
    this.giveUp(entry);
    void this.settle(entry, wholeMessageFailure(entry.message, error.reason, error.message, error.attemptsAllowed)).catch((failure: unknown) => this.settleFailed(entry.message, failure));
  }

  /** No longer in flight here: its slot frees (unless given up), and a drained loop or stop may go on. */
  private forget(entry: InFlight): void {
    this.inFlight.delete(entry.message.receiptHandle);
    this.wakeLoop();
    if (this.inFlight.size === 0) this.wakeShutdown();
  }

  private giveUp(entry: InFlight): void {
    entry.givenUp = true;
    this.abandoned++;
  }

  private watchDeadlines(): void {
    const { config, gate } = this.deps;
    const now = this.now();
    for (const entry of this.inFlight.values()) {
      if (entry.settled) continue;
      const elapsed = now - entry.lastTick;
      entry.lastTick = now;
      if (gate?.isOpen === true) entry.outageMs += elapsed;
      else entry.activeMs += elapsed;
      if (entry.activeMs > config.messageDeadlineSeconds * 1000) {
        this.abandon(entry, new DeadlineExceededError('deadline-exceeded', `message took more than MESSAGE_DEADLINE_SECONDS (${config.messageDeadlineSeconds}) of work`));
      } else if (entry.outageMs > config.outageWaitSeconds * 1000) {
        this.abandon(entry, new TransientError('outage', `message waited out an outage for more than OUTAGE_WAIT_SECONDS (${config.outageWaitSeconds})`));
      }
    }
    if (this.stopping || this.inFlight.size > 0 || this.abandoned < config.concurrency) {
      this.allSlotsAbandonedSince = undefined;
    } else if (this.allSlotsAbandonedSince === undefined) {
      this.allSlotsAbandonedSince = now;
    } else if (now - this.allSlotsAbandonedSince > config.messageDeadlineSeconds * 1000) {
      // Every slot has been held for another whole deadline by work already given up whose native call never
      // returned: this task can do nothing more. Stopping lets the supervisor end the process and the scaler start
      // a fresh task.
      this.stuck = true;
      this.deps.log.error('every slot is held by given-up work that never returned: stopping', { abandonedStillRunning: this.abandoned });
      this.stop();
    }
  }

  private waitForFreeSlot(): Promise<void> {
    if (this.slotsUsed() < this.deps.config.concurrency) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeLoop = () => {
        if (this.stopping || this.slotsUsed() < this.deps.config.concurrency) resolve();
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
    const unfinished = [...this.inFlight.values()].filter((entry) => !entry.settled);
    for (const entry of unfinished) entry.controller.abort(new TransientError('stopping', 'the worker is stopping'));
    await this.release(unfinished);
    return this.forced ? 'forced' : 'stopped';
  }

  /** Makes messages visible again at once so another worker can take them without waiting for the timeout. */
  private async release(entries: InFlight[]): Promise<void> {
    if (entries.length === 0) return;
    for (const entry of entries) entry.settled = true;
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
      (entry) => !entry.settled && now - entry.extendedAt >= heartbeatIntervalMs(config.visibilityTimeoutSeconds),
    );
    if (due.length === 0) return;
    const previous = new Map(due.map((entry) => [entry.message.receiptHandle, entry.extendedAt]));
    for (const entry of due) entry.extendedAt = now;
    const failures = await queue.changeVisibility(
      due.map((entry) => ({ receiptHandle: entry.message.receiptHandle, timeoutSeconds: config.visibilityTimeoutSeconds })),
    );
    log.debug('heartbeat', { extended: due.length - failures.length, failures: failures.length });
    for (const failure of failures) {
      const entry = this.inFlight.get(failure.receiptHandle);
      if (entry === undefined || entry.settled) continue;
      if (LOST_VISIBILITY.test(failure.reason)) {
        // The message became visible and may already be another worker's: stop, and touch it no more.
        log.warn('visibility lost: giving the message up', { messageId: entry.message.messageId, reason: failure.reason });
        entry.controller.abort(new TransientError('visibility-lost', 'the message is no longer in flight for this worker'));
        entry.settled = true;
        this.giveUp(entry);
        this.forget(entry);
      } else {
        // Retried on the next tick, well before the message could expire, not a whole interval later.
        entry.extendedAt = previous.get(failure.receiptHandle) ?? entry.extendedAt;
        log.warn('heartbeat failed', { messageId: entry.message.messageId, reason: failure.reason });
      }
    }
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

/** The whole message failed as one (it could not be handled, or was given up): the original body is the unit. */
function wholeMessageFailure(message: ReceivedMessage, reason: string, detail: string, attemptsAllowed?: number): MessageOutcome {
  return {
    recordCount: 1,
    failures: [{ index: 0, kind: 'transient', reason, detail, ...(attemptsAllowed !== undefined ? { attemptsAllowed } : {}) }],
    bodyFor: () => message.body,
  };
}

/**
 * Messages are extended once they are a third of the visibility timeout old, checked twice as often, so a message
 * always has at least half its timeout left and a failed heartbeat is retried on the next check.
 */
function heartbeatIntervalMs(visibilityTimeoutSeconds: number): number {
  return Math.max(1000, (visibilityTimeoutSeconds * 1000) / 3);
}

function whenAborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
