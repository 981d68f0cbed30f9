import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { storedStartFailure, type BenchResults, type MachineInfo } from './bench-results';
import { writeBenchCharts } from './charts/bench-charts';
import { lambdaCostPerMillion } from './cost/lambda-cost';
import { ensureDecodeHeavySet, workerInputLimits, type DecodeHeavySpec } from './inputs/decode-heavy-images';
import { DEFAULT_GEOJSON_SET, ensureGeojsonSet } from './inputs/geojson-files';
import { ensureInputSet } from './inputs/photo-like-images';
import { measureColdStart } from './measure/cold-start';
import { measureCommandJob, type CommandJobMeasurement } from './measure/command-job';
import { startCountingProxy } from './measure/counting-proxy';
import { cpuOverheads } from './measure/cpu-overhead';
import { runDecodeHeavy, type DecodeHeavyRun } from './measure/decode-heavy-memory';
import { countQueueCalls, type QueueCallsPerImage } from './measure/queue-calls';
import { startS3Stack } from './measure/s3-stack';
import {
  measureMinimalSharp,
  measureResizeProcessor,
  measureVipsthumbnail,
  sizeLabel,
  vipsthumbnailVersion,
  type ThroughputMeasurement,
} from './measure/transform-ceiling';
import { runWorkerEndToEnd, type WorkerRunResult } from './measure/worker-end-to-end';
import {
  DEFAULT_LAMBDA,
  DEFAULT_PER_IMAGE_REQUESTS,
  DEFAULT_SCALER_RUN,
  DEFAULT_SIMULATION,
  DEFAULT_TASK_SIZE,
  PRICES,
  PRICES_AS_OF,
  type PerImageRequests,
} from './parameters';
import { compareDynamoDbWrites, compareMongoDbWrites, ensureBatchSet, measureBatchEndToEnd, measureModelCeiling } from './measure/batch-job';
import { batchJobText, batchWriteTargets, type BatchJobMeasurement, type StoreWriteComparison } from './report/batch-report';
import { archiveSplitTargets, archiveSplitText, type ArchiveSplitMeasurement } from './report/archive-report';
import { measureArchiveSplitPart, type ArchiveExportPlan } from './measure/archive-split';
import { fanoutTarget, fanoutText } from './report/fanout-report';
import { duration } from './report/markdown-table';
import { commandJobText, summaryMarkdown } from './report/summary';
import { fanoutSimulation, type FanoutSimulation } from './simulation/fanout-scenarios';
import { compareLargeLaunch, compareRules, compareStartGuards, standardScenarios, startFailureScenarios } from './simulation/scenarios';
import { checkTargets } from './check-targets';
import { formatVerdict, TARGETS, type TargetCheck } from './targets';
import { DEFAULT_INFRA_CONFIG } from '../../infra/src/config';
import { commandJobModule } from '../../app/jobs/command';
import {
  ARCHIVE_MESSAGE_DEADLINE_SECONDS,
  ARCHIVE_SPLIT_TASK,
  DEFAULT_ARCHIVE_EPHEMERAL_STORAGE_GIB,
  DISK_BUDGET_SHARE,
} from '../../infra/src/pipelines/archive-split-settings';

export interface BenchOptions {
  readonly quick: boolean;
  readonly outDir: string;
  /** The bundled worker (dist/app/main.js). */
  readonly workerScript: string;
  /** The command job's bundled example program (dist/app/jobs/command/geojson-stats.js), for part 7. */
  readonly programScript: string;
  /** Where generated inputs are cached between runs. */
  readonly inputDir: string;
  readonly inputWidth: number;
  readonly inputHeight: number;
  readonly log: (line: string) => void;
}

/** How much work each mode does: quick is a smoke test of the harness (under two minutes), full is the real run. */
interface Plan {
  readonly jpegs: number;
  readonly pngs: number;
  readonly ceilingImages: number;
  readonly pngCeilingImages: number;
  readonly sweep: readonly number[];
  readonly sweepImages: number;
  readonly longRunImages: number | undefined;
  readonly coldStarts: number;
  readonly queueCallImages: number;
  readonly decodeHeavy: readonly DecodeHeavyPlan[];
  readonly decodeHeavyTimeoutSeconds: number;
  /** Part 7: GeoJSON files through the command job and directly, and bare program starts timed. */
  readonly commandFiles: number;
  readonly commandRounds: number;
  readonly programStarts: number;
  /** Part 8: demo records through the batch worker, and results written each way per store. */
  readonly batchRecords: number;
  readonly batchWrites: number;
  /** Part 9: the generated exports split by the archive-split worker (the TAR.GZ only where asked), BATCH_SIZE, raw reads per archive. */
  readonly archiveExports: readonly ArchiveExportPlan[];
  readonly archiveBatchSize: number;
  readonly archiveRawReads: number;
  readonly archiveTimeoutSeconds: number;
}

/** One decode-heavy run: its inputs, queued `copies` times each, and any worker setting that differs. */
interface DecodeHeavyPlan {
  readonly name: string;
  readonly specs: readonly DecodeHeavySpec[];
  readonly copies: number;
  readonly extraEnv?: Readonly<Record<string, string>>;
  readonly control?: boolean;
}

/** The issue's setting: one worker at CONCURRENCY=4, in a memory cgroup of the default task's size. */
const DECODE_HEAVY_CONCURRENCY = TARGETS.decodeHeavyConcurrency;

const WORKER_SIZES = [
  { width: 224, height: 224 },
  { width: 299, height: 299 },
];

/** Adam7 PNG with alpha, 16-bit PNG and progressive JPEG: each decodes whole, with no shrink-on-load. */
function decodeHeavySet(square: number, jpegWidth: number, jpegHeight: number): DecodeHeavySpec[] {
  return [
    { format: 'png', width: square, height: square, channels: 4, bitsPerSample: 8, interlaced: true },
    { format: 'png', width: square, height: square, channels: 3, bitsPerSample: 16, interlaced: false },
    { format: 'jpeg', width: jpegWidth, height: jpegHeight, channels: 3, bitsPerSample: 8, interlaced: true },
  ];
}

/** The heaviest valid input: a 16-bit RGBA Adam7 PNG with as many pixels as the default MAX_INPUT_PIXELS allows. */
function atPixelLimit(): DecodeHeavySpec {
  const side = Math.floor(Math.sqrt(workerInputLimits().maxInputPixels));
  return { format: 'png', width: side, height: side, channels: 4, bitsPerSample: 16, interlaced: true };
}

function plan(quick: boolean): Plan {
  if (quick) {
    return {
      jpegs: 3,
      pngs: 1,
      ceilingImages: 6,
      pngCeilingImages: 2,
      sweep: [2],
      sweepImages: 12,
      longRunImages: undefined,
      coldStarts: 3,
      queueCallImages: 12,
      decodeHeavy: [{ name: 'decode-heavy set (small)', specs: decodeHeavySet(480, 960, 640), copies: DECODE_HEAVY_CONCURRENCY }],
      decodeHeavyTimeoutSeconds: 60,
      commandFiles: 24,
      commandRounds: 1,
      programStarts: 3,
      batchRecords: 200,
      batchWrites: 200,
      // About 450 images: three batches of each format in a few seconds, within the quick bench test's budget.
      archiveExports: [{ targetBytes: 32 * 2 ** 20, tarGz: true }],
      archiveBatchSize: 200,
      archiveRawReads: 1,
      archiveTimeoutSeconds: 300,
    };
  }
  return {
    jpegs: 16,
    pngs: 2,
    ceilingImages: 120,
    pngCeilingImages: 12,
    sweep: [1, 2, 4, 8],
    sweepImages: 400,
    longRunImages: 2000,
    coldStarts: 10,
    queueCallImages: 100,
    decodeHeavy: [
      { name: 'decode-heavy set', specs: decodeHeavySet(3000, 6000, 4000), copies: DECODE_HEAVY_CONCURRENCY },
      { name: 'at MAX_INPUT_PIXELS', specs: [atPixelLimit()], copies: DECODE_HEAVY_CONCURRENCY },
      {
        name: 'at MAX_INPUT_PIXELS, decode budget off (control)',
        specs: [atPixelLimit()],
        copies: DECODE_HEAVY_CONCURRENCY,
        // A budget larger than any task: every decode is admitted at once, as before the budget existed.
        extraEnv: { MEMORY_BUDGET_MIB: String(1024 * 1024) },
        control: true,
      },
    ],
    decodeHeavyTimeoutSeconds: 900,
    commandFiles: 200,
    commandRounds: 4,
    programStarts: 10,
    batchRecords: 2000,
    batchWrites: 2000,
    // The issue's 2 GB export as ZIP and TAR.GZ; before it a small ZIP (memory does not follow the archive's bytes),
    // after it 200,000 files of about 1 kB (it follows the manifest's rows).
    archiveExports: [
      { targetBytes: 128 * 2 ** 20, tarGz: false },
      { targetBytes: 2 * 2 ** 30, tarGz: true },
      { targetBytes: 200_000 * 1000, tarGz: false, imageBytes: { min: 500, max: 1500 } },
    ],
    archiveBatchSize: 2000,
    archiveRawReads: 2,
    archiveTimeoutSeconds: 1800,
  };
}

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  let loadAverageMax = loadavg()[0] ?? 0;
  const log = (line: string): void => {
    loadAverageMax = Math.max(loadAverageMax, loadavg()[0] ?? 0);
    options.log(line);
  };
  const work = plan(options.quick);
  const cores = availableParallelism();
  mkdirSync(options.outDir, { recursive: true });
  const machine: MachineInfo = {
    takenAt: new Date().toISOString(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    sharp: sharp.versions.sharp ?? 'unknown',
    libvipsInSharp: sharp.versions.vips,
    vipsthumbnail: await vipsthumbnailVersion(),
    loadAverageAtStart: loadavg()[0] ?? 0,
    loadAverageMax,
    mode: options.quick ? 'quick' : 'full',
  };
  log(`machine: ${machine.cpuModel}, ${cores} cores, load ${machine.loadAverageAtStart.toFixed(2)}, ${machine.mode} run`);

  log(`inputs: ${work.jpegs} JPEG + ${work.pngs} PNG at ${options.inputWidth}x${options.inputHeight} (cached in ${options.inputDir})`);
  const inputs = await ensureInputSet(options.inputDir, {
    width: options.inputWidth,
    height: options.inputHeight,
    jpegCount: work.jpegs,
    pngCount: work.pngs,
  });
  const jpegs = inputs.filter((input) => input.format === 'jpeg').map((input) => input.path);
  const pngs = inputs.filter((input) => input.format === 'png').map((input) => input.path);

  log('1/9 transform ceiling');
  const rows: ThroughputMeasurement[] = [];
  for (const size of WORKER_SIZES) {
    rows.push(await measureResizeProcessor(`ResizeProcessor JPEG -> ${sizeLabel([size])}`, jpegs, [size], cores, work.ceilingImages));
  }
  rows.push(
    await measureResizeProcessor(`ResizeProcessor JPEG -> ${sizeLabel(WORKER_SIZES)}`, jpegs, WORKER_SIZES, cores, work.ceilingImages),
  );
  if (pngs.length > 0) {
    rows.push(
      await measureResizeProcessor(`ResizeProcessor PNG+alpha -> ${sizeLabel(WORKER_SIZES)}`, pngs, WORKER_SIZES, cores, work.pngCeilingImages),
    );
  }
  rows.push(await measureMinimalSharp(`sharp minimal pipeline JPEG -> 224x224`, jpegs, WORKER_SIZES[0]!, cores, work.ceilingImages));
  const vipsthumbnailRows: ThroughputMeasurement[] = [];
  if (machine.vipsthumbnail !== undefined) {
    for (const size of WORKER_SIZES) {
      vipsthumbnailRows.push(await measureVipsthumbnail(`vipsthumbnail JPEG -> ${sizeLabel([size])}`, jpegs, size, cores, work.ceilingImages));
    }
  } else {
    log('  vipsthumbnail not found: run bench/setup.sh (Debian libvips-tools) for the practical ceiling');
  }
  const byConcurrency: ThroughputMeasurement[] = [];
  for (const concurrency of work.sweep) {
    byConcurrency.push(
      await measureResizeProcessor(`ResizeProcessor JPEG -> ${sizeLabel(WORKER_SIZES)}`, jpegs, WORKER_SIZES, concurrency, work.ceilingImages),
    );
  }
  for (const row of [...rows, ...vipsthumbnailRows, ...byConcurrency]) {
    log(`  ${row.label} @${row.concurrency}: ${row.imagesPerSecond.toFixed(2)} images/s, ${(row.cpuSecondsPerImage * 1000).toFixed(0)} ms CPU/image`);
  }

  log('2/9 worker end to end');
  const scratch = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  const sweep: WorkerRunResult[] = [];
  let longRun: WorkerRunResult | undefined;
  let queueCalls: QueueCallsPerImage | undefined;
  try {
    const stack = await startS3Stack(join(scratch, 's3'), jpegs);
    const proxy = await startCountingProxy(stack.port);
    try {
      const run = (concurrency: number, images: number, name: string): Promise<WorkerRunResult> =>
        runWorkerEndToEnd({
          workerScript: options.workerScript,
          queuePath: join(scratch, `${name}.db`),
          proxy,
          objects: stack.objects,
          images,
          concurrency,
          sizes: sizeLabel(WORKER_SIZES).replace('+', ','),
          memorySampleMs: 250,
          timeoutSeconds: 900,
        });
      for (const concurrency of work.sweep) {
        const result = await run(concurrency, work.sweepImages, `sweep-${concurrency}`);
        sweep.push(result);
        const ceiling = byConcurrency.find((row) => row.concurrency === concurrency);
        log(
          `  CONCURRENCY=${concurrency}: ${result.imagesPerSecond.toFixed(2)} images/s, peak RSS ${result.peakRssMiB.toFixed(0)} MiB ` +
            `(${result.workerProcesses} processes), ${result.s3CallsPerImage.toFixed(2)} S3 calls/image, CPU ms/image worker ` +
            `${(result.workerCpuSecondsPerImage * 1000).toFixed(0)} (ceiling ${ceiling ? (ceiling.cpuSecondsPerImage * 1000).toFixed(0) : 'n/a'}) ` +
            `harness ${(result.harnessCpuSecondsPerImage * 1000).toFixed(0)}`,
        );
      }
      if (work.longRunImages !== undefined) {
        longRun = await run(4, work.longRunImages, 'long-run');
        log(`  long run: ${work.longRunImages} images at 4, peak RSS ${longRun.peakRssMiB.toFixed(0)} MiB, growth ${longRun.rssGrowthPercent?.toFixed(1)}%`);
      }
      // At the worker's default CONCURRENCY (2 x vCPUs), the setting a deployed task runs with.
      queueCalls = await countQueueCalls(
        join(scratch, 'queue-calls.db'),
        `http://127.0.0.1:${stack.port}`,
        stack.objects,
        work.queueCallImages,
        cores * 2,
        sizeLabel(WORKER_SIZES).replace('+', ','),
      );
      log(`  queue calls: ${queueCalls.sqsRequestsPerImage.toFixed(3)} SQS requests/image (${JSON.stringify(queueCalls.calls)})`);
    } finally {
      await proxy.close();
      await stack.close();
    }

    log(`3/9 decode-heavy inputs: one worker at CONCURRENCY=${DECODE_HEAVY_CONCURRENCY} in a ${DEFAULT_INFRA_CONFIG.taskMemory} MiB memory cgroup`);
    const decodeHeavyRuns = await measureDecodeHeavy(options, work, scratch, log);

    log('4/9 cold start');
    const coldStart = await measureColdStart(options.workerScript, join(scratch, 'cold.db'), work.coldStarts);
    log(`  median ${coldStart.medianMs.toFixed(0)} ms over ${coldStart.runs.length}`);

    const best = sweep.reduce((a, b) => (b.imagesPerSecond > a.imagesPerSecond ? b : a));
    const perVcpu = best.imagesPerSecond / cores;
    const perTaskImagesPerSecond = perVcpu * DEFAULT_TASK_SIZE.vcpu;
    log(`5/9 scaling simulation: ${perTaskImagesPerSecond.toFixed(2)} images/s per ${DEFAULT_TASK_SIZE.vcpu}-vCPU task`);
    const perImage = measuredPerImageRequests(best, queueCalls!, DEFAULT_SIMULATION.receiveBatchSize);
    const costInputs = { prices: PRICES, taskSize: DEFAULT_TASK_SIZE, perImage, scalerRun: DEFAULT_SCALER_RUN };
    const scenarios = standardScenarios({ ...DEFAULT_SIMULATION, perTaskImagesPerSecond }).map((spec) => compareRules(spec, costInputs));
    // Issue 10: the first run of MAX_TASKS 500 from an empty fleet, and a day of each start failure, before the
    // scaler's start guards and rate-planned launches and now. Pure simulation: quick mode runs it in full.
    const largeLaunch = compareLargeLaunch({ ...DEFAULT_SIMULATION, perTaskImagesPerSecond }, TARGETS.largeLaunchMaxTasks);
    log(
      `  MAX_TASKS ${largeLaunch.maxTasks} from empty: before ${largeLaunch.before.launched}/${largeLaunch.before.wanted} launched in ` +
        `${largeLaunch.before.launchSpanSeconds.toFixed(1)} s, now ${largeLaunch.after.launched}/${largeLaunch.after.wanted} in ` +
        `${largeLaunch.after.launchSpanSeconds.toFixed(1)} s (RunTask ${largeLaunch.runTaskCallSeconds} s per call, assumed)`,
    );
    const startFailures = startFailureScenarios({ ...DEFAULT_SIMULATION, perTaskImagesPerSecond }).map((spec) => compareStartGuards(spec, costInputs));
    for (const failure of startFailures) {
      log(
        `  ${failure.name}: ${failure.beforeTasksPerHour.toFixed(1)} tasks/h before, ${failure.afterTasksPerHour.toFixed(1)} now; ` +
          `Fargate $${failure.beforeFargatePerDay.toFixed(2)}/day before, $${failure.afterFargatePerDay.toFixed(2)} now`,
      );
    }
    // Issue 12: fan-out runs to the aggregated result. Pure simulation, independent of the measured rate.
    const fanout = simulateFanoutPart(log);

    log('6/9 cost per million images');
    const lambdaPerMillion = lambdaCostPerMillion(perVcpu, DEFAULT_LAMBDA, PRICES, perImage);

    log('7/9 command job against the program run directly');
    const commandJob = await measureCommandJobPart(options, work, join(scratch, 'command-job'), false, log);

    log('8/9 batch job: records per second per vCPU, bulk writes against one per record');
    const batchJob = await measureBatchJobPart(options, work, join(scratch, 'batch-job'), false, log);

    log('9/9 archive split: a generated export split into batch ZIPs, against the raw S3 read rate');
    const archiveSplit = await measureArchivePart(options, work, join(scratch, 'archive-split'), false, log);

    const partial = {
      machine: { ...machine, loadAverageMax },
      inputs: { width: options.inputWidth, height: options.inputHeight, jpegs: jpegs.length, pngs: pngs.length },
      transformCeiling: { rows, vipsthumbnailRows, byConcurrency },
      workerEndToEnd: {
        sizes: sizeLabel(WORKER_SIZES),
        distinctObjects: stack.objects.length,
        sweep,
        bestConcurrency: best.concurrency,
        longRun,
        queueCalls: queueCalls!,
        cpuOverhead: cpuOverheads([...sweep, ...(longRun ? [longRun] : [])], byConcurrency),
      },
      decodeHeavy: { concurrency: DECODE_HEAVY_CONCURRENCY, limitMiB: DEFAULT_INFRA_CONFIG.taskMemory, runs: decodeHeavyRuns },
      coldStart,
      simulation: { perTaskImagesPerSecond, taskSize: DEFAULT_TASK_SIZE, scenarios, largeLaunch, startFailures: startFailures.map(storedStartFailure), fanout },
      commandJob,
      batchJob,
      archiveSplit,
      cost: { pricesAsOf: PRICES_AS_OF, prices: PRICES, perImage, lambda: DEFAULT_LAMBDA, lambdaPerMillion },
    };
    const results: BenchResults = { ...partial, targets: allTargets(partial) };
    writeFileSync(join(options.outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    const summary = summaryMarkdown(results);
    writeFileSync(join(options.outDir, 'summary.md'), summary);
    await writeBenchCharts(results, options.outDir);
    log('');
    log(summary);
    return results;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Part 7: the GeoJSON set through the command job's worker and directly, at the command job's default concurrency. */
async function measureCommandJobPart(
  options: BenchOptions,
  work: Plan,
  scratch: string,
  alone: boolean,
  log: (line: string) => void,
): Promise<CommandJobMeasurement> {
  const files = ensureGeojsonSet(options.inputDir, { count: work.commandFiles, ...DEFAULT_GEOJSON_SET });
  const concurrency = commandJobModule.defaultConcurrency(availableParallelism(), process.env);
  mkdirSync(scratch, { recursive: true });
  const run = await measureCommandJob({
    workerScript: options.workerScript,
    programScript: options.programScript,
    files,
    concurrency,
    scratch,
    programStarts: work.programStarts,
    rounds: work.commandRounds,
    timeoutSeconds: 600,
    alone,
  });
  log(
    `  ${run.files} GeoJSON files (${run.totalMiB.toFixed(1)} MiB) at CONCURRENCY=${concurrency}: directly ${run.direct.seconds.toFixed(2)} s ` +
      `(${run.direct.wallMsPerFile.toFixed(0)} ms, ${run.direct.cpuMsPerFile.toFixed(0)} ms CPU per file), worker ${run.worker.seconds.toFixed(2)} s ` +
      `(${run.worker.wallMsPerFile.toFixed(0)} ms, ${run.worker.cpuMsPerFile.toFixed(0)} ms CPU per file, ${run.worker.workerOwnCpuMsPerFile.toFixed(0)} of it ` +
      `the worker's own); overhead +${run.overheadMsPerFile.toFixed(0)} ms, +${run.overheadCpuMsPerFile.toFixed(0)} ms CPU per file; ` +
      `ratio ${run.ratio.toFixed(2)}x wall, ${run.cpuRatio.toFixed(2)}x CPU; ${run.worker.outputsMatchingDirect}/${run.files} outputs as directly`,
  );
  return run;
}

/**
 * `--only command`: part 7 alone. Added to the results.json already in outDir (its other parts kept as they are,
 * the targets checked again, summary.md rendered again; the charts do not change), or, when there is none, written
 * alone as command-job.json, with its section printed.
 */
export async function runCommandJobOnly(options: BenchOptions): Promise<BenchResults | undefined> {
  const work = plan(options.quick);
  mkdirSync(options.outDir, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'bench-command-'));
  try {
    options.log(`command job against the program run directly (${work.commandFiles} files, ${options.quick ? 'quick' : 'full'} plan)`);
    const commandJob = await measureCommandJobPart(options, work, scratch, true, options.log);
    return addToResults(options, {
      name: 'command-job', value: commandJob, merge: (stored) => ({ ...stored, commandJob }),
      standaloneLines: () => [commandJobText({ commandJob, machine: { cores: availableParallelism() } })],
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * A part run alone (`--only`): added to the results.json already in outDir (its other parts kept as they are, the
 * targets checked again, summary.md rendered again; the charts do not change), or, when there is none, written alone as
 * `<name>.json`, with its section printed.
 */
function addToResults(
  options: Pick<BenchOptions, 'outDir' | 'log'>,
  part: { readonly name: string; readonly value: unknown; merge(stored: Omit<BenchResults, 'targets'>): Omit<BenchResults, 'targets'>; standaloneLines(): readonly string[] },
): BenchResults | undefined {
  const resultsPath = join(options.outDir, 'results.json');
  if (!existsSync(resultsPath)) {
    writeFileSync(join(options.outDir, `${part.name}.json`), `${JSON.stringify(part.value, null, 2)}\n`);
    options.log('');
    for (const line of part.standaloneLines()) options.log(line);
    options.log(`no results.json in ${options.outDir} to add it to: written alone as ${part.name}.json`);
    return undefined;
  }
  const { targets: _previous, ...stored } = JSON.parse(readFileSync(resultsPath, 'utf8')) as BenchResults;
  const partial = part.merge(stored);
  const results: BenchResults = { ...partial, targets: allTargets(partial) };
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  const summary = summaryMarkdown(results);
  writeFileSync(join(options.outDir, 'summary.md'), summary);
  options.log('');
  options.log(summary);
  return results;
}

/**
 * Every target: the ones of check-targets.ts, the fan-out run's (issue 12), the batch job's bulk writes (issue 13) and
 * the archive split's memory and throughput (issue 14).
 */
function allTargets(results: Omit<BenchResults, 'targets'>): TargetCheck[] {
  return [
    ...checkTargets(results),
    fanoutTarget(results.simulation.fanout),
    ...batchWriteTargets(results.batchJob),
    ...archiveSplitTargets(results.archiveSplit),
  ];
}

/** The fan-out scenarios of part 5 (issue 12), with a line each in the log. */
function simulateFanoutPart(log: (line: string) => void): FanoutSimulation {
  const fanout = fanoutSimulation(DEFAULT_SIMULATION);
  for (const scenario of fanout.scenarios) {
    log(
      `  fan-out ${scenario.name}: aggregated after ${duration(scenario.simulatedSeconds)}, ideal for the caps ${duration(scenario.ideal.totalSeconds)} ` +
        `(${scenario.ratio.toFixed(2)}x; ${scenario.bestPhaseRatio.toFixed(2)}-${scenario.worstPhaseRatio.toFixed(2)}x over the schedule's phase, ` +
        `${scenario.exactCounts.ratio.toFixed(2)}x with exact counts)`,
    );
  }
  return fanout;
}

/**
 * `--only fanout`: the fan-out simulation of part 5 alone (pure, under a second). Added to the results.json already in
 * outDir (its other parts kept, the targets checked again, summary.md rendered again; the charts do not change), or,
 * when there is none, written alone as fanout.json, with its section printed.
 */
export function runFanoutOnly(options: Pick<BenchOptions, 'outDir' | 'log'>): BenchResults | undefined {
  mkdirSync(options.outDir, { recursive: true });
  options.log('fan-out runs: manifest upload to the aggregated result, simulated');
  const fanout = simulateFanoutPart(options.log);
  const target = fanoutTarget(fanout);
  return addToResults(options, {
    name: 'fanout', value: fanout, merge: (stored) => ({ ...stored, simulation: { ...stored.simulation, fanout } }),
    standaloneLines: () => [fanoutText(fanout), '', `target: ${target.target}: ${target.measured} -> ${formatVerdict(target)}`],
  });
}

/** Part 3: every planned decode-heavy run, against one S3-protocol server holding all their inputs. */
async function measureDecodeHeavy(options: BenchOptions, work: Plan, scratch: string, log: (line: string) => void): Promise<DecodeHeavyRun[]> {
  const specs = work.decodeHeavy.flatMap((run) => run.specs);
  const inputs = await ensureDecodeHeavySet(options.inputDir, specs);
  for (const input of inputs) log(`  input ${input.name}: ${(input.bytes / 2 ** 20).toFixed(1)} MiB on disk, ${input.decodedMiB.toFixed(0)} MiB decoded`);
  const paths = [...new Set(inputs.map((input) => input.path))];
  const stack = await startS3Stack(join(scratch, 's3-decode-heavy'), paths);
  const runs: DecodeHeavyRun[] = [];
  try {
    let offset = 0;
    for (const [index, item] of work.decodeHeavy.entries()) {
      const runInputs = inputs.slice(offset, offset + item.specs.length);
      offset += item.specs.length;
      const run = await runDecodeHeavy({
        name: item.name,
        workerScript: options.workerScript,
        queuePath: join(scratch, `decode-heavy-${index}.db`),
        s3Endpoint: `http://127.0.0.1:${stack.port}`,
        objects: runInputs.map((input) => ({ object: stack.objects[paths.indexOf(input.path)]!, input })),
        copies: item.copies,
        concurrency: DECODE_HEAVY_CONCURRENCY,
        limitMiB: DEFAULT_INFRA_CONFIG.taskMemory,
        sizes: sizeLabel(WORKER_SIZES).replace('+', ','),
        timeoutSeconds: work.decodeHeavyTimeoutSeconds,
        memorySampleMs: 100,
        ...(item.extraEnv ? { extraEnv: item.extraEnv } : {}),
        ...(item.control ? { control: true } : {}),
      });
      runs.push(run);
      log(
        run.measured
          ? `  ${run.name}: peak ${run.peakMiB.toFixed(0)} of ${run.limitMiB} MiB, ${run.killed ? 'KILLED' : 'not killed'} ` +
              `(exit ${run.exitCode ?? run.signal}, oom_kill ${run.oomKills ?? 'n/a'}), ${run.processed}/${run.images} processed, ` +
              `${run.deadLettered} dead-lettered, ${run.leftInQueue} left, ${run.seconds.toFixed(1)} s`
          : `  ${run.name}: not measured: ${run.reason}`,
      );
    }
  } finally {
    await stack.close();
  }
  return runs;
}

/**
 * The worker's measured requests per image. SQS besides receives: S3's SendMessage for the event, the batched
 * deletes and visibility changes, and the receives beyond the full batches the simulation already counts.
 */
export function measuredPerImageRequests(run: WorkerRunResult, queue: QueueCallsPerImage, receiveBatchSize: number): PerImageRequests {
  const per = (method: string): number => (run.s3CallsByMethod[method] ?? 0) / run.images;
  const reads = per('GET') + per('HEAD');
  const writes = per('PUT') + per('POST');
  const extraReceives = Math.max(0, queue.calls.receives / queue.images - 1 / receiveBatchSize);
  const sqsOther = 1 + (queue.calls.deleteBatches + queue.calls.visibilityBatches) / queue.images + extraReceives;
  return {
    s3Reads: reads + writes > 0 ? reads : DEFAULT_PER_IMAGE_REQUESTS.s3Reads,
    s3Writes: reads + writes > 0 ? writes : DEFAULT_PER_IMAGE_REQUESTS.s3Writes,
    sqsOther,
  };
}

/**
 * Part 8 (issue 13): the batch job end to end through the bundled worker (inputs in s3rver, results in dynalite, all on
 * 127.0.0.1), the model's ceiling on the same records in memory, and each store's bulk writes against one per record.
 */
async function measureBatchJobPart(options: BenchOptions, work: Plan, scratch: string, alone: boolean, log: (line: string) => void): Promise<BatchJobMeasurement> {
  mkdirSync(scratch, { recursive: true });
  const loadAtStart = loadavg()[0] ?? 0;
  const vcpus = availableParallelism();
  const set = await ensureBatchSet(options.inputDir, work.batchRecords);
  log(`  ${set.records.length} demo records (${(set.bytes / 2 ** 20).toFixed(1)} MiB of WAV, cached in ${set.dir})`);
  const endToEnd = await measureBatchEndToEnd({ workerScript: options.workerScript, set, scratch, vcpus, timeoutSeconds: 600 });
  log(
    `  worker end to end: ${endToEnd.records} records in ${endToEnd.seconds.toFixed(1)} s, ${endToEnd.recordsPerSecond.toFixed(0)} records/s, ` +
      `${endToEnd.recordsPerSecondPerVcpu.toFixed(0)} per vCPU (${vcpus}); ${endToEnd.stored} stored, ${endToEnd.deadLettered} dead-lettered; ` +
      `worker kept ${endToEnd.workerBusyVcpus.toFixed(2)} vCPUs busy`,
  );
  const ceiling = await measureModelCeiling(set, endToEnd.settings.batchSize);
  log(`  model ceiling: ${ceiling.recordsPerSecond.toFixed(0)} records/s on one event loop, ${ceiling.cpuMsPerRecord.toFixed(2)} ms CPU per record`);
  const writeOptions = { results: work.batchWrites, writeChunkSize: endToEnd.settings.writeChunkSize, concurrencies: [1, endToEnd.settings.maxConcurrentBatches] };
  const writes: StoreWriteComparison[] = [];
  for (const compare of [compareDynamoDbWrites, compareMongoDbWrites]) {
    const comparison = await compare(writeOptions);
    writes.push(comparison);
    for (const row of comparison.rows) {
      log(
        `  ${comparison.store}, ${row.concurrency} in flight: bulk ${row.bulk.writesPerSecond.toFixed(0)} writes/s (${row.bulk.calls} calls), ` +
          `one per record ${row.perRecord.writesPerSecond.toFixed(0)} writes/s (${row.perRecord.calls} calls): ${row.ratio.toFixed(1)}x`,
      );
    }
  }
  return {
    measuredAt: new Date().toISOString(),
    alone,
    loadAverage: [loadAtStart, loadavg()[0] ?? 0],
    inputsWhere:
      's3rver on 127.0.0.1 behind a counting proxy (the worker\'s own S3 adapter and SDK path, as in AWS; not in memory, ' +
      'so the fetch phase is real HTTP and the per-record GETs are counted)',
    endToEnd,
    ceiling,
    shareOfCeilingPerVcpu: endToEnd.recordsPerSecondPerVcpu / ceiling.recordsPerSecond,
    cpuOverheadRatio: (endToEnd.workerCpuSecondsPerRecord * 1000) / ceiling.cpuMsPerRecord,
    writes,
  };
}

/**
 * `--only batch`: part 8 alone (a few minutes). Added to the results.json already in outDir (its other parts kept, the
 * targets checked again, summary.md rendered again; the charts do not change), or, when there is none, written alone
 * as batch-job.json, with its section printed.
 */
export async function runBatchOnly(options: BenchOptions): Promise<BenchResults | undefined> {
  const work = plan(options.quick);
  mkdirSync(options.outDir, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'bench-batch-'));
  try {
    options.log(`batch job: ${work.batchRecords} records end to end, ${work.batchWrites} results written each way (${options.quick ? 'quick' : 'full'} plan)`);
    const batchJob = await measureBatchJobPart(options, work, scratch, true, options.log);
    return addToResults(options, {
      name: 'batch-job', value: batchJob, merge: (stored) => ({ ...stored, batchJob }),
      standaloneLines: () => [batchJobText(batchJob), '', ...batchWriteTargets(batchJob).map((check) => `target: ${check.target}: ${check.measured} -> ${formatVerdict(check)}`)],
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Part 9 (issue 14): the archive-split worker on generated exports (s3rver on 127.0.0.1, in this process), in a memory
 * cgroup of the archive-split task's size, against the raw read rate of each archive through the same endpoint.
 */
async function measureArchivePart(
  options: BenchOptions,
  work: Plan,
  scratch: string,
  alone: boolean,
  log: (line: string) => void,
): Promise<ArchiveSplitMeasurement> {
  mkdirSync(scratch, { recursive: true });
  const loadAtStart = loadavg()[0] ?? 0;
  const part = await measureArchiveSplitPart({
    workerScript: options.workerScript,
    inputDir: options.inputDir,
    scratch,
    exports: work.archiveExports,
    batchSize: work.archiveBatchSize,
    rawReads: work.archiveRawReads,
    timeoutSeconds: work.archiveTimeoutSeconds,
    memoryLimitMiB: ARCHIVE_SPLIT_TASK.memory,
    diskBudgetMiB: Math.floor(DEFAULT_ARCHIVE_EPHEMERAL_STORAGE_GIB * 1024 * DISK_BUDGET_SHARE),
    messageDeadlineSeconds: ARCHIVE_MESSAGE_DEADLINE_SECONDS,
    log,
  });
  return {
    measuredAt: new Date().toISOString(),
    alone,
    cores: availableParallelism(),
    loadAverage: [loadAtStart, loadavg()[0] ?? 0],
    server: 's3rver 3.7.1 on 127.0.0.1 (in the bench process)',
    taskVcpu: ARCHIVE_SPLIT_TASK.cpu / 1024,
    exports: part.exports.map((set) => ({
      images: set.images,
      imageBytes: set.imageBytes,
      rows: set.rows,
      minImageBytes: set.minImageBytes,
      maxImageBytes: set.maxImageBytes,
      tarOrder: set.tarOrder,
      generatedSeconds: set.generatedSeconds,
    })),
    uploads: part.uploads,
    runs: part.runs,
  };
}

/**
 * `--only archive`: part 9 alone (the first run generates and caches the exports). Added to the results.json already
 * in outDir (its other parts kept, the targets checked again, summary.md rendered again; the charts do not change),
 * or, when there is none, written alone as archive-split.json, with its section printed.
 */
export async function runArchiveOnly(options: BenchOptions): Promise<BenchResults | undefined> {
  const work = plan(options.quick);
  mkdirSync(options.outDir, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'bench-archive-'));
  try {
    const sizes = work.archiveExports.map((item) => `${(item.targetBytes / 2 ** 20).toFixed(0)} MiB${item.tarGz ? ' (ZIP and TAR.GZ)' : ' (ZIP)'}`).join(', ');
    options.log(`archive split: exports of ${sizes}, BATCH_SIZE ${work.archiveBatchSize} (${options.quick ? 'quick' : 'full'} plan)`);
    const archiveSplit = await measureArchivePart(options, work, scratch, true, options.log);
    return addToResults(options, {
      name: 'archive-split', value: archiveSplit, merge: (stored) => ({ ...stored, archiveSplit }),
      standaloneLines: () => [
        archiveSplitText(archiveSplit), '',
        ...archiveSplitTargets(archiveSplit).map((check) => `target: ${check.target}: ${check.measured} -> ${formatVerdict(check)}${check.note ? ` (${check.note})` : ''}`),
      ],
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
