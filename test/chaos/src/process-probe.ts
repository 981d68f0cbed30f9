import { readdirSync, readFileSync } from 'node:fs';

/**
 * What /proc says about a process: alive or not (a zombie counts as dead: it runs nothing and holds no queue
 * message), its resident memory and its open file descriptors. Linux only, like the Fargate workers.
 */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export interface ProcessSample {
  readonly at: number;
  readonly rssBytes: number;
  readonly fds: number;
}

/**
 * The process and its children together: the worker's entry point is a supervisor whose child does the work, so the
 * supervisor alone would look flat whatever the worker did.
 */
export function sampleProcess(pid: number, at = Date.now()): ProcessSample | undefined {
  const own = sampleOne(pid);
  if (own === undefined) return undefined;
  let { rssBytes, fds } = own;
  for (const child of childrenOf(pid)) {
    const sample = sampleOne(child);
    if (sample === undefined) continue;
    rssBytes += sample.rssBytes;
    fds += sample.fds;
  }
  return { at, rssBytes, fds };
}

function sampleOne(pid: number): { rssBytes: number; fds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    if (rss === null) return undefined;
    return { rssBytes: Number(rss[1]) * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((id) => id !== '').map(Number);
  } catch {
    return [];
  }
}

export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  /** The command line, arguments joined by spaces. */
  readonly command: string;
}

/** Live processes whose command line contains `fragment` (a program's unique path), zombies left out. */
export function processesRunning(fragment: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  for (const name of pids) {
    const pid = Number(name);
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '').join(' ');
      if (!command.includes(fragment) || pid === process.pid || !isAlive(pid)) continue;
      found.push({ pid, ppid: parentOf(pid) ?? 0, command });
    } catch {
      // gone while we looked
    }
  }
  return found;
}

/** The parent's pid from /proc/<pid>/stat, undefined once the process is gone. */
export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Whether `ancestor` is `pid`'s parent, grandparent, ... (up to `depth` generations). */
export function descendsFrom(pid: number, ancestor: number, depth = 8): boolean {
  let current: number | undefined = pid;
  for (let i = 0; i < depth && current !== undefined && current > 1; i++) {
    current = parentOf(current);
    if (current === ancestor) return true;
  }
  return false;
}

/** Every process below `pid` (children, grandchildren, ...), read from /proc before anything is killed. */
export function descendantsOf(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of childrenOf(queue.shift()!)) {
      if (found.includes(child)) continue;
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * SIGKILLs a task at once, as Fargate ends one: the worker, its worker child and any program it runs, every process of
 * its memory cgroup (`cgroup.procs`) when it has one, else the process tree. Returns the pids signalled.
 */
export function killTask(pid: number, cgroupPath?: string): number[] {
  let pids = [pid, ...descendantsOf(pid)];
  if (cgroupPath !== undefined) {
    try {
      pids = [...new Set([...pids, ...readFileSync(`${cgroupPath}/cgroup.procs`, 'utf8').split('\n').filter((line) => line !== '').map(Number)])];
    } catch {
      // the group is gone already: the tree it is
    }
  }
  const killed: number[] = [];
  for (const each of pids) {
    try {
      process.kill(each, 'SIGKILL');
      killed.push(each);
    } catch {
      // ended meanwhile
    }
  }
  return killed;
}
