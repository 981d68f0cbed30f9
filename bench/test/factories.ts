import { storedStartFailure, type BenchResults, type StoredStartFailure } from '../src/bench-results';
import { lambdaCostPerMillion } from '../src/cost/lambda-cost';
import { cpuOverheads } from '../src/measure/cpu-overhead';
import type { CommandJobMeasurement, CommandWorkerRun, DirectRun } from '../src/measure/command-job';
import type { DecodeHeavyMeasured, DecodeHeavyRun } from '../src/measure/decode-heavy-memory';
import type { ThroughputMeasurement } from '../src/measure/transform-ceiling';
import {
  awsWriteEstimate,
  comparisonRow,
  writeRun,
  type BatchEndToEnd,
  type BatchJobMeasurement,
  type StoreWriteComparison,
  type WriteRun,
} from '../src/report/batch-report';
import type { WorkerRunResult } from '../src/measure/worker-end-to-end';
import {
  DEFAULT_LAMBDA,
  DEFAULT_PER_IMAGE_REQUESTS,
  DEFAULT_SCALER_RUN,
  DEFAULT_SIMULATION,
  DEFAULT_TASK_SIZE,
  PRICES,
  PRICES_AS_OF,
  type SimulationParameters,
} from '../src/parameters';
import type { SimulatedTask, SimulationResult } from '../src/simulation/scaling-simulation';
import { compareLargeLaunch, compareRules, compareStartGuards, startFailureScenarios, type LargeLaunchComparison } from '../src/simulation/scenarios';
import { burst } from '../src/simulation/workloads';

export function simulationParameters(overrides: Partial<SimulationParameters> = {}): SimulationParameters {
  return { ...DEFAULT_SIMULATION, ...overrides };
}

export function simulatedTask(overrides: Partial<SimulatedTask> = {}): SimulatedTask {
  return { launchedAt: 0, startedAt: 60, exitedAt: 3600, processed: 100, startedWhileOthersDrain: false, ...overrides };
}

export function simulationResult(overrides: Partial<SimulationResult> = {}): SimulationResult {
  return {
    rule: 'ours',
    workload: 'burst 1k',
    files: 1000,
    drainSeconds: 200,
    lastExitSeconds: 240,
    tasksLaunched: 1,
    peakTasks: 1,
    launchingRuns: 1,
    scalerRuns: 2,
    taskSeconds: 3600,
    emptyStarts: 0,
    emptyStartsWhileDraining: 0,
    receives: 100,
    emptyReceives: 2,
    meanLatencySeconds: 100,
    maxLatencySeconds: 200,
    tasks: [simulatedTask()],
    timeline: [],
    ...overrides,
  };
}

export function throughput(overrides: Partial<ThroughputMeasurement> = {}): ThroughputMeasurement {
  return {
    label: 'ResizeProcessor JPEG -> 224x224+299x299',
    concurrency: 2,
    images: 100,
    seconds: 10,
    imagesPerSecond: 10,
    // Two cores busy for the whole 10 s.
    cpuSeconds: 20,
    cpuSecondsPerImage: 0.2,
    ...overrides,
  };
}

export function workerRun(overrides: Partial<WorkerRunResult> = {}): WorkerRunResult {
  return {
    concurrency: 2,
    images: 400,
    seconds: 40,
    imagesPerSecond: 10,
    peakRssMiB: 200,
    rssGrowthPercent: undefined,
    workerCpuSecondsPerImage: 0.22,
    workerOwnCpuSecondsPerImage: 0.22,
    harnessCpuSecondsPerImage: 0.05,
    workerProcesses: 2,
    s3CallsPerImage: 3,
    s3CallsByMethod: { GET: 400, PUT: 800 },
    workerSummary: undefined,
    exitCode: 0,
    ...overrides,
  };
}

export function decodeHeavyRun(overrides: Partial<DecodeHeavyMeasured> = {}): DecodeHeavyRun {
  return {
    name: 'decode-heavy set',
    control: false,
    extraEnv: {},
    concurrency: 4,
    limitMiB: 4096,
    images: 12,
    inputs: [{ name: 'png-3000x3000-rgba8-adam7', bytes: 3_500_000, decodedMiB: 34.3 }],
    measured: true,
    peakMiB: 450,
    peakTreeRssMiB: 520,
    limitHits: 0,
    oomKills: 0,
    exitCode: 0,
    signal: null,
    killed: false,
    drained: true,
    processed: 12,
    deadLettered: 0,
    leftInQueue: 0,
    deadLetterReasons: [],
    seconds: 5,
    stderrReports: [],
    ...overrides,
  };
}

/**
 * Part 7 with made-up but consistent figures: 200 files at CONCURRENCY=2, 150 ms CPU per file directly, the worker
 * 40 ms more of its own (1.27x), wall 250 vs 200 ms per file. Override `direct`/`worker` and the derived figures follow.
 */
export function commandJobMeasurement(
  overrides: { readonly direct?: Partial<DirectRun>; readonly worker?: Partial<CommandWorkerRun>; readonly files?: number } = {},
): CommandJobMeasurement {
  const files = overrides.files ?? 200;
  const concurrency = 2;
  const direct: DirectRun = { seconds: 20, filesPerSecond: files / 20, wallMsPerFile: 200, meanProcessMs: 199, cpuMsPerFile: 150, ...overrides.direct };
  const worker: CommandWorkerRun = {
    seconds: 25,
    filesPerSecond: files / 25,
    wallMsPerFile: 250,
    cpuMsPerFile: 190,
    programCpuMsPerFile: 150,
    workerOwnCpuMsPerFile: 40,
    harnessCpuMsPerFile: 30,
    peakRssMiB: 200,
    s3CallsPerFile: 3,
    s3CallsByMethod: { GET: files, PUT: files, HEAD: files },
    processed: files,
    failed: 0,
    outputs: files,
    outputsMatchingDirect: files,
    ...overrides.worker,
  };
  return {
    measuredAt: '2025-06-01T00:10:00.000Z',
    loadAverageAtStart: 0.1,
    loadAverageMax: 0.3,
    program: 'geojson-stats (app/jobs/command/example, bundled)',
    files,
    largeFiles: files / 4,
    totalMiB: 52,
    smallKiB: { min: 2, max: 58 },
    largeKiB: { min: 880, max: 1070 },
    alone: false,
    concurrency,
    programStartMs: 60,
    programStartCpuMs: 50,
    rounds: [
      { files: files / 2, directSeconds: direct.seconds / 2, workerSeconds: worker.seconds / 2, ratio: worker.seconds / direct.seconds, cpuRatio: worker.cpuMsPerFile / direct.cpuMsPerFile },
      { files: files / 2, directSeconds: direct.seconds / 2, workerSeconds: worker.seconds / 2, ratio: worker.seconds / direct.seconds, cpuRatio: worker.cpuMsPerFile / direct.cpuMsPerFile },
    ],
    direct,
    worker,
    overheadMsPerFile: worker.wallMsPerFile - direct.wallMsPerFile,
    overheadCpuMsPerFile: worker.cpuMsPerFile - direct.cpuMsPerFile,
    ratio: worker.seconds / direct.seconds,
    cpuRatio: worker.cpuMsPerFile / direct.cpuMsPerFile,
  };
}

interface BenchResultsOverrides {
  readonly rows?: readonly ThroughputMeasurement[];
  readonly vipsthumbnailRows?: readonly ThroughputMeasurement[];
  readonly byConcurrency?: readonly ThroughputMeasurement[];
  readonly sweep?: readonly WorkerRunResult[];
  readonly bestConcurrency?: number;
  readonly longRun?: WorkerRunResult | undefined;
  readonly coldStartMedianMs?: number;
  readonly decodeHeavyRuns?: readonly DecodeHeavyRun[];
  readonly largeLaunch?: LargeLaunchComparison;
  readonly startFailures?: readonly StoredStartFailure[];
  readonly commandJob?: CommandJobMeasurement | undefined;
}

const COST_INPUTS = { prices: PRICES, taskSize: DEFAULT_TASK_SIZE, perImage: DEFAULT_PER_IMAGE_REQUESTS, scalerRun: DEFAULT_SCALER_RUN };

let simulatedStartFailures: readonly StoredStartFailure[] | undefined;

/** Issue 10's three start failures simulated for a day at the defaults, as results.json stores them (once per test file: about a second). */
export function realStartFailures(): readonly StoredStartFailure[] {
  simulatedStartFailures ??= startFailureScenarios(simulationParameters()).map((spec) => storedStartFailure(compareStartGuards(spec, COST_INPUTS)));
  return simulatedStartFailures;
}

/** A start-failure comparison with made-up figures: a crash loop at MAX_TASKS 10 unless told otherwise. */
export function startFailure(overrides: Partial<StoredStartFailure> = {}): StoredStartFailure {
  const { tasks: _tasks, timeline: _timeline, runs: _runs, ...bare } = simulationResult();
  return {
    name: 'crash loop: image exits 1 at start, 1k waiting, MAX_TASKS 10, 24 h',
    parameters: simulationParameters({ horizonSeconds: 86_400 }),
    world: { image: 'crash-at-start', exitAfterSeconds: 5, runTaskCallSeconds: 1.5 },
    hours: 24,
    before: { ...bare, tasksLaunched: 7200, scalerRuns: 720, heldRuns: 0 },
    after: { ...bare, tasksLaunched: 90, scalerRuns: 720, heldRuns: 719 },
    beforeTasksPerHour: 300,
    afterTasksPerHour: 3.75,
    beforeTasksByHour: Array.from({ length: 24 }, () => 300),
    afterTasksByHour: [14, ...Array.from({ length: 23 }, () => 3)],
    beforeFargatePerDay: 5.65,
    afterFargatePerDay: 0.07,
    savedPerDay: 5.58,
    ...overrides,
  };
}

/** A whole run's results without targets, with the 10k burst simulated for real at the defaults. */
export function benchResults(overrides: BenchResultsOverrides = {}): Omit<BenchResults, 'targets'> {
  const parameters = simulationParameters();
  const sweep = overrides.sweep ?? [workerRun()];
  const longRun = 'longRun' in overrides ? overrides.longRun : workerRun({ concurrency: 4, images: 2000, rssGrowthPercent: 2 });
  const byConcurrency = overrides.byConcurrency ?? [throughput()];
  const costInputs = COST_INPUTS;
  return {
    machine: {
      takenAt: '2025-06-01T00:00:00.000Z',
      cpuModel: 'test cpu',
      cores: 2,
      memoryGiB: 4,
      node: 'v20.0.0',
      sharp: '0.35.5',
      libvipsInSharp: '8.18.7',
      vipsthumbnail: 'libvips 8.14.1',
      loadAverageAtStart: 0.1,
      loadAverageMax: 0.2,
      mode: 'full',
    },
    inputs: { width: 4000, height: 3000, jpegs: 16, pngs: 2 },
    transformCeiling: {
      rows: overrides.rows ?? [throughput()],
      vipsthumbnailRows: overrides.vipsthumbnailRows ?? [],
      byConcurrency,
    },
    workerEndToEnd: {
      sizes: '224x224+299x299',
      distinctObjects: 16,
      sweep,
      bestConcurrency: overrides.bestConcurrency ?? 2,
      longRun,
      queueCalls: {
        images: 100,
        concurrency: 4,
        calls: { receives: 20, emptyReceives: 0, deleteBatches: 12, visibilityBatches: 0, depthReads: 0, sends: 0 },
        sqsRequestsPerImage: 0.32,
      },
      cpuOverhead: cpuOverheads([...sweep, ...(longRun ? [longRun] : [])], byConcurrency),
    },
    decodeHeavy: { concurrency: 4, limitMiB: 4096, runs: overrides.decodeHeavyRuns ?? [decodeHeavyRun()] },
    coldStart: { runs: [overrides.coldStartMedianMs ?? 200], medianMs: overrides.coldStartMedianMs ?? 200 },
    simulation: {
      perTaskImagesPerSecond: parameters.perTaskImagesPerSecond,
      taskSize: DEFAULT_TASK_SIZE,
      scenarios: [compareRules({ name: 'burst 10k', workload: burst(10_000), parameters, isBurst: true }, costInputs)],
      largeLaunch: overrides.largeLaunch ?? compareLargeLaunch(parameters),
      startFailures: overrides.startFailures ?? realStartFailures(),
    },
    commandJob: 'commandJob' in overrides ? overrides.commandJob : commandJobMeasurement(),
    cost: {
      pricesAsOf: PRICES_AS_OF,
      prices: PRICES,
      perImage: DEFAULT_PER_IMAGE_REQUESTS,
      lambda: DEFAULT_LAMBDA,
      lambdaPerMillion: lambdaCostPerMillion(5, DEFAULT_LAMBDA, PRICES, DEFAULT_PER_IMAGE_REQUESTS),
    },
  };
}

/** Part 8 (issue 13): a batch job measurement with round numbers, every result stored. */
export function batchJobMeasurement(overrides: { dynamoRatioRun?: Partial<WriteRun>; mongodb?: boolean } = {}): BatchJobMeasurement {
  const endToEnd: BatchEndToEnd = {
    records: 2000,
    expectedBroken: 60,
    inputMiB: 91.5,
    settings: { batchSize: 100, maxConcurrentBatches: 2, workerSlots: 300, downloadConcurrency: 16, writeChunkSize: 500, flushMs: 1000 },
    seconds: 10,
    recordsPerSecond: 200,
    vcpus: 2,
    recordsPerSecondPerVcpu: 100,
    stored: 1940,
    deadLettered: 60,
    batches: 20,
    batchedRecords: 2000,
    phases: { lookupMs: 1000, fetchMs: 4000, inferenceMs: 4000, writeMs: 1000 },
    workerCpuSecondsPerRecord: 0.004,
    workerBusyVcpus: 0.8,
    harnessCpuSecondsPerRecord: 0.003,
    peakRssMiB: 210,
    s3CallsByMethod: { GET: 2000 },
  };
  const dynamo: StoreWriteComparison = {
    store: 'dynamodb',
    server: 'dynalite 4.0.0 on 127.0.0.1',
    results: 2000,
    bulkPath: 'DynamoDbResultStore.write',
    perRecordPath: 'one PutItem per record',
    itemsPerBulkCall: 25,
    rows: [
      comparisonRow(1, writeRun(2000, 2, 80, 2000), { ...writeRun(2000, 16, 2000, 2000), ...overrides.dynamoRatioRun }),
      comparisonRow(2, writeRun(2000, 1, 80, 2000), writeRun(2000, 10, 2000, 2000)),
    ],
    aws: awsWriteEstimate(1000, 25),
  };
  const mongo: StoreWriteComparison = {
    ...dynamo,
    store: 'mongodb',
    server: 'jongodb 0.1.6 on 127.0.0.1',
    itemsPerBulkCall: 500,
    rows: [comparisonRow(1, writeRun(2000, 1, 4, 2000), writeRun(2000, 4, 2000, 2000))],
    aws: awsWriteEstimate(1000, 500),
  };
  return {
    measuredAt: '2026-12-02T19:00:00.000Z',
    alone: false,
    loadAverage: [1.5, 2.25],
    inputsWhere: 's3rver on 127.0.0.1',
    endToEnd,
    ceiling: { records: 2000, batchSize: 100, seconds: 4, recordsPerSecond: 500, cpuMsPerRecord: 2 },
    shareOfCeilingPerVcpu: 0.2,
    cpuOverheadRatio: 2,
    writes: overrides.mongodb === false ? [dynamo] : [dynamo, mongo],
  };
}
