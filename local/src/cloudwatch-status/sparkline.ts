const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;
/** A minute with no datapoint: not a zero, which would be a claim CloudWatch did not make. */
export const GAP = '·';

/**
 * One character per value. Bars measure from zero (from the minimum if a value is negative), so 100 against 105
 * does not look like an empty queue against a full one; any value above that floor gets at least the second bar, so
 * a little is never drawn as nothing.
 */
export function sparkline(values: readonly (number | null)[]): string {
  const present = values.filter((value): value is number => value !== null && Number.isFinite(value));
  if (present.length === 0) return GAP.repeat(values.length);
  const floor = Math.min(0, ...present);
  const top = Math.max(...present);
  const highest = BARS.length - 1;
  return values
    .map((value) => {
      if (value === null || !Number.isFinite(value)) return GAP;
      if (top === floor || value === floor) return BARS[0];
      return BARS[Math.max(1, Math.round(((value - floor) / (top - floor)) * highest))];
    })
    .join('');
}
