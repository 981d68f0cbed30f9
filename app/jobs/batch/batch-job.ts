import type { Log, LogFields } from '../../../shared/log/logger';
import { BatchAccumulator } from '../../src/job/batch-accumulator';
import type { MessageJob, MessageJobContext } from '../../src/job/message-job';
import type { ObjectStore } from '../../src/ports/object-store';
import { BatchCounters, throughputFields, type BatchMetricsSink, type BatchReport } from './batch-metrics';
import type { BatchSettings } from './batch-settings';
import type { ScoringModel } from './model/scoring-model';
import { parseRecordMessage, type RecordMessage } from './record-message';
import type { ResultStore } from './result-store';
import { scoreBatch, type RecordOutcome } from './score-batch';

interface Buffered {
  readonly record: RecordMessage;
  readonly objects: ObjectStore;
  readonly log: Log;
}

export interface BatchJobDeps {
  readonly model: ScoringModel;
  readonly results: ResultStore;
  readonly metrics: BatchMetricsSink;
  readonly throughputLogMs?: number;
  readonly now?: () => number;
}

/** Ids named in a log line about a batch; the rest are counted. */
const IDS_LOGGED = 10;

/**
 * Scores records in batches: each message is one record, held in its worker slot until its batch's result for it
 * is durable. The worker's slots are the buffer (CONCURRENCY = BATCH_SIZE × (MAX_CONCURRENCY + 1) by default), so a
 * full buffer stops receives and every buffered message is heartbeated like any in flight; the worker deletes a
 * message when its handler resolves (scored, or skipped because a result exists) and dead-letters or releases it
 * when it throws (the record's own failure), so one bad record never holds back or redoes the others.
 */
export class BatchJob implements MessageJob {
  readonly kind = 'message' as const;
  readonly name = 'batch';
  private readonly accumulator: BatchAccumulator<Buffered, RecordOutcome>;
  private readonly counters = new BatchCounters();
  private throughputTimer: NodeJS.Timeout | undefined;
  private windowStartedAt: number;
  private readonly now: () => number;
  /** Stop signals already wired to a flush: one listener per signal, not one per buffered message. */
  private readonly flushOnStop = new WeakSet<AbortSignal>();

  constructor(private readonly settings: BatchSettings, private readonly deps: BatchJobDeps) {
    this.now = deps.now ?? (() => performance.now());
    this.windowStartedAt = this.now();
    this.accumulator = new BatchAccumulator<Buffered, RecordOutcome>({
      batchSize: settings.batchSize,
      flushMs: settings.flushMs,
      maxConcurrentBatches: settings.maxConcurrentBatches,
      run: (items) => this.runBatch(items),
    });
  }

  /** Every message on a batch queue is a record request: anything else is refused by parseRecordMessage, by name. */
  acceptsRequest(): boolean {
    return true;
  }

  async handleRequest(body: string, context: MessageJobContext): Promise<void> {
    const record = parseRecordMessage(body);
    // Given up before it was buffered: nothing of it starts, so no outcome is left without a listener.
    context.signal.throwIfAborted();
    this.startThroughputLog(context.log);
    this.flushWhenStopping(context.stopping);
    const outcome = await untilGivenUp(this.accumulator.add({ record, objects: context.store, log: context.log }), context.signal);
    if (outcome.kind === 'failed') throw outcome.error;
  }

  /** A stop (the Spot notice) scores what is buffered at once rather than waiting out the flush timer. */
  private flushWhenStopping(stopping: AbortSignal): void {
    if (stopping.aborted) {
      queueMicrotask(() => this.accumulator.flush());
      return;
    }
    if (this.flushOnStop.has(stopping)) return;
    this.flushOnStop.add(stopping);
    stopping.addEventListener('abort', () => this.accumulator.flush(), { once: true });
  }

  describe(): LogFields {
    return {
      batchSize: this.settings.batchSize,
      flushMs: this.settings.flushMs,
      maxConcurrentBatches: this.settings.maxConcurrentBatches,
      resultStore: this.deps.results.name,
      modelVersion: this.deps.model.version,
    };
  }

  private async runBatch(items: readonly Buffered[]): Promise<readonly RecordOutcome[]> {
    const { objects, log } = items[0]!;
    const { outcomes, timings } = await scoreBatch(items.map((item) => item.record), {
      objects,
      results: this.deps.results,
      model: this.deps.model,
      settings: this.settings,
      now: this.now,
    });
    const idsWith = (kind: RecordOutcome['kind']) => items.filter((_, index) => outcomes[index]!.kind === kind).map((item) => item.record.id);
    const skipped = idsWith('skipped');
    const failed = idsWith('failed');
    const report: BatchReport = { size: items.length, scored: items.length - skipped.length - failed.length, skipped: skipped.length, failed: failed.length, timings };
    this.counters.add(report);
    this.deps.metrics.publish(report);
    log.info('batch scored', {
      size: report.size,
      scored: report.scored,
      skipped: report.skipped,
      failed: report.failed,
      ...timings,
      ...(skipped.length > 0 ? { skippedIds: skipped.slice(0, IDS_LOGGED) } : {}),
      ...(failed.length > 0 ? { failedIds: failed.slice(0, IDS_LOGGED) } : {}),
    });
    return outcomes;
  }

  private startThroughputLog(log: Log): void {
    if (this.throughputTimer !== undefined) return;
    this.windowStartedAt = this.now();
    this.throughputTimer = setInterval(() => {
      const now = this.now();
      const window = this.counters.takeWindow();
      if (window.batches > 0) log.info('batch throughput', throughputFields(window, now - this.windowStartedAt));
      this.windowStartedAt = now;
    }, this.deps.throughputLogMs ?? 60_000);
    this.throughputTimer.unref();
  }
}

/** The record's outcome, or the worker's give-up reason once it gives the message up (its batch may still score it). */
function untilGivenUp<T>(outcome: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    outcome.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
