import { LaunchBudget } from '../src/launch-budget';
import { FARGATE_LAUNCH_LIMITS } from '../src/launch-plan';

describe('LaunchBudget', () => {
  it('plans a second launch of the same run after the first, so both together stay inside the account\'s rates', () => {
    const budget = new LaunchBudget(FARGATE_LAUNCH_LIMITS, 1_000_000);
    const first = budget.plan(100, 1_000_000);
    const second = budget.plan(40, 1_000_000);
    // The first takes Fargate's whole burst of 100 at once; the second waits for the 20-a-second refill.
    expect(first.map((call) => call.atMs)).toEqual(Array(10).fill(1_000_000));
    expect(second.map((call) => call.atMs - 1_000_000)).toEqual([500, 1000, 1500, 2000]);
    // Alone, the same 40 would all go at once.
    expect(new LaunchBudget(FARGATE_LAUNCH_LIMITS, 1_000_000).plan(40, 1_000_000).map((call) => call.atMs - 1_000_000)).toEqual([0, 0, 0, 0]);
  });

  it('refills while time passes between plans', () => {
    const budget = new LaunchBudget(FARGATE_LAUNCH_LIMITS, 0);
    budget.plan(100, 0);
    expect(budget.plan(10, 5_000).map((call) => call.atMs)).toEqual([5_000]);
  });
});
