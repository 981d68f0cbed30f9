import { calendarDate, DiscoveryDateError, requireCalendarDate, yesterdayUtc } from '../discovery-date';

describe('discovery dates', () => {
  it('accepts real calendar dates, leap days included', () => {
    for (const date of ['2026-12-01', '2028-02-29', '2000-02-29', '2026-01-31']) expect(calendarDate(date)).toBe(date);
  });

  it('refuses impossible days and other forms', () => {
    for (const text of ['2026-02-29', '1900-02-29', '2026-04-31', '2026-13-01', '2026-00-10', '2026-12-1', '20261201', '2026-12-01T00:00:00Z', ' 2026-12-01', '']) {
      expect(calendarDate(text)).toBeUndefined();
    }
    expect(() => requireCalendarDate('2026-02-30')).toThrow(DiscoveryDateError);
    expect(() => requireCalendarDate('2026-02-30')).toThrow('"2026-02-30" is not a date: expected a real calendar date YYYY-MM-DD');
  });

  it('yesterday is the UTC day before, across month and year ends', () => {
    expect(yesterdayUtc(new Date('2026-12-02T00:00:00.000Z'))).toBe('2026-12-01');
    expect(yesterdayUtc(new Date('2027-01-01T23:59:59.999Z'))).toBe('2026-12-31');
    expect(yesterdayUtc(new Date('2028-03-01T05:00:00.000Z'))).toBe('2028-02-29');
  });
});
