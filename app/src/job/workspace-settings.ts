import { tmpdir } from 'node:os';
import { isAbsolute, normalize } from 'node:path';
import { DEFAULT_DISK_RESERVE_FACTOR } from './disk-budget';
import type { EnvReader } from './env-reader';
import { defaultWorkRoot } from './work-dirs';

/** Where jobs that consume files get their objects on the task's disk, and how much of it they may take at once. */
export interface WorkspaceSettings {
  /** WORK_DIR (default <os.tmpdir()>/blueprint-work): an absolute path on the task's ephemeral storage. */
  readonly root: string;
  /** DISK_BUDGET_MIB × 1 MiB; absent: 80% of the root's free space at start. */
  readonly budgetBytes?: number;
  /** DISK_RESERVE_FACTOR (default 2): bytes reserved per object = its size × this (the input, and outputs as large). */
  readonly reserveFactor: number;
}

const MIB = 1024 * 1024;

export function readWorkspaceSettings(read: EnvReader, tempDir: string = tmpdir()): WorkspaceSettings {
  const root = read.parsed(
    'WORK_DIR', defaultWorkRoot(tempDir),
    (raw) => (isAbsolute(raw) ? normalize(raw).replace(/(.)\/+$/, '$1') : undefined),
    'an absolute path on the task\'s ephemeral storage such as /tmp/blueprint-work',
  );
  const budgetMib = read.present('DISK_BUDGET_MIB') === undefined ? undefined : read.int('DISK_BUDGET_MIB', 0, 1, 64 * 1024 * 1024);
  const reserveFactor = read.parsed(
    'DISK_RESERVE_FACTOR', DEFAULT_DISK_RESERVE_FACTOR,
    (raw) => (/^\d+(\.\d+)?$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 1000 ? Number(raw) : undefined),
    'a number from 1 to 1000 such as 2 (the input once, and outputs as large again) or 1.5',
  );
  return { root, ...(budgetMib !== undefined ? { budgetBytes: budgetMib * MIB } : {}), reserveFactor };
}
