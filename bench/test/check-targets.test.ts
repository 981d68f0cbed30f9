import type { BenchResults } from '../src/bench-results';
import { checkTargets } from '../src/check-targets';
import { formatVerdict } from '../src/targets';
import { compareLargeLaunch } from '../src/simulation/scenarios';
import { benchResults, commandJobMeasurement, decodeHeavyRun, simulationParameters, startFailure, throughput, workerRun } from './factories';

function verdictFor(results: Omit<BenchResults, 'targets'>, prefix: string): string {
  const check = checkTargets(results).find((candidate) => candidate.target.startsWith(prefix));
  if (check === undefined) throw new Error(`no target starting with ${prefix}`);
  return formatVerdict(check);
}

describe('checkTargets', () => {
  it('compares the best worker run with the ceiling at the same concurrency, not at another', () => {
    const results = benchResults({
      sweep: [workerRun({ concurrency: 2, imagesPerSecond: 8.6 }), workerRun({ concurrency: 4, imagesPerSecond: 8 })],
      bestConcurrency: 2,
      byConcurrency: [throughput({ concurrency: 2, imagesPerSecond: 10 }), throughput({ concurrency: 4, imagesPerSecond: 20 })],
    });
    expect(verdictFor(results, 'worker end to end')).toBe('holds');

    const slower = benchResults({
      sweep: [workerRun({ concurrency: 2, imagesPerSecond: 5, workerCpuSecondsPerImage: 0.25, harnessCpuSecondsPerImage: 0.1 })],
      bestConcurrency: 2,
    });
    expect(verdictFor(slower, 'worker end to end')).toBe('MISSED');
    // The ceiling: 2 cores at 10 images/s = 0.2 CPU s per image, against the worker's 0.25.
    const check = checkTargets(slower).find((candidate) => candidate.target.startsWith('worker end to end'));
    expect(check?.note).toMatch(/^per CPU second the worker does 80% of the ceiling's work.*100 ms CPU\/image/);
  });

  it('explains where the time goes when the ceiling is more than 10% below vipsthumbnail', () => {
    const results = benchResults({
      rows: [throughput({ label: 'ResizeProcessor JPEG -> 224x224', imagesPerSecond: 8 })],
      vipsthumbnailRows: [throughput({ label: 'vipsthumbnail JPEG -> 224x224', imagesPerSecond: 10 })],
    });
    const check = checkTargets(results).find((candidate) => candidate.target.includes('vipsthumbnail'));
    expect(check?.holds).toBe(false);
    expect(check?.note).toMatch(/libvips/);
  });

  it('keeps the vipsthumbnail target, unmeasured, on a machine without vipsthumbnail', () => {
    const checks = checkTargets(benchResults({ vipsthumbnailRows: [] })).filter((candidate) => candidate.target.includes('vipsthumbnail'));
    expect(checks).toHaveLength(1);
    expect(formatVerdict(checks[0]!)).toBe('not measured');
    expect(checks[0]!.measured).toMatch(/not installed/);
  });

  it('judges peak RSS only from runs at CONCURRENCY=4, and growth only from the long run', () => {
    const results = benchResults({
      sweep: [workerRun({ concurrency: 8, peakRssMiB: 900 }), workerRun({ concurrency: 4, peakRssMiB: 380 })],
      longRun: workerRun({ concurrency: 4, images: 2000, peakRssMiB: 390, rssGrowthPercent: 12 }),
    });
    expect(verdictFor(results, 'peak RSS')).toBe('holds');
    expect(verdictFor(results, 'no RSS growth')).toBe('MISSED');
    expect(verdictFor(benchResults({ longRun: undefined }), 'no RSS growth')).toBe('not measured');
  });

  it('judges the CPU overhead at the best concurrency against the ceiling at the same concurrency', () => {
    const results = benchResults({
      sweep: [workerRun({ concurrency: 2, workerCpuSecondsPerImage: 0.22 }), workerRun({ concurrency: 4, workerCpuSecondsPerImage: 0.3 })],
      bestConcurrency: 2,
      byConcurrency: [throughput({ concurrency: 2, cpuSecondsPerImage: 0.2 }), throughput({ concurrency: 4, cpuSecondsPerImage: 0.2 })],
      longRun: undefined,
    });
    const check = checkTargets(results).find((candidate) => candidate.target.startsWith('worker CPU per image'));
    expect(check?.target).toContain('1.18x');
    expect(check?.holds).toBe(true);
    expect(check?.measured).toBe('1.10x at CONCURRENCY=2 (220 vs 200 ms CPU/image); 1.10-1.50x over 2 runs');

    const costly = benchResults({ sweep: [workerRun({ concurrency: 2, workerCpuSecondsPerImage: 0.26 })], longRun: undefined });
    const missed = checkTargets(costly).find((candidate) => candidate.target.startsWith('worker CPU per image'));
    expect(formatVerdict(missed!)).toBe('MISSED');
    expect(missed?.note).toMatch(/^60 ms CPU\/image beyond the resize.*77% of the ceiling's rate$/);
    expect(verdictFor(benchResults({ byConcurrency: [throughput({ concurrency: 8 })] }), 'worker CPU per image')).toBe('not measured');
  });

  it('judges each decode-heavy run: under the limit, never killed, all processed; control runs are not judged', () => {
    const prefix = 'decode-heavy valid inputs (decode-heavy set)';
    expect(verdictFor(benchResults(), prefix)).toBe('holds');
    const killed = benchResults({
      decodeHeavyRuns: [decodeHeavyRun({ killed: true, oomKills: 1, exitCode: 137, peakMiB: 4096, limitHits: 12, processed: 3, leftInQueue: 9, drained: false })],
    });
    const check = checkTargets(killed).find((candidate) => candidate.target.startsWith(prefix));
    expect(formatVerdict(check!)).toBe('MISSED');
    expect(check?.measured).toBe('peak 4096 MiB of 4096 (100%), KILLED, 3/12 processed, 0 dead-lettered');
    expect(check?.note).toContain('killed (OOM kill x1) with 9 messages left');
    // Keeping memory down by refusing valid work is no pass.
    const refused = benchResults({ decodeHeavyRuns: [decodeHeavyRun({ processed: 10, deadLettered: 2, deadLetterReasons: ['decode-memory-exceeded'] })] });
    expect(verdictFor(refused, prefix)).toBe('MISSED');
    // A machine that cannot create a cgroup reports it unmeasured, with the reason, never as a pass.
    const unmeasured = benchResults({
      decodeHeavyRuns: [{ ...decodeHeavyRun(), measured: false, reason: 'cannot create the memory cgroup (EACCES)' }],
    });
    const notMeasured = checkTargets(unmeasured).find((candidate) => candidate.target.startsWith(prefix));
    expect(formatVerdict(notMeasured!)).toBe('not measured');
    expect(notMeasured?.measured).toContain('EACCES');
    const withControl = benchResults({
      decodeHeavyRuns: [decodeHeavyRun(), decodeHeavyRun({ name: 'budget off (control)', control: true, killed: true })],
    });
    expect(checkTargets(withControl).filter((candidate) => candidate.target.startsWith('decode-heavy'))).toHaveLength(1);
  });

  it('holds the issue 10 targets on the simulation itself: 500 launched in one run, nothing started idle, a few probes an hour', () => {
    const checks = checkTargets(benchResults());
    const launch = checks.find((check) => check.target.startsWith('MAX_TASKS=500 from an empty fleet'))!;
    expect(launch).toMatchObject({ holds: true });
    expect(launch.measured).toBe(
      '500/500 launched, the last call answered 21.5 s into the run (launch budget 35 s); before: 400/500, 100 cut off by the 60 s timeout',
    );
    expect(launch.note).toBe('RunTask round trip assumed 1.5 s per call, not measured');
    const idle = checks.find((check) => check.target.startsWith('idle after deploy'))!;
    expect(idle.holds).toBe(true);
    expect(idle.measured).toMatch(/^0 tasks, 720 of 720 runs held; before: 720 \(30\/h, Fargate \$0\.\d{4}\/day\)$/);
    const loops = checks.filter((check) => check.target.startsWith('crash loop'));
    expect(loops.map((check) => check.target)).toEqual([
      'crash loop, MAX_TASKS 10 (simulated, 24 h): fewer than 5 tasks started in every hour after the first',
      'crash loop, MAX_TASKS 500 (simulated, 24 h): fewer than 5 tasks started in every hour after the first',
    ]);
    expect(loops.every((check) => check.holds === true)).toBe(true);
    expect(loops[1]!.measured).toMatch(/^at most 4 an hour after the first \(504 in the first, 24\.17\/h over the day\); before: 12,000\/h/);
  });

  it('misses the large launch when the run cannot launch everything, and says what was left', () => {
    const cut = compareLargeLaunch(simulationParameters());
    const short = benchResults({ largeLaunch: { ...cut, after: { ...cut.after, launched: 450, notLaunchedInTime: 50 } } });
    const check = checkTargets(short).find((candidate) => candidate.target.startsWith('MAX_TASKS=500'))!;
    expect(formatVerdict(check)).toBe('MISSED');
    expect(check.note).toContain('50 tasks left for a later run');
  });

  it('misses the start-failure targets on a task started after deploy or a fifth task in any hour after the first; the first hour is not judged', () => {
    const idle = startFailure({ name: 'idle', world: { image: 'bootstrap', exitAfterSeconds: 1, runTaskCallSeconds: 1.5 } });
    const leaky = { ...idle, after: { ...idle.after, tasksLaunched: 1 } };
    expect(verdictFor(benchResults({ startFailures: [leaky] }), 'idle after deploy')).toBe('MISSED');
    expect(verdictFor(benchResults({ startFailures: [{ ...idle, after: { ...idle.after, tasksLaunched: 0 } }] }), 'idle after deploy')).toBe('holds');

    const burstyFirstHour = startFailure({ afterTasksByHour: [500, ...Array.from({ length: 23 }, () => 4)] });
    expect(verdictFor(benchResults({ startFailures: [burstyFirstHour] }), 'crash loop, MAX_TASKS 10')).toBe('holds');
    const fifth = startFailure({ afterTasksByHour: [10, 3, 3, 5, ...Array.from({ length: 20 }, () => 3)] });
    const check = checkTargets(benchResults({ startFailures: [fifth] })).find((candidate) => candidate.target.startsWith('crash loop'))!;
    expect(formatVerdict(check)).toBe('MISSED');
    expect(check.measured).toMatch(/^at most 5 an hour after the first \(10 in the first/);
  });

  it('keeps the start-failure targets, unmeasured, when no start failure was simulated', () => {
    const checks = checkTargets(benchResults({ startFailures: [] }));
    expect(checks.filter((check) => /^(idle after deploy|crash loop)/.test(check.target)).map(formatVerdict)).toEqual(['not measured', 'not measured']);
  });

  it('judges the command job on CPU per file against the direct run, with every file processed and the same outputs', () => {
    const command = 'command job: worker CPU per file';
    // 150 ms directly, 40 ms of the worker's own on top: 1.27x, over the 1.18x bar.
    const missed = checkTargets(benchResults()).find((check) => check.target.startsWith(command))!;
    expect(formatVerdict(missed)).toBe('MISSED');
    expect(missed.measured).toMatch(/^1\.27x \(190 vs 150 ms CPU\/file, 200 files at CONCURRENCY=2\); wall 1\.25x, \+50 ms per file$/);
    // 40 ms / 0.176: the bar holds for programs of about 227 ms CPU per file.
    expect(missed.note).toMatch(/^40 ms CPU per file beyond the direct run \(the worker's own 40 ms.*at least 227 ms CPU per file$/);

    const cheap = commandJobMeasurement({ worker: { cpuMsPerFile: 170, workerOwnCpuMsPerFile: 20 } });
    expect(verdictFor(benchResults({ commandJob: cheap }), command)).toBe('holds');

    // Cheap but incomplete: a file the worker did not process, or an output unlike the direct run's, is a miss.
    for (const worker of [{ cpuMsPerFile: 170, processed: 199 }, { cpuMsPerFile: 170, outputsMatchingDirect: 199 }]) {
      const check = checkTargets(benchResults({ commandJob: commandJobMeasurement({ worker }) })).find((candidate) => candidate.target.startsWith(command))!;
      expect(formatVerdict(check)).toBe('MISSED');
      expect(check.note).toMatch(/of 200 files/);
    }
    expect(verdictFor(benchResults({ commandJob: undefined }), command)).toBe('not measured');
  });

  it('checks the cold start median and the simulated 10k burst', () => {
    const results = benchResults({ coldStartMedianMs: 650 });
    expect(verdictFor(results, 'cold start')).toBe('MISSED');
    expect(verdictFor(results, '10k burst')).toBe('holds');
  });
});
