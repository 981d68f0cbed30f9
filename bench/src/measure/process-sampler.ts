import { readdirSync, readFileSync } from 'node:fs';

/**
 * Samples a process TREE from /proc (Linux): the process the bench spawned and all its descendants. The worker's
 * `main.js` is a supervisor that runs the real worker as a child, so the spawned pid alone would measure only the
 * supervisor.
 *
 * - Memory: the summed RSS of the tree at each sample; the peak is the highest sum, or the largest single process's
 *   own high-water mark (VmHWM, which the kernel keeps between samples) when that is higher, since the true peak of
 *   the sum can be no lower than it.
 * - CPU: for every process in the tree, utime + stime + cutime + cstime. A child that exits is folded into its
 *   parent's cutime/cstime once the parent reaps it (Node reaps its children), so the sum is the tree's whole CPU,
 *   including children that came and went between two samples. Parents are read before their children: a child
 *   reaped in between is then missing from one sample (an undercount the next sample corrects), never counted twice.
 *   The reported value is the highest sum seen. Processes once seen but since re-parented (their parent died without
 *   reaping them) stay counted while they live; their CPU after the last sample before they exit is lost.
 * - Own CPU: utime + stime of the spawned process and its direct children only (the worker's supervisor and the
 *   worker), without the CPU of the processes they ran (the command job's programs): the tree's CPU minus it is what
 *   those programs used.
 */
export interface MemorySample {
  readonly atSeconds: number;
  /** Summed RSS of the tree. */
  readonly rssMiB: number;
}

export interface ProcessReport {
  /** Peak of the tree's summed RSS (see above). */
  readonly peakRssMiB: number;
  /** User + system CPU seconds of the whole tree, exited children included, at the last sample. */
  readonly cpuSeconds: number;
  /** User + system CPU seconds of the spawned process and its direct children themselves (see above). */
  readonly ownCpuSeconds: number;
  /** The most processes seen in the tree at once. */
  readonly maxProcesses: number;
  readonly samples: readonly MemorySample[];
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every mainstream architecture. */
const CLOCK_TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly pid: number;
  /** Start time in ticks since boot: with the pid, identifies a process even if its pid is reused. */
  readonly startTicks: number;
  /** utime + stime + cutime + cstime. */
  readonly cpuTicks: number;
  /** utime + stime: the process's own threads only. */
  readonly ownTicks: number;
}

export class ProcessSampler {
  private readonly samples: MemorySample[] = [];
  private peakKiB = 0;
  private cpuTicks = 0;
  private ownTicks = 0;
  private maxProcesses = 0;
  /** Every process seen in the tree, by pid, with its start time, so a re-parented one can still be found. */
  private readonly seen = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = process.hrtime.bigint();

  constructor(
    private readonly pid: number,
    everyMs: number,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  /** Takes one sample now; returns the tree's CPU seconds so far (the highest sum seen). */
  sample(): number {
    const tree = readTree(this.pid, this.seen);
    if (tree.length === 0) return this.cpuTicks / CLOCK_TICKS_PER_SECOND;
    let rssKiB = 0;
    let cpuTicks = 0;
    let ownTicks = 0;
    for (const member of tree) {
      this.seen.set(member.stat.pid, member.stat.startTicks);
      rssKiB += member.rssKiB;
      cpuTicks += member.stat.cpuTicks;
      if (member.depth !== undefined && member.depth <= 1) ownTicks += member.stat.ownTicks;
      this.peakKiB = Math.max(this.peakKiB, member.hwmKiB);
    }
    this.cpuTicks = Math.max(this.cpuTicks, cpuTicks);
    this.ownTicks = Math.max(this.ownTicks, ownTicks);
    this.peakKiB = Math.max(this.peakKiB, rssKiB);
    this.maxProcesses = Math.max(this.maxProcesses, tree.length);
    this.samples.push({ atSeconds: Number(process.hrtime.bigint() - this.startedAt) / 1e9, rssMiB: rssKiB / 1024 });
    return this.cpuTicks / CLOCK_TICKS_PER_SECOND;
  }

  /** The own CPU seconds (the spawned process and its direct children) at the last sample. */
  ownCpuSeconds(): number {
    return this.ownTicks / CLOCK_TICKS_PER_SECOND;
  }

  stop(): ProcessReport {
    clearInterval(this.timer);
    this.sample();
    return {
      peakRssMiB: this.peakKiB / 1024,
      cpuSeconds: this.cpuTicks / CLOCK_TICKS_PER_SECOND,
      ownCpuSeconds: this.ownCpuSeconds(),
      maxProcesses: this.maxProcesses,
      samples: this.samples,
    };
  }
}

interface TreeProcess {
  readonly stat: ProcStat;
  /** 0 for the root, 1 for its children, ...; undefined for an orphan found through `seen`. */
  readonly depth: number | undefined;
  readonly rssKiB: number;
  readonly hwmKiB: number;
}

/**
 * The root and its descendants, breadth first (every parent before its children), plus processes seen before that
 * are still alive but no longer below the root. Each process's stat is read before its children are listed.
 */
function readTree(root: number, seen: ReadonlyMap<number, number>): TreeProcess[] {
  const tree: TreeProcess[] = [];
  const visited = new Set<number>();
  const visit = (pid: number, expectedStart: number | undefined, depth: number | undefined): void => {
    if (visited.has(pid)) return;
    const stat = readStat(pid);
    if (stat === undefined || (expectedStart !== undefined && stat.startTicks !== expectedStart)) return;
    visited.add(pid);
    const status = readStatus(pid);
    tree.push({ stat, depth, rssKiB: status?.rssKiB ?? 0, hwmKiB: status?.hwmKiB ?? 0 });
  };
  visit(root, seen.get(root), 0);
  for (let index = 0; index < tree.length; index++) {
    const parent = tree[index]!;
    for (const child of childPids(parent.stat.pid)) visit(child, undefined, parent.depth === undefined ? undefined : parent.depth + 1);
  }
  // Orphans: seen below the root before, re-parented since. Their own descendants are not followed.
  for (const [pid, startTicks] of seen) {
    if (!visited.has(pid)) visit(pid, startTicks, undefined);
  }
  return tree;
}

/** /proc/<pid>/task/<tid>/children for every thread (any thread may have forked), or a /proc scan without it. */
export function childPids(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const task of tasks) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch (error) {
      // Kernels built without CONFIG_PROC_CHILDREN have no such file; a thread that just ended has none either.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && task === String(pid)) return childPidsByScan(pid);
      continue;
    }
    for (const item of text.split(' ')) if (item.trim() !== '') children.push(Number(item));
  }
  return children;
}

function childPidsByScan(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields !== undefined && Number(fields[1]) === parent) children.push(Number(entry));
  }
  return children;
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

/**
 * The fields of /proc/<pid>/stat after the command name, which may contain spaces and parentheses, so they are
 * counted from its last closing parenthesis: [0] state, [1] ppid, [11..14] utime stime cutime cstime, [19] starttime.
 */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function readStat(pid: number): ProcStat | undefined {
  const fields = statFields(pid);
  if (fields === undefined) return undefined;
  const ticks = (index: number): number => Number(fields[index] ?? 0);
  return { pid, startTicks: ticks(19), cpuTicks: ticks(11) + ticks(12) + ticks(13) + ticks(14), ownTicks: ticks(11) + ticks(12) };
}

/** The calling process's own children's CPU (cutime + cstime): what its reaped child processes used, in seconds. */
export function reapedChildrenCpuSeconds(): number {
  const fields = statFields(process.pid);
  if (fields === undefined) return 0;
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND;
}
