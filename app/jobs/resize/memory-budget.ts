import { MemoryBudgetError } from './image-errors';
import { ByteBudget, mib, type ByteLease } from '../../src/job/byte-budget';

export type MemoryLease = ByteLease;

/**
 * Admits decodes while their estimated memory fits the task's budget. Without it, a few small files that decode
 * whole (interlaced PNG, progressive JPEG) arriving at once would add up past the task's limit and the kernel would
 * kill the task, and every message in flight with it.
 */
export class MemoryBudget extends ByteBudget {
  constructor(totalBytes: number) {
    super(
      totalBytes,
      (bytes, what) =>
        new MemoryBudgetError(`${what} needs about ${mib(bytes)} MiB to decode, more than this task's decode budget of ${mib(totalBytes)} MiB even alone (raise the task memory or MEMORY_BUDGET_MIB, or lower MAX_INPUT_PIXELS)`),
      'memory',
    );
  }
}
