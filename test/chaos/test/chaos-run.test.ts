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
import { runFanoutChaos, type FanoutChaosResult } from '../src/fanout-chaos';
import { fanoutProblems, formatFanoutReport } from '../src/fanout-report';
import { heavyPng16 } from '../src/heavy-inputs';

/**
 * The bounded chaos run inside `npm test`: the real worker bundle, each worker process in a memory cgroup the size of
 * a task (4 GiB), a real S3-protocol server behind the task role's strict S3 front and the fault proxy. The main pass
 * SIGKILLs and SIGTERMs workers, SIGKILLs and restarts the whole pipeline, takes S3 down for 12 s, overwrites keys
 * under the workers and ends with decode-heavy images; the slow-render pass runs the images meant to outlive a short
 * RENDER_TIMEOUT_SECONDS and SIGTERMs a worker in the middle of one. The command-job run does the same to the command
 * job running the GeoJSON example program: SIGKILLs and a SIGTERM mid-program, a pipeline SIGKILL, faults on every
 * kind of S3 call (multipart too), the demo set's broken files and hostile keys. The fan-out run drives the four
 * pipelines of a fan-out group (fan-out, two families running the WAV example programs, aggregator) through manifests
 * delivered twice and bad ones, kills aimed at the ledger's windows and an outage. The same code as `npm run chaos`,
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
    // The fan-out families' example programs.
    bundle('app/jobs/fanout/example/loudness.ts', 'loudness.js'),
    bundle('app/jobs/fanout/example/spectrum.ts', 'spectrum.js'),
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
    // At least once for the DLQ too (see the command run below): the invariants match letters to bad inputs.
    expect(counts.deadLetters).toBeGreaterThanOrEqual(counts.expected.dlq);
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
    // A bad message whose worker is killed after dead-lettering it but before deleting it is delivered and
    // dead-lettered again (a run under load showed 15 letters for 14 bad inputs): at least once holds for the DLQ too.
    // That every bad input has its letter, and every letter a bad input, is the invariants' check above.
    expect(counts.deadLetters).toBeGreaterThanOrEqual(counts.expected.dlq);
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

describe('bounded chaos run, fan-out', () => {
  const planned = { windowKills: 1, triggerKills: 1, aggregatorKills: 1, dispatchKills: 1, poisonedBatches: 1 };
  const RUNS = 3;
  const FILES = 8;
  let fanout: FanoutChaosResult;
  /** The violations whose text matches: each test names the invariants it is about. */
  const broken = (pattern: RegExp) => [...fanout.report.violations, ...fanout.logLeaks].filter((violation) => pattern.test(violation));

  beforeAll(async () => {
    fanout = await runFanoutChaos({
      workerPath: common.workerPath,
      pipelinePath: common.pipelinePath,
      nodeModules: common.nodeModules,
      dataDir: join(dir, 'fanout'),
      programDir: dir,
      runs: RUNS,
      filesPerRun: FILES,
      brokenPerRun: 2,
      batchSize: 3,
      workers: 2,
      // One batch per task, as the fan-out README advises for families whose model can crash its process: a batch
      // that kills its task every time takes every batch held in that task with it, and with few batches left the
      // same two are held together on every receive.
      concurrency: 1,
      faultRate: 0.05,
      seed: common.seed,
      sigkills: 2,
      ...planned,
      pipelineKills: 1,
      outage: { seconds: OUTAGE_SECONDS, atFraction: 0.35, mode: 'mixed' },
      memoryLimitMiB: TASK_MEMORY_MIB,
      timeoutSeconds: 120,
      ...(common.progress !== undefined ? { progress: common.progress } : {}),
    });
    process.stdout.write(`${formatFanoutReport('bounded chaos run, fan-out', fanout)}\n`);
  }, 200_000);

  it('did what it claims: every pipeline\'s workers SIGKILLed, each aimed kill landed in its window, a pipeline restart, faults, an outage', () => {
    expect(fanoutProblems(fanout, planned)).toEqual([]);
    expect(fanout.pipelineKills).toBe(1);
    for (const kind of FAULT_KINDS) expect(fanout.faults.faults[kind]).toBeGreaterThan(0);
    expect(fanout.faults.outage['slow-down-503']).toBeGreaterThan(0);
    expect(fanout.faults.outage['connection-reset']).toBeGreaterThan(0);
  });

  it('dispatched every run once: one run record and marker, each batch sent once per dispatching delivery, the late delivery skipped', () => {
    expect(broken(/run\.json|dispatched\.json|never received batch|received a message for batch|deliveries dispatched it|never logged "dispatched"|was sent to family/)).toEqual([]);
    // The manifest delivered twice at once is one run; its third delivery, after the dispatch, sent nothing.
    expect(fanout.lateRedelivery.queued).toBe(true);
    expect(fanout.lateRedelivery.skipped).toBeGreaterThanOrEqual(1);
  });

  it('settled every batch once per family, whatever was killed between its results and its ledger entry', () => {
    expect(broken(/settled \d+ times|ledger entry was written but|no write of which|no batch of the run/)).toEqual([]);
  });

  it('aggregated no run twice nor early: at most one report.json and trigger created and one "aggregated" line per run, after its last batch settled', () => {
    expect(broken(/report\.json was created|aggregate\.json was created|logged "aggregated"|"aggregated" logged|before the last batch was settled|before a batch settled|no aggregatedAt/)).toEqual([]);
  });

  it('summarised every run that ended: every file once, good WAVs done in both families, broken ones failed with the program\'s reason', () => {
    expect(broken(/summary|good file|broken file|report\.json counts|report\.json's file counts|in family [a-z]+: /)).toEqual([]);
    expect(fanout.report.counts.brokenFiles).toBe(RUNS * 2);
  });

  it('dead-lettered both bad manifests with the field named, creating no run; left nothing in any queue', () => {
    expect(broken(/bad manifest|queue still holds|DLQ holds message/)).toEqual([]);
  });

  it('ended every run, the one with a poisoned batch (its every receive SIGKILLed) too: that batch failed in the ledger and listed in the report, no batch in a DLQ unsettled', () => {
    expect(fanout.kills.filter((kill) => kill.kind === 'poisoned-batch').length).toBeGreaterThanOrEqual(1);
    expect(broken(/every attempt|never aggregated|is in the DLQ|report does not list|did not finish/)).toEqual([]);
    expect(fanout.report.counts).toMatchObject({ reportsCreated: RUNS, triggersCreated: RUNS, aggregatedLines: RUNS, failedBatches: 1 });
  });

  it('lost nothing: every good WAV of every manifest done in both families or failed with its poisoned batch', () => {
    expect(fanout.report.counts).toMatchObject({ lost: 0, files: RUNS * FILES });
  });

  it('holds every invariant, each worker in its 4 GiB cgroup, no S3 refusal, no secret in a log line', () => {
    expect(fanout.report.violations).toEqual([]);
    expect(fanout.logLeaks).toEqual([]);
    expect(fanout.memory.length).toBeGreaterThanOrEqual(8);
    expect(fanout.memory.every((memory) => memory.oomKills === 0 && memory.limitBytes === TASK_MEMORY_MIB * 1024 * 1024)).toBe(true);
  });
});
