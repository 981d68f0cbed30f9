import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A real memory limit for one process tree, as Fargate gives a task: a cgroup v1 memory controller group. Past the
 * limit the kernel reclaims what it can and then kills with SIGKILL (the OOM killer), exactly what ends an
 * over-budget task. The bench, the chaos suite and the memory tests run workers in one. Creating one needs root (or a
 * delegated hierarchy); without it the caller gets the reason: the bench reports "not measured", a test fails.
 */
export const DEFAULT_CGROUP_MEMORY_ROOT = '/sys/fs/cgroup/memory';

export interface CgroupMemoryReport {
  /** memory.max_usage_in_bytes: the highest usage the kernel charged to the group (RSS and page cache). */
  readonly maxUsageBytes: number;
  /** memory.failcnt: how often usage hit the limit (the kernel then reclaims, and kills if that is not enough). */
  readonly failcnt: number;
  /** `oom_kill` of memory.oom_control (kernels from 4.13): processes the OOM killer ended in this group. */
  readonly oomKills: number | undefined;
}

export interface MemoryCgroup {
  readonly path: string;
  readonly limitBytes: number;
  /**
   * The command line that runs `command` inside the group from its first instruction: a shell writes its own pid to
   * cgroup.procs and then execs the command, so the process is limited before it allocates anything.
   */
  wrap(command: string, args: readonly string[]): { command: string; args: string[] };
  read(): CgroupMemoryReport;
  /** The pids still in the group. */
  pids(): number[];
  /**
   * Ends what is left in the group (only processes the caller started can be in it) and removes the group. Safe to
   * call twice.
   */
  remove(): Promise<void>;
}

export type CgroupResult = { readonly cgroup: MemoryCgroup } | { readonly reason: string };

export function createMemoryCgroup(limitBytes: number, name: string, root: string = DEFAULT_CGROUP_MEMORY_ROOT): CgroupResult {
  const path = join(root, name);
  try {
    mkdirSync(path);
  } catch (error) {
    return { reason: `cannot create the memory cgroup ${path} (${errorText(error)}): needs root and cgroup v1's memory controller` };
  }
  try {
    writeFileSync(join(path, 'memory.limit_in_bytes'), String(limitBytes));
    const applied = Number(readFileSync(join(path, 'memory.limit_in_bytes'), 'utf8').trim());
    // The kernel rounds to whole pages; anything else means the limit did not take.
    if (Math.abs(applied - limitBytes) >= 65536) throw new Error(`the limit reads back as ${applied}, not ${limitBytes}`);
  } catch (error) {
    tryRemove(path);
    return { reason: `cannot set memory.limit_in_bytes in ${path} (${errorText(error)})` };
  }
  let removed = false;
  const cgroup: MemoryCgroup = {
    path,
    limitBytes,
    wrap: (command, args) => ({
      command: 'sh',
      // $0 is the cgroup.procs path, "$@" the command: no quoting of either inside the script.
      args: ['-c', 'echo $$ > "$0" && exec "$@"', join(path, 'cgroup.procs'), command, ...args],
    }),
    read: () => readReport(path),
    pids: () => readPids(path),
    remove: async () => {
      if (removed) return;
      for (let attempt = 0; attempt < 50; attempt++) {
        const pids = readPids(path);
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        if (pids.length === 0 && tryRemove(path)) {
          removed = true;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`could not remove the memory cgroup ${path}: ${readPids(path).length} processes left in it`);
    },
  };
  return { cgroup };
}

/** Parses memory.oom_control ("oom_kill_disable 0\nunder_oom 0\noom_kill 1"). */
export function parseOomKills(oomControl: string): number | undefined {
  const match = /^oom_kill\s+(\d+)/m.exec(oomControl);
  return match === null ? undefined : Number(match[1]);
}

/**
 * What a memory cgroup made here says after the fact, read by its path: for a process other than the one that made it
 * (the chaos run reads the cgroups its pipeline process made per worker).
 */
export function readMemoryCgroup(path: string): CgroupMemoryReport & { readonly limitBytes: number } {
  return { limitBytes: Number(readFileSync(join(path, 'memory.limit_in_bytes'), 'utf8').trim()), ...readReport(path) };
}

function readReport(path: string): CgroupMemoryReport {
  const number = (file: string): number => Number(readFileSync(join(path, file), 'utf8').trim());
  return {
    maxUsageBytes: number('memory.max_usage_in_bytes'),
    failcnt: number('memory.failcnt'),
    oomKills: parseOomKills(readFileSync(join(path, 'memory.oom_control'), 'utf8')),
  };
}

function readPids(path: string): number[] {
  try {
    return readFileSync(join(path, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Removes a cgroup whose processes have all exited; one still in use is left for the kernel to free later. */
export function removeMemoryCgroup(path: string): boolean {
  return tryRemove(path);
}

function tryRemove(path: string): boolean {
  try {
    rmdirSync(path);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
