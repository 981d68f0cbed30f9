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

export function sampleProcess(pid: number, at = Date.now()): ProcessSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    if (rss === null) return undefined;
    return { at, rssBytes: Number(rss[1]) * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}
