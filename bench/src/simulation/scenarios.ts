import { scenarioCost, type CostInputs, type ScenarioCost } from '../cost/cost-model';
import type { SimulationParameters } from '../parameters';
import { idealBurstDrainSeconds, simulateScaling, type SimulationResult } from './scaling-simulation';
import { ORIGINAL_RULE, OUR_RULE } from './scaling-rules';
import { burst, steady, type Workload } from './workloads';

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
