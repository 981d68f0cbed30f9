import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import sharp from 'sharp';
import { parse } from 'csv-parse/sync';
import { BROKEN_GEOJSON, GOOD_GEOJSON_KEYS } from '../../app/jobs/command/example/demo-set';
import { BROKEN_WAVS, MIN_WAV_DEMO_COUNT, writeWavDemoSet } from '../../app/jobs/fanout/example/demo-set';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { writeBatchDemoSet } from '../../app/jobs/batch/demo-records';
import { BATCH_DEMO_TABLES } from '../../app/jobs/batch/local-demo';
import { startEmbeddedDynamoDb } from '../src/embedded-dynamodb';

/**
 * `npm start -- --load <dir> --until-drained --json` as a user runs it: the bundled CLI and worker, s3rver, the local
 * queue, the scaler policy and worker processes, on 120 images and 4 broken files.
 */
const ROOT = resolve(__dirname, '../..');
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pipeline-e2e-'));
  const bundle = (entry: string, out: string) =>
    build({ entryPoints: [join(ROOT, entry)], outfile: join(dir, 'dist', out), bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['sharp', 'better-sqlite3', 'dynalite'], logLevel: 'error' });
  await Promise.all([
    bundle('local/src/cli.ts', 'local/cli.js'), bundle('app/src/main.ts', 'app/main.js'),
    bundle('app/jobs/command/example/geojson-stats.ts', 'app/jobs/command/geojson-stats.js'),
    bundle('app/jobs/fanout/example/loudness.ts', 'app/jobs/fanout/loudness.js'),
    bundle('app/jobs/fanout/example/spectrum.ts', 'app/jobs/fanout/spectrum.js'),
  ]);
  const input = join(dir, 'input');
  for (let i = 0; i < 120; i++) {
    const key = [`set ${i % 3}/photo+${i}.jpg`, `ünï/${i}.png`, `deep/a/b/${i}.jpg`][i % 3]!;
    const image = sharp({ create: { width: 320 + (i % 4) * 40, height: 240, channels: 3, background: { r: i * 2, g: 100, b: 200 - i } } });
    mkdirSync(dirname(join(input, key)), { recursive: true });
    writeFileSync(join(input, key), await (key.endsWith('.png') ? image.png() : image.jpeg()).toBuffer());
  }
  mkdirSync(join(input, 'broken'));
  writeFileSync(join(input, 'broken/empty.jpg'), Buffer.alloc(0));
  writeFileSync(join(input, 'broken/text.jpg'), 'not an image');
  writeFileSync(join(input, 'broken/garbage.png'), Buffer.from(Array.from({ length: 999 }, (_, i) => (i * 31) % 256)));
  const jpeg = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#123456' } }).jpeg().toBuffer();
  writeFileSync(join(input, 'broken/truncated.jpg'), jpeg.subarray(0, 300));
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `npm start -- start --until-drained --json <args>` as a user runs it; its JSON summary, once it exited 0. */
async function startUntilDrained(args: readonly string[], env: Record<string, string>): Promise<Record<string, unknown> & { deadLetters: unknown[]; outputsDir: string; peakWorkers: number }> {
  const child = spawn(process.execPath, [join(dir, 'dist/local/cli.js'), 'start', '--until-drained', '--json', '--port', '0', '--no-ui', '--scale-interval', '1', ...args], {
    env: { PATH: process.env.PATH, NODE_PATH: join(ROOT, 'node_modules'), NODE_NO_WARNINGS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolveExit) => child.on('exit', resolveExit));
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(stdout.trim());
}

it('loads 124 files, processes every good one, dead-letters the broken ones and returns to zero workers', async () => {
  const summary = await startUntilDrained(['--load', join(dir, 'input'), '--data-dir', join(dir, 'data'), '--max-tasks', '3', '--timeout', '150'], { CONCURRENCY: '2' });
  expect(summary).toMatchObject({ loaded: 124, done: 120, deadLettered: 4, pending: [], outputs: 240, dlqDepth: 4, workersAtEnd: 0 });
  expect(summary.peakWorkers).toBeGreaterThan(1);

  const outputs = readdirSync(join(dir, 'data/s3/destination/224x224'), { recursive: true });
  expect(outputs.length).toBeGreaterThan(0);
  // The outputs as plain files a person can open, at their keys.
  expect(summary.outputsDir).toBe(join(dir, 'data/out'));
  expect(await sharp(join(dir, 'data/out/224x224/ünï/1.jpg')).metadata()).toMatchObject({ format: 'jpeg', width: 224, height: 224 });
  const decisions = readFileSync(join(dir, 'data/decisions.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  expect(decisions.some((decision) => decision.launch > 1)).toBe(true);
}, 180_000);

it('runs the command job\'s GeoJSON demo: statistics as JSON files, every broken file in the DLQ with the program\'s reason', async () => {
  const summary = await startUntilDrained(['--job', 'command', '--data-dir', join(dir, 'command'), '--max-tasks', '2', '--timeout', '120'], { WORK_DIR: join(dir, 'work') });
  const total = GOOD_GEOJSON_KEYS.length + BROKEN_GEOJSON.length;
  expect(summary).toMatchObject({ job: 'command', loaded: total, done: GOOD_GEOJSON_KEYS.length, deadLettered: BROKEN_GEOJSON.length, pending: [], workersAtEnd: 0 });
  for (const broken of BROKEN_GEOJSON) {
    expect(summary.deadLetters).toContainEqual({ key: broken.key, reason: 'command-failed', why: expect.stringContaining(broken.reason) });
  }
  for (const key of GOOD_GEOJSON_KEYS) {
    const stats = JSON.parse(readFileSync(join(dir, 'command/out', key, 'stats.json'), 'utf8'));
    expect(stats.featureCount).toEqual(expect.any(Number));
  }
  // Every message's private directory is gone once the run is over.
  expect(readdirSync(join(dir, 'work'), { recursive: true })).toEqual([]);
}, 150_000);

it('runs a manifest fan-out as four pipelines: both families over every file, one aggregation, a summary to open', async () => {
  const input = join(dir, 'fanout-input');
  const set = await writeWavDemoSet(input, { count: MIN_WAV_DEMO_COUNT });
  mkdirSync(join(input, 'manifests/e2e'), { recursive: true });
  writeFileSync(join(input, 'manifests/e2e/manifest.json'), JSON.stringify({ runId: 'e2e', keys: set.keys }));
  const data = join(dir, 'fanout');
  const summary = await startUntilDrained(['--job', 'fanout', '--load', input, '--data-dir', data, '--max-tasks', '2', '--timeout', '240'], { BATCH_SIZE: '4', WORK_DIR: join(dir, 'fanout-work') });
  expect(summary).toMatchObject({ job: 'fanout', loaded: 1, done: 1, pending: [], dlqDepth: 0, workersAtEnd: 0 });
  const batches = Math.ceil(set.keys.length / 4);
  expect(summary.runs).toEqual([expect.objectContaining({
    runId: 'e2e', files: set.keys.length, batches, aggregated: true,
    families: [{ family: 'loudness', dispatched: batches, done: batches, failed: 0 }, { family: 'spectrum', dispatched: batches, done: batches, failed: 0 }],
  })]);
  const rows = parse(readFileSync(join(data, 'out/runs/e2e/summary.csv')), { columns: true }) as Record<string, string>[];
  expect(rows.map((row) => row.key)).toEqual(set.keys);
  for (const row of rows) {
    const broken = BROKEN_WAVS.find((file) => file.key === row.key);
    expect(row['loudness.status']).toBe(broken === undefined ? 'done' : 'failed');
    expect(row['spectrum.status']).toBe(broken === undefined ? 'done' : 'failed');
    if (broken !== undefined) expect(row['loudness.reason']).toContain(broken.reason);
  }
  // The aggregator ran once, in one of its workers, whatever else happened.
  const aggregatorLogs = readdirSync(join(data, 'logs/summary')).map((name) => readFileSync(join(data, 'logs/summary', name), 'utf8')).join('\n');
  expect(aggregatorLogs.split('\n').filter((line) => line.includes('"message":"aggregated"'))).toHaveLength(1);
}, 300_000);

it('scores recordings that discovery found in batches: one result per record, each broken or missing input dead-lettered alone', async () => {
  const input = join(dir, 'batch-input');
  const records = await writeBatchDemoSet(join(input, 'recordings/2026-12-01'), { count: 60, seed: 5 });
  const broken = records.filter((record) => record.expected === 'broken');
  const data = join(dir, 'batch');
  const summary = await startUntilDrained(['--job', 'batch', '--load', input, '--data-dir', data, '--max-tasks', '2', '--timeout', '180'], { BATCH_SIZE: '16' });
  // The 60 files' records and one whose file was never uploaded.
  expect(summary).toMatchObject({ job: 'batch', loaded: 61, done: 60 - broken.length, deadLettered: broken.length + 1, pending: [], workersAtEnd: 0 });
  const dead = (summary.deadLetters as { key: string; reason: string }[]).map((line) => `${/record (\S+)\)/.exec(line.key)?.[1]}:${line.reason}`).sort();
  expect(dead).toEqual([...broken.map((record) => `${record.id}:undecodable-audio`), 'rec-missing-input:input-missing'].sort());

  const db = await startEmbeddedDynamoDb(join(data, 'dynamodb'));
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: db.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } }));
  try {
    const items = (await client.send(new ScanCommand({ TableName: BATCH_DEMO_TABLES.results }))).Items ?? [];
    expect(items.map((item) => item.id).sort()).toEqual(records.filter((record) => record.expected !== 'broken').map((record) => record.id).sort());
    // The shipped model tells the demo's anomalous recordings from its normal ones.
    const flagged = new Set(items.filter((item) => (item.details as { anomalous?: string }).anomalous === 'yes').map((item) => item.id));
    const agreeing = records.filter((record) => record.expected !== 'broken' && flagged.has(record.id) === (record.expected === 'anomalous'));
    expect(agreeing.length / items.length).toBeGreaterThanOrEqual(0.95);
  } finally {
    client.destroy();
    await db.close();
  }
}, 240_000);

it('splits the archive demo: each export into batch ZIPs beside it that unzip -t accepts, one callback per upload, the two non-exports dead-lettered', async () => {
  const data = join(dir, 'archive-split');
  const summary = await startUntilDrained(['--job', 'archive-split', '--data-dir', data, '--max-tasks', '2', '--timeout', '240'], {});
  expect(summary).toMatchObject({ job: 'archive-split', loaded: 4, done: 2, deadLettered: 2, pending: [], workersAtEnd: 0 });
  expect((summary.deadLetters as { key: string; reason: string }[]).map((line) => `${line.key}:${line.reason}`).sort())
    .toEqual(['archives/no-manifest.zip:manifest-missing', 'archives/not-an-archive.zip:not-an-archive']);

  const closing = summary.closingLines as string[];
  expect(closing.filter((line) => line.includes(': success: ')).sort()).toEqual([
    expect.stringMatching(/^ {2}archives\/citizen-export-2026-11\.tar\.gz: success: 2 batch ZIPs, 900 rows \(of 900\), 899 images; problems: 1 missing-file/),
    expect.stringMatching(/^ {2}archives\/citizen-export-2026-12\.zip: success: 9 batch ZIPs, 4500 rows \(of 4500\), 4493 images; problems: 6 missing-file, 1 unsafe-path/),
  ]);
  expect(closing.filter((line) => line.includes(': failure: '))).toHaveLength(2);
  expect(closing).toContain(`batch ZIPs: 11 in ${join(summary.outputsDir, 'batch')}/, every one passes unzip -t`);

  // A batch ZIP as a newcomer opens it: its manifest's rows name exactly the images it holds, bar the missing ones.
  const part = join(summary.outputsDir, 'batch', 'citizen-export-2026-12-part2.zip');
  const { execFileSync } = await import('node:child_process');
  const names = execFileSync('unzip', ['-Z1', part], { encoding: 'utf8' }).trim().split('\n');
  const rows = parse(execFileSync('unzip', ['-p', part, 'manifest.csv']), { columns: true }) as { image: string }[];
  const problems = parse(execFileSync('unzip', ['-p', part, 'problems.csv']), { columns: true }) as { kind: string; image: string }[];
  expect(rows).toHaveLength(500);
  const missing = new Set(problems.filter((problem) => problem.kind === 'missing-file').map((problem) => problem.image));
  expect(missing.size).toBe(1);
  expect(names.sort()).toEqual(['manifest.csv', 'problems.csv', ...rows.map((row) => row.image).filter((image) => !missing.has(image))].sort());
}, 300_000);
