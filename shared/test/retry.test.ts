import { TransientError } from '../errors';
import { HealthGate } from '../../app/src/worker/health-gate';
import { retryTransient, type RetryPolicy } from '../retry';

const slowDown = () => Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });

function failing(times: number, error: () => unknown = slowDown) {
  let calls = 0;
  return {
    get calls() { return calls; },
    attempt: async () => {
      calls++;
      if (calls <= times) throw error();
      return 'ok';
    },
  };
}

const policy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({ retries: 2, baseDelayMs: 100, maxDelayMs: 1000, sleep: async () => undefined, random: () => 1, ...overrides });

describe('retryTransient', () => {
  it('retries transient failures with a doubling backoff, then gives up', async () => {
    const sleeps: number[] = [];
    const calls = failing(5);
    await expect(retryTransient(calls.attempt, policy({ sleep: async (ms) => void sleeps.push(ms) }))).rejects.toThrow('reduce your request rate');
    expect(calls.calls).toBe(3);
    expect(sleeps).toEqual([100, 200]);
  });

  it('throws a permanent failure at once', async () => {
    const calls = failing(5, () => Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    await expect(retryTransient(calls.attempt, policy())).rejects.toThrow('denied');
    expect(calls.calls).toBe(1);
  });

  it('does not spend its retries on failures while the gate is open: it waits the outage out instead', async () => {
    let now = 0;
    const gate = new HealthGate({ now: () => now, minFailures: 3, firstPauseMs: 1000, wait: async (ms) => { now += ms; } });
    // Twelve failures in a row (an outage), then S3 answers again: with two retries it would have failed long ago.
    const calls = failing(12);
    await expect(retryTransient(calls.attempt, policy({ gate }))).resolves.toBe('ok');
    expect(calls.calls).toBe(13);
    expect(gate.isOpen).toBe(false);
  });

  it('stops at once when its message is given up', async () => {
    const abort = new AbortController();
    const calls = failing(5);
    const sleep = async () => { abort.abort(new TransientError('deadline-exceeded', 'too slow')); };
    await expect(retryTransient(calls.attempt, policy({ sleep, signal: abort.signal }))).rejects.toThrow('too slow');
    expect(calls.calls).toBe(1);
  });
});
