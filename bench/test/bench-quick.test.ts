import { build } from 'esbuild';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import type { BenchResults } from '../src/bench-results';
import { DEFAULT_GEOJSON_SET, ensureGeojsonSet } from '../src/inputs/geojson-files';
import { measureCommandJob } from '../src/measure/command-job';
import { runBench } from '../src/run-bench';

// The bundled worker must sit inside the repository so its external native modules resolve from node_modules.
const workerDir = resolve(__dirname, '..', '..', 'dist', `bench-smoke-${process.pid}`);
const workerScript = join(workerDir, 'main.js');
const programScript = join(workerDir, 'geojson-stats.js');
const scratch = mkdtempSync(join(tmpdir(), 'bench-smoke-'));

beforeAll(async () => {
  const bundle = (entry: string, outfile: string) =>
    build({
      entryPoints: [resolve(__dirname, '..', '..', entry)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['sharp', 'better-sqlite3'],
      logLevel: 'silent',
    });
  // The worker, and the command job's example program as build.mjs bundles it.
  await Promise.all([bundle('app/src/main.ts', workerScript), bundle('app/jobs/command/example/geojson-stats.ts', programScript)]);
}, 60_000);

it('measures the command job against its program run directly on the same files: every file done, the same outputs, a real overhead', async () => {
  const files = ensureGeojsonSet(join(scratch, 'inputs'), { count: 12, ...DEFAULT_GEOJSON_SET });
  expect(files.filter((file) => file.large).map((file) => file.bytes / 1e6)).toEqual([
    expect.closeTo(1, 0), expect.closeTo(1, 0), expect.closeTo(1, 0),
  ]);
  const run = await measureCommandJob({
    workerScript,
    programScript,
    files,
    concurrency: 2,
    scratch: join(scratch, 'command-job'),
    programStarts: 2,
    rounds: 2,
    timeoutSeconds: 60,
    alone: true,
  });

  // The worker ran the program on every file and uploaded what the direct run wrote, byte for byte.
  expect(run.worker).toMatchObject({ processed: 12, failed: 0, outputs: 12, outputsMatchingDirect: 12 });
  // Per file, counted at the proxy: one download and one upload of stats.json, and at least the source's read-back.
  expect(run.worker.s3CallsByMethod).toMatchObject({ GET: 12, PUT: 12 });
  expect(run.worker.s3CallsByMethod.HEAD).toBeGreaterThanOrEqual(12);
  expect(run.worker.s3CallsPerFile).toBeCloseTo((24 + run.worker.s3CallsByMethod.HEAD!) / 12, 9);
  expect(run.direct.cpuMsPerFile).toBeGreaterThan(0);
  // The programs' CPU is found below the worker, and the worker's own besides it.
  expect(run.worker.programCpuMsPerFile).toBeGreaterThan(0);
  expect(run.worker.workerOwnCpuMsPerFile).toBeGreaterThan(0);
  expect(run.worker.cpuMsPerFile).toBeCloseTo(run.worker.programCpuMsPerFile + run.worker.workerOwnCpuMsPerFile, 6);
  // The worker does everything the direct run does and more: its CPU per file cannot be lower. Wall time on a shared
  // machine can swing either way in a run this short, so the wall ratio is only checked to be a real number.
  expect(run.cpuRatio).toBeGreaterThanOrEqual(1);
  expect(Number.isFinite(run.ratio) && run.ratio > 0).toBe(true);
  expect(run.ratio).toBeCloseTo(run.worker.seconds / run.direct.seconds, 9);
  // Two rounds of six, each directly and then through its own worker, summed.
  expect(run.rounds.map((round) => round.files)).toEqual([6, 6]);
  expect(run.worker.seconds).toBeCloseTo(run.rounds[0]!.workerSeconds + run.rounds[1]!.workerSeconds, 9);
  expect(run.direct.seconds).toBeCloseTo(run.rounds[0]!.directSeconds + run.rounds[1]!.directSeconds, 9);
  expect(run.overheadMsPerFile).toBeCloseTo(run.worker.wallMsPerFile - run.direct.wallMsPerFile, 9);
  expect(run.programStartCpuMs).toBeGreaterThan(0);
}, 20_000);

afterAll(() => {
  rmSync(workerDir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

it('runs every part of the quick bench and writes the results, the summary and valid PNG charts', async () => {
  const outDir = join(scratch, 'out');
  const lines: string[] = [];
  await runBench({
    quick: true,
    outDir,
    workerScript,
    programScript,
    inputDir: join(scratch, 'inputs'),
    // Small inputs keep the smoke test fast; the harness is the same as for 4000x3000.
    inputWidth: 800,
    inputHeight: 600,
    log: (line) => lines.push(line),
  });

  const results = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as BenchResults;
  expect(results.machine.mode).toBe('quick');
  expect(results.transformCeiling.rows.every((row) => row.imagesPerSecond > 0)).toBe(true);
  const [run] = results.workerEndToEnd.sweep;
  expect(run!.images).toBe(12);
  expect(run!.imagesPerSecond).toBeGreaterThan(0);
  // One GET per image, one PUT per output size and one HEAD reading the source back (the overwrite-race check),
  // counted at the proxy in front of the S3-protocol server.
  expect(run!.s3CallsByMethod).toEqual({ GET: 12, PUT: 24, HEAD: 12 });
  // The process tree: the supervisor main.js starts and the worker it runs, both in the figures.
  expect(run!.workerProcesses).toBe(2);
  expect(run!.peakRssMiB).toBeGreaterThan(60);
  expect(run!.workerCpuSecondsPerImage).toBeGreaterThan(0);

  // CPU per image of the in-memory ceiling on the same files, sizes and concurrency, and the worker's overhead on it.
  const ceiling = results.transformCeiling.byConcurrency.find((row) => row.concurrency === run!.concurrency)!;
  expect(ceiling.cpuSecondsPerImage).toBeGreaterThan(0);
  expect(results.transformCeiling.rows.every((row) => row.cpuSecondsPerImage > 0)).toBe(true);
  const [overhead] = results.workerEndToEnd.cpuOverhead;
  expect(overhead).toMatchObject({ concurrency: run!.concurrency, images: 12 });
  expect(overhead!.ratio).toBeCloseTo(run!.workerCpuSecondsPerImage / ceiling.cpuSecondsPerImage, 9);
  expect(results.targets.find((check) => check.target.startsWith('worker CPU per image'))?.holds).toBeDefined();

  // Decode-heavy inputs at CONCURRENCY=4 in a memory cgroup of the default task size (small images in quick mode).
  expect(results.decodeHeavy).toMatchObject({ concurrency: 4, limitMiB: 4096 });
  const [heavy] = results.decodeHeavy.runs;
  expect(heavy!.inputs.map((input) => input.name)).toEqual(['png-480x480-rgba8-adam7', 'png-480x480-rgb16', 'jpeg-960x640-rgb8-progressive']);
  expect(heavy!.images).toBe(12);
  const heavyCheck = results.targets.find((check) => check.target.startsWith('decode-heavy valid inputs'))!;
  if (heavy!.measured) {
    expect(heavy!.peakMiB).toBeGreaterThan(30);
    expect(heavy!.peakMiB).toBeLessThan(4096);
    expect(heavy).toMatchObject({ killed: false, oomKills: 0, exitCode: 0, drained: true, processed: 12, deadLettered: 0, leftInQueue: 0 });
    expect(heavyCheck.holds).toBe(true);
  } else {
    // Without root there is no cgroup: the run says why and the target stays unmeasured, never passed.
    expect(heavy!.reason).toMatch(/cannot/);
    expect(heavyCheck.holds).toBeUndefined();
  }
  expect(results.workerEndToEnd.queueCalls.calls.deleteBatches).toBeGreaterThanOrEqual(2);
  expect(results.workerEndToEnd.queueCalls.calls.receives).toBeGreaterThanOrEqual(2);
  expect(results.cost.perImage.sqsOther).toBeGreaterThan(1);
  expect(results.coldStart.runs).toHaveLength(3);
  expect(results.simulation.scenarios.map((scenario) => scenario.name)).toContain('burst 10k');
  expect(results.cost.lambdaPerMillion.total).toBeGreaterThan(0);

  // Issue 10's simulations run in quick mode too: they are pure and take about a second.
  const { largeLaunch, startFailures } = results.simulation;
  expect(largeLaunch).toMatchObject({ maxTasks: 500, runTaskCallSeconds: 1.5 });
  expect(largeLaunch.before).toMatchObject({ wanted: 500, launched: 400, notLaunchedInTime: 100, timeoutSeconds: 60 });
  expect(largeLaunch.after).toMatchObject({ wanted: 500, launched: 500, notLaunchedInTime: 0, launchSpanSeconds: 21.5, budgetSeconds: 35 });
  expect(startFailures.map((failure) => [failure.world.image, failure.parameters.maxTasks, failure.hours])).toEqual([
    ['bootstrap', 10, 24],
    ['crash-at-start', 10, 24],
    ['crash-at-start', 500, 24],
  ]);
  for (const failure of startFailures) {
    expect(failure.beforeTasksByHour).toHaveLength(24);
    expect(failure.afterTasksByHour).toHaveLength(24);
    expect(failure.afterTasksPerHour).toBeLessThan(failure.beforeTasksPerHour);
    expect(failure.savedPerDay).toBeCloseTo(failure.beforeFargatePerDay - failure.afterFargatePerDay, 9);
    // Stored without the per-run records, which run to 720 a rule a day.
    expect(failure.before).not.toHaveProperty('runs');
    expect(failure.after).not.toHaveProperty('tasks');
  }
  expect(startFailures[0]!.after.tasksLaunched).toBe(0);
  for (const prefix of ['MAX_TASKS=500 from an empty fleet', 'idle after deploy', 'crash loop, MAX_TASKS 10', 'crash loop, MAX_TASKS 500']) {
    expect(results.targets.find((check) => check.target.startsWith(prefix))?.holds).toBe(true);
  }
  // Part 7 in quick mode: 24 GeoJSON files through the command job and directly.
  expect(results.commandJob).toMatchObject({ files: 24, largeFiles: 6, alone: false });
  expect(results.commandJob!.worker).toMatchObject({ processed: 24, outputs: 24, outputsMatchingDirect: 24 });
  expect(results.targets.find((check) => check.target.startsWith('command job: worker CPU per file'))?.holds).toBeDefined();
  // Part 8 in quick mode: 200 demo records through the batch worker, 200 results written each way per store.
  const batch = results.batchJob!;
  expect(batch.endToEnd).toMatchObject({ records: 200, expectedBroken: 6, stored: 194, deadLettered: 6 });
  expect(batch.endToEnd.s3CallsByMethod.GET).toBeGreaterThanOrEqual(200);
  expect(batch.endToEnd.batchedRecords).toBeGreaterThanOrEqual(200);
  expect(batch.ceiling.recordsPerSecond).toBeGreaterThan(0);
  expect(batch.writes.map((comparison) => comparison.store)).toEqual(['dynamodb', 'mongodb']);
  for (const row of batch.writes.flatMap((comparison) => comparison.rows)) expect(row).toMatchObject({ bulk: { stored: 200 }, perRecord: { stored: 200, calls: 200 } });
  expect(results.targets.filter((check) => check.target.startsWith('batch job:')).every((check) => check.holds !== undefined)).toBe(true);
  expect(results.targets.length).toBeGreaterThanOrEqual(14);

  const summary = readFileSync(join(outDir, 'summary.md'), 'utf8');
  expect(summary).toContain('### Targets');
  expect(summary).toContain('### 7. Command job: per-file overhead against the program run directly');
  expect(summary).toContain('| ratio (worker / directly) |');
  expect(summary).toContain('### 8. Batch job: records per second per vCPU, and bulk writes against one write per record (issue 13)');
  expect(summary).toContain('### 3. Decode-heavy inputs in a memory cgroup (CONCURRENCY=4, limit 4096 MiB)');
  expect(summary).toContain('CPU overhead (worker / ceiling)');
  expect(summary).toContain('#### Launching MAX_TASKS=500 from an empty fleet (issue 10)');
  expect(summary).toContain('One RunTask call\'s round trip is assumed to be 1.5 s, not measured.');
  expect(summary).toContain('#### Start failures over 24 h: the scaler before its start guards vs now (issue 10)');
  expect(summary).toMatch(/\| crash loop: image exits 1 at start, 10k waiting, MAX_TASKS 500, 24 h \| 12,000 \| /);
  expect(lines.join('\n')).toContain(summary.trim().split('\n')[0]);

  for (const chart of [
    'throughput.png',
    'cost-per-million.png',
    'scaling-burst-10k.png',
    'tasks-per-hour-idle-after-deploy.png',
    'tasks-per-hour-crash-loop-max-tasks-10.png',
    'tasks-per-hour-crash-loop-max-tasks-500.png',
  ]) {
    expect(existsSync(join(outDir, chart))).toBe(true);
    const metadata = await sharp(join(outDir, chart)).metadata();
    expect(metadata.format).toBe('png');
    expect(metadata.width).toBeGreaterThanOrEqual(1000);
  }
}, 240_000);
