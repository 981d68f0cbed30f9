import { TIMEOUT_SECONDS } from '../../infra/src/constructs/scaler-function';
import { STOP_LAUNCHING_BEFORE_TIMEOUT_MS } from '../../scaler/src/launch-plan';
import { DEFAULT_PER_IMAGE_REQUESTS, DEFAULT_SCALER_RUN, DEFAULT_TASK_SIZE, PRICES } from '../src/parameters';
import { compareLargeLaunch, compareStartGuards, startFailureScenarios } from '../src/simulation/scenarios';
import { WORKER_WORLD, idealBurstDrainSeconds, launchCalls, simulateScaling } from '../src/simulation/scaling-simulation';
import { ORIGINAL_RULE, OUR_RULE, SCALER_TIMEOUT_SECONDS, UNGUARDED_RULE } from '../src/simulation/scaling-rules';
import { burst, steady, testEventOnly } from '../src/simulation/workloads';
import { simulationParameters } from './factories';

const costInputs = { prices: PRICES, taskSize: DEFAULT_TASK_SIZE, perImage: DEFAULT_PER_IMAGE_REQUESTS, scalerRun: DEFAULT_SCALER_RUN };
const DAY = 24 * 3600;

describe('simulateScaling', () => {
  it('drains a 10k burst with MAX_TASKS=10 within 1.15x of the ideal for that cap, with no empty starts', () => {
    const parameters = simulationParameters({ maxTasks: 10, perTaskImagesPerSecond: 10 });
    const result = simulateScaling(burst(10_000), OUR_RULE, parameters);

    const ideal = idealBurstDrainSeconds(10_000, parameters);
    expect(ideal).toBe(60 + 60 + 100);
    expect(result.drainSeconds).toBeGreaterThanOrEqual(ideal);
    expect(result.drainSeconds!).toBeLessThanOrEqual(ideal * 1.15);
    expect(result.tasksLaunched).toBe(10);
    expect(result.emptyStarts).toBe(0);
    expect(result.emptyStartsWhileDraining).toBe(0);
  });

  it('launches again for the same backlog under the original rule while the first tasks are still pending', () => {
    // Start latency longer than the schedule: the second run sees the same 25 messages and the 3 pending tasks.
    const parameters = simulationParameters({ startLatencySeconds: 150 });

    const original = simulateScaling(burst(25), ORIGINAL_RULE, parameters);
    const ours = simulateScaling(burst(25), OUR_RULE, parameters);

    expect(ours.tasksLaunched).toBe(3);
    expect(ours.launchingRuns).toBe(1);
    expect(ours.emptyStarts).toBe(0);
    expect(original.tasksLaunched).toBe(6);
    expect(original.launchingRuns).toBe(2);
    expect(original.emptyStarts).toBe(3);
    expect(original.taskSeconds).toBeGreaterThan(ours.taskSeconds);
    expect(original.drainSeconds).toBe(ours.drainSeconds);
  });

  it('counts a launch that starts to an empty queue while other tasks still hold messages as starting while others drain', () => {
    // Slow tasks keep the backlog in flight across runs; the original rule keeps adding tasks that find nothing visible.
    const parameters = simulationParameters({ startLatencySeconds: 150, perTaskImagesPerSecond: 0.05 });

    const original = simulateScaling(burst(25), ORIGINAL_RULE, parameters);
    const ours = simulateScaling(burst(25), OUR_RULE, parameters);

    expect(original.emptyStartsWhileDraining).toBeGreaterThan(0);
    expect(ours.emptyStartsWhileDraining).toBe(0);
  });

  it('exits an idle task after IDLE_POLLS empty long polls', () => {
    const parameters = simulationParameters({ idlePolls: 3, waitSeconds: 20, perTaskImagesPerSecond: 100 });
    const result = simulateScaling(burst(5), OUR_RULE, parameters);

    expect(result.tasksLaunched).toBe(1);
    const [task] = result.tasks;
    // Started at 120, done 0.05 s later, then three 20 s empty polls.
    expect(task!.exitedAt).toBeCloseTo(120 + 0.05 + 60, 6);
    expect(result.emptyReceives).toBe(3);
    expect(result.lastExitSeconds).toBeCloseTo(180.05, 6);
  });

  it('launches nothing when nothing arrives, and stops after the first scheduled run', () => {
    const result = simulateScaling({ name: 'nothing', arrivals: [], totalFiles: 0 }, OUR_RULE, simulationParameters());
    expect(result.tasksLaunched).toBe(0);
    expect(result.scalerRuns).toBe(1);
    expect(result.drainSeconds).toBe(0);
  });

  it('keeps up with a steady rate below capacity and reports per-file latency', () => {
    const parameters = simulationParameters({ perTaskImagesPerSecond: 10, maxTasks: 10 });
    const result = simulateScaling(steady(5, 600), OUR_RULE, parameters);

    expect(result.files).toBe(3000);
    expect(result.drainSeconds).toBeDefined();
    // The first files wait for the first run and the start latency; later ones are picked up by long polls.
    expect(result.maxLatencySeconds).toBeGreaterThanOrEqual(120);
    expect(result.meanLatencySeconds).toBeLessThan(result.maxLatencySeconds);
    expect(result.tasks.reduce((sum, task) => sum + task.processed, 0)).toBe(3000);
  });

  it('respects MAX_TASKS however large the backlog', () => {
    const result = simulateScaling(burst(100_000), ORIGINAL_RULE, simulationParameters({ maxTasks: 7 }));
    expect(result.peakTasks).toBe(7);
    expect(result.timeline.every((sample) => sample.tasks <= 7)).toBe(true);
  });

  it('simulates a 100k burst in well under a second and is deterministic', () => {
    const parameters = simulationParameters({ maxTasks: 10 });
    const started = process.hrtime.bigint();
    const first = simulateScaling(burst(100_000), OUR_RULE, parameters);
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const second = simulateScaling(burst(100_000), OUR_RULE, parameters);

    expect(elapsedMs).toBeLessThan(500);
    expect(second).toEqual(first);
    expect(first.drainSeconds).toBeDefined();
  });

  it('rejects a non-positive throughput instead of looping forever', () => {
    expect(() => simulateScaling(burst(10), OUR_RULE, simulationParameters({ perTaskImagesPerSecond: 0 }))).toThrow(
      /perTaskImagesPerSecond/,
    );
  });
});

describe('launching a large MAX_TASKS (issue 10)', () => {
  it('launches MAX_TASKS=500 from an empty fleet within one run, where chunks one after another ran out of time', () => {
    const comparison = compareLargeLaunch(simulationParameters());

    expect(comparison.after).toMatchObject({ wanted: 500, launched: 500, notLaunchedInTime: 0, budgetSeconds: 35 });
    // The burst of 100 at once, then 20 tasks a second: the last call at 20 s, answered 1.5 s later.
    expect(comparison.after.launchSpanSeconds).toBe(21.5);
    // 40 calls of 1.5 s fill the 60 s Lambda; the 100 tasks after them never launch in that run.
    expect(comparison.before).toMatchObject({ wanted: 500, launched: 400, notLaunchedInTime: 100, launchSpanSeconds: 60, timeoutSeconds: 60 });
  });

  it('models the deployed Lambda: its timeout less the margin in which the handler starts no launch call', () => {
    expect(SCALER_TIMEOUT_SECONDS).toBe(TIMEOUT_SECONDS);
    expect(OUR_RULE.launcher).toMatchObject({ kind: 'rate-planned', budgetSeconds: TIMEOUT_SECONDS - STOP_LAUNCHING_BEFORE_TIMEOUT_MS / 1000 });
  });

  it('spaces sequential calls by their round trip and drops those past the timeout; plans the rest with the scaler\'s own plan', () => {
    expect(launchCalls(UNGUARDED_RULE.launcher, 25, 2)).toEqual([{ offsetSeconds: 0, count: 10 }, { offsetSeconds: 2, count: 10 }, { offsetSeconds: 4, count: 5 }]);
    expect(launchCalls(UNGUARDED_RULE.launcher, 1000, 2)).toHaveLength(30);
    expect(launchCalls(OUR_RULE.launcher, 100, 2)).toEqual(Array.from({ length: 10 }, () => ({ offsetSeconds: 0, count: 10 })));
    expect(launchCalls(OUR_RULE.launcher, 1000, 2).map((call) => call.offsetSeconds).at(-1)).toBe(34.5);
  });
});

describe('start failures (issue 10)', () => {
  const scenarios = startFailureScenarios(simulationParameters());
  const [idle, crash10, crash500] = scenarios.map((spec) => compareStartGuards(spec, costInputs));

  it('starts a task every run for the TestEvent under the bootstrap image before, and none now', () => {
    expect(idle!.before).toMatchObject({ tasksLaunched: 720, emptyStarts: 720, startFailures: 0 });
    expect(idle!.beforeTasksPerHour).toBe(30);
    expect(idle!.after).toMatchObject({ tasksLaunched: 0, heldRuns: 720 });
    expect(idle!.after.runs!.every((run) => run.heldBy === 'bootstrap-image')).toBe(true);
    // 720 tasks a day, each billed 61 s (the start latency and the second it runs) at the capacity-provider mix.
    expect(idle!.beforeFargatePerDay).toBeCloseTo(720 * (61 / 3600) * (0.8 * 0.029622 + 0.2 * 0.09874), 4);
    expect(idle!.afterFargatePerDay).toBe(0);
  });

  it('launches MAX_TASKS every run into a crash loop before, and backs off to a few probes an hour now', () => {
    expect(crash10!.beforeTasksPerHour).toBe(300);
    // Every task dies; the last run's ten are still starting when the day ends.
    expect(crash10!.before).toMatchObject({ tasksLaunched: 7200, startFailures: 7190, emptyStarts: 7200 });
    // The first run's ten, then one probe after each pause: 4, 8, 16, then 20 minutes.
    expect(crash10!.afterTasksByHour[0]).toBeLessThanOrEqual(15);
    expect(Math.max(...crash10!.afterTasksByHour.slice(1))).toBeLessThanOrEqual(4);
    expect(crash10!.afterTasksPerHour).toBeLessThan(5);
    expect(crash10!.savedPerDay).toBeGreaterThan(5);
  });

  it('holds MAX_TASKS=500 to one round of 500 and then the same probes', () => {
    expect(crash500!.beforeTasksPerHour).toBe(12_000);
    expect(crash500!.afterTasksByHour[0]).toBeLessThanOrEqual(505);
    expect(Math.max(...crash500!.afterTasksByHour.slice(1))).toBeLessThanOrEqual(4);
    expect(crash500!.beforeFargatePerDay).toBeGreaterThan(200);
    expect(crash500!.afterFargatePerDay).toBeLessThan(1);
  });

  it('keeps the results small enough to store: no per-task or timeline arrays', () => {
    for (const comparison of [idle, crash10, crash500]) {
      expect(comparison!.before).not.toHaveProperty('tasks');
      expect(comparison!.after).not.toHaveProperty('timeline');
      expect(comparison!.beforeTasksByHour).toHaveLength(24);
    }
  });

  it('leaves a healthy run alone: the guards change nothing for the real worker', () => {
    const parameters = simulationParameters({ maxTasks: 10, perTaskImagesPerSecond: 10 });
    const guarded = simulateScaling(burst(10_000), OUR_RULE, parameters);
    const unguarded = simulateScaling(burst(10_000), UNGUARDED_RULE, parameters);
    expect(guarded.heldRuns).toBe(0);
    expect({ ...guarded, rule: '' }).toEqual({ ...unguarded, rule: '' });
  });

  it('lets the worker consume the TestEvent once the image is real', () => {
    const result = simulateScaling(testEventOnly(), OUR_RULE, simulationParameters({ horizonSeconds: DAY }), WORKER_WORLD);
    expect(result).toMatchObject({ tasksLaunched: 1, drainSeconds: expect.any(Number), heldRuns: 0 });
  });
});

describe('steady', () => {
  it('spreads a fractional rate over whole files', () => {
    const workload = steady(0.5, 10);
    expect(workload.totalFiles).toBe(5);
    expect(workload.arrivals.reduce((sum, arrival) => sum + arrival.count, 0)).toBe(5);
  });
});
