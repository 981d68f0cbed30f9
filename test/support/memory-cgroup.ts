import { createMemoryCgroup as createCgroup } from '../../local/src/memory-cgroup';

/**
 * The shared memory cgroup (`local/src/memory-cgroup.ts`) as tests use it: a test that needs a real memory limit
 * fails, naming the reason, when the machine cannot give one, instead of passing without a limit.
 */
export interface MemoryCgroup {
  readonly path: string;
  readonly limitBytes: number;
  wrap(command: string, args: readonly string[]): { command: string; args: string[] };
  /** Processes the kernel killed for memory in this cgroup so far. */
  oomKills(): number;
  /** The most memory the cgroup has used at once. */
  peakBytes(): number;
  /** Ends what is left inside and removes the cgroup. */
  remove(): Promise<void>;
}

export function createMemoryCgroup(label: string, limitBytes: number): MemoryCgroup {
  const created = createCgroup(limitBytes, `s3-worker-test-${label}-${process.pid}-${Date.now()}`);
  if ('reason' in created) throw new Error(created.reason);
  const { cgroup } = created;
  return {
    path: cgroup.path,
    limitBytes,
    wrap: (command, args) => cgroup.wrap(command, args),
    oomKills: () => cgroup.read().oomKills ?? 0,
    peakBytes: () => cgroup.read().maxUsageBytes,
    remove: () => cgroup.remove(),
  };
}
