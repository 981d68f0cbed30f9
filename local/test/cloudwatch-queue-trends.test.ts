import { ageTrend, deadLetterGrowth } from '../src/cloudwatch-status/queue-trends';
import { minuteSlots } from './factories';

/** An hour of minutes, empty except the given ones. */
function hourWith(points: Record<number, number>): (number | null)[] {
  return Array.from({ length: 60 }, (_, minute) => points[minute] ?? null);
}

describe('ageTrend', () => {
  it('is rising as fast as the clock when the oldest message gains a minute every minute', () => {
    const trend = ageTrend(minuteSlots(hourWith({ 45: 600, 50: 900, 59: 1440 })));
    expect(trend).toEqual({ latestSeconds: 1440, latestMinutesAgo: 0, trend: 'rising', changeSeconds: 840, overMinutes: 14, stuck: true });
  });

  it('is rising but not stuck when the age grows slower than the clock', () => {
    const trend = ageTrend(minuteSlots(hourWith({ 50: 100, 59: 200 })));
    expect(trend).toMatchObject({ trend: 'rising', changeSeconds: 100, overMinutes: 9, stuck: false });
  });

  it('is falling when the backlog is worked off', () => {
    expect(ageTrend(minuteSlots(hourWith({ 50: 900, 58: 60 }))))
      .toMatchObject({ trend: 'falling', changeSeconds: -840, latestSeconds: 60, latestMinutesAgo: 1 });
  });

  it('calls changes within half a minute steady', () => {
    expect(ageTrend(minuteSlots(hourWith({ 50: 40, 59: 65 }))))?.toMatchObject({ trend: 'steady' });
  });

  it('looks at the last 15 minutes only', () => {
    // A huge age 40 minutes ago is history: the trend is the recent pair.
    expect(ageTrend(minuteSlots(hourWith({ 10: 90_000, 50: 30, 59: 35 }))))?.toMatchObject({ trend: 'steady', changeSeconds: 5, overMinutes: 9 });
  });

  it('gives the latest age without a trend when the last 15 minutes hold fewer than two datapoints', () => {
    expect(ageTrend(minuteSlots(hourWith({ 5: 30, 58: 120 })))).toEqual({
      latestSeconds: 120, latestMinutesAgo: 1, trend: 'unknown', changeSeconds: 0, overMinutes: 0, stuck: false,
    });
  });

  it('is undefined for an hour without datapoints', () => {
    expect(ageTrend(minuteSlots(hourWith({})))).toBeUndefined();
  });
});

describe('deadLetterGrowth', () => {
  it('flags growth from the first to the last datapoint of the hour', () => {
    expect(deadLetterGrowth(minuteSlots(hourWith({ 3: 0, 20: 5, 58: 3 })))).toEqual({ first: 0, last: 3, change: 3, grew: true });
  });

  it('does not flag a DLQ that shrank or stayed the same', () => {
    expect(deadLetterGrowth(minuteSlots(hourWith({ 0: 4, 59: 1 })))).toEqual({ first: 4, last: 1, change: -3, grew: false });
    expect(deadLetterGrowth(minuteSlots(hourWith({ 0: 2, 30: 9, 59: 2 })))).toEqual({ first: 2, last: 2, change: 0, grew: false });
  });

  it('is undefined for an hour without datapoints', () => {
    expect(deadLetterGrowth(minuteSlots(hourWith({})))).toBeUndefined();
  });
});
