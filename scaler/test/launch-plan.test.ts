import { FARGATE_LAUNCH_LIMITS, fullBuckets, planLaunch, refill, type LaunchRateLimits } from '../src/launch-plan';

/** Tasks started within any one-second window ending at each call, and calls in it: what AWS's buckets would see. */
function peakPerSecond(calls: readonly { atMs: number; count: number }[]): { calls: number; tasks: number } {
  let peak = { calls: 0, tasks: 0 };
  for (const call of calls) {
    const window = calls.filter((other) => other.atMs > call.atMs - 1000 && other.atMs <= call.atMs);
    peak = { calls: Math.max(peak.calls, window.length), tasks: Math.max(peak.tasks, window.reduce((sum, other) => sum + other.count, 0)) };
  }
  return peak;
}

describe('planLaunch', () => {
  it('sends up to 100 tasks at once: ten calls of 10 at the start', () => {
    const { calls } = planLaunch(100, FARGATE_LAUNCH_LIMITS);
    expect(calls).toEqual(Array.from({ length: 10 }, () => ({ atMs: 0, count: 10 })));
  });

  it('launches MAX_TASKS=500 from an empty fleet within 20 s: the burst of 100, then 20 tasks a second', () => {
    const { calls } = planLaunch(500, FARGATE_LAUNCH_LIMITS);
    expect(calls).toHaveLength(50);
    expect(calls.reduce((sum, call) => sum + call.count, 0)).toBe(500);
    expect(calls.slice(10, 14).map((call) => call.atMs)).toEqual([500, 1000, 1500, 2000]);
    expect(calls[calls.length - 1]!.atMs).toBe(20_000);
    // After the burst no second holds more than 20 tasks' worth of calls.
    expect(peakPerSecond(calls.slice(10))).toEqual({ calls: 2, tasks: 20 });
  });

  it('never exceeds the call rate when chunks are small', () => {
    const smallChunks: LaunchRateLimits = { ...FARGATE_LAUNCH_LIMITS, tasksPerCall: 1, taskBurst: 1000, tasksPerSecond: 1000 };
    const { calls } = planLaunch(60, smallChunks);
    expect(calls.filter((call) => call.atMs === 0)).toHaveLength(20);
    expect(calls[calls.length - 1]!.atMs).toBe(2000);
    expect(peakPerSecond(calls.slice(20)).calls).toBeLessThanOrEqual(20);
  });

  it('plans a last partial chunk and nothing for zero', () => {
    expect(planLaunch(23, FARGATE_LAUNCH_LIMITS).calls.map((call) => call.count)).toEqual([10, 10, 3]);
    expect(planLaunch(0, FARGATE_LAUNCH_LIMITS).calls).toEqual([]);
  });

  it('continues from the buckets a first phase left, as the on-demand fallback does', () => {
    const first = planLaunch(100, FARGATE_LAUNCH_LIMITS);
    const fallback = planLaunch(20, FARGATE_LAUNCH_LIMITS, refill(first.buckets, 100, FARGATE_LAUNCH_LIMITS));
    // 100 ms in, the task bucket holds 2 tokens: the first fallback chunk waits until it holds 10.
    expect(fallback.calls).toEqual([{ atMs: 500, count: 10 }, { atMs: 1000, count: 10 }]);
  });

  it('refills no faster than the rate and no higher than the burst', () => {
    const empty = { atMs: 0, calls: 0, tasks: 0 };
    expect(refill(empty, 250, FARGATE_LAUNCH_LIMITS)).toEqual({ atMs: 250, calls: 5, tasks: 5 });
    expect(refill(empty, 60_000, FARGATE_LAUNCH_LIMITS)).toEqual(fullBuckets(FARGATE_LAUNCH_LIMITS, 60_000));
  });

  it('rejects limits that could never send a call', () => {
    expect(() => planLaunch(5, { ...FARGATE_LAUNCH_LIMITS, tasksPerSecond: 0 })).toThrow(/tasksPerSecond must be positive/);
    expect(() => planLaunch(5, { ...FARGATE_LAUNCH_LIMITS, taskBurst: 5 })).toThrow(/bursts must hold/);
  });
});
