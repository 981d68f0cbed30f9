import type { MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { PERIOD_SECONDS, WINDOW_MINUTES, type MetricWindow } from './metric-queries';

const MINUTE_MS = PERIOD_SECONDS * 1000;

/** One value per minute of the window, oldest first; `null` where CloudWatch had no datapoint. */
export interface MinuteSlot {
  readonly at: Date;
  readonly value: number | null;
}

/** A series' datapoints as one or more GetMetricData pages returned them, in whatever order. */
export interface RawSeries {
  readonly timestamps: readonly Date[];
  readonly values: readonly number[];
  /** What CloudWatch said was wrong with this series (`Forbidden`, `InternalError`), if anything. */
  readonly problem?: string;
}

/**
 * Gathers each query id's datapoints across pages: a paginated answer splits one series over several pages, newest
 * first, each page carrying the id again.
 */
export function collectResults(pages: readonly (readonly MetricDataResult[])[]): Map<string, RawSeries> {
  const collected = new Map<string, { timestamps: Date[]; values: number[]; problems: Set<string> }>();
  for (const results of pages) {
    for (const result of results) {
      if (result.Id === undefined) continue;
      const entry = collected.get(result.Id) ?? { timestamps: [], values: [], problems: new Set<string>() };
      collected.set(result.Id, entry);
      const timestamps = result.Timestamps ?? [];
      const values = result.Values ?? [];
      // The two arrays are parallel; a pair missing its other half is no datapoint.
      for (let index = 0; index < Math.min(timestamps.length, values.length); index++) {
        entry.timestamps.push(timestamps[index]!);
        entry.values.push(values[index]!);
      }
      if (result.StatusCode === 'Forbidden' || result.StatusCode === 'InternalError') {
        const said = (result.Messages ?? []).map((message) => message.Value ?? message.Code).filter(Boolean).join('; ');
        entry.problems.add(`${result.StatusCode}${said === '' ? '' : `: ${said}`}`);
      }
    }
  }
  return new Map([...collected].map(([id, { timestamps, values, problems }]) => [
    id, { timestamps, values, ...(problems.size > 0 ? { problem: [...problems].join('; ') } : {}) },
  ]));
}

/**
 * The window's minutes, each with the datapoint that falls in it. CloudWatch stamps a period with its start, so a
 * datapoint belongs to the minute it starts; anything outside the window is dropped. Two datapoints in one minute
 * (only if CloudWatch's periods were not aligned with ours) are combined the way the statistic combines them.
 */
export function alignToMinutes(window: MetricWindow, raw: Pick<RawSeries, 'timestamps' | 'values'> | undefined, stat: 'Sum' | 'Maximum'): MinuteSlot[] {
  const start = window.start.getTime();
  const slots: (number | null)[] = Array.from({ length: WINDOW_MINUTES }, () => null);
  const count = Math.min(raw?.timestamps.length ?? 0, raw?.values.length ?? 0);
  for (let index = 0; index < count; index++) {
    const value = raw!.values[index]!;
    if (!Number.isFinite(value)) continue;
    const slot = Math.floor((raw!.timestamps[index]!.getTime() - start) / MINUTE_MS);
    if (slot < 0 || slot >= WINDOW_MINUTES) continue;
    const previous = slots[slot]!;
    slots[slot] = previous === null ? value : stat === 'Sum' ? previous + value : Math.max(previous, value);
  }
  return slots.map((value, index) => ({ at: new Date(start + index * MINUTE_MS), value }));
}

/** The datapoints that exist, with their minute's position in the window (0 = the oldest minute). */
export function presentPoints(slots: readonly MinuteSlot[]): { index: number; at: Date; value: number }[] {
  return slots.flatMap((slot, index) => (slot.value === null ? [] : [{ index, at: slot.at, value: slot.value }]));
}
