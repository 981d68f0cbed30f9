import { idealBurstDrainSeconds, simulateScaling } from '../src/simulation/scaling-simulation';
import { ORIGINAL_RULE, OUR_RULE } from '../src/simulation/scaling-rules';
import { burst, steady } from '../src/simulation/workloads';
import { simulationParameters } from './factories';

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

describe('steady', () => {
  it('spreads a fractional rate over whole files', () => {
    const workload = steady(0.5, 10);
    expect(workload.totalFiles).toBe(5);
    expect(workload.arrivals.reduce((sum, arrival) => sum + arrival.count, 0)).toBe(5);
  });
});
