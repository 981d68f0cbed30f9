/**
 * A background pass started at most once an interval and never while the last is still running. Chaining each start
 * onto the last would queue a pass every interval whenever one takes longer than that (a big bucket listed and
 * stat'ed file by file), and the run's end would wait for the whole queue.
 */
export class PeriodicPass {
  private running: Promise<void> | undefined;
  private nextAt = 0;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Starts a pass when the interval has come round and none is running; returns at once. */
  poke(): void {
    const now = this.clock();
    if (this.running !== undefined || now < this.nextAt) return;
    this.nextAt = now + this.intervalMs;
    const run = this.pass().catch(this.onError).finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
  }

  /** Resolves once no pass is running (a failed pass included: its error went to onError). */
  async idle(): Promise<void> {
    await this.running;
  }
}
