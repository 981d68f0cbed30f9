import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { BROKEN_GEOJSON, GOOD_GEOJSON_KEYS } from '../../../app/jobs/command/example/demo-set';
import { commandJobModule } from '../../../app/jobs/command';
import { loadConfig } from '../../../app/src/config';
import { openDiskWorkspaces } from '../../../app/src/job/disk-workspaces';
import type { ObjectJob } from '../../../app/src/job/object-job';
import type { Workspaces } from '../../../app/src/job/workspace';
import { MemoryLog } from '../../../shared/log/logger';
import { OUTPUT_METADATA } from '../../../shared/naming/output-metadata';
import { runMatrixCase } from './run-matrix-case';
import { MATRIX_SOURCE_BUCKET } from '../src/bad-input-matrix';
import {
  chaosCommand, COMMAND_CJK_KEY, COMMAND_MATRIX, COMMAND_OVERLONG_KEY, commandMatrixTable, COPY_FILE, demoGeojson, featureCountOf, FILE_CANARY, goodGeojson,
  largeGeojson, SHELL_KEY, slowOlderGeojson, STATS_FILE, UPLOAD_PART_BYTES, type CommandMatrixCase,
} from '../src/command-inputs';

/**
 * Each command-matrix case's written-down outcome checked against the worker's own message handler in process, with
 * the real command job running the real example program under the chaos run's COMMAND: a wrong expectation shows up
 * here in seconds rather than as a broken invariant after a chaos run.
 */
const ROOT = resolve(__dirname, '../../..');
let dir: string;
let job: ObjectJob;
let workspaces: Workspaces;
let config: ReturnType<typeof loadConfig>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chaos-command-matrix-'));
  const program = join(dir, 'geojson-stats.js');
  buildSync({ entryPoints: [join(ROOT, 'app/jobs/command/example/geojson-stats.ts')], outfile: program, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error' });
  const env = {
    QUEUE_URL: join(dir, 'unused.db'), DEST_BUCKET: 'destination', ALLOWED_SOURCE_BUCKETS: MATRIX_SOURCE_BUCKET, JOB: 'command',
    COMMAND: chaosCommand(process.execPath, program), WORK_DIR: join(dir, 'work'), PATH: process.env.PATH,
  };
  config = loadConfig(env, 2);
  const runtime = { cpuCount: 2, memoryLimitBytes: 4 * 1024 ** 3 };
  job = await commandJobModule.create(commandJobModule.readSettings(env, runtime));
  // The worker owns the task's disk for every job that consumes files, as worker-process.ts opens it.
  workspaces = await openDiskWorkspaces(config.workspace, new MemoryLog());
}, 30_000);

afterAll(async () => {
  await workspaces?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function runCase(matrixCase: CommandMatrixCase) {
  return runMatrixCase(matrixCase, { job, workspaces, config });
}

describe('the command job\'s chaos inputs', () => {
  it('cover the demo set\'s broken files, empty objects, hostile keys, a deleted and an overwritten object, each id once', () => {
    const ids = COMMAND_MATRIX.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    const keys = COMMAND_MATRIX.flatMap((c) => c.objects.map((o) => o.key));
    expect(keys).toEqual(expect.arrayContaining(BROKEN_GEOJSON.map((broken) => broken.key)));
    expect(ids).toEqual(expect.arrayContaining([
      'broken-empty', 'key-spaces', 'key-plus', 'key-percent', 'key-unicode', 'key-shell-syntax', 'key-cjk-920-bytes', 'deleted-before-processing',
      'overwrite-race-queued', 'overwrite-race-live', 'several-records-one-broken', 'output-key-too-long', 'malformed-json', 's3-test-event',
    ]));
    for (const c of COMMAND_MATRIX) expect(c.expected === 'dlq').toBe(c.reason !== undefined);
    // Every broken file the demo set names dead-letters as command-failed with exit 65 and its own reason.
    for (const broken of BROKEN_GEOJSON) {
      const c = COMMAND_MATRIX.find((m) => m.objects.some((o) => o.key === broken.key))!;
      expect(c).toMatchObject({ expected: 'dlq', reason: 'command-failed', detailIncludes: ['exited with code 65', broken.reason] });
    }
  });

  it('make distinct good files whose features the suite counts as geojson-stats does, and large ones over the part size', async () => {
    expect(new Set([1, 2, 3, 4].map((n) => goodGeojson(n).toString())).size).toBe(4);
    expect(featureCountOf(goodGeojson(4))).toBe(5);
    expect(featureCountOf(Buffer.from('{"type":"Point","coordinates":[1,2]}'))).toBe(1);
    expect(featureCountOf(Buffer.from('{"type":'))).toBeUndefined();
    expect(featureCountOf(slowOlderGeojson())).toBe(6000);
    expect(largeGeojson(0).length).toBeGreaterThan(UPLOAD_PART_BYTES);
    expect(largeGeojson(0).length).toBeLessThan(UPLOAD_PART_BYTES * 1.5);
    expect(goodGeojson(1).toString()).toContain(FILE_CANARY);
    const demo = await demoGeojson();
    expect([...demo.good.keys()]).toEqual(GOOD_GEOJSON_KEYS);
    expect(demo.broken.get('broken/empty.geojson')).toHaveLength(0);
  });

  it('keep keys within S3\'s limits and s3rver\'s file names, the overlong one just past them once stats.json is added', () => {
    expect(Buffer.byteLength(COMMAND_OVERLONG_KEY)).toBe(1015);
    expect(Buffer.byteLength(`${COMMAND_OVERLONG_KEY}/${STATS_FILE}`)).toBe(1026);
    expect(Buffer.byteLength(COMMAND_CJK_KEY)).toBe(920);
    expect(encodeURIComponent(COMMAND_CJK_KEY).length).toBeGreaterThan(2048);
    for (const key of [COMMAND_OVERLONG_KEY, COMMAND_CJK_KEY, SHELL_KEY]) for (const segment of key.split('/')) expect(Buffer.byteLength(segment)).toBeLessThanOrEqual(202);
  });

  it.each(COMMAND_MATRIX.map((c) => [c.id, c] as const))('%s has the outcome written down for it', async (_id, matrixCase) => {
    const { failures, outputs, log, uploaded, store, newest } = await runCase(matrixCase);
    const ownOutcomes = matrixCase.objects.filter((object) => object.expected !== undefined);
    if (ownOutcomes.length > 0) {
      expect(failures).toEqual(ownOutcomes.map((object) => expect.objectContaining({ kind: 'permanent', key: object.key, reason: object.reason })));
      const good = uploaded.filter((object) => !ownOutcomes.some((own) => own.key === object.key));
      expect(outputs).toEqual(good.map((object) => `${object.key}/${STATS_FILE}`).sort());
    } else if (matrixCase.expected === 'dlq') {
      expect(failures).toEqual([expect.objectContaining({ kind: 'permanent', reason: matrixCase.reason })]);
      for (const text of matrixCase.detailIncludes ?? []) expect(failures[0].detail).toContain(text);
      expect(failures[0].detail).not.toContain(FILE_CANARY);
      expect(outputs).toEqual([]);
    } else if (matrixCase.expected === 'skipped') {
      expect(failures).toEqual([]);
      expect(outputs).toEqual([]);
      expect(log.messages('skipped')).toHaveLength(1);
    } else {
      expect(failures).toEqual([]);
      expect(outputs).toEqual(uploaded.map((object) => `${object.key}/${STATS_FILE}`).sort());
      for (const object of uploaded) {
        const stats = store.object('destination', `${object.key}/${STATS_FILE}`)!;
        expect(stats.metadata[OUTPUT_METADATA.sourceEtag]).toBe(object.etag);
        const bytes = newest ?? (await matrixCase.objects.find((o) => o.key === object.key)!.bytes());
        expect((JSON.parse(stats.body.toString()) as { featureCount: number }).featureCount).toBe(featureCountOf(bytes));
      }
      if (matrixCase.id === 'key-cjk-920-bytes') expect(Object.keys(store.object('destination', `${COMMAND_CJK_KEY}/${STATS_FILE}`)!.metadata)).toContain(OUTPUT_METADATA.sourceKeyBase64);
    }
    // Whatever happened, the job's private directories are gone.
    expect(readdirSync(join(dir, 'work')).flatMap((processDir) => readdirSync(join(dir, 'work', processDir)))).toEqual([]);
  }, 30_000);

  it('a large input leaves its copy too, byte for byte', async () => {
    const bytes = largeGeojson(7);
    const { failures, outputs, store } = await runCase({ id: 'large', title: '', objects: [{ key: 'large/big.geojson', bytes: async () => bytes }], delivery: { kind: 'event' }, expected: 'processed', why: '' });
    expect(failures).toEqual([]);
    expect(outputs).toEqual([`large/big.geojson/${COPY_FILE}`, `large/big.geojson/${STATS_FILE}`]);
    expect(store.object('destination', `large/big.geojson/${COPY_FILE}`)!.body.equals(bytes)).toBe(true);
  }, 30_000);

  it('is the table README-chaos.md shows', () => {
    const readme = readFileSync(join(__dirname, '..', 'README-chaos.md'), 'utf8');
    expect(readme).toContain(commandMatrixTable());
    expect(existsSync(join(dir, 'work'))).toBe(true);
  });
});
