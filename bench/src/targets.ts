/** The targets, checked against a run's numbers and printed; they are reported, not enforced. */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** undefined when the run did not measure it (a quick run, a missing tool). */
  readonly holds: boolean | undefined;
  readonly note?: string;
}

export const TARGETS = Object.freeze({
  endToEndShareOfCeiling: 0.85,
  ceilingShareOfVipsthumbnail: 0.9,
  peakRssMiBAtConcurrency4: 400,
  /** "No growth": the last quarter's median RSS within this much of the second quarter's. */
  rssGrowthPercent: 10,
  coldStartMs: 500,
  burstDrainOverIdeal: 1.15,
});

export function formatVerdict(check: TargetCheck): string {
  return check.holds === undefined ? 'not measured' : check.holds ? 'holds' : 'MISSED';
}
