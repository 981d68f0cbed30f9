import { classifyFailure } from '../errors';

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly retries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly sleep: Sleep;
  readonly random?: () => number;
}

/**
 * Retries only what classifyFailure calls transient, with exponential backoff and full jitter (so a fleet of workers
 * throttled together does not retry together). Permanent and missing failures are thrown at once.
 */
export async function retryTransient<T>(attempt: () => Promise<T>, policy: RetryPolicy, onRetry?: (error: unknown, attemptNumber: number) => void): Promise<T> {
  const random = policy.random ?? Math.random;
  for (let attemptNumber = 0; ; attemptNumber++) {
    try {
      return await attempt();
    } catch (error) {
      if (classifyFailure(error).kind !== 'transient' || attemptNumber >= policy.retries) throw error;
      onRetry?.(error, attemptNumber + 1);
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attemptNumber);
      await policy.sleep(Math.round(random() * ceiling));
    }
  }
}
