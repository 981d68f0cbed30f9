/** S3 uploads as the queue receives them: `count` event messages landing at `atSeconds`. */
export interface Arrival {
  readonly atSeconds: number;
  readonly count: number;
}

export interface Workload {
  readonly name: string;
  readonly arrivals: readonly Arrival[];
  readonly totalFiles: number;
}

/** Every file of the burst is queued at t = 0 (an upload far faster than the two-minute schedule). */
export function burst(files: number): Workload {
  return { name: `burst ${formatCount(files)}`, arrivals: [{ atSeconds: 0, count: files }], totalFiles: files };
}

/** A steady trickle, queued once a second, so a long run stays a few thousand events. */
export function steady(filesPerSecond: number, durationSeconds: number): Workload {
  const arrivals: Arrival[] = [];
  let queued = 0;
  for (let second = 1; second <= durationSeconds; second++) {
    // Whole files only, spread evenly even when the rate is fractional.
    const count = Math.floor(filesPerSecond * second) - queued;
    if (count > 0) arrivals.push({ atSeconds: second - 1, count });
    queued += count;
  }
  return {
    name: `steady ${filesPerSecond}/s for ${Math.round(durationSeconds / 60)} min`,
    arrivals,
    totalFiles: queued,
  };
}

function formatCount(files: number): string {
  return files >= 1000 && files % 1000 === 0 ? `${files / 1000}k` : String(files);
}

/**
 * What creating the bucket notification leaves in the queue: one s3:TestEvent message and nothing else, until the
 * first upload.
 */
export function testEventOnly(): Workload {
  return { name: 's3:TestEvent only', arrivals: [{ atSeconds: 0, count: 1 }], totalFiles: 1 };
}
