import { abortableSleep } from '../../../shared/runtime/abortable-sleep';

/**
 * Tells an outage from a bad request. When most of the worker's recent calls fail transiently (S3 SlowDown, 5xx,
 * KMS throttling, resets), the dependency is down, not the message: the gate opens, calls wait at it instead of
 * failing their messages one after another, and the worker stops receiving. After a pause, calls go through again
 * as probes; the first success closes the gate, another failure pauses it for twice as long (up to a ceiling).
 * Without it, every message in flight during a few minutes of outage would be released again and again and reach
 * the DLQ once its receive count ran out.
 */
export interface HealthGateOptions {
  /** Failures in the window that open the gate (default 5). */
  readonly minFailures?: number;
  /** Share of the window's calls that must have failed (default 0.8). */
  readonly failureRatio?: number;
  /** How far back calls count (default 10 s). */
  readonly windowMs?: number;
  readonly firstPauseMs?: number;
  readonly maxPauseMs?: number;
  readonly now?: () => number;
  /** Waits `ms` or until the signal aborts, whichever is first. */
  readonly wait?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called when the gate opens (`open` true) or closes, for the log. */
  readonly onChange?: (open: boolean, detail: { failures: number; calls: number; outageMs: number }) => void;
}

export class HealthGate {
  private readonly minFailures: number;
  private readonly failureRatio: number;
  private readonly windowMs: number;
  private readonly firstPauseMs: number;
  private readonly maxPauseMs: number;
  private readonly now: () => number;
  private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly onChange: NonNullable<HealthGateOptions['onChange']>;
  private calls: { at: number; failed: boolean }[] = [];
  private openedAt: number | undefined;
  private pauseUntil = 0;
  private pauseMs: number;

  constructor(options: HealthGateOptions = {}) {
    this.minFailures = options.minFailures ?? 5;
    this.failureRatio = options.failureRatio ?? 0.8;
    this.windowMs = options.windowMs ?? 10_000;
    this.firstPauseMs = options.firstPauseMs ?? 1_000;
    this.maxPauseMs = options.maxPauseMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.wait = options.wait ?? abortableSleep;
    this.onChange = options.onChange ?? (() => undefined);
    this.pauseMs = this.firstPauseMs;
  }

  /** Open from the moment the outage is recognised until the first call succeeds again. */
  get isOpen(): boolean {
    return this.openedAt !== undefined;
  }

  /** Resolves at once while closed; while open, once the current pause is over (or the signal aborts). */
  async ready(signal?: AbortSignal): Promise<void> {
    while (this.isOpen && !signal?.aborted) {
      const remaining = this.pauseUntil - this.now();
      if (remaining <= 0) return;
      await this.wait(remaining, signal);
    }
  }

  recordSuccess(): void {
    const now = this.now();
    this.remember(now, false);
    if (this.openedAt === undefined) return;
    const outageMs = now - this.openedAt;
    this.openedAt = undefined;
    this.pauseMs = this.firstPauseMs;
    this.calls = [];
    this.onChange(false, { failures: 0, calls: 0, outageMs });
  }

  recordFailure(): void {
    const now = this.now();
    this.remember(now, true);
    if (this.openedAt !== undefined) {
      // Only a probe (a call made after the pause) extends the outage; failures of calls already under way when
      // the gate opened say nothing new.
      if (now >= this.pauseUntil) {
        this.pauseMs = Math.min(this.maxPauseMs, this.pauseMs * 2);
        this.pauseUntil = now + this.pauseMs;
      }
      return;
    }
    const failures = this.calls.filter((call) => call.failed).length;
    if (failures >= this.minFailures && failures / this.calls.length >= this.failureRatio) {
      this.openedAt = now;
      this.pauseUntil = now + this.pauseMs;
      this.onChange(true, { failures, calls: this.calls.length, outageMs: 0 });
    }
  }

  private remember(now: number, failed: boolean): void {
    this.calls.push({ at: now, failed });
    const cutoff = now - this.windowMs;
    let drop = 0;
    while (drop < this.calls.length && this.calls[drop].at < cutoff) drop++;
    if (drop > 0) this.calls = this.calls.slice(drop);
  }
}
