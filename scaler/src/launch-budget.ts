import { fullBuckets, planLaunch, refill, type LaunchBuckets, type LaunchRateLimits, type PlannedCall } from './launch-plan';

/**
 * AWS's launch rates are per account and Region, so every launcher of one scaling run draws on the same two buckets.
 * Each plan takes its tokens from here as it is made (synchronously), so pipelines launching at the same time plan
 * their calls one after the other's, inside the rates together, as one launcher's calls are alone. Times are epoch ms.
 */
export class LaunchBudget {
  private buckets: LaunchBuckets;

  /** Full buckets at `startMs`: the previous run was two minutes earlier, long enough for both to refill. */
  constructor(private readonly limits: LaunchRateLimits, startMs: number) {
    this.buckets = fullBuckets(limits, startMs);
  }

  /** When to send the calls for `count` tasks, from `nowMs` on (epoch ms), with those calls' tokens taken. */
  plan(count: number, nowMs: number): readonly PlannedCall[] {
    const plan = planLaunch(count, this.limits, refill(this.buckets, nowMs, this.limits));
    this.buckets = plan.buckets;
    return plan.calls;
  }
}
