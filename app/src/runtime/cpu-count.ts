import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

type ReadFile = (path: string, encoding: 'utf8') => string;

/**
 * The vCPUs this process may really use. In a Fargate task the host shows all its cores while the cgroup quota grants
 * only the task's vCPUs, so sizing from `os.cpus()` would oversubscribe the task.
 */
export function detectCpuCount(readFile: ReadFile = readFileSync, hostCpus: number = availableParallelism()): number {
  const quota = cgroupV2Quota(readFile) ?? cgroupV1Quota(readFile);
  const cpus = quota === undefined ? hostCpus : Math.min(hostCpus, Math.ceil(quota));
  return Math.max(1, cpus);
}

function cgroupV2Quota(readFile: ReadFile): number | undefined {
  const text = tryRead(readFile, '/sys/fs/cgroup/cpu.max');
  if (text === undefined) return undefined;
  const [quota, period] = text.trim().split(/\s+/);
  return ratio(quota, period);
}

function cgroupV1Quota(readFile: ReadFile): number | undefined {
  const quota = tryRead(readFile, '/sys/fs/cgroup/cpu/cpu.cfs_quota_us')?.trim();
  const period = tryRead(readFile, '/sys/fs/cgroup/cpu/cpu.cfs_period_us')?.trim();
  return ratio(quota, period);
}

function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  if (quota === undefined || period === undefined || quota === 'max' || quota === '-1') return undefined;
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && Number.isFinite(p) && q > 0 && p > 0 ? q / p : undefined;
}

function tryRead(readFile: ReadFile, path: string): string | undefined {
  try {
    return readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
