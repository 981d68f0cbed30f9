export interface ByteLease {
  readonly bytes: number;
  /** Gives the bytes back; only the first call counts. */
  release(): void;
}

/**
 * A semaphore that counts bytes, first come first served: what jobs admit their work by (decode memory, task disk).
 * Work that cannot fit even alone is refused at once with the error `refuse` makes, since waiting would never help;
 * FIFO order keeps a large piece of work waiting first from being starved by a stream of small ones slipping past it.
 */
export class ByteBudget {
  private inUse = 0;
  private readonly waiting: { bytes: number; admit: () => void }[] = [];

  constructor(
    readonly totalBytes: number,
    private readonly refuse: (bytes: number, what: string) => Error,
    private readonly resource: string,
  ) {
    if (!(totalBytes > 0)) throw new RangeError(`a ${resource} budget must be positive, got ${totalBytes}`);
  }

  get usedBytes(): number {
    return this.inUse;
  }

  /** Resolves once `bytes` fit; rejects at once when they never can, or with the signal's reason when it aborts first. */
  acquire(bytes: number, what: string, signal?: AbortSignal): Promise<ByteLease> {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) return Promise.reject(new RangeError(`a ${this.resource} reservation must be a non-negative number of bytes, got ${bytes}`));
    if (bytes > this.totalBytes) return Promise.reject(this.refuse(bytes, what));
    if (signal?.aborted) return Promise.reject(this.abortReason(signal));
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
        reject(this.abortReason(signal));
        // The head of the queue may have been what held the others back.
        this.admitWaiting();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private lease(bytes: number): ByteLease {
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
    while (this.waiting.length > 0 && this.inUse + this.waiting[0]!.bytes <= this.totalBytes) {
      this.waiting.shift()!.admit();
    }
  }

  private abortReason(signal: AbortSignal | undefined): unknown {
    return signal?.reason ?? new Error(`aborted while waiting for ${this.resource}`);
  }
}

export function mib(bytes: number): number {
  return Math.ceil(bytes / (1024 * 1024));
}
