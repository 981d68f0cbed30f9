import { readFileSync } from 'node:fs';

/**
 * Samples a child process from /proc (Linux): the current RSS for the growth check, the kernel's own high-water mark
 * (VmHWM), which catches peaks between samples, and the CPU time it has used, to tell whether it was short of CPU.
 */
export interface MemorySample {
  readonly atSeconds: number;
  readonly rssMiB: number;
}

export interface ProcessReport {
  readonly peakRssMiB: number;
  /** User + system CPU seconds at the last sample. */
  readonly cpuSeconds: number;
  readonly samples: readonly MemorySample[];
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every mainstream architecture. */
const CLOCK_TICKS_PER_SECOND = 100;

export class ProcessSampler {
  private readonly samples: MemorySample[] = [];
  private peakKiB = 0;
  private cpuTicks = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = process.hrtime.bigint();

  constructor(
    private readonly pid: number,
    everyMs: number,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): void {
    const status = readStatus(this.pid);
    if (status === undefined) return;
    this.cpuTicks = readCpuTicks(this.pid) ?? this.cpuTicks;
    this.peakKiB = Math.max(this.peakKiB, status.hwmKiB, status.rssKiB);
    this.samples.push({ atSeconds: Number(process.hrtime.bigint() - this.startedAt) / 1e9, rssMiB: status.rssKiB / 1024 });
  }

  stop(): ProcessReport {
    clearInterval(this.timer);
    this.sample();
    return { peakRssMiB: this.peakKiB / 1024, cpuSeconds: this.cpuTicks / CLOCK_TICKS_PER_SECOND, samples: this.samples };
  }
}

/**
 * Growth over a long run: the median RSS of the last quarter against the median of the second quarter (the first is
 * warm-up, when allocators and caches legitimately grow). Undefined with too few samples to say.
 */
export function rssGrowthPercent(samples: readonly MemorySample[]): number | undefined {
  if (samples.length < 8) return undefined;
  const quarter = Math.floor(samples.length / 4);
  const early = median(samples.slice(quarter, 2 * quarter).map((sample) => sample.rssMiB));
  const late = median(samples.slice(samples.length - quarter).map((sample) => sample.rssMiB));
  return ((late - early) / early) * 100;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function readStatus(pid: number): { rssKiB: number; hwmKiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
  } catch {
    // The process has exited between samples.
    return undefined;
  }
}

function readCpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces, so fields are counted from its closing parenthesis: utime and stime are
    // fields 14 and 15 of the line, 12th and 13th after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}
