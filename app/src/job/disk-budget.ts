import { PermanentError } from '../../../shared/errors';
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface DiskLease {
  readonly bytes: number;
  /** Gives the bytes back; only the first call counts. */
  release(): void;
}

/**
 * The task's ephemeral storage, shared by every message in flight, first come first served, like a semaphore that
 * counts bytes. Without it, a few large files arriving together would fill the disk and every program in flight
 * would fail with ENOSPC, good inputs with the bad. An object that cannot fit even alone is refused at once:
 * waiting would never help.
 *
 * The budget is bookkeeping, not a quota: a program that writes more than its reservation is not stopped. That is
 * what the margin (DISK_BUDGET_MIB below the free space) and DISK_RESERVE_FACTOR are for.
 */
export class DiskBudget {
  private inUse = 0;
  private readonly waiting: { bytes: number; admit: () => void }[] = [];

  constructor(readonly totalBytes: number) {
    if (!(totalBytes > 0)) throw new RangeError(`a disk budget must be positive, got ${totalBytes}`);
  }

  get usedBytes(): number {
    return this.inUse;
  }

  /** Resolves once `bytes` fit; rejects at once when they never can, or with the signal's reason when it aborts first. */
  acquire(bytes: number, what: string, signal?: AbortSignal): Promise<DiskLease> {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) return Promise.reject(new RangeError(`a disk reservation must be a non-negative number of bytes, got ${bytes}`));
    if (bytes > this.totalBytes) {
      return Promise.reject(
        new DiskBudgetError(
          `${what} needs ${mib(bytes)} MiB of disk (${bytes} bytes), more than the disk budget of ${mib(this.totalBytes)} MiB (${this.totalBytes} bytes) even alone: ` +
            'raise the task\'s ephemeral storage or DISK_BUDGET_MIB, or lower DISK_RESERVE_FACTOR',
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    // FIFO: a large file waiting first is not starved by a stream of small ones slipping past it.
    if (this.waiting.length === 0 && this.inUse + bytes <= this.totalBytes) return Promise.resolve(this.lease(bytes));
    return new Promise((resolve, reject) => {
      const entry = {
        bytes,
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.lease(bytes));
        },
      };
      const onAbort = (): void => {
        const index = this.waiting.indexOf(entry);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(abortReason(signal));
        // The head of the queue may have been what held the others back.
        this.admitWaiting();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private lease(bytes: number): DiskLease {
    this.inUse += bytes;
    let released = false;
    return {
      bytes,
      release: () => {
        if (released) return;
        released = true;
        this.inUse -= bytes;
        this.admitWaiting();
      },
    };
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.inUse + this.waiting[0].bytes <= this.totalBytes) {
      this.waiting.shift()!.admit();
    }
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

function mib(bytes: number): number {
  return Math.ceil(bytes / (1024 * 1024));
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new Error('aborted while waiting for disk space');
}

/** One object needs more disk than the whole budget, even alone: waiting for other work to finish cannot help. */
export class DiskBudgetError extends PermanentError {
  override readonly name = 'DiskBudgetError';
  readonly reason = 'disk-budget-exceeded';
}
