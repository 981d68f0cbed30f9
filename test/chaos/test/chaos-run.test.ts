import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { matrixCases, SLOW_RENDER_SIDE } from '../src/bad-input-matrix';
import { runChaos, TASK_MEMORY_MIB, type ChaosOptions, type ChaosResult } from '../src/chaos-run';
import { formatChaosReport } from '../src/chaos-report';
import { CJK_KEY } from '../src/bad-input-matrix';
import { commandProblems } from '../src/chaos-report';
import { COMMAND_CJK_KEY, COMMAND_MATRIX, STATS_FILE } from '../src/command-inputs';
import { FAULT_KINDS } from '../src/fault-proxy';
import { heavyPng16 } from '../src/heavy-inputs';

/**
 * The bounded chaos run inside `npm test`: the real worker bundle, each worker process in a memory cgroup the size of
 * a task (4 GiB), a real S3-protocol server behind the task role's strict S3 front and the fault proxy. The main pass
 * SIGKILLs and SIGTERMs workers, SIGKILLs and restarts the whole pipeline, takes S3 down for 12 s, overwrites keys
 * under the workers and ends with decode-heavy images; the slow-render pass runs the images meant to outlive a short
 * RENDER_TIMEOUT_SECONDS and SIGTERMs a worker in the middle of one. The command-job run does the same to the command
 * job running the GeoJSON example program: SIGKILLs and a SIGTERM mid-program, a pipeline SIGKILL, faults on every
 * kind of S3 call (multipart too), the demo set's broken files and hostile keys. The same code as `npm run chaos`,
 * smaller.
 */
const ROOT = resolve(__dirname, '../../..');
const SIGKILLS = 5;
const SIGTERMS = 2;
const RACES = 2;
const OUTAGE_SECONDS = 10;
let dir: string;
let main: ChaosResult;
let slow: ChaosResult;
let common: Omit<ChaosOptions, 'dataDir' | 'goodImages' | 'workers' | 'concurrency' | 'sigkills' | 'sigterms' | 'pipelineKills' | 'timeoutSeconds'>;

beforeAll(async () => {
  const t0 = Date.now();
  // The slow-render image takes seconds to encode: made while the rest is bundled and the main pass runs.
  const slowImage = heavyPng16(SLOW_RENDER_SIDE);
  dir = mkdtempSync(join(tmpdir(), 'chaos-run-'));
  const bundle = (entry: string, out: string) =>
    build({ entryPoints: [join(ROOT, entry)], outfile: join(dir, out), bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['sharp', 'better-sqlite3', 's3rver'], logLevel: 'error' });
  await Promise.all([
    bundle('app/src/main.ts', 'worker.js'),
    bundle('test/chaos/src/pipeline-process.ts', 'pipeline.js'),
    // The command job's example program, bundled on its own as npm run build does.
    bundle('app/jobs/command/example/geojson-stats.ts', 'geojson-stats.js'),
  ]);
  common = {
    workerPath: join(dir, 'worker.js'),
    pipelinePath: join(dir, 'pipeline.js'),
    nodeModules: join(ROOT, 'node_modules'),
    matrix: true,
    faultRate: 0.05,
    seed: 20261123,
    memoryLimitMiB: TASK_MEMORY_MIB,
    // CHAOS_VERBOSE=1 prints the run's progress (kills, outage, overwrites) as it happens.
    ...(process.env.CHAOS_VERBOSE === '1' ? { progress: (line: string) => process.stderr.write(`chaos ${((Date.now() - t0) / 1000).toFixed(1)} s: ${line}\n`) } : {}),
  };
  main = await runChaos({
    ...common,
    dataDir: join(dir, 'main'),
    pass: 'main',
    goodImages: 120,
    workers: 3,
    concurrency: 4,
    sigkills: SIGKILLS,
    sigterms: SIGTERMS,
    pipelineKills: 1,
    races: RACES,
    decodeHeavy: { png16: 4, progressive: 1, side: 2500 },
    outage: { seconds: OUTAGE_SECONDS, atFraction: 0.35, mode: 'mixed' },
    timeoutSeconds: 120,
  });
  process.stdout.write(`${formatChaosReport('bounded chaos run, main pass', main)}\n`);
  await slowImage;
  common.progress?.('slow-render image ready');
  // One image per worker: the SIGTERM meant for one never lands on the other's first attempt, and a third worker is
  // free to take the handed-back message at once.
  slow = await runChaos({
    ...common,
    dataDir: join(dir, 'slow'),
    pass: 'slow-render',
    goodImages: 6,
    workers: 3,
    concurrency: 1,
    faultRate: 0,
    sigkills: 0,
    sigterms: 0,
    pipelineKills: 0,
    timeoutSeconds: 120,
  });
  process.stdout.write(`${formatChaosReport('bounded chaos run, slow-render pass', slow)}\n`);
}, 300_000);

afterAll(() => {
  // CHAOS_KEEP_DIR=1 keeps the run's queue, objects and worker logs for a post-mortem.
  if (process.env.CHAOS_KEEP_DIR === '1') process.stdout.write(`chaos data kept in ${dir}\n`);
  else if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const notSigterm = (v: string) => !/SIGTERM|handed back/.test(v);

describe('bounded chaos run, main pass', () => {
  it('did what it claims: kills, a pipeline restart, every kind of fault, an outage, overwrites under the workers', () => {
    expect(main.actions.sigkills).toBeGreaterThanOrEqual(SIGKILLS);
    expect(main.actions.sigterms).toBe(SIGTERMS);
    expect(main.actions.pipelineKills).toBe(1);
    for (const kind of FAULT_KINDS) expect(main.faults.faults[kind]).toBeGreaterThan(0);
    expect(main.report.counts.redeliveries).toBeGreaterThan(0);
    expect(main.outage).toMatchObject({ seconds: OUTAGE_SECONDS });
    expect(main.faults.outage['slow-down-503']).toBeGreaterThan(0);
    expect(main.faults.outage['connection-reset']).toBeGreaterThan(0);
    // The extra races and the matrix's live one.
    expect(main.actions.overwrites).toBe(RACES + 1);
  });

  it('carried every class of input', () => {
    const classes = Object.keys(main.report.counts.byClass);
    expect(classes).toEqual(expect.arrayContaining(['good', 'decode-heavy', 'overwrite-race', ...matrixCases('main').map((c) => c.id)]));
  });

  it('lost nothing, invented nothing, left no stale output: every input ended as written down', () => {
    const { counts, violations } = main.report;
    expect(violations.filter(notSigterm)).toEqual([]);
    expect(counts.lost).toBe(0);
    expect(counts.stale).toBe(0);
    expect(counts.outputs).toBe(counts.expected.processed * 2);
    expect(counts.deadLetters).toBe(counts.expected.dlq);
  });

  it('named the CJK key in source-key-base64url, and S3 refused no request the workers made', () => {
    expect(main.base64KeyOutputs).toEqual(expect.arrayContaining([`32x32/${CJK_KEY.replace(/\.jpg$/, '')}.jpg`, `48x40/${CJK_KEY.replace(/\.jpg$/, '')}.jpg`]));
    expect(main.report.violations.filter((v) => /S3 would have refused/.test(v))).toEqual([]);
  });

  it('ran every worker process in its own 4 GiB memory cgroup, none OOM-killed, each under its limit', () => {
    expect(main.memory).toHaveLength(main.actions.workersStarted);
    for (const memory of main.memory) {
      expect(memory.limitBytes).toBe(TASK_MEMORY_MIB * 1024 * 1024);
      expect(memory.oomKills).toBe(0);
      expect(memory.peakBytes).toBeLessThan(memory.limitBytes);
    }
  });

  it('SIGTERMed workers exited 0 within the grace period, with what they handed back visible at once', () => {
    expect(main.report.counts.sigtermExits).toBe(SIGTERMS);
    expect(main.report.violations.filter((v) => !notSigterm(v))).toEqual([]);
  });

  it('wrote no secret, credential or message body content to any log line', () => {
    expect(main.logLineCount).toBeGreaterThan(300);
    expect(main.logLeaks).toEqual([]);
  });
});

describe('bounded chaos run, slow-render pass', () => {
  it('SIGTERMed the worker rendering the slow image, which exited 0 in time and handed it back at once', () => {
    expect(slow.actions.renderSigterms).toBe(1);
    expect(slow.report.counts.sigtermExits).toBe(1);
    expect(slow.report.violations.filter((v) => !notSigterm(v))).toEqual([]);
  });

  it('dead-lettered the renders that outlived RENDER_TIMEOUT_SECONDS and processed the rest', () => {
    const { counts, violations } = slow.report;
    expect(violations.filter(notSigterm)).toEqual([]);
    expect(counts.lost).toBe(0);
    expect(counts.deadLetters).toBe(matrixCases('slow-render').length);
    expect(counts.outputs).toBe(counts.expected.processed * 2);
    expect(slow.memory.every((memory) => memory.oomKills === 0)).toBe(true);
    expect(slow.logLeaks).toEqual([]);
  });
});

describe('bounded chaos run, command job', () => {
  const COMMAND_SIGKILLS = 4;
  const LARGE = 2;
  let command: ChaosResult;

  beforeAll(async () => {
    command = await runChaos({
      ...common,
      dataDir: join(dir, 'command'),
      job: 'command',
      commandProgramPath: join(dir, 'geojson-stats.js'),
      goodImages: 40,
      largeInputs: LARGE,
      faultRate: 0.08,
      workers: 3,
      concurrency: 2,
      sigkills: COMMAND_SIGKILLS,
      sigterms: 1,
      pipelineKills: 1,
      races: 1,
      timeoutSeconds: 100,
    });
    process.stdout.write(`${formatChaosReport('bounded chaos run, command job', command)}\n`);
  }, 150_000);

  it('did what it claims: SIGKILLs mid-program, a SIGTERM, a pipeline restart, faults on GET, PUT, HEAD and multipart calls', () => {
    expect(command.actions.sigkills).toBe(COMMAND_SIGKILLS);
    expect(command.actions.sigterms).toBe(1);
    expect(command.actions.pipelineKills).toBe(1);
    expect(command.command!.sigkillsMidProgram).toBeGreaterThan(0);
    expect(commandProblems(command)).toEqual([]);
    expect(command.report.counts.redeliveries).toBeGreaterThan(0);
    expect(command.actions.overwrites).toBe(2);
  });

  it('carried every class of input: the demo set, its broken files, hostile keys, large files, overwrites', () => {
    expect(Object.keys(command.report.counts.byClass)).toEqual(expect.arrayContaining(['good', 'demo-good', 'large-multipart', 'overwrite-race', ...COMMAND_MATRIX.map((c) => c.id)]));
  });

  it('lost nothing, invented nothing, left no stale output: every file ended as written down', () => {
    const { counts, violations } = command.report;
    expect(violations.filter(notSigterm)).toEqual([]);
    expect(counts.lost).toBe(0);
    expect(counts.stale).toBe(0);
    // stats.json for every processed file, and a copy of each large one.
    expect(counts.outputs).toBe(counts.expected.processed + LARGE);
    expect(counts.deadLetters).toBe(counts.expected.dlq);
    expect(command.base64KeyOutputs).toEqual([`${COMMAND_CJK_KEY}/${STATS_FILE}`]);
  });

  it('left no work directory under WORK_DIR and no program running', () => {
    expect(command.command).toMatchObject({ workDirsLeft: [], programsLeft: [] });
  });

  it('SIGTERMed workers exited 0 within the grace period, with what they handed back visible at once', () => {
    expect(command.report.counts.sigtermExits).toBe(1);
    expect(command.report.violations.filter((v) => !notSigterm(v))).toEqual([]);
  });

  it('wrote no file content, secret or message body content to any log line, and ran every worker in its cgroup', () => {
    expect(command.logLineCount).toBeGreaterThan(150);
    expect(command.logLeaks).toEqual([]);
    expect(command.memory).toHaveLength(command.actions.workersStarted);
    expect(command.memory.every((memory) => memory.oomKills === 0)).toBe(true);
  });
});
