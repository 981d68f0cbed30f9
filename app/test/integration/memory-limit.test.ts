import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import sharp from 'sharp';
import S3rver from 's3rver';
import { createMemoryCgroup, type MemoryCgroup } from '../../../test/support/memory-cgroup';
import { buildS3Event } from '../../src/events/s3-event-shape';
import { LocalQueue } from '../../src/queue/local-queue';

/**
 * The real worker bundle under a real memory limit (a memory cgroup: the kernel SIGKILLs past it, as Fargate does),
 * on valid images that are small on disk but decode whole: 16-bit RGBA interlaced PNGs. The limit is smaller than
 * the default task's 4 GiB so the inputs stay quick to make; the mechanism (budget from the cgroup, admission by the
 * header's estimate) is the same at any size. The control run without a budget shows the inputs really kill.
 */
const ROOT = resolve(__dirname, '../../..');
const LIMIT_BYTES = 768 * 1024 * 1024;
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

let dir: string;
let bundlePath: string;
let server: S3rver;
let endpoint: string;
let s3: S3Client;
let heavy: Buffer;
let tooHeavyAlone: Buffer;
const cgroups: MemoryCgroup[] = [];

/** Solid colour compresses to almost nothing; decoding still needs width x height x 4 bands x 2 bytes. */
const heavyPng = (side: number) =>
  sharp({ create: { width: side, height: side, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } }).toColourspace('rgb16').png({ progressive: true }).toBuffer();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'worker-mem-'));
  bundlePath = join(dir, 'main.js');
  await build({
    entryPoints: [join(ROOT, 'app/src/main.ts')], outfile: bundlePath, bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    external: ['sharp', 'better-sqlite3'], logLevel: 'error',
  });
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(dir, 's3') });
  const address = (await server.run()) as { port: number };
  endpoint = `http://127.0.0.1:${address.port}`;
  s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
  // 5000x5000 decodes to 190 MiB; 7000x7000 to 374 MiB, which no 768 MiB task can hold beside itself.
  [heavy, tooHeavyAlone] = await Promise.all([heavyPng(5000), heavyPng(7000)]);
}, 120_000);

afterAll(async () => {
  for (const cgroup of cgroups) cgroup.remove();
  s3?.destroy();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function runUnderLimit(name: string, inputs: readonly { key: string; body: Buffer }[], env: Record<string, string>) {
  const source = `${name}-src`;
  const dest = `${name}-dest`;
  await s3.send(new CreateBucketCommand({ Bucket: source }));
  await s3.send(new CreateBucketCommand({ Bucket: dest }));
  const queuePath = join(dir, `${name}.db`);
  const queue = LocalQueue.open(queuePath, { create: { visibilityTimeoutSeconds: 30, maxReceiveCount: 2 } });
  for (const input of inputs) {
    const put = await s3.send(new PutObjectCommand({ Bucket: source, Key: input.key, Body: input.body }));
    await queue.send(buildS3Event([{ bucket: source, key: input.key, size: input.body.length, etag: put.ETag ?? '' }]));
  }
  const cgroup = createMemoryCgroup(name, LIMIT_BYTES);
  cgroups.push(cgroup);
  const { command, args } = cgroup.wrap(process.execPath, [bundlePath]);
  const child = spawn(command, args, {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), QUEUE_URL: queuePath, DEST_BUCKET: dest, ALLOWED_SOURCE_BUCKETS: source,
      SIZES: '224x224,299x299', WAIT_SECONDS: '1', IDLE_POLLS: '1', CONCURRENCY: '4', VISIBILITY_TIMEOUT_SECONDS: '30', MALLOC_ARENA_MAX: '2',
      AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  const lines = output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  const outputsOf = async (key: string) =>
    (await Promise.all(['224x224', '299x299'].map((size) => s3.send(new HeadObjectCommand({ Bucket: dest, Key: `${size}/${key.replace(/\.png$/, '.jpg')}` })).then(() => 1, () => 0)))).reduce((a: number, b: number) => a + b, 0);
  const result = { exitCode, lines, deadLetters: await queue.peekDeadLetters(100), oomKills: cgroup.oomKills(), peakBytes: cgroup.peakBytes(), outputsOf };
  queue.close();
  return result;
}

describe('the worker under a real memory limit', () => {
  it('processes decode-heavy images four at a time without being killed, and refuses the one that cannot fit alone', async () => {
    const inputs = [1, 2, 3, 4].map((n) => ({ key: `heavy-${n}.png`, body: heavy }));
    const run = await runUnderLimit('budget', [...inputs, { key: 'too-heavy.png', body: tooHeavyAlone }], {});

    expect(run.oomKills).toBe(0);
    expect(run.exitCode).toBe(0);
    expect(run.peakBytes).toBeLessThan(LIMIT_BYTES);
    const started = run.lines.find((line) => line.message === 'worker started');
    expect(started?.memoryBudgetMiB).toBe(Math.floor(768 * 0.7) - 128);
    for (const input of inputs) expect(await run.outputsOf(input.key)).toBe(2);
    expect(run.deadLetters).toHaveLength(1);
    expect(run.deadLetters[0]!.attributes['failure-reasons']).toBe('decode-memory-exceeded');
    expect(run.deadLetters[0]!.body).toContain('too-heavy.png');
    const failed = run.lines.find((line) => line.message === 'failed');
    expect(failed).toMatchObject({ reason: 'decode-memory-exceeded', kind: 'permanent', key: 'too-heavy.png' });
    expect(String(failed?.detail)).toMatch(/needs about \d+ MiB to decode, more than this task's decode budget of 409 MiB/);
  }, 180_000);

  it('control: with the budget lifted, the same images get the worker killed by the kernel', async () => {
    const inputs = [1, 2, 3, 4].map((n) => ({ key: `heavy-${n}.png`, body: heavy }));
    const run = await runUnderLimit('no-budget', inputs, { MEMORY_BUDGET_MIB: '100000' });
    expect(run.oomKills).toBeGreaterThan(0);
    // The supervisor survives its child's kill and exits as a killed process would, saying why.
    expect(run.exitCode).toBe(137);
    expect(run.lines.some((line) => line.message === 'worker process killed' && line.signal === 'SIGKILL')).toBe(true);
  }, 180_000);
});
