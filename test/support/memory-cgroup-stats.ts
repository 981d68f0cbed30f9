import { readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What a memory cgroup made by `createMemoryCgroup` (memory-cgroup.ts) says after the fact, read by its path: for a
 * process other than the one that made it (the chaos run reads the cgroups its pipeline process made per worker).
 */
export interface MemoryCgroupStats {
  readonly limitBytes: number;
  /** The most memory the cgroup has used at once. */
  readonly peakBytes: number;
  /** Processes the kernel killed for memory in it. */
  readonly oomKills: number;
}

export function readMemoryCgroup(path: string): MemoryCgroupStats {
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(join(path, file), 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const v1 = read('memory.limit_in_bytes') !== undefined;
  const events = v1 ? read('memory.oom_control') : read('memory.events');
  return {
    limitBytes: Number(v1 ? read('memory.limit_in_bytes') : read('memory.max')),
    peakBytes: Number((v1 ? read('memory.max_usage_in_bytes') : read('memory.peak')) ?? 0),
    oomKills: Number(/oom_kill (\d+)/.exec(events ?? '')?.[1] ?? 0),
  };
}

/** Removes a cgroup whose processes have all exited; one still in use is left for the kernel to free later. */
export function removeMemoryCgroup(path: string): boolean {
  try {
    rmdirSync(path);
    return true;
  } catch {
    return false;
  }
}
