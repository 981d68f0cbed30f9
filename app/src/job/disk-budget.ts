import { PermanentError } from '../../../shared/errors';
import { ByteBudget, mib, type ByteLease } from './byte-budget';
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

export type DiskLease = ByteLease;

/**
 * The task's ephemeral storage, shared by every message in flight. Without it, a few large files arriving together
 * would fill the disk and every program in flight would fail with ENOSPC, good inputs with the bad.
 *
 * The budget is bookkeeping, not a quota: a program that writes more than its reservation is not stopped. That is
 * what the margin (DISK_BUDGET_MIB below the free space) and DISK_RESERVE_FACTOR are for.
 */
export class DiskBudget extends ByteBudget {
  constructor(totalBytes: number) {
    super(
      totalBytes,
      (bytes, what) =>
        new DiskBudgetError(
          `${what} needs ${mib(bytes)} MiB of disk (${bytes} bytes), more than the disk budget of ${mib(totalBytes)} MiB (${totalBytes} bytes) even alone: ` +
            'raise the task\'s ephemeral storage or DISK_BUDGET_MIB, or lower DISK_RESERVE_FACTOR',
        ),
      'disk',
    );
  }
}

export const DEFAULT_DISK_RESERVE_FACTOR = 2;
/** Room every object gets whatever its size: file-system blocks, and the small outputs even an empty input has. */
export const MIN_DISK_RESERVATION_BYTES = 1024 * 1024;

/**
 * The bytes one object reserves: its size × DISK_RESERVE_FACTOR, at least 1 MiB. The default factor, 2, counts
 * the downloaded input once and outputs as large as the input once more: a converter writes about its input's
 * size, a statistics program far less. The program's TMPDIR is inside the message's directory and shares the
 * reservation, so a program that unpacks or sorts through temporary files needs a larger factor (an archive that
 * expands tenfold: 11 or more).
 */
export function diskReservationBytes(inputBytes: number, factor: number = DEFAULT_DISK_RESERVE_FACTOR): number {
  return Math.max(MIN_DISK_RESERVATION_BYTES, Math.ceil(Math.max(0, inputBytes) * factor));
}

export const DEFAULT_DISK_BUDGET_FRACTION = 0.8;

type StatFs = (path: string) => Promise<{ bavail: number; bsize: number }>;

/**
 * The default budget: 80% of the space free, at start, on the file system that holds `dir` (the work root; it
 * need not exist yet). Free space at start, after the sweep of leftovers, rather than the disk's size: the image
 * and anything else already on the task's ephemeral storage are not ours to plan with; the 20% margin absorbs
 * programs that write past their reservation, logs, and what other processes write meanwhile.
 */
export async function defaultDiskBudgetBytes(dir: string, fraction: number = DEFAULT_DISK_BUDGET_FRACTION, stat: StatFs = statfs): Promise<number> {
  let path = dir;
  for (;;) {
    try {
      const stats = await stat(path);
      return Math.floor(stats.bavail * stats.bsize * fraction);
    } catch (error) {
      const parent = dirname(path);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === path) throw error;
      path = parent;
    }
  }
}


/** One object needs more disk than the whole budget, even alone: waiting for other work to finish cannot help. */
export class DiskBudgetError extends PermanentError {
  override readonly name = 'DiskBudgetError';
  readonly reason = 'disk-budget-exceeded';
}
