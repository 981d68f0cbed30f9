import type { LambdaCostPerMillion } from './cost/lambda-cost';
import type { BatchJobMeasurement } from './report/batch-report';
import type { ColdStartResult } from './measure/cold-start';
import type { CommandJobMeasurement } from './measure/command-job';
import type { CpuOverhead } from './measure/cpu-overhead';
import type { DecodeHeavyRun } from './measure/decode-heavy-memory';
import type { QueueCallsPerImage } from './measure/queue-calls';
import type { ThroughputMeasurement } from './measure/transform-ceiling';
import type { WorkerRunResult } from './measure/worker-end-to-end';
import type { LambdaAlternative, PerImageRequests, Prices, TaskSize } from './parameters';
import type { FanoutSimulation } from './simulation/fanout-scenarios';
import type { LargeLaunchComparison, ScenarioComparison, SimulationSummary, StartFailureComparison } from './simulation/scenarios';
import type { TargetCheck } from './targets';

/**
 * A start-failure comparison as results.json keeps it: the summaries without their per-run records (one per scheduled
 * run, 720 a day for each rule, most of them alike), which `heldRuns`, `launchingRuns` and the tasks started in each
 * hour summarise. Kept in full they would triple the size of results.json.
 */
export type StoredStartFailure = Omit<StartFailureComparison, 'before' | 'after'> & {
  readonly before: Omit<SimulationSummary, 'runs'>;
  readonly after: Omit<SimulationSummary, 'runs'>;
};

export function storedStartFailure(comparison: StartFailureComparison): StoredStartFailure {
  const { runs: _beforeRuns, ...before } = comparison.before;
  const { runs: _afterRuns, ...after } = comparison.after;
  return { ...comparison, before, after };
}

/** Everything one bench run measured and derived: written as results.json, rendered as the summary and charts. */
export interface MachineInfo {
  readonly takenAt: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly sharp: string;
  readonly libvipsInSharp: string;
  readonly vipsthumbnail: string | undefined;
  /** 1-minute load average when the run started: a loaded machine gives noisy, low numbers. */
  readonly loadAverageAtStart: number;
  /** The highest 1-minute load average seen at any step of the run: other work on the machine shows up here. */
  readonly loadAverageMax: number;
  readonly mode: 'quick' | 'full';
}

export interface BenchResults {
  readonly machine: MachineInfo;
  readonly inputs: { readonly width: number; readonly height: number; readonly jpegs: number; readonly pngs: number };
  readonly transformCeiling: {
    readonly rows: readonly ThroughputMeasurement[];
    readonly vipsthumbnailRows: readonly ThroughputMeasurement[];
    /** The ResizeProcessor with the worker's sizes at each swept concurrency: part 2's reference. */
    readonly byConcurrency: readonly ThroughputMeasurement[];
  };
  readonly workerEndToEnd: {
    readonly sizes: string;
    readonly distinctObjects: number;
    readonly sweep: readonly WorkerRunResult[];
    readonly bestConcurrency: number;
    readonly longRun: WorkerRunResult | undefined;
    readonly queueCalls: QueueCallsPerImage;
    /** Worker CPU per image against the ceiling's on the same files and sizes, per run (sweep, then the long run). */
    readonly cpuOverhead: readonly CpuOverhead[];
  };
  /** One worker at a fixed CONCURRENCY on decode-heavy valid inputs inside a memory cgroup of the task's size. */
  readonly decodeHeavy: {
    readonly concurrency: number;
    /** The cgroup's limit and the worker's TASK_MEMORY_MIB: the default Fargate task memory (infra config). */
    readonly limitMiB: number;
    readonly runs: readonly DecodeHeavyRun[];
  };
  readonly coldStart: ColdStartResult;
  readonly simulation: {
    readonly perTaskImagesPerSecond: number;
    readonly taskSize: TaskSize;
    readonly scenarios: readonly ScenarioComparison[];
    /** The first scaler run of MAX_TASKS=500 from an empty fleet: chunks one after another in 60 s before, the rate plan now. */
    readonly largeLaunch: LargeLaunchComparison;
    /** Issue 10's start failures over 24 h (idle after deploy, crash loops), the scaler before its start guards and now. */
    readonly startFailures: readonly StoredStartFailure[];
    /** Issue 12: fan-out runs from the manifest upload to the aggregated result. Absent in results written before it. */
    readonly fanout?: FanoutSimulation;
  };
  /**
   * Part 7: the command job's per-file overhead against the same program run directly on the same files. Undefined in
   * results written before it existed; `--only command` adds it to such a results.json.
   */
  readonly commandJob: CommandJobMeasurement | undefined;
  /**
   * Part 8 (issue 13): the batch job end to end, its model's ceiling, and bulk writes against one per record.
   * Absent in results written before it; `--only batch` adds it.
   */
  readonly batchJob?: BatchJobMeasurement;
  readonly cost: {
    readonly pricesAsOf: string;
    readonly prices: Prices;
    readonly perImage: PerImageRequests;
    readonly lambda: LambdaAlternative;
    readonly lambdaPerMillion: LambdaCostPerMillion;
  };
  readonly targets: readonly TargetCheck[];
}
