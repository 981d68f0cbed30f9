import type { LambdaCostPerMillion } from './cost/lambda-cost';
import type { ColdStartResult } from './measure/cold-start';
import type { CpuOverhead } from './measure/cpu-overhead';
import type { DecodeHeavyRun } from './measure/decode-heavy-memory';
import type { QueueCallsPerImage } from './measure/queue-calls';
import type { ThroughputMeasurement } from './measure/transform-ceiling';
import type { WorkerRunResult } from './measure/worker-end-to-end';
import type { LambdaAlternative, PerImageRequests, Prices, TaskSize } from './parameters';
import type { ScenarioComparison } from './simulation/scenarios';
import type { TargetCheck } from './targets';

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
  };
  readonly cost: {
    readonly pricesAsOf: string;
    readonly prices: Prices;
    readonly perImage: PerImageRequests;
    readonly lambda: LambdaAlternative;
    readonly lambdaPerMillion: LambdaCostPerMillion;
  };
  readonly targets: readonly TargetCheck[];
}
