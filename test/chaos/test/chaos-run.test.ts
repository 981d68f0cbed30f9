import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { runChaos, type ChaosResult } from '../src/chaos-run';
import { formatChaosReport } from '../src/chaos-report';
import { FAULT_KINDS } from '../src/fault-proxy';

/**
 * The bounded chaos run inside `npm test`: the real worker bundle and a real S3-protocol server behind the fault
 * proxy, with workers SIGKILLed and SIGTERMed and the whole pipeline SIGKILLed and restarted, then every invariant.
 * The same 300 good images as `npm run chaos`, without its load run, in under a minute on an idle 2-core machine.
 */
const ROOT = resolve(__dirname, '../../..');
const SIGKILLS = 5;
const SIGTERMS = 2;
let dir: string;
let result: ChaosResult;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chaos-run-'));
  const bundle = (entry: string, out: string) =>
    build({ entryPoints: [join(ROOT, entry)], outfile: join(dir, out), bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['sharp', 'better-sqlite3', 's3rver'], logLevel: 'error' });
  await Promise.all([bundle('app/src/main.ts', 'worker.js'), bundle('test/chaos/src/pipeline-process.ts', 'pipeline.js')]);
  result = await runChaos({
    dataDir: join(dir, 'run'),
    workerPath: join(dir, 'worker.js'),
    pipelinePath: join(dir, 'pipeline.js'),
    nodeModules: join(ROOT, 'node_modules'),
    goodImages: 300,
    matrix: true,
    workers: 3,
    concurrency: 2,
    faultRate: 0.05,
    seed: 20261123,
    sigkills: SIGKILLS,
    sigterms: SIGTERMS,
    pipelineKills: 1,
    timeoutSeconds: 110,
  });
  process.stdout.write(`${formatChaosReport('bounded chaos run', result)}\n`);
}, 150_000);

afterAll(() => {
  // CHAOS_KEEP_DIR=1 keeps the run's queue, objects and worker logs for a post-mortem.
  if (process.env.CHAOS_KEEP_DIR === '1') process.stdout.write(`chaos data kept in ${dir}\n`);
  else if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('bounded chaos run', () => {
  it('did what it claims: kills, a pipeline restart and every kind of fault', () => {
    expect(result.actions.sigkills).toBeGreaterThanOrEqual(SIGKILLS);
    expect(result.actions.sigterms).toBe(SIGTERMS);
    expect(result.actions.pipelineKills).toBe(1);
    for (const kind of FAULT_KINDS) expect(result.faults.faults[kind]).toBeGreaterThan(0);
    expect(result.report.counts.redeliveries).toBeGreaterThan(0);
  });

  it('lost nothing and invented nothing: every input ended as the matrix says', () => {
    const { counts, violations } = result.report;
    expect(violations.filter((v) => !/SIGTERM|handed back/.test(v))).toEqual([]);
    expect(counts.lost).toBe(0);
    expect(counts.outputs).toBe(counts.expected.processed * 2);
    expect(counts.deadLetters).toBe(result.report.counts.expected.dlq);
  });

  it('SIGTERMed workers exited 0 within the grace period, with what they handed back visible at once', () => {
    expect(result.report.counts.sigtermExits).toBe(SIGTERMS);
    expect(result.report.violations.filter((v) => /SIGTERM|handed back/.test(v))).toEqual([]);
  });

  it('wrote no secret, credential or message body content to any log line', () => {
    expect(result.logLineCount).toBeGreaterThan(300);
    expect(result.logLeaks).toEqual([]);
  });
});
