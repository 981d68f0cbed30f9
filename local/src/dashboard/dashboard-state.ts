/**
 * What the dashboard knows about a run, kept in memory: the latest tick, a bounded time series for the charts, the
 * scaler's last decisions and the files' processing times. Pure: the pipeline and the log tails feed it, the server
 * reads snapshots of it.
 */

import type { ProgressSnapshot } from '../progress';

/**
 * One tick of the pipeline loop: the numbers it already computes every 250 ms (summed over every queue of the run), as
 * its progress line shows them, with the delayed messages and the sources still pending.
 */
export interface PipelineTick extends ProgressSnapshot {
  readonly delayed: number;
  readonly pending: number;
}

/** A scaler decision as the page shows it: only these fields ever leave the decisions log. */
export interface ScalingDecision {
  readonly timestamp: string;
  readonly pipeline?: string;
  readonly visible: number;
  readonly inFlight: number;
  readonly running: number;
  readonly launch: number;
  readonly reasons: readonly string[];
  /** How many decisions in a row said the same (an idle queue repeats "launch 0" every interval); the timestamp is the last one's. */
  readonly repeated: number;
}

export interface SeriesColumns {
  /** Seconds since the run started. */
  readonly t: readonly number[];
  readonly visible: readonly number[];
  readonly inFlight: readonly number[];
  readonly deadLettered: readonly number[];
  readonly workers: readonly number[];
  readonly filesPerSecond: readonly number[];
  /** Mean and slowest processing time of the files finished in each interval; null where none finished. */
  readonly latencyMeanMs: readonly (number | null)[];
  readonly latencyMaxMs: readonly (number | null)[];
}

export interface StateSnapshot {
  readonly job: string;
  readonly now: PipelineTick & { readonly filesPerSecond: number };
  /** Seconds between chart points: 1 at first, doubling each time the series fills up. */
  readonly resolutionSeconds: number;
  readonly series: SeriesColumns;
  readonly decisions: readonly ScalingDecision[];
  readonly latency: { readonly files: number; readonly meanMs: number | null };
}

interface SeriesPoint {
  t: number;
  visible: number;
  inFlight: number;
  deadLettered: number;
  workers: number;
  filesPerSecond: number;
  latencyCount: number;
  latencySumMs: number;
  latencyMaxMs: number;
}

export interface DashboardStateOptions {
  readonly job: string;
  /** Points kept; when full, neighbours merge and the resolution halves, so the whole run stays on the chart. */
  readonly capacity?: number;
  readonly resolutionSeconds?: number;
  /** The accounting lists the buckets every 2 s: a rate over a few seconds is steady rather than saw-toothed. */
  readonly rateWindowSeconds?: number;
  readonly decisionsKept?: number;
}

const EMPTY_TICK: PipelineTick = { elapsedSeconds: 0, visible: 0, inFlight: 0, delayed: 0, deadLettered: 0, workers: 0, processed: 0, loaded: 0, pending: 0 };

export class DashboardState {
  private readonly capacity: number;
  private resolution: number;
  private readonly rateWindow: number;
  private readonly decisionsKept: number;
  private readonly points: SeriesPoint[] = [];
  private readonly recent: { t: number; processed: number }[] = [];
  private latest: PipelineTick = EMPTY_TICK;
  private latestRate = 0;
  private pendingLatency = { count: 0, sumMs: 0, maxMs: 0 };
  private runLatency = { count: 0, sumMs: 0 };
  private readonly decisions: ScalingDecision[] = [];

  constructor(private readonly options: DashboardStateOptions) {
    this.capacity = options.capacity ?? 1800;
    if (!Number.isInteger(this.capacity) || this.capacity < 2) throw new RangeError(`capacity ${this.capacity} is invalid: expected an integer of at least 2`);
    this.resolution = options.resolutionSeconds ?? 1;
    this.rateWindow = options.rateWindowSeconds ?? 5;
    this.decisionsKept = options.decisionsKept ?? 8;
  }

  record(tick: PipelineTick): void {
    this.latest = tick;
    this.recent.push({ t: tick.elapsedSeconds, processed: tick.processed });
    while (this.recent.length > 2 && this.recent[1]!.t <= tick.elapsedSeconds - this.rateWindow) this.recent.shift();
    this.latestRate = rateOver(this.recent);
    const last = this.points[this.points.length - 1];
    if (last !== undefined && tick.elapsedSeconds - last.t < this.resolution) return;
    this.points.push({
      t: tick.elapsedSeconds, visible: tick.visible, inFlight: tick.inFlight, deadLettered: tick.deadLettered, workers: tick.workers, filesPerSecond: this.latestRate,
      latencyCount: this.pendingLatency.count, latencySumMs: this.pendingLatency.sumMs, latencyMaxMs: this.pendingLatency.maxMs,
    });
    this.pendingLatency = { count: 0, sumMs: 0, maxMs: 0 };
    if (this.points.length > this.capacity) this.halveResolution();
  }

  /** Processing times of files finished since the last call; they land on the next chart point. */
  addLatencies(durationsMs: readonly number[]): void {
    for (const duration of durationsMs) {
      this.pendingLatency.count++;
      this.pendingLatency.sumMs += duration;
      this.pendingLatency.maxMs = Math.max(this.pendingLatency.maxMs, duration);
      this.runLatency.count++;
      this.runLatency.sumMs += duration;
    }
  }

  addDecisions(decisions: readonly ScalingDecision[]): void {
    for (const decision of decisions) {
      const last = this.decisions[this.decisions.length - 1];
      if (last !== undefined && sameDecision(last, decision)) this.decisions[this.decisions.length - 1] = { ...decision, repeated: last.repeated + decision.repeated };
      else this.decisions.push(decision);
    }
    if (this.decisions.length > this.decisionsKept) this.decisions.splice(0, this.decisions.length - this.decisionsKept);
  }

  snapshot(): StateSnapshot {
    const column = <K extends keyof SeriesPoint>(name: K) => this.points.map((point) => point[name]);
    return {
      job: this.options.job,
      now: { ...this.latest, filesPerSecond: round(this.latestRate) },
      resolutionSeconds: this.resolution,
      series: {
        t: column('t').map(round),
        visible: column('visible'),
        inFlight: column('inFlight'),
        deadLettered: column('deadLettered'),
        workers: column('workers'),
        filesPerSecond: column('filesPerSecond').map(round),
        latencyMeanMs: this.points.map((point) => (point.latencyCount === 0 ? null : Math.round(point.latencySumMs / point.latencyCount))),
        latencyMaxMs: this.points.map((point) => (point.latencyCount === 0 ? null : Math.round(point.latencyMaxMs))),
      },
      // Newest first, as a person reads a log of what just happened.
      decisions: [...this.decisions].reverse(),
      latency: { files: this.runLatency.count, meanMs: this.runLatency.count === 0 ? null : Math.round(this.runLatency.sumMs / this.runLatency.count) },
    };
  }

  private halveResolution(): void {
    const merged: SeriesPoint[] = [];
    for (let i = 0; i < this.points.length; i += 2) {
      const first = this.points[i]!;
      const second = this.points[i + 1];
      // The later point's gauges are the state at the end of the merged interval; its files add up.
      merged.push(second === undefined ? first : {
        ...second,
        latencyCount: first.latencyCount + second.latencyCount,
        latencySumMs: first.latencySumMs + second.latencySumMs,
        latencyMaxMs: Math.max(first.latencyMaxMs, second.latencyMaxMs),
      });
    }
    this.points.splice(0, this.points.length, ...merged);
    this.resolution *= 2;
  }
}

/** Files per second between the oldest and newest samples; 0 until they are a second apart (a rerun's earlier outputs never count). */
function rateOver(samples: readonly { t: number; processed: number }[]): number {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first === undefined || last === undefined || last.t - first.t < 1) return 0;
  return Math.max(0, (last.processed - first.processed) / (last.t - first.t));
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function sameDecision(a: ScalingDecision, b: ScalingDecision): boolean {
  return a.pipeline === b.pipeline && a.launch === b.launch && a.visible === b.visible && a.inFlight === b.inFlight && a.running === b.running
    && a.reasons.join('\n') === b.reasons.join('\n');
}

/** A `scaling decision` line of decisions.jsonl, reduced to what the page shows; undefined for any other line. */
export function decisionFrom(line: string): ScalingDecision | undefined {
  const record = parseObject(line);
  if (record?.message !== 'scaling decision' || typeof record.timestamp !== 'string') return undefined;
  const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  return {
    timestamp: record.timestamp,
    ...(typeof record.pipeline === 'string' ? { pipeline: record.pipeline } : {}),
    visible: count(record.visible),
    inFlight: count(record.inFlight),
    running: count(record.running),
    launch: count(record.launch),
    reasons: Array.isArray(record.reasons) ? record.reasons.filter((reason): reason is string => typeof reason === 'string') : [],
    repeated: 1,
  };
}

/**
 * A worker's `processed` log line carries the file's processing time (`durationMs`: from the worker taking up the object
 * to its outputs written; the time the message waited in the queue is not in it); undefined for any other line. Jobs that log no such line (batch) leave the latency chart empty.
 */
export function processingTimeFrom(line: string): number | undefined {
  const record = parseObject(line);
  if (record?.message !== 'processed') return undefined;
  const duration = record.durationMs;
  return typeof duration === 'number' && Number.isFinite(duration) && duration >= 0 ? duration : undefined;
}

function parseObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A dead letter as the page shows it: the object's key and the reason, never the message's body. */
export interface DeadLetterView {
  readonly key: string;
  readonly reason: string;
  readonly why: string;
}

/** One of the newest outputs: images are shown as thumbnails, anything else as a link. */
export interface OutputCard {
  readonly key: string;
  readonly url: string;
  readonly image: boolean;
  readonly size: number;
}

/** What /api/snapshot answers: the state plus what is read from the queues and the outputs bucket on request. */
export interface DashboardSnapshot extends StateSnapshot {
  readonly deadLetters: { readonly lines: readonly DeadLetterView[]; readonly more: number };
  readonly outputs: readonly OutputCard[];
}

/** The newest outputs first (the same second: by key), at most `limit`, each with the URL the page loads it from. */
export function newestOutputs(
  objects: readonly { key: string; size: number; lastModified?: Date }[], limit: number, isImage: (key: string) => boolean,
): OutputCard[] {
  return [...objects]
    .sort((a, b) => (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0) || a.key.localeCompare(b.key))
    .slice(0, limit)
    .map((object) => ({ key: object.key, url: `/output?key=${encodeURIComponent(object.key)}`, image: isImage(object.key), size: object.size }));
}
