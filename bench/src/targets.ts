/** The targets, checked against a run's numbers and printed; they are reported, not enforced. */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** undefined when the run did not measure it (a quick run, a missing tool). */
  readonly holds: boolean | undefined;
  readonly note?: string;
}

const END_TO_END_SHARE_OF_CEILING = 0.85;

export const TARGETS = Object.freeze({
  endToEndShareOfCeiling: END_TO_END_SHARE_OF_CEILING,
  /**
   * Worker CPU per image at most this many times the in-memory ceiling's, on the same files and sizes. It is the
   * throughput target above in the form the bench's harness cannot distort: in a task the worker has its vCPUs to
   * itself (S3 and SQS run elsewhere) and keeps them busy, so its share of the ceiling's rate is ceiling CPU / worker
   * CPU per image, and 85% of the rate allows 1 / 0.85 = 1.18x the CPU. Everything the worker does besides the resize
   * (S3 and queue calls, parsing, logging, the supervisor) has to fit in that 18%.
   */
  cpuOverheadRatio: 1 / END_TO_END_SHARE_OF_CEILING,
  /**
   * The command job: the worker's CPU per file at most this many times the same program's run directly on the same
   * files at the same concurrency (geojson-stats on the bench's GeoJSON set). The same bar as the resize job's CPU
   * overhead, for the same reason: in a task the worker has its vCPUs to itself and keeps them busy, so 1 / this is
   * the share of the direct run's rate it reaches; 85% allows 1.18x. CPU, not wall time, because on the bench machine
   * the S3-protocol server shares the cores (its CPU is reported beside it). What the worker adds per file is about
   * fixed, so the ratio depends on the work per file: it is judged on this set, and the overhead in ms says the rest.
   */
  commandJobCpuOverheadRatio: 1 / END_TO_END_SHARE_OF_CEILING,
  ceilingShareOfVipsthumbnail: 0.9,
  peakRssMiBAtConcurrency4: 400,
  /** "No growth": the last quarter's median RSS within this much of the second quarter's. */
  rssGrowthPercent: 10,
  coldStartMs: 500,
  /**
   * Decode-heavy valid inputs at CONCURRENCY=4 in a memory cgroup of the task's size: the peak stays under the limit
   * (strictly: at the limit the kernel is already reclaiming and about to kill), nothing is killed, and every image is
   * processed (dead-lettering a valid input would keep memory down by refusing the work).
   */
  decodeHeavyConcurrency: 4,
  burstDrainOverIdeal: 1.15,
  /** Issue 10: the first scaler run launches every task a MAX_TASKS=500 backlog asks for, from an empty fleet. */
  largeLaunchMaxTasks: 500,
  /**
   * Issue 10: in a steady crash loop (every hour after the first) the scaler starts fewer than this many tasks an
   * hour; the first hour holds the first run's launch and the first probes.
   */
  crashLoopTasksPerHour: 5,
  /**
   * Issue 12: the large fan-out run (20,000 files x 2 families, the slowest at 10 tasks x CONCURRENCY 2) reaches its
   * aggregated result within this many times the ideal for the caps, at every phase of the two-minute schedule. Three
   * hops each wait for a scheduled run and a task start (about 6-9 minutes with a lagging count), so only a run of
   * an hour or more can be held this close; a small run's ratio is reported, not judged.
   */
  fanoutLargeOverIdeal: 1.5,
  /**
   * Issue 13: the batch job's bulk writes (DynamoDB BatchWriteItem of 25; MongoDB bulkWrite of 500) at least this many
   * times as many writes per second as one write per record, same results into a fresh table, one call in flight, on
   * the local servers. In AWS each call adds a network round trip, so the real gap is nearer the ratio of calls.
   */
  batchBulkOverPerRecord: 5,
});

export function formatVerdict(check: TargetCheck): string {
  return check.holds === undefined ? 'not measured' : check.holds ? 'holds' : 'MISSED';
}
