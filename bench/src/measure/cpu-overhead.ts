import type { ThroughputMeasurement } from './transform-ceiling';
import type { WorkerRunResult } from './worker-end-to-end';

/**
 * The worker's true overhead: its CPU per image end to end against the in-memory ceiling's CPU per image on the same
 * files, sizes and concurrency. Wall-clock throughput hides it on a small machine, where the harness (S3-protocol
 * server, proxy, watcher) takes cores the worker would otherwise use; CPU seconds per image do not depend on that.
 */
export interface CpuOverhead {
  readonly concurrency: number;
  readonly images: number;
  readonly workerCpuSecondsPerImage: number;
  readonly ceilingCpuSecondsPerImage: number;
  /** workerCpuSecondsPerImage / ceilingCpuSecondsPerImage: 1.0 would be a worker that costs nothing beyond the resize. */
  readonly ratio: number;
}

/** One entry per worker run that has a ceiling row at its concurrency. */
export function cpuOverheads(runs: readonly WorkerRunResult[], ceilingByConcurrency: readonly ThroughputMeasurement[]): CpuOverhead[] {
  return runs.flatMap((run) => {
    const ceiling = ceilingByConcurrency.find((row) => row.concurrency === run.concurrency);
    if (ceiling === undefined || !(ceiling.cpuSecondsPerImage > 0)) return [];
    return [
      {
        concurrency: run.concurrency,
        images: run.images,
        workerCpuSecondsPerImage: run.workerCpuSecondsPerImage,
        ceilingCpuSecondsPerImage: ceiling.cpuSecondsPerImage,
        ratio: run.workerCpuSecondsPerImage / ceiling.cpuSecondsPerImage,
      },
    ];
  });
}
