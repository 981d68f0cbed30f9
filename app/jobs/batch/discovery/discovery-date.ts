/** A date discovery was asked for that is not a calendar date: a typo here would scan an empty partition silently. */
export class DiscoveryDateError extends Error {
  override readonly name = 'DiscoveryDateError';
}

const FORM = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Pure: the date itself when it is YYYY-MM-DD and exists in the calendar (no 2026-02-30), else undefined. */
export function calendarDate(text: string): string | undefined {
  const match = FORM.exec(text);
  if (match === null) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const parsed = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC rolls an impossible day over into the next month; a real date survives the round trip unchanged.
  const real = parsed.getUTCFullYear() === year && parsed.getUTCMonth() === month - 1 && parsed.getUTCDate() === day;
  return real && year >= 1000 ? text : undefined;
}

export function requireCalendarDate(text: string): string {
  const date = calendarDate(text);
  if (date === undefined) throw new DiscoveryDateError(`"${text.slice(0, 40)}" is not a date: expected a real calendar date YYYY-MM-DD`);
  return date;
}

/** Pure: the UTC calendar day before `now`, the day a nightly run discovers once that day's records are all in. */
export function yesterdayUtc(now: Date): string {
  return new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10);
}
