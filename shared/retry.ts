import { classifyFailure, TransientError } from './errors';

/** What a retried call waits at during an outage (the worker's HealthGate); the retry only needs these four. */
export interface CallGate {
  readonly isOpen: boolean;
  ready(signal?: AbortSignal): Promise<void>;
  recordSuccess(): void;
  recordFailure(): void;
}

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RetryPolicy {
  /** Retries after the first attempt, outside an outage. */
  readonly retries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly sleep: Sleep;
  readonly random?: () => number;
  /**
   * Shared by every call of the worker. While it is open (most recent calls failing: an outage, not this request),
   * calls wait at it instead of spending their retries, so a ten-minute S3 outage burns no receive counts.
   */
  readonly gate?: CallGate;
  /** Stops waiting and retrying: the message was given up. */
  readonly signal?: AbortSignal;
}

/**
 * Retries only what classifyFailure calls transient, with exponential backoff and full jitter (so a fleet of workers
 * throttled together does not retry together). Permanent and missing failures are thrown at once.
 */
export async function retryTransient<T>(attempt: () => Promise<T>, policy: RetryPolicy, onRetry?: (error: unknown, attemptNumber: number) => void): Promise<T> {
  const random = policy.random ?? Math.random;
  let counted = 0;
  for (let attemptNumber = 1; ; attemptNumber++) {
    await policy.gate?.ready(policy.signal);
    throwIfAborted(policy.signal);
    try {
      const result = await attempt();
      policy.gate?.recordSuccess();
      return result;
    } catch (error) {
      const transient = classifyFailure(error).kind === 'transient';
      // A permanent answer is an answer: the service is up.
      if (transient) policy.gate?.recordFailure();
      else policy.gate?.recordSuccess();
      if (!transient) throw error;
      throwIfAborted(policy.signal);
      // Failures while the gate is open are the outage's, not this call's: they do not use up its retries.
      if (policy.gate?.isOpen === true) continue;
      if (counted >= policy.retries) throw error;
      counted++;
      onRetry?.(error, attemptNumber);
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (counted - 1));
      await policy.sleep(Math.round(random() * ceiling));
    }
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    throw reason instanceof Error ? reason : new TransientError('given-up', 'the worker gave this message up');
  }
}
