import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { outputKey } from '../../jobs/resize/resize-output-key';
import { startStrictS3Front } from '../../../local/src/strict-s3-front';
import { localWorkerStatements } from '../../../local/src/worker-policy';
import { loadRun, startHarness, startWorker as startHarnessWorker, type Harness, type LoadedRun } from './worker-harness';

/**
 * The real worker process (the esbuild bundle the container runs) against a real S3-protocol server on 127.0.0.1
 * and the local queue: the whole production code path except AWS itself.
 */
const SIZES = ['224x224', '299x299'];

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness('worker-it-');
}, 60_000);

afterAll(async () => harness?.close());

interface Loaded {
  readonly key: string;
  readonly good: boolean;
}

async function setupRun(name: string, inputs: readonly { key: string; body: Buffer; good: boolean }[]) {
  const run = await loadRun(harness, name, inputs);
  return { ...run, loaded: inputs.map(({ key, good }): Loaded => ({ key, good })) };
}

function startWorker(run: LoadedRun, extraEnv: Record<string, string> = {}) {
  return startHarnessWorker(harness, run, extraEnv);
}

async function destKeys(dest: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await harness.s3.send(new ListObjectsV2Command({ Bucket: dest, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys.sort();
}

const expectedOutputs = (key: string) =>
  SIZES.map((size) => outputKey({ destPrefix: '', sourcePrefix: '', sourceKey: key, outputName: size, extension: '.jpg' }));

const GOOD_KEYS = Array.from({ length: 50 }, (_, i) => {
  const names = [`plain-${i}.jpg`, `with space ${i}.jpg`, `plus+sign+${i}.png`, `ünïcödé/写真-${i}.jpg`, `deep/a/b/c/${i}.JPG`];
  return names[i % names.length]!;
});

async function image(i: number, width = 320, height = 240): Promise<Buffer> {
  const base = sharp({ create: { width, height, channels: 3, background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 } } })
    .composite([{ input: { create: { width: Math.floor(width / 2), height: Math.floor(height / 2), channels: 3, background: { r: 255, g: 255, b: 255 } } } }]);
  return i % 5 === 2 ? base.png().toBuffer() : base.jpeg().toBuffer();
}

async function brokenInputs(): Promise<{ key: string; body: Buffer; good: boolean }[]> {
  const jpeg = await image(1);
  const png = await sharp({ create: { width: 64, height: 64, channels: 4, background: '#00ff0080' } }).png().toBuffer();
  return [
    { key: 'broken/truncated.jpg', body: jpeg.subarray(0, Math.floor(jpeg.length / 3)), good: false },
    { key: 'broken/truncated.png', body: png.subarray(0, Math.floor(png.length / 2)), good: false },
    { key: 'broken/empty.jpg', body: Buffer.alloc(0), good: false },
    { key: 'broken/text.jpg', body: Buffer.from('this is not an image at all\n'), good: false },
    { key: 'broken/garbage.png', body: Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919) % 256)), good: false },
  ];
}

describe('the worker process against s3rver and the local queue', () => {
  it('processes 50 images with awkward keys, dead-letters the 5 broken inputs and exits 0 once drained', async () => {
    const goods = await Promise.all(GOOD_KEYS.map(async (key, i) => ({ key, body: await image(i), good: true })));
    const run = await setupRun('drain', [...goods, ...(await brokenInputs())]);
    const { dest, queue, loaded } = run;
    const worker = startWorker(run);
    const code = await worker.exited;
    expect({ code, stderr: code === 0 ? '' : worker.stderr() }).toEqual({ code: 0, stderr: '' });

    const expected = loaded.filter((input) => input.good).flatMap((input) => expectedOutputs(input.key)).sort();
    expect(await destKeys(dest)).toEqual(expected);
    const sample = await harness.s3.send(new GetObjectCommand({ Bucket: dest, Key: expectedOutputs(GOOD_KEYS[3]!)[1] }));
    const info = await sharp(Buffer.from(await sample.Body!.transformToByteArray())).metadata();
    expect({ width: info.width, height: info.height, format: info.format }).toEqual({ width: 299, height: 299, format: 'jpeg' });
    const head = await harness.s3.send(new HeadObjectCommand({ Bucket: dest, Key: expectedOutputs(GOOD_KEYS[3]!)[0] }));
    expect(decodeURIComponent(head.Metadata?.['source-key'] ?? '')).toBe(GOOD_KEYS[3]);

    const dead = await queue.peekDeadLetters(100);
    const deadKeys = dead.map((letter) => JSON.parse(letter.body).Records[0].s3.object.key as string).map((key) => decodeURIComponent(key.replace(/\+/g, ' ')));
    expect(deadKeys.sort()).toEqual(loaded.filter((input) => !input.good).map((input) => input.key).sort());
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });

    const failed = worker.lines.filter((line) => line.message === 'failed');
    for (const input of loaded.filter((entry) => !entry.good)) {
      expect(failed.find((line) => line.key === input.key)).toMatchObject({ kind: 'permanent', reason: expect.any(String) });
    }
    expect(worker.lines.find((line) => line.message === 'worker exiting')).toMatchObject({ reason: 'drained' });
    await queue.close();
  }, 120_000);

  it('on SIGTERM mid-run exits 0, hands unfinished messages back at once and loses nothing', async () => {
    const inputs = await Promise.all(Array.from({ length: 40 }, async (_, i) => ({ key: `slow/${i}.jpg`, body: await image(i, 2400, 1800), good: true })));
    const run = await setupRun('sigterm', inputs);
    const { dest, queue } = run;
    const worker = startWorker(run, { CONCURRENCY: '2', SHUTDOWN_GRACE_SECONDS: '20' });
    await worker.logged('processed');
    worker.child.kill('SIGTERM');
    const code = await worker.exited;
    expect({ code, stderr: code === 0 ? '' : worker.stderr() }).toEqual({ code: 0, stderr: '' });

    const depth = await queue.depth();
    expect(depth.inFlight).toBe(0);
    const processed = worker.lines.filter((line) => line.message === 'processed').map((line) => line.key as string);
    expect(processed.length).toBeGreaterThan(0);
    expect(processed.length + depth.visible).toBe(inputs.length);
    expect(await destKeys(dest)).toEqual(processed.flatMap(expectedOutputs).sort());
    expect(await queue.dlqDepth()).toBe(0);
    await queue.close();
  }, 120_000);
});

describe('the worker process under the task role\'s policy, through the strict S3 front', () => {
  const SOURCE_PREFIX = 'in/';
  const DEST_PREFIX = 'out/';
  const outputsOf = (key: string) =>
    SIZES.map((size) => outputKey({ destPrefix: DEST_PREFIX, sourcePrefix: SOURCE_PREFIX, sourceKey: key, outputName: size, extension: '.jpg' }));

  /** A kept image and a deleted one, worked on as the role `withoutSourceListing` says; what the worker made of them. */
  async function runWithDeletedSource(name: string, withoutSourceListing: boolean) {
    const inputs = [{ key: 'in/kept photo+1.jpg', body: await image(1), good: true }, { key: 'in/deleted ü.jpg', body: await image(2), good: true }];
    const run = await setupRun(name, inputs);
    const { source, dest, queue } = run;
    await harness.s3.send(new DeleteObjectCommand({ Bucket: source, Key: 'in/deleted ü.jpg' }));
    const infra = localWorkerStatements({ sourceBucket: source, sourcePrefix: SOURCE_PREFIX, destBucket: dest, destPrefix: DEST_PREFIX });
    const listsSource = (statement: (typeof infra)[number]) => [statement.Action].flat().includes('s3:ListBucket') && statement.Resource === `arn:aws:s3:::${source}`;
    expect(infra.filter(listsSource)).toHaveLength(1);
    const front = await startStrictS3Front({ upstream: harness.endpoint, statements: withoutSourceListing ? infra.filter((statement) => !listsSource(statement)) : infra });
    try {
      const worker = startWorker(run, { AWS_ENDPOINT_URL: front.endpoint, SOURCE_PREFIX, DEST_PREFIX });
      const code = await worker.exited;
      expect({ code, stderr: code === 0 ? '' : worker.stderr() }).toEqual({ code: 0, stderr: '' });
      const deadLetters = await queue.peekDeadLetters(10);
      const depth = await queue.depth();
      await queue.close();
      return { worker, deadLetters, depth, outputs: await destKeys(dest) };
    } finally {
      await front.close();
    }
  }

  it('skips a source deleted before it ran (404: the infra policy lets it list the source prefix)', async () => {
    const run = await runWithDeletedSource('policy-404', false);
    expect(run.outputs).toEqual(outputsOf('in/kept photo+1.jpg').sort());
    expect(run.deadLetters).toEqual([]);
    expect(run.depth).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(run.worker.lines.find((line) => line.message === 'skipped')).toMatchObject({ key: 'in/deleted ü.jpg', reason: 'source missing' });
    expect(run.worker.lines.filter((line) => line.message === 'failed')).toEqual([]);
  }, 120_000);

  it('dead-letters it as access-denied when the role may not list the source (S3 answers 403, not 404)', async () => {
    const run = await runWithDeletedSource('policy-403', true);
    expect(run.outputs).toEqual(outputsOf('in/kept photo+1.jpg').sort());
    expect(run.deadLetters).toHaveLength(1);
    expect(run.deadLetters[0]!.attributes['failure-reasons']).toBe('access-denied');
    expect(JSON.parse(run.deadLetters[0]!.body).Records[0].s3.object.key).toBe('in/deleted+%C3%BC.jpg');
    expect(run.depth).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(run.worker.lines.find((line) => line.message === 'failed')).toMatchObject({ key: 'in/deleted ü.jpg', kind: 'permanent', reason: 'access-denied' });
    expect(run.worker.lines.filter((line) => line.message === 'skipped')).toEqual([]);
  }, 120_000);
});
