import { alignToMinutes, collectResults } from '../src/cloudwatch-status/minute-series';
import { metricWindow } from '../src/cloudwatch-status/metric-queries';
import { metricDataResult, minuteAt } from './factories';

const WINDOW = metricWindow(Date.parse('2026-12-03T10:00:42Z'));

describe('alignToMinutes', () => {
  it('gives 60 minutes from the window start, oldest first, each stamped with its minute', () => {
    const slots = alignToMinutes(WINDOW, undefined, 'Sum');
    expect(slots).toHaveLength(60);
    expect(slots[0]!.at).toEqual(new Date('2026-12-03T09:00:00Z'));
    expect(slots[59]!.at).toEqual(new Date('2026-12-03T09:59:00Z'));
    expect(slots.every((slot) => slot.value === null)).toBe(true);
  });

  it('puts newest-first, sparse datapoints in their minutes and leaves the others empty', () => {
    const slots = alignToMinutes(WINDOW, { timestamps: [minuteAt(59), minuteAt(30), minuteAt(0)], values: [7, 3, 1] }, 'Maximum');
    expect(slots[0]!.value).toBe(1);
    expect(slots[30]!.value).toBe(3);
    expect(slots[59]!.value).toBe(7);
    expect(slots.filter((slot) => slot.value !== null)).toHaveLength(3);
  });

  it('drops datapoints outside the window (the current, unfinished minute included)', () => {
    const slots = alignToMinutes(WINDOW, { timestamps: [minuteAt(60), minuteAt(-1)], values: [9, 9] }, 'Sum');
    expect(slots.every((slot) => slot.value === null)).toBe(true);
  });

  it('combines two datapoints in one minute as the statistic would: sums add, maxima take the larger', () => {
    const raw = { timestamps: [new Date(minuteAt(5).getTime() + 30_000), minuteAt(5)], values: [2, 5] };
    expect(alignToMinutes(WINDOW, raw, 'Sum')[5]!.value).toBe(7);
    expect(alignToMinutes(WINDOW, raw, 'Maximum')[5]!.value).toBe(5);
  });

  it('keeps a measured zero apart from a missing minute', () => {
    const slots = alignToMinutes(WINDOW, { timestamps: [minuteAt(1)], values: [0] }, 'Sum');
    expect(slots[1]!.value).toBe(0);
    expect(slots[2]!.value).toBeNull();
  });
});

describe('collectResults', () => {
  it('joins one series split over pages and keeps series apart by id', () => {
    const collected = collectResults([
      [metricDataResult('processed', [[minuteAt(59), 4], [minuteAt(58), 3]], { StatusCode: 'PartialData' }), metricDataResult('deadLetters', [[minuteAt(59), 1]])],
      [metricDataResult('processed', [[minuteAt(57), 2]])],
    ]);
    expect(collected.get('processed')).toEqual({ timestamps: [minuteAt(59), minuteAt(58), minuteAt(57)], values: [4, 3, 2] });
    expect(collected.get('deadLetters')).toEqual({ timestamps: [minuteAt(59)], values: [1] });
  });

  it('reports a series CloudWatch refused, with what it said', () => {
    const collected = collectResults([[metricDataResult('processed', [], { StatusCode: 'Forbidden', Messages: [{ Code: 'Forbidden', Value: 'no access to namespace S3QueueWorker' }] })]]);
    expect(collected.get('processed')?.problem).toBe('Forbidden: no access to namespace S3QueueWorker');
  });

  it('ignores a timestamp without a value', () => {
    const collected = collectResults([[{ Id: 'processed', Timestamps: [minuteAt(2), minuteAt(1)], Values: [5] }]]);
    expect(collected.get('processed')).toEqual({ timestamps: [minuteAt(2)], values: [5] });
  });
});
