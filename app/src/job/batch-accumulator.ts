/**
 * Groups items that arrive one at a time (messages, each handled in its own worker slot) into batches for one call:
 * a batch goes when it holds `batchSize` items or `flushMs` after its first item, whichever comes first, and at most
 * `maxConcurrentBatches` run at once (the rest wait, full, in arrival order). Each item's promise settles with its own
 * outcome from the batch's result, so a bad record fails alone and every message is settled on its own.
 *
 * Backpressure needs nothing here: the worker receives no more messages than it has slots, so a full buffer stops
 * receives by itself, and the heartbeat keeps every buffered message invisible as it does any in-flight one.
 */
export interface BatchAccumulatorOptions<T, R> {
  readonly batchSize: number;
  readonly flushMs: number;
  readonly maxConcurrentBatches: number;
  /** Runs one batch; returns one outcome per item, in order. Throwing fails every item of the batch with the error. */
  run(items: readonly T[]): Promise<readonly R[]>;
  readonly timers?: { setTimeout(callback: () => void, ms: number): unknown; clearTimeout(handle: unknown): void };
}

interface Pending<T, R> {
  readonly item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

export class BatchAccumulator<T, R> {
  private filling: Pending<T, R>[] = [];
  private flushTimer: unknown;
  private readonly ready: Pending<T, R>[][] = [];
  private running = 0;
  private readonly timers: NonNullable<BatchAccumulatorOptions<T, R>['timers']>;

  constructor(private readonly options: BatchAccumulatorOptions<T, R>) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    if (!Number.isInteger(options.maxConcurrentBatches) || options.maxConcurrentBatches < 1) throw new RangeError(`maxConcurrentBatches must be a positive integer, got ${options.maxConcurrentBatches}`);
    if (!(options.flushMs >= 0)) throw new RangeError(`flushMs must be at least 0, got ${options.flushMs}`);
    this.timers = options.timers ?? { setTimeout: (callback, ms) => setTimeout(callback, ms), clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout) };
  }

  /** Items waiting for their batch to fill or to start. */
  get buffered(): number {
    return this.filling.length + this.ready.reduce((sum, batch) => sum + batch.length, 0);
  }

  get runningBatches(): number {
    return this.running;
  }

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.filling.push({ item, resolve, reject });
      if (this.filling.length >= this.options.batchSize) this.seal();
      else if (this.filling.length === 1) this.flushTimer = this.timers.setTimeout(() => this.seal(), this.options.flushMs);
    });
  }

  /** Sends the half-full batch now (a stop: what is buffered is worked on, not held until the timer). */
  flush(): void {
    if (this.filling.length > 0) this.seal();
  }

  private seal(): void {
    if (this.flushTimer !== undefined) this.timers.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.filling;
    this.filling = [];
    if (batch.length === 0) return;
    this.ready.push(batch);
    this.startReady();
  }

  private startReady(): void {
    while (this.running < this.options.maxConcurrentBatches && this.ready.length > 0) {
      const batch = this.ready.shift()!;
      this.running++;
      void this.runBatch(batch).finally(() => {
        this.running--;
        this.startReady();
      });
    }
  }

  private async runBatch(batch: readonly Pending<T, R>[]): Promise<void> {
    try {
      const results = await this.options.run(batch.map((pending) => pending.item));
      if (results.length !== batch.length) throw new TypeError(`a batch of ${batch.length} items returned ${results.length} outcomes`);
      batch.forEach((pending, index) => pending.resolve(results[index]!));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    }
  }
}
