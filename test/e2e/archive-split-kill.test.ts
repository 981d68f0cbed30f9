import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { archiveSplitTaskPolicyStatements } from '../../infra/src/policies/archive-split-task-policy';
import { startStrictS3Front, type Refusal, type StrictS3Front } from '../../local/src/strict-s3-front';
import { LocalQueue } from '../../shared/queue/local-queue';
import { yazlZip } from '../../app/jobs/archive-split/test/zip-builders';
import { startHarness, startWorker, type Harness, type LoadedRun, type RunningWorker } from '../../app/test/integration/worker-harness';

/**
 * Redelivery after a kill -9 mid-upload, with the worker the container runs (the esbuild bundle, supervisor and
 * worker processes) as the archive-split task role, through the strict S3 front to s3rver, fed from a local queue file
 * and answering on another. A split killed while a batch ZIP's multipart upload is in flight comes back once its
 * visibility runs out; the next worker keeps the parts already finished and builds the rest.
 */

const BUCKET = 'exports';
const ARCHIVE_PREFIX = 'exports/';
const OUTPUT_PREFIX = 'batch/';
const STEM = 'kill';
/**
 * Rows per batch ZIP, and photos of 1 MiB: each batch ZIP is ~9 MiB, just over one 8 MiB part, so it is a real
 * multipart upload (lib-storage PUTs a body that fits one part whole) and the archive stays under 30 MB.
 */
const BATCH = 9;
const ROWS = 27;
const PHOTO_BYTES = 1024 * 1024;
const PARTS = ROWS / BATCH;
const VISIBILITY_SECONDS = 10;

let harness: Harness;
let front: StrictS3Front;
const refusals: Refusal[] = [];
const started: RunningWorker[] = [];

beforeAll(async () => {
  harness = await startHarness('archive-split-kill-');
  await harness.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  // The role exactly as the stack writes it for this pipeline (local/src/worker-policy.ts is for object jobs).
  const statements = archiveSplitTaskPolicyStatements({
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:archive-split',
    deadLetterQueueArn: 'arn:aws:sqs:us-east-1:000000000000:archive-split-dlq',
    sourceBucketArn: `arn:aws:s3:::${BUCKET}`,
    archivePrefix: ARCHIVE_PREFIX,
    extraBucketArns: [],
    exportPrefixes: [],
    outputPrefix: OUTPUT_PREFIX,
    callbackQueueArns: ['arn:aws:sqs:us-east-1:000000000000:archive-split-updates'],
  });
  front = await startStrictS3Front({ upstream: harness.endpoint, statements, onRefused: (refusal) => refusals.push(refusal) });
}, 60_000);

afterAll(async () => {
  // Whatever an assertion left running is ended here, by the ids this test started.
  for (const worker of started) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  await front?.close();
  await harness?.close();
});

interface Export {
  readonly bytes: Buffer;
  /** The images each batch ZIP must hold, by part. */
  readonly imagesByPart: string[][];
}

/** A manifest and ROWS photos of random (incompressible) bytes, stored: the ZIP is read in place by ranged GETs. */
async function exportZip(): Promise<Export> {
  const images = Array.from({ length: ROWS }, (_, i) => `photos/${String(i + 1).padStart(3, '0')}.jpg`);
  const manifest = `image,label\n${images.map((image, i) => `${image},bird ${i + 1}`).join('\n')}\n`;
  const bytes = await yazlZip([{ name: 'manifest.csv', content: Buffer.from(manifest), compress: true }, ...images.map((name) => ({ name, content: randomBytes(PHOTO_BYTES) }))]);
  const imagesByPart = Array.from({ length: PARTS }, (_, part) => images.slice(part * BATCH, (part + 1) * BATCH));
  return { bytes, imagesByPart };
}

const partKey = (part: number) => `${OUTPUT_PREFIX}${STEM}-part${part}.zip`;

/** s3rver's multipart uploads in progress (its own directory layout): the keys being uploaded right now. */
function uploadsInFlight(): string[] {
  const uploads = join(harness.dir, 's3', BUCKET, '._S3rver_uploads');
  if (!existsSync(uploads)) return [];
  return readdirSync(uploads).flatMap((id) => {
    try {
      return [readFileSync(join(uploads, id, 'key'), 'utf8')];
    } catch {
      // Initiated a moment ago (key not written yet) or completed meanwhile: not yet, or no longer, in flight.
      return [];
    }
  });
}

async function head(key: string): Promise<HeadObjectCommandOutput | undefined> {
  return harness.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).catch((error: { name?: string }) => {
    if (error.name === 'NotFound') return undefined;
    throw error;
  });
}

/** Resolves once `check` holds, polling every `everyMs`; rejects after `timeoutMs` naming what was waited for. */
async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, everyMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, everyMs));
  }
}

function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    // A zombie (killed, not yet reaped) is gone too: its directory may be swept.
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') === true;
  } catch {
    return true;
  }
}

/** Every file under a directory, at any depth. */
function filesUnder(path: string): string[] {
  return readdirSync(path, { recursive: true, withFileTypes: true }).filter((entry) => !entry.isDirectory()).map((entry) => join(entry.parentPath, entry.name));
}

describe('the archive-split worker process', () => {
  it('redelivery after a kill -9 mid-upload: finished parts kept, the rest built, one callback, nothing left over', async () => {
    const { bytes, imagesByPart } = await exportZip();
    await harness.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${ARCHIVE_PREFIX}${STEM}.zip`, Body: bytes }));
    const workQueuePath = join(harness.dir, 'archive-split.db');
    const updatesPath = join(harness.dir, 'archive-split-updates.db');
    const work = LocalQueue.open(workQueuePath, { create: { visibilityTimeoutSeconds: VISIBILITY_SECONDS, maxReceiveCount: 5 } });
    const updates = LocalQueue.open(updatesPath, { create: { visibilityTimeoutSeconds: 30, maxReceiveCount: 5 } });
    await work.send(JSON.stringify({ downloadId: 'dl-kill', file: `${STEM}.zip`, exportPath: ARCHIVE_PREFIX, totalSize: bytes.length, updatesQueueUrl: updatesPath, s3Bucket: BUCKET }));
    const workDir = join(harness.dir, 'work');
    mkdirSync(workDir);
    const run: LoadedRun = { source: BUCKET, dest: BUCKET, queue: work, queuePath: workQueuePath };
    const env = {
      JOB: 'archive-split', AWS_ENDPOINT_URL: front.endpoint, CONCURRENCY: '1', BATCH_SIZE: String(BATCH), OUTPUT_PREFIX, ALLOWED_BUCKETS: BUCKET,
      ALLOWED_CALLBACK_QUEUES: updatesPath, WORK_DIR: workDir, VISIBILITY_TIMEOUT_SECONDS: String(VISIBILITY_SECONDS), IDLE_POLLS: '2', WAIT_SECONDS: '1',
    };

    // The first worker: killed once part 1 is whole and part 2's multipart upload has begun.
    const first = startWorker(harness, run, env);
    started.push(first);
    const workerPid = Number((await first.logged('worker started')).pid);
    const part1Line = await first.logged('batch uploaded');
    expect(part1Line).toMatchObject({ key: partKey(1), part: 1 });
    await until(`a multipart upload of ${partKey(2)} in flight`, () => {
      if (first.lines.some((line) => line.message === 'batch uploaded' && line.part === 2)) throw new Error('part 2 finished before it could be seen in flight: make the batches larger');
      return uploadsInFlight().includes(partKey(2));
    }, 20_000);
    // kill -9 of the worker and of its supervisor: the task dying as a whole, with nothing handed back.
    process.kill(workerPid, 'SIGKILL');
    first.child.kill('SIGKILL');
    await first.exited;
    await until('the killed worker process to be gone', () => processIsGone(workerPid), 5000, 20);

    // Killed mid-upload indeed: part 2 was begun and never completed.
    expect(await head(partKey(2))).toBeUndefined();
    expect(uploadsInFlight()).toContain(partKey(2));
    const part1Before = (await head(partKey(1)))!;
    expect(part1Before.Metadata?.['split-fingerprint']).toMatch(/^[0-9a-f]{64}$/);
    // The killed worker's message directory is still on disk: the next worker must sweep it.
    expect(readdirSync(workDir).filter((name) => name.startsWith(`${workerPid}-`))).toHaveLength(1);
    expect(await updates.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });

    // Back on the queue once its visibility (last extended by the dead worker's heartbeat) runs out.
    await until('the killed worker\'s message to be visible again', async () => (await work.depth()).visible === 1, VISIBILITY_SECONDS * 1000 + 5000, 200);

    const second = startWorker(harness, run, env);
    started.push(second);
    const code = await second.exited;
    expect({ code, stderr: code === 0 ? '' : second.stderr() }).toEqual({ code: 0, stderr: '' });

    // Part 1 is the very object the first worker wrote; the second built only what was missing.
    const part1After = (await head(partKey(1)))!;
    expect({ etag: part1After.ETag, modified: part1After.LastModified?.getTime() }).toEqual({ etag: part1Before.ETag, modified: part1Before.LastModified?.getTime() });
    expect(second.lines.filter((line) => line.message === 'parts kept')).toEqual([expect.objectContaining({ kept: 1, toBuild: PARTS - 1 })]);
    expect(second.lines.filter((line) => line.message === 'batch uploaded').map((line) => line.part)).toEqual([2, 3]);
    expect(second.lines.find((line) => line.message === 'archive split')).toMatchObject({ parts: PARTS, built: PARTS - 1, kept: 1 });

    // Every batch ZIP as a user's unzip sees it: whole (CRCs checked), with exactly its rows' images.
    for (let part = 1; part <= PARTS; part++) {
      const object = await harness.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: partKey(part) }));
      const path = join(harness.dir, `part${part}.zip`);
      writeFileSync(path, Buffer.from(await object.Body!.transformToByteArray()));
      expect(execFileSync('unzip', ['-t', path], { encoding: 'utf8' })).toMatch(/No errors detected/);
      const names = execFileSync('unzip', ['-Z1', path], { encoding: 'utf8' }).trim().split('\n');
      expect(names.sort()).toEqual(['manifest.csv', 'problems.csv', ...imagesByPart[part - 1]!].sort());
    }

    // Exactly one success callback: the kill came before any was sent (only one between the send and its marker could
    // make two, with one deduplication id; archive-split-job.test.ts covers that).
    const callbacks = (await updates.receive({ maxMessages: 10, waitSeconds: 0 })).map((message) => JSON.parse(message.body) as Record<string, unknown>);
    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]).toMatchObject({
      downloadId: 'dl-kill', status: 'success', batchFiles: [1, 2, 3].map(partKey), rows: ROWS, images: ROWS, problemCount: 0,
    });
    expect(await work.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await work.dlqDepth()).toBe(0);
    // The dead worker's directory was swept, and the second left nothing of its own.
    expect(readdirSync(workDir).filter((name) => name.startsWith(`${workerPid}-`))).toEqual([]);
    expect(filesUnder(workDir)).toEqual([]);
    expect(refusals).toEqual([]);
    await work.close();
    await updates.close();
  }, 90_000);
});

