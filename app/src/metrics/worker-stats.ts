/** Running counters of one worker: the per-minute throughput line and the EMF metrics are both cut from these. */
export interface StatsWindow {
  readonly processed: number;
  readonly skipped: number;
  readonly failed: number;
  readonly outputs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly totalDurationMs: number;
}

const EMPTY: StatsWindow = { processed: 0, skipped: 0, failed: 0, outputs: 0, bytesIn: 0, bytesOut: 0, totalDurationMs: 0 };

export class WorkerStats {
  private window: StatsWindow = EMPTY;
  private total: StatsWindow = EMPTY;

  recordProcessed(bytesIn: number, bytesOut: number, outputs: number, durationMs: number): void {
    this.add({ ...EMPTY, processed: 1, bytesIn, bytesOut, outputs, totalDurationMs: durationMs });
  }
  recordSkipped(): void { this.add({ ...EMPTY, skipped: 1 }); }
  recordFailed(): void { this.add({ ...EMPTY, failed: 1 }); }

  /** Returns the counts since the last call and starts a new window. */
  takeWindow(): StatsWindow {
    const window = this.window;
    this.window = EMPTY;
    return window;
  }
  totals(): StatsWindow { return this.total; }

  private add(delta: StatsWindow): void {
    this.window = sum(this.window, delta);
    this.total = sum(this.total, delta);
  }
}

function sum(a: StatsWindow, b: StatsWindow): StatsWindow {
  return {
    processed: a.processed + b.processed,
    skipped: a.skipped + b.skipped,
    failed: a.failed + b.failed,
    outputs: a.outputs + b.outputs,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
    totalDurationMs: a.totalDurationMs + b.totalDurationMs,
  };
}
