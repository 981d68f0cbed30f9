/**
 * Which object keys a prefix-and-suffix pair matches, and whether two pairs can match the same key: the rule S3
 * applies to notification filters (two rules for the same event type may not both match one key) and the one the
 * blueprint applies to its worker roles (no two pipelines read or write the same key). Pure; '' means "any".
 */
export interface KeyRange {
  readonly prefix: string;
  readonly suffix: string;
}

/** One of the two is a prefix of the other, so some key starts with both ('' overlaps everything). */
export function prefixesOverlap(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}

/** One of the two is a suffix of the other, so some key ends with both. Case-sensitive, as S3's filters are. */
export function suffixesOverlap(a: string, b: string): boolean {
  return a.endsWith(b) || b.endsWith(a);
}

/** Some key matches both ranges. */
export function keyRangesOverlap(a: KeyRange, b: KeyRange): boolean {
  return prefixesOverlap(a.prefix, b.prefix) && suffixesOverlap(a.suffix, b.suffix);
}

/** The notification rules of one prefix and its suffixes: one per suffix, or one for the whole prefix without any. */
export function filterRanges(prefix: string, suffixes: readonly string[]): KeyRange[] {
  return suffixes.length === 0 ? [{ prefix, suffix: '' }] : suffixes.map((suffix) => ({ prefix, suffix }));
}

/** For messages: `in/*.jpg`, `*` for the whole bucket. */
export function describeRange(range: KeyRange): string {
  return `${range.prefix}*${range.suffix}`;
}
