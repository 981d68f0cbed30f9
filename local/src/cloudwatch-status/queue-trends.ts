import { PERIOD_SECONDS } from './metric-queries';
import { presentPoints, type MinuteSlot } from './minute-series';

/** How far back the age trend looks: long enough to smooth a minute's noise, short enough to be "now". */
export const AGE_TREND_MINUTES = 15;
/** Changes of the oldest message's age within half a period are sampling noise, not a trend. */
const STEADY_WITHIN_SECONDS = PERIOD_SECONDS / 2;
/** The age grows this close to one second per second: nothing has taken the oldest message meanwhile. */
const CLOCK_PACE = 0.9;

export interface AgeTrend {
  /** The newest datapoint's age in seconds and how many minutes before the window's end it was taken. */
  readonly latestSeconds: number;
  readonly latestMinutesAgo: number;
  readonly trend: 'rising' | 'falling' | 'steady' | 'unknown';
  /** Over the last AGE_TREND_MINUTES: newest minus oldest datapoint, and the minutes between them. */
  readonly changeSeconds: number;
  readonly overMinutes: number;
  /** The age rose about as fast as the clock: the oldest message has sat there all along (no task, or it keeps failing). */
  readonly stuck: boolean;
}

/** The oldest message's latest age and where it is heading; undefined when the hour has no datapoint. */
export function ageTrend(slots: readonly MinuteSlot[]): AgeTrend | undefined {
  const points = presentPoints(slots);
  const latest = points.at(-1);
  if (latest === undefined) return undefined;
  const base = { latestSeconds: latest.value, latestMinutesAgo: slots.length - 1 - latest.index };
  const recent = points.filter((point) => point.index >= slots.length - AGE_TREND_MINUTES);
  const first = recent[0];
  if (first === undefined || recent.length < 2) return { ...base, trend: 'unknown', changeSeconds: 0, overMinutes: 0, stuck: false };
  const changeSeconds = latest.value - first.value;
  const overMinutes = latest.index - first.index;
  const trend = Math.abs(changeSeconds) <= STEADY_WITHIN_SECONDS ? 'steady' : changeSeconds > 0 ? 'rising' : 'falling';
  return { ...base, trend, changeSeconds, overMinutes, stuck: trend === 'rising' && changeSeconds >= CLOCK_PACE * overMinutes * PERIOD_SECONDS };
}

export interface DeadLetterGrowth {
  /** The DLQ's visible messages at the hour's first and last datapoints. */
  readonly first: number;
  readonly last: number;
  readonly change: number;
  readonly grew: boolean;
}

/** How the DLQ changed over the hour; undefined when the hour has no datapoint. */
export function deadLetterGrowth(slots: readonly MinuteSlot[]): DeadLetterGrowth | undefined {
  const points = presentPoints(slots);
  const first = points[0];
  const last = points.at(-1);
  if (first === undefined || last === undefined) return undefined;
  const change = last.value - first.value;
  return { first: first.value, last: last.value, change, grew: change > 0 };
}
