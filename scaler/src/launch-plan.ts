/**
 * When each RunTask call of one scaling run may be made: pure, so the launcher, its tests and the bench's simulation
 * plan a launch the same way.
 *
 * Two of AWS's token buckets limit a launch, both per account and Region: RunTask calls (20 a second, burst and
 * sustained, at most 10 tasks each) and Fargate task launches (a burst of 100, then 20 a second). Calls that stay
 * inside both are never throttled, so chunks can be sent in parallel without waiting for one another: 500 tasks go out
 * as 10 calls at once, then 2 calls a second, the last after 20 s. Sent one after another they would take 50 calls'
 * worth of round trips instead, which is what made a large MAX_TASKS outlast the Lambda.
 */
export interface LaunchRateLimits {
  readonly tasksPerCall: number;
  readonly callsPerSecond: number;
  readonly callBurst: number;
  readonly tasksPerSecond: number;
  readonly taskBurst: number;
}

/** AWS's published defaults ("AWS Fargate throttling quotas"); both buckets are shared with anything else in the account. */
export const FARGATE_LAUNCH_LIMITS: LaunchRateLimits = Object.freeze({
  tasksPerCall: 10,
  callsPerSecond: 20,
  callBurst: 20,
  tasksPerSecond: 20,
  taskBurst: 100,
});

/**
 * The Lambda starts no launch call in its invocation's last 10 s: enough for the calls already sent to answer and for
 * the launch report and metrics to be written before the timeout would cut the run off mid-way.
 */
export const STOP_LAUNCHING_BEFORE_TIMEOUT_MS = 10_000;

/** The tokens left in both buckets at a moment, in milliseconds from the start of the run. */
export interface LaunchBuckets {
  readonly atMs: number;
  readonly calls: number;
  readonly tasks: number;
}

export interface PlannedCall {
  /** When to send the call, in milliseconds from the start of the run. */
  readonly atMs: number;
  readonly count: number;
}

export interface LaunchPlan {
  readonly calls: readonly PlannedCall[];
  /** The buckets after the last planned call, to plan a later phase (the on-demand fallback) from. */
  readonly buckets: LaunchBuckets;
}

/**
 * Full buckets: what a run may assume at its start. The previous run was two minutes earlier, long enough for both
 * buckets to refill; other users of the account's quota are not known, and a throttled call is retried.
 */
export function fullBuckets(limits: LaunchRateLimits, atMs = 0): LaunchBuckets {
  return { atMs, calls: limits.callBurst, tasks: limits.taskBurst };
}

/** Chunks of at most `tasksPerCall`, each sent as soon as both buckets hold enough tokens for it. */
export function planLaunch(count: number, limits: LaunchRateLimits, start: LaunchBuckets = fullBuckets(limits)): LaunchPlan {
  validate(limits);
  const calls: PlannedCall[] = [];
  let buckets = start;
  for (let remaining = Math.max(0, Math.floor(count)); remaining > 0; ) {
    const size = Math.min(limits.tasksPerCall, remaining);
    const waitForCall = Math.max(0, (1 - buckets.calls) / limits.callsPerSecond);
    const waitForTasks = Math.max(0, (size - buckets.tasks) / limits.tasksPerSecond);
    // Whole milliseconds, rounded up, so a call is never planned a fraction too early for its tokens.
    const atMs = buckets.atMs + Math.ceil(Math.max(waitForCall, waitForTasks) * 1000 - 1e-9);
    const refilled = refill(buckets, atMs, limits);
    buckets = { atMs, calls: refilled.calls - 1, tasks: refilled.tasks - size };
    calls.push({ atMs, count: size });
    remaining -= size;
  }
  return { calls, buckets };
}

/** The buckets as they will be at `atMs` (never earlier than their own time). */
export function refill(buckets: LaunchBuckets, atMs: number, limits: LaunchRateLimits): LaunchBuckets {
  const elapsedSeconds = Math.max(0, atMs - buckets.atMs) / 1000;
  return {
    atMs: Math.max(atMs, buckets.atMs),
    calls: Math.min(limits.callBurst, buckets.calls + elapsedSeconds * limits.callsPerSecond),
    tasks: Math.min(limits.taskBurst, buckets.tasks + elapsedSeconds * limits.tasksPerSecond),
  };
}

function validate(limits: LaunchRateLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be positive, got ${value}`);
  }
  if (limits.taskBurst < limits.tasksPerCall || limits.callBurst < 1) {
    throw new RangeError('the bursts must hold at least one full call');
  }
}
