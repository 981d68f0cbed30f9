import { MemoryBudgetError } from '../../../shared/errors';

export interface MemoryLease {
  release(): void;
}

/**
 * Admits decodes while their estimated memory fits the task's budget, first come first served. Without it, a few
 * small files that decode whole (interlaced PNG, progressive JPEG) arriving at once would add up past the task's
 * limit and the kernel would kill the task, and every message in flight with it. Work that cannot fit even alone is
 * refused at once: waiting would never help.
 */
export class MemoryBudget {
  private inUse = 0;
  private readonly waiting: { bytes: number; admit: () => void }[] = [];

  constructor(readonly totalBytes: number) {
    if (!(totalBytes > 0)) throw new RangeError(`a memory budget must be positive, got ${totalBytes}`);
  }

  get usedBytes(): number {
    return this.inUse;
  }

  /** Resolves once `bytes` fit; rejects at once when they never can, or when the signal aborts while waiting. */
  acquire(bytes: number, what: string, signal?: AbortSignal): Promise<MemoryLease> {
    if (bytes > this.totalBytes) {
      return Promise.reject(
        new MemoryBudgetError(`${what} needs about ${mib(bytes)} MiB to decode, more than this task's decode budget of ${mib(this.totalBytes)} MiB even alone (raise the task memory or MEMORY_BUDGET_MIB, or lower MAX_INPUT_PIXELS)`),
      );
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    // FIFO: a large decode waiting first is not starved by a stream of small ones slipping past it.
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
        this.admitWaiting();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private lease(bytes: number): MemoryLease {
    this.inUse += bytes;
    let released = false;
    return {
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

function mib(bytes: number): number {
  return Math.ceil(bytes / (1024 * 1024));
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new Error('aborted while waiting for memory');
}
