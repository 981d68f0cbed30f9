import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A real memory limit for worker processes under test, the way Fargate enforces a task's memory: a memory cgroup, in
 * which the kernel SIGKILLs past the limit. Needs root (every machine of this project's kind runs as root); without
 * it `create` throws, naming what is missing, rather than letting a memory test pass without a limit.
 */
export interface MemoryCgroup {
  readonly path: string;
  readonly limitBytes: number;
  /** The command and arguments that start `command args` inside the cgroup. */
  wrap(command: string, args: readonly string[]): { command: string; args: string[] };
  /** Processes the kernel killed for memory in this cgroup so far. */
  oomKills(): number;
  /** The most memory the cgroup has used at once. */
  peakBytes(): number;
  /** Removes the cgroup once its processes have exited (they must have). */
  remove(): void;
}

const V1_ROOT = '/sys/fs/cgroup/memory';
const V2_ROOT = '/sys/fs/cgroup';

export function createMemoryCgroup(label: string, limitBytes: number): MemoryCgroup {
  const name = `s3-worker-test-${label}-${process.pid}-${Date.now()}`;
  const v1 = existsSync(join(V1_ROOT, 'memory.limit_in_bytes'));
  const v2 = !v1 && existsSync(join(V2_ROOT, 'cgroup.controllers'));
  if (!v1 && !v2) throw new Error('no memory cgroup hierarchy at /sys/fs/cgroup: a real memory limit cannot be set on this machine');
  const path = join(v1 ? V1_ROOT : V2_ROOT, name);
  try {
    mkdirSync(path);
    if (v1) {
      writeFileSync(join(path, 'memory.limit_in_bytes'), String(limitBytes));
      // No swap to hide in: past the limit the kernel must kill, as Fargate's does.
      tryWrite(join(path, 'memory.memsw.limit_in_bytes'), String(limitBytes));
      tryWrite(join(path, 'memory.swappiness'), '0');
    } else {
      writeFileSync(join(path, 'memory.max'), String(limitBytes));
      tryWrite(join(path, 'memory.swap.max'), '0');
    }
  } catch (error) {
    throw new Error(`cannot create a memory cgroup at ${path} (root is needed): ${error instanceof Error ? error.message : String(error)}`);
  }
  const read = (file: string): string => readFileSync(join(path, file), 'utf8');
  return {
    path,
    limitBytes,
    wrap: (command, args) => ({
      command: '/bin/sh',
      // The shell joins the cgroup, then becomes the command: every process it starts is inside the limit.
      args: ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', path, command, ...args],
    }),
    oomKills: () => {
      const text = v1 ? read('memory.oom_control') : read('memory.events');
      return Number(/oom_kill (\d+)/.exec(text)?.[1] ?? 0);
    },
    peakBytes: () => Number((v1 ? read('memory.max_usage_in_bytes') : tryRead(join(path, 'memory.peak')) ?? '0').trim()),
    remove: () => {
      try {
        rmdirSync(path);
      } catch {
        // A process still inside keeps the cgroup; the kernel frees it once that process exits.
      }
    },
  };
}

function tryWrite(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch {
    // Optional knob (no swap accounting on this kernel).
  }
}

function tryRead(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
