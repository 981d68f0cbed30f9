import { scenarioCost, type CostInputs, type ScenarioCost } from '../cost/cost-model';
import type { SimulationParameters } from '../parameters';
import {
  WORKER_WORLD,
  idealBurstDrainSeconds,
  simulateScaling,
  type ScalerRunRecord,
  type SimulatedWorld,
  type SimulationResult,
} from './scaling-simulation';
import { ORIGINAL_RULE, OUR_RULE, UNGUARDED_RULE, type ScalingRule } from './scaling-rules';
import { burst, steady, testEventOnly, type Workload } from './workloads';

/** One workload under both rules, with what each run cost. */
export interface ScenarioComparison {
  readonly name: string;
  readonly parameters: SimulationParameters;
  /** The best drain time for a burst under the cap; undefined for a steady rate. */
  readonly idealDrainSeconds: number | undefined;
  readonly ours: SimulationResult;
  readonly original: SimulationResult;
  readonly oursCost: ScenarioCost;
  readonly originalCost: ScenarioCost;
}

export interface ScenarioSpec {
  readonly name: string;
  readonly workload: Workload;
  readonly parameters: SimulationParameters;
  readonly isBurst: boolean;
}

/**
 * The scenarios (bursts of 1k, 10k, 100k and a steady rate at the defaults) plus one sensitivity case where
 * the rules part ways: Fargate taking longer to start than the schedule's interval, so a second run sees the same
 * backlog with the first run's tasks still pending.
 */
export function standardScenarios(base: SimulationParameters): ScenarioSpec[] {
  const steadyRate = Math.max(1, Math.round(base.maxTasks * base.perTaskImagesPerSecond * 0.3));
  return [
    { name: 'burst 1k', workload: burst(1_000), parameters: base, isBurst: true },
    { name: 'burst 10k', workload: burst(10_000), parameters: base, isBurst: true },
    { name: 'burst 100k', workload: burst(100_000), parameters: base, isBurst: true },
    { name: `steady ${steadyRate}/s, 1 h`, workload: steady(steadyRate, 3600), parameters: base, isBurst: false },
    {
      // A backlog below 10 x MAX_TASKS, so the cap does not hide the difference between the rules.
      name: 'burst 300, 180 s start, MAX_TASKS 50',
      workload: burst(300),
      parameters: { ...base, startLatencySeconds: 180, maxTasks: 50 },
      isBurst: true,
    },
  ];
}

export function compareRules(spec: ScenarioSpec, costInputs: CostInputs): ScenarioComparison {
  const ours = simulateScaling(spec.workload, OUR_RULE, spec.parameters);
  const original = simulateScaling(spec.workload, ORIGINAL_RULE, spec.parameters);
  return {
    name: spec.name,
    parameters: spec.parameters,
    idealDrainSeconds: spec.isBurst ? idealBurstDrainSeconds(spec.workload.totalFiles, spec.parameters) : undefined,
    ours,
    original,
    oursCost: scenarioCost(ours, costInputs),
    originalCost: scenarioCost(original, costInputs),
  };
}

/** One start failure of issue 10 (an image that cannot work), simulated for a day. */
export interface StartFailureSpec {
  readonly name: string;
  readonly workload: Workload;
  readonly parameters: SimulationParameters;
  readonly world: SimulatedWorld;
}

/** A simulation result without its per-task and timeline arrays, which run to hundreds of thousands in a crash loop. */
export type SimulationSummary = Omit<SimulationResult, 'tasks' | 'timeline'>;

/** The same start failure under the scaler before issue 10 and now. */
export interface StartFailureComparison {
  readonly name: string;
  readonly parameters: SimulationParameters;
  readonly world: SimulatedWorld;
  readonly hours: number;
  readonly before: SimulationSummary;
  readonly after: SimulationSummary;
  /** Tasks started per hour, averaged over the whole simulated day. */
  readonly beforeTasksPerHour: number;
  readonly afterTasksPerHour: number;
  /** Tasks started in each hour of the day (for a chart). */
  readonly beforeTasksByHour: readonly number[];
  readonly afterTasksByHour: readonly number[];
  /**
   * Fargate cost per day of the failure, at the capacity-provider mix: every task that dies at start still bills the
   * one-minute minimum. Queue and S3 requests are left out (nothing is processed), so is the scaler's own Lambda (the
   * same runs either way).
   */
  readonly beforeFargatePerDay: number;
  readonly afterFargatePerDay: number;
  readonly savedPerDay: number;
}

const DAY_SECONDS = 24 * 3600;

/**
 * Issue 10's two start failures: the idle stack right after the first deploy (only the s3:TestEvent, the bootstrap
 * image, which exits 0 at once), and an image that exits 1 five seconds after starting with a backlog waiting, at the
 * default cap and at MAX_TASKS 500.
 */
export function startFailureScenarios(base: SimulationParameters): StartFailureSpec[] {
  const day = { ...base, horizonSeconds: DAY_SECONDS };
  const crash: SimulatedWorld = { ...WORKER_WORLD, image: 'crash-at-start', exitAfterSeconds: 5 };
  return [
    {
      name: 'idle after deploy: the s3:TestEvent and the bootstrap image, 24 h',
      workload: testEventOnly(),
      parameters: day,
      world: { ...WORKER_WORLD, image: 'bootstrap', exitAfterSeconds: 1 },
    },
    { name: `crash loop: image exits 1 at start, 1k waiting, MAX_TASKS ${base.maxTasks}, 24 h`, workload: burst(1_000), parameters: day, world: crash },
    { name: 'crash loop: image exits 1 at start, 10k waiting, MAX_TASKS 500, 24 h', workload: burst(10_000), parameters: { ...day, maxTasks: 500 }, world: crash },
  ];
}

export function compareStartGuards(spec: StartFailureSpec, costInputs: CostInputs): StartFailureComparison {
  const hours = spec.parameters.horizonSeconds / 3600;
  const run = (rule: ScalingRule) => {
    const result = simulateScaling(spec.workload, rule, spec.parameters, spec.world);
    const byHour = Array.from({ length: Math.ceil(hours) }, () => 0);
    for (const task of result.tasks) byHour[Math.min(byHour.length - 1, Math.floor(task.launchedAt / 3600))]!++;
    const fargatePerDay = scenarioCost(result, costInputs).fargateMixed * (DAY_SECONDS / spec.parameters.horizonSeconds);
    const { tasks: _tasks, timeline: _timeline, ...summary } = result;
    return { summary, byHour, tasksPerHour: result.tasksLaunched / hours, fargatePerDay };
  };
  const before = run(UNGUARDED_RULE);
  const after = run(OUR_RULE);
  return {
    name: spec.name,
    parameters: spec.parameters,
    world: spec.world,
    hours,
    before: before.summary,
    after: after.summary,
    beforeTasksPerHour: before.tasksPerHour,
    afterTasksPerHour: after.tasksPerHour,
    beforeTasksByHour: before.byHour,
    afterTasksByHour: after.byHour,
    beforeFargatePerDay: before.fargatePerDay,
    afterFargatePerDay: after.fargatePerDay,
    savedPerDay: before.fargatePerDay - after.fargatePerDay,
  };
}

/** The first run of a large backlog from an empty fleet, before issue 10 and now. */
export interface LargeLaunchComparison {
  readonly maxTasks: number;
  /** The assumed round trip of one RunTask call (SimulatedWorld.runTaskCallSeconds). */
  readonly runTaskCallSeconds: number;
  /** Chunks one after another in a 60 s Lambda: what the first run launched, and what its timeout cut off. */
  readonly before: ScalerRunRecord & { readonly timeoutSeconds: number };
  /** The rate plan in a 45 s Lambda that starts no call in its last 10 s. */
  readonly after: ScalerRunRecord & { readonly budgetSeconds: number };
}

/** MAX_TASKS tasks' worth of messages land at once with nothing running: how the first scheduled run launches them. */
export function compareLargeLaunch(base: SimulationParameters, maxTasks = 500, world: SimulatedWorld = WORKER_WORLD): LargeLaunchComparison {
  const parameters = { ...base, maxTasks };
  const workload = burst(maxTasks * base.messagesPerTask);
  const firstRun = (rule: ScalingRule): ScalerRunRecord => {
    const run = simulateScaling(workload, rule, parameters, world).runs?.[0];
    if (run === undefined) throw new Error(`${rule.name} made no run with a backlog`);
    return run;
  };
  const before = UNGUARDED_RULE.launcher;
  const after = OUR_RULE.launcher;
  return {
    maxTasks,
    runTaskCallSeconds: world.runTaskCallSeconds,
    before: { ...firstRun(UNGUARDED_RULE), timeoutSeconds: before.kind === 'sequential' ? before.timeoutSeconds : NaN },
    after: { ...firstRun(OUR_RULE), budgetSeconds: after.kind === 'rate-planned' ? after.budgetSeconds : NaN },
  };
}
