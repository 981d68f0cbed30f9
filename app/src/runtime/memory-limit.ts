import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

type ReadFile = (path: string, encoding: 'utf8') => string;

/** cgroup v1 reports "no limit" as a number near 2^63; anything above a petabyte is no limit. */
const NO_LIMIT_ABOVE = 2 ** 50;

export interface MemoryLimit {
  readonly bytes: number;
  /** Where the figure came from, for the start-up log line. */
  readonly source: 'cgroup-v2' | 'cgroup-v1' | 'TASK_MEMORY_MIB' | 'host';
}

/**
 * The memory this process may really use before the kernel kills it. Inside a Fargate task, as in any container, the
 * host's memory is far larger than the task's: the cgroup's limit is the one the OOM killer enforces. TASK_MEMORY_MIB
 * (set by the infra from the task size) covers a runtime that hides the cgroup.
 */
export function detectMemoryLimit(env: NodeJS.ProcessEnv, readFile: ReadFile = readFileSync, hostBytes: number = totalmem()): MemoryLimit {
  const v2 = cgroupBytes(readFile, cgroupV2Path(readFile));
  if (v2 !== undefined) return { bytes: Math.min(v2, hostBytes), source: 'cgroup-v2' };
  const v1 = cgroupBytes(readFile, cgroupV1Path(readFile));
  if (v1 !== undefined) return { bytes: Math.min(v1, hostBytes), source: 'cgroup-v1' };
  const taskMib = Number(env.TASK_MEMORY_MIB);
  if (Number.isInteger(taskMib) && taskMib > 0) return { bytes: Math.min(taskMib * 1024 * 1024, hostBytes), source: 'TASK_MEMORY_MIB' };
  return { bytes: hostBytes, source: 'host' };
}

/** The process's own cgroup, not the root's: a worker placed in a child cgroup (as tests do) has its own limit. */
function cgroupV2Path(readFile: ReadFile): string {
  const line = tryRead(readFile, '/proc/self/cgroup')?.split('\n').find((entry) => entry.startsWith('0::'));
  const own = line?.slice(3).trim();
  return own !== undefined && own !== '/' && own !== '' ? `/sys/fs/cgroup${own}/memory.max` : '/sys/fs/cgroup/memory.max';
}

function cgroupV1Path(readFile: ReadFile): string {
  const line = tryRead(readFile, '/proc/self/cgroup')?.split('\n').find((entry) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(entry));
  const own = line?.split(':')[2]?.trim();
  const candidates = own !== undefined && own !== '/' && own !== '' ? [`/sys/fs/cgroup/memory${own}/memory.limit_in_bytes`] : [];
  // A container sees its own cgroup mounted at the root of the hierarchy, whatever /proc/self/cgroup names.
  candidates.push('/sys/fs/cgroup/memory/memory.limit_in_bytes');
  return candidates.find((path) => tryRead(readFile, path) !== undefined) ?? candidates[candidates.length - 1];
}

function cgroupBytes(readFile: ReadFile, path: string): number | undefined {
  const text = tryRead(readFile, path)?.trim();
  if (text === undefined || text === 'max') return undefined;
  const value = Number(text);
  return Number.isFinite(value) && value > 0 && value < NO_LIMIT_ABOVE ? value : undefined;
}

function tryRead(readFile: ReadFile, path: string): string | undefined {
  try {
    return readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
