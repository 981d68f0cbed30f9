import {
  aggregationSeconds,
  batchSeconds,
  dispatchSeconds,
  firstRunAtOrAfter,
  idealFanout,
  simulateFanout,
  type FamilySpec,
  type FanoutRun,
} from '../src/simulation/fanout-simulation';
import { fanoutRun, runFanoutScenario, standardFanoutScenarios, twoFamilies } from '../src/simulation/fanout-scenarios';
import { simulateScaling } from '../src/simulation/scaling-simulation';
import { ORIGINAL_RULE, OUR_RULE } from '../src/simulation/scaling-rules';
import { burst } from '../src/simulation/workloads';
import { simulationParameters } from './factories';

const NO_REQUESTS = { s3RequestSeconds: 0, sqsSendSeconds: 0, lanes: 16, listPageKeys: 1000 };

function family(name: string, overrides: Partial<FamilySpec> = {}): FamilySpec {
  return { name, perFileSeconds: 1, maxTasks: 10, concurrency: 2, messagesPerTask: 2, ...overrides };
}

function run(overrides: Partial<FanoutRun> = {}): FanoutRun {
  return { ...fanoutRun('test', 1_000, twoFamilies(), simulationParameters()), ...overrides };
}

describe('the ideal for the caps', () => {
  it('is dispatch + the slowest family at its caps + trigger + aggregation, worked by hand', () => {
    // 120 files in batches of 50: 3 batches. Requests 0.1 s (S3) and 0.05 s (SQS), 2 lanes.
    const small = run({
      files: 120,
      families: [family('a', { perFileSeconds: 1, maxTasks: 1, concurrency: 1 }), family('b', { perFileSeconds: 2, maxTasks: 2, concurrency: 2 })],
      requests: { s3RequestSeconds: 0.1, sqsSendSeconds: 0.05, lanes: 2, listPageKeys: 1000 },
    });
    // Manifest GET, run record, dispatched HEAD, ⌈3/2⌉ = 2 rounds of list writes, the dispatched mark; one SendMessageBatch.
    expect(dispatchSeconds(small)).toBeCloseTo(0.1 * 6 + 0.05, 9);
    // 50 files, then run record, ledger entry, batch list, results, settlement and one page of ledger listing.
    expect(batchSeconds(small, small.families[0]!)).toBeCloseTo(50 + 0.6, 9);
    expect(batchSeconds(small, small.families[1]!)).toBeCloseTo(100 + 0.6, 9);
    // HEAD, run record, one listing page, ⌈3 × (1 + 2 × 2) / 2⌉ = 8 rounds of reads, two summaries and the report.
    expect(aggregationSeconds(small)).toBeCloseTo(0.1 * 14, 9);

    const ideal = idealFanout(small);
    // a: 1 slot, 3 rounds of 50.6 s; b: 4 slots, 1 round of 100.6 s. The family with the faster files is the slower
    // one at its caps.
    expect(ideal.families).toEqual([
      { name: 'a', batchSeconds: expect.closeTo(50.6, 9), slots: 1, rounds: 3, seconds: expect.closeTo(151.8, 9) },
      { name: 'b', batchSeconds: expect.closeTo(100.6, 9), slots: 4, rounds: 1, seconds: expect.closeTo(100.6, 9) },
    ]);
    expect(ideal.slowestFamily).toBe('a');
    expect(ideal.triggerSeconds).toBeCloseTo(0.15, 9);
    expect(ideal.totalSeconds).toBeCloseTo(0.65 + 151.8 + 0.15 + 1.4, 9);
  });

  it('is rounds x batch time exactly when the requests cost nothing', () => {
    // 1,000 files: 20 batches of 50 at 2 s a file (100 s a batch); 3 tasks x 2 = 6 slots: 4 rounds.
    const ideal = idealFanout(run({ requests: NO_REQUESTS, families: [family('only', { perFileSeconds: 2, maxTasks: 3, concurrency: 2 })] }));
    expect(ideal.families[0]).toMatchObject({ slots: 6, rounds: 4, seconds: 400 });
    expect(ideal.totalSeconds).toBe(400);
    // One batch more than the slots takes a whole round more; as many as the slots, one round.
    expect(idealFanout(run({ files: 350, requests: NO_REQUESTS, families: [family('x', { maxTasks: 3 })] })).families[0]!.rounds).toBe(2);
    expect(idealFanout(run({ files: 300, requests: NO_REQUESTS, families: [family('x', { maxTasks: 3 })] })).families[0]!.rounds).toBe(1);
  });

  it('grows with B x F reads for the aggregation', () => {
    const one = aggregationSeconds(run({ files: 20_000, families: [family('a')] }));
    const two = aggregationSeconds(run({ files: 20_000, families: [family('a'), family('b')] }));
    const small = aggregationSeconds(run({ files: 2_000, families: [family('a'), family('b')] }));
    expect(two).toBeGreaterThan(one);
    expect(two).toBeGreaterThan(small * 5);
  });

  it('refuses a run with no family or no file', () => {
    expect(() => idealFanout(run({ families: [] }))).toThrow(/at least one family/);
    expect(() => idealFanout(run({ files: 0 }))).toThrow(/files/);
  });
});

describe('the simulated fan-out run', () => {
  it('is never faster than the ideal, over sizes, caps, phases, lags and both rules', () => {
    let runs = 0;
    for (const files of [1, 50, 51, 1_000, 7_777]) {
      for (const [maxTasks, concurrency, messagesPerTask] of [[1, 1, 1], [10, 2, 2], [10, 2, 10], [3, 4, 1]] as const) {
        for (const firstTickSeconds of [0, 45, 119]) {
          for (const depthLagSeconds of [0, 60]) {
            for (const startLatencySeconds of [0, 60]) {
              const families = [family('fast', { perFileSeconds: 0.2, maxTasks, concurrency, messagesPerTask }), family('slow', { perFileSeconds: 2, maxTasks: 5, concurrency: 1, messagesPerTask: 1 })];
              const scenario = run({ files, families, depthLagSeconds, parameters: simulationParameters({ firstTickSeconds, startLatencySeconds }) });
              for (const rule of [OUR_RULE, ORIGINAL_RULE]) {
                const outcome = simulateFanout(scenario, rule);
                expect(outcome.simulatedSeconds).toBeGreaterThanOrEqual(outcome.ideal.totalSeconds - 1e-9);
                expect(outcome.breakdown.workBeyondIdealSeconds).toBeGreaterThanOrEqual(-0.001);
                runs++;
              }
            }
          }
        }
      }
    }
    expect(runs).toBe(5 * 4 * 3 * 2 * 2 * 2);
  });

  it('accounts for every second beyond the ideal: schedule waits, depth lag, task starts, work beyond the caps\' rounds', () => {
    for (const scenario of standardFanoutScenarios(simulationParameters())) {
      const outcome = simulateFanout(scenario);
      const { scheduleWaitSeconds, depthLagSeconds, taskStartSeconds, workBeyondIdealSeconds } = outcome.breakdown;
      expect(scheduleWaitSeconds + depthLagSeconds + taskStartSeconds + workBeyondIdealSeconds).toBeCloseTo(outcome.simulatedSeconds - outcome.ideal.totalSeconds, 2);
      // Three hops on the critical path, each started by a scaler run and a 60 s task start.
      expect(taskStartSeconds).toBeCloseTo(3 * 60, 6);
    }
  });

  it('walks the default schedule as the hops meet it', () => {
    // The bench's defaults: first run 60 s after the upload, every 120 s, 60 s start, counts read 60 s late.
    const outcome = simulateFanout(run({ depthLagSeconds: 60 }));
    const [fanout, fast, slow, aggregator] = outcome.hops;
    expect(fanout).toMatchObject({ arrivedAt: 0, firstRunAt: 60, launchedAt: 60, firstStartAt: 120, tasksLaunched: 1 });
    // The batches land just after 120 s; the run at 180 s reads the count as it was at 120 s (none yet) and the
    // run at 300 s launches: a run missed to the lag.
    expect(fast!.arrivedAt).toBeCloseTo(120 + dispatchSeconds(run()), 9);
    expect(fast).toMatchObject({ firstRunAt: 180, launchedAt: 300, firstStartAt: 360, tasksLaunched: 10 });
    expect(slow).toMatchObject({ firstRunAt: 180, launchedAt: 300, firstStartAt: 360, tasksLaunched: 10 });
    // 20 batches, 20 slots: one round each.
    expect(slow!.doneAt).toBeCloseTo(360 + batchSeconds(run(), twoFamilies()[1]!), 9);
    expect(aggregator!.launchedAt).toBeGreaterThan(slow!.doneAt);
    // Read on time, the counts launch the families at the first run after their batches land.
    const exact = simulateFanout(run({ depthLagSeconds: 0 }));
    expect(exact.hops[1]).toMatchObject({ firstRunAt: 180, launchedAt: 180 });
    expect(exact.breakdown.depthLagSeconds).toBe(0);
    expect(exact.simulatedSeconds).toBeCloseTo(outcome.simulatedSeconds - outcome.breakdown.depthLagSeconds, 6);
  });

  it('waits for the much slower family: it alone decides when the run is aggregated', () => {
    const families = (fastSeconds: number, slowSeconds: number) => [
      family('fast', { perFileSeconds: fastSeconds }),
      family('slow', { perFileSeconds: slowSeconds }),
    ];
    const base = simulateFanout(run({ files: 5_000, families: families(0.1, 5) }));
    expect(base.criticalFamily).toBe('slow');
    expect(base.ideal.slowestFamily).toBe('slow');
    const [, fast, slow] = base.hops;
    expect(base.lastBatchAt).toBe(slow!.doneAt);
    expect(fast!.doneAt).toBeLessThan(slow!.doneAt / 4);
    // A faster fast family changes nothing; a slower slow one adds exactly its rounds x the extra batch time.
    expect(simulateFanout(run({ files: 5_000, families: families(0.01, 5) })).simulatedSeconds).toBeCloseTo(base.simulatedSeconds, 6);
    // 100 batches over 20 slots: 5 rounds, each 50 files x 0.96 s longer: 240 s, two periods of the schedule, so the
    // aggregator meets the schedule as before and the whole run takes exactly that much longer.
    const slower = simulateFanout(run({ files: 5_000, families: families(0.1, 5.96) }));
    expect(slower.lastBatchAt - base.lastBatchAt).toBeCloseTo(5 * 50 * 0.96, 6);
    expect(slower.simulatedSeconds - base.simulatedSeconds).toBeCloseTo(240, 6);
  });

  it('aggregates exactly once, and only after the last batch of the last family', () => {
    for (const scenario of [...standardFanoutScenarios(simulationParameters()), run({ files: 1 }), run({ files: 51, families: [family('one', { maxTasks: 1, concurrency: 1 })] })]) {
      const outcome = simulateFanout(scenario);
      const aggregator = outcome.hops.at(-1)!;
      const families = outcome.hops.filter((hop) => hop.kind === 'family');
      expect(outcome.aggregations).toBe(1);
      expect(aggregator).toMatchObject({ kind: 'aggregator', messages: 1, tasksLaunched: 1 });
      expect(outcome.lastBatchAt).toBe(Math.max(...families.map((hop) => hop.doneAt)));
      // The aggregate message lands when the last settlement triggers it, and is worked after that.
      expect(aggregator.arrivedAt).toBeCloseTo(outcome.lastBatchAt + outcome.ideal.triggerSeconds, 9);
      expect(aggregator.launchedAt).toBeGreaterThanOrEqual(aggregator.arrivedAt);
      expect(outcome.aggregationStartedAt).toBeGreaterThanOrEqual(aggregator.firstStartAt);
      expect(outcome.aggregationStartedAt).toBeGreaterThan(outcome.lastBatchAt);
      for (const hop of families) expect(hop.messages).toBe(outcome.batches);
    }
  });

  it('launches fewer tasks than the cap at MESSAGES_PER_TASK 10 for 50-file batches, and says where the time went', () => {
    const [tuned, , untuned] = standardFanoutScenarios(simulationParameters()).map((scenario) => simulateFanout(scenario));
    // 20 batches: ⌈20 / 10⌉ = 2 tasks of 2 slots instead of 10, so 5 rounds instead of 1.
    expect(untuned!.hops.filter((hop) => hop.kind === 'family').map((hop) => hop.peakTasks)).toEqual([2, 2]);
    expect(untuned!.breakdown.workBeyondIdealSeconds).toBeCloseTo(4 * untuned!.ideal.familiesSeconds, 0);
    expect(tuned!.breakdown.workBeyondIdealSeconds).toBeCloseTo(0, 3);
    expect(tuned!.hops.filter((hop) => hop.kind === 'family').map((hop) => hop.peakTasks)).toEqual([10, 10]);
  });

  it('reports every phase of the schedule and the run with exact counts', () => {
    const result = runFanoutScenario(run());
    expect(result.phases.map((phase) => phase.firstTickSeconds)).toEqual([0, 15, 30, 45, 60, 75, 90, 105]);
    expect(result.worstPhaseRatio).toBeGreaterThanOrEqual(result.ratio);
    expect(result.bestPhaseRatio).toBeLessThanOrEqual(result.ratio);
    expect(result.exactCounts.simulatedSeconds).toBeLessThanOrEqual(result.simulatedSeconds);
    expect(result.phases.every((phase) => phase.ratio >= 1)).toBe(true);
  });

  it('keeps the large run within 1.5x the ideal at every phase', () => {
    const large = runFanoutScenario(standardFanoutScenarios(simulationParameters())[1]!);
    expect(large.files).toBe(20_000);
    expect(large.worstPhaseRatio).toBeLessThanOrEqual(1.5);
  });

  it('counts tasks\' idle time: each family task\'s idle tail is IDLE_POLLS x WAIT_SECONDS', () => {
    const outcome = simulateFanout(run({ requests: NO_REQUESTS }));
    const slow = outcome.hops[2]!;
    // 10 tasks, each one round of work then two empty 20 s polls.
    expect(slow.idleTaskSeconds).toBeCloseTo(10 * 2 * 20, 6);
    expect(slow.lastExitAt).toBeCloseTo(slow.doneAt + 40, 6);
    expect(outcome.scaledToZeroAt).toBe(outcome.hops.at(-1)!.lastExitAt);
  });
});

describe('task slots in the scaling simulation', () => {
  const slotParameters = simulationParameters({ maxTasks: 1, messagesPerTask: 1, firstTickSeconds: 0, startLatencySeconds: 10 });

  it('works at most CONCURRENCY messages at once per task, each for its full time', () => {
    const result = simulateScaling(burst(3), OUR_RULE, slotParameters, undefined, { slots: { concurrency: 2, secondsPerMessage: 100 } });
    // Two at once from the start at 10 s, the third when a slot frees at 110 s.
    expect(result.drainSeconds).toBe(210);
    expect(result.timeline.every((sample) => sample.inFlight <= 2)).toBe(true);
    // From 110 s the free slot polls and finds nothing; as in the worker, those empty polls count while the third
    // message is in flight, so the poll that comes back empty as it is done (210 s) ends the task: no idle time.
    expect(result.idleTaskSeconds).toBe(0);
    expect(result.tasks[0]).toMatchObject({ startedAt: 10, exitedAt: 210, processed: 3 });
  });

  it('does not split a message over slots as the pooled rate would', () => {
    const pooled = simulateScaling(burst(1), OUR_RULE, { ...slotParameters, perTaskImagesPerSecond: 2 / 100, receiveBatchSize: 2 });
    const slotted = simulateScaling(burst(1), OUR_RULE, slotParameters, undefined, { slots: { concurrency: 2, secondsPerMessage: 100 } });
    expect(pooled.drainSeconds).toBe(60);
    expect(slotted.drainSeconds).toBe(110);
  });

  it('exits only once nothing is in flight, however many polls came back empty meanwhile', () => {
    // One long message and a free slot polling beside it: many empty polls, no exit until the message is done.
    const result = simulateScaling(burst(1), OUR_RULE, slotParameters, undefined, { slots: { concurrency: 2, secondsPerMessage: 500 } });
    expect(result.tasks[0]!.exitedAt).toBeGreaterThanOrEqual(510);
    expect(result.drainSeconds).toBe(510);
  });

  it('hides fresh messages from a scaler that reads the counts late', () => {
    const arrival = { name: 'late', arrivals: [{ atSeconds: 100, count: 5 }], totalFiles: 5 };
    const parameters = simulationParameters({ firstTickSeconds: 0, scheduleIntervalSeconds: 120 });
    const exact = simulateScaling(arrival, OUR_RULE, parameters, undefined, { depthLagSeconds: 0 });
    const lagging = simulateScaling(arrival, OUR_RULE, parameters, undefined, { depthLagSeconds: 60 });
    expect(exact.runs![0]!.atSeconds).toBe(120);
    // The run at 120 s reads the counts of 60 s: still empty. The one at 240 s reads those of 180 s.
    expect(lagging.runs![0]!.atSeconds).toBe(240);
  });

  it('leaves the standard scenarios as they were without options', () => {
    const parameters = simulationParameters();
    expect(simulateScaling(burst(10_000), OUR_RULE, parameters, undefined, {})).toEqual(simulateScaling(burst(10_000), OUR_RULE, parameters));
    expect(simulateScaling(burst(10_000), OUR_RULE, parameters)).not.toHaveProperty('idleTaskSeconds');
  });

  it('refuses slots it cannot work with', () => {
    expect(() => simulateScaling(burst(1), OUR_RULE, slotParameters, undefined, { slots: { concurrency: 0, secondsPerMessage: 1 } })).toThrow(/concurrency/);
    expect(() => simulateScaling(burst(1), OUR_RULE, slotParameters, undefined, { slots: { concurrency: 1.5, secondsPerMessage: 1 } })).toThrow(/concurrency/);
    expect(() => simulateScaling(burst(1), OUR_RULE, slotParameters, undefined, { slots: { concurrency: 1, secondsPerMessage: -1 } })).toThrow(/time per message/);
    expect(() => simulateScaling(burst(1), OUR_RULE, slotParameters, undefined, { depthLagSeconds: -1 })).toThrow(/depthLagSeconds/);
  });
});

describe('the schedule', () => {
  it('finds the first scheduled run at or after a time', () => {
    const schedule = { firstTickSeconds: 60, scheduleIntervalSeconds: 120 };
    expect(firstRunAtOrAfter(0, schedule)).toBe(60);
    expect(firstRunAtOrAfter(60, schedule)).toBe(60);
    expect(firstRunAtOrAfter(60.5, schedule)).toBe(180);
    expect(firstRunAtOrAfter(180, schedule)).toBe(180);
    expect(firstRunAtOrAfter(3364.86, schedule)).toBe(3420);
  });
});
