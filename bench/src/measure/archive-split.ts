import { execFile, spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { pack } from 'tar-stream';
import { ZipFile } from 'yazl';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { createMemoryCgroup, DEFAULT_CGROUP_MEMORY_ROOT, type MemoryCgroup } from '../../../local/src/memory-cgroup';
import { seededRandom } from '../inputs/photo-like-images';
import type {
  ArchiveCallbackSummary,
  ArchiveFormat,
  ArchivePassLine,
  ArchiveSplitRun,
  BatchSpotCheck,
  CgroupOutcome,
  RawReadMeasurement,
} from '../report/archive-report';
import { ProcessSampler } from './process-sampler';
import { elapsedSeconds } from './run-pool';
import { LOCAL_S3_CREDENTIALS, SOURCE_BUCKET } from './s3-stack';
import { tailCollector } from './worker-end-to-end';

const run = promisify(execFile);

/**
 * The archive-split job's bench part: a generated export (a manifest and tens of thousands of incompressible
 * "photos") as a ZIP and a TAR.GZ, stored in s3rver on 127.0.0.1; the raw read rate of that object through the same
 * endpoint; then one real worker process (the bundled dist/app/main.js, JOB=archive-split) splitting it into batch ZIPs,
 * inside a memory cgroup of the archive-split task's size when the bench may create one, its process tree's RSS sampled
 * either way.
 */

// ---------------------------------------------------------------------------------------------------------------------
// The export: generated once, cached in the input directory.

export interface ArchiveExportSpec {
  /** Image bytes to reach (the archive is that plus its headers and manifest). */
  readonly targetBytes: number;
  readonly seed: number;
  /** Each image's size is drawn uniformly from this range. */
  readonly minImageBytes: number;
  readonly maxImageBytes: number;
  /** Also write the TAR.GZ of the same content. */
  readonly tarGz: boolean;
}

export interface ArchiveFile {
  readonly format: ArchiveFormat;
  readonly path: string;
  /** The object key it is stored under in s3rver (a request names its folder and file). */
  readonly exportPath: string;
  readonly fileName: string;
  readonly bytes: number;
}

export interface ArchiveExportSet {
  readonly dir: string;
  readonly images: number;
  readonly imageBytes: number;
  /** Manifest rows: one per image. */
  readonly rows: number;
  readonly archives: readonly ArchiveFile[];
  /** Seconds the generation took, when this run generated it; undefined when it was cached. */
  readonly generatedSeconds: number | undefined;
  /** How the TAR.GZ orders its entries. */
  readonly tarOrder: string;
  readonly minImageBytes: number;
  readonly maxImageBytes: number;
}

/** Bumped whenever the generator changes, so a cached export is never mistaken for the new one. */
const GENERATOR_VERSION = 1;
const EXPORT_PATH = 'exports/2026';
const MANIFEST_PATH = 'export/manifest.csv';
const ENTRY_MTIME = new Date(2026, 11, 1);
/** JPEG start of image and a JFIF APP0 segment, and the end-of-image marker: the "photos" look like JPEGs to `file`. */
const JPEG_HEAD = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
const JPEG_TAIL = Buffer.from([0xff, 0xd9]);
/** Entries of the TAR are shuffled within windows this many wide: see `tarOrder`. */
const TAR_SHUFFLE_WINDOW = 5000;

interface PlannedImage {
  readonly index: number;
  readonly name: string;
  readonly size: number;
}

function plannedImages(spec: ArchiveExportSpec): PlannedImage[] {
  const random = seededRandom(spec.seed);
  const images: PlannedImage[] = [];
  let total = 0;
  for (let index = 1; total < spec.targetBytes; index++) {
    const size = Math.round(spec.minImageBytes + random() * (spec.maxImageBytes - spec.minImageBytes));
    images.push({ index, name: imagePath(index), size });
    total += size;
  }
  return images;
}

function imagePath(index: number): string {
  return `images/${String(Math.floor(index / 1000)).padStart(3, '0')}/IMG_${String(index).padStart(6, '0')}.jpg`;
}

/**
 * An image's bytes: a JPEG-like head and tail around AES-128-CTR keystream (incompressible, a few hundred MB/s on one
 * core). The counter block is the seed and the image's index, so an image has the same bytes in either archive,
 * whatever order it is written in.
 */
export function imageBytes(seed: number, index: number, size: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(seed >>> 0, 0);
  iv.writeUInt32BE(index >>> 0, 4);
  const key = Buffer.from('archive-split-bn', 'latin1');
  const body = createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(Math.max(0, size - JPEG_HEAD.length - JPEG_TAIL.length)));
  return Buffer.concat([JPEG_HEAD, body, JPEG_TAIL], size);
}

/** The export's manifest: one row per image, named relative to the manifest's folder, captions needing no quoting. */
export function manifestCsv(images: readonly PlannedImage[]): Buffer {
  const lines = ['subject_id,image,caption,observed_at'];
  for (const image of images) {
    const id = `S${String(image.index).padStart(6, '0')}`;
    lines.push(`${id},${image.name},camera trap ${image.index % 37} frame ${image.index % 11},2026-11-${String(1 + (image.index % 28)).padStart(2, '0')}T0${image.index % 10}:00:00Z`);
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

/**
 * The export as a ZIP (images stored, as cameras' JPEGs are; the manifest deflated) and, if asked, a TAR.GZ of the
 * same content (gzip level 1: random bytes do not compress anyway), written once into `inputDir` and kept. Streamed to
 * disk entry by entry: at most one image is in memory at a time.
 */
export async function ensureArchiveExport(inputDir: string, spec: ArchiveExportSpec): Promise<ArchiveExportSet> {
  // The image size range only when it is not the default, so the photos' exports keep their cached names.
  const range = spec.minImageBytes === ARCHIVE_IMAGE_BYTES.min && spec.maxImageBytes === ARCHIVE_IMAGE_BYTES.max ? '' : `-${spec.minImageBytes}to${spec.maxImageBytes}B`;
  const label = `${Math.round(spec.targetBytes / 2 ** 20)}MiB${range}-seed${spec.seed}-v${GENERATOR_VERSION}`;
  const dir = join(inputDir, `archive-split-${label}`);
  mkdirSync(dir, { recursive: true });
  const images = plannedImages(spec);
  const manifest = manifestCsv(images);
  const zipPath = join(dir, `camera-export-${label}.zip`);
  const tarPath = join(dir, `camera-export-${label}.tar.gz`);
  const startedAt = process.hrtime.bigint();
  let generated = false;
  if (!existsSync(zipPath)) {
    await writeAtomically(zipPath, (path) => writeZip(path, spec.seed, images, manifest));
    generated = true;
  }
  if (spec.tarGz && !existsSync(tarPath)) {
    await writeAtomically(tarPath, (path) => writeTarGz(path, spec.seed, images, manifest));
    generated = true;
  }
  const archive = (format: ArchiveFormat, path: string): ArchiveFile => ({
    format,
    path,
    exportPath: EXPORT_PATH,
    fileName: path.slice(path.lastIndexOf('/') + 1),
    bytes: statSync(path).size,
  });
  return {
    dir,
    images: images.length,
    imageBytes: images.reduce((sum, image) => sum + image.size, 0),
    rows: images.length,
    archives: [archive('zip', zipPath), ...(spec.tarGz ? [archive('tar.gz', tarPath)] : [])],
    generatedSeconds: generated ? elapsedSeconds(startedAt) : undefined,
    minImageBytes: spec.minImageBytes,
    maxImageBytes: spec.maxImageBytes,
    tarOrder:
      `manifest first, then the images shuffled within windows of ${TAR_SHUFFLE_WINDOW.toLocaleString('en-US')} (as an exporter ` +
      'writing files as its workers finish them), so batches straddle windows and entries arrive before their batch is open',
  };
}

async function writeAtomically(path: string, write: (path: string) => Promise<void>): Promise<void> {
  const partial = `${path}.partial`;
  rmSync(partial, { force: true });
  await write(partial);
  renameSync(partial, path);
}

async function writeZip(path: string, seed: number, images: readonly PlannedImage[], manifest: Buffer): Promise<void> {
  const zip = new ZipFile();
  const written = pipeline(zip.outputStream as Readable, createWriteStream(path));
  zip.addBuffer(manifest, MANIFEST_PATH, { mtime: ENTRY_MTIME, compress: true });
  // Lazy: yazl asks for each image's stream only when the one before it is written, so one is in memory at a time.
  for (const image of images) {
    zip.addReadStreamLazy(`export/${image.name}`, { mtime: ENTRY_MTIME, compress: false, size: image.size }, (callback) =>
      callback(null, Readable.from([imageBytes(seed, image.index, image.size)])),
    );
  }
  zip.end();
  await written;
}

async function writeTarGz(path: string, seed: number, images: readonly PlannedImage[], manifest: Buffer): Promise<void> {
  const tar = pack();
  const written = pipeline(tar, createGzip({ level: 1 }), createWriteStream(path));
  // The entry's callback comes once the pack has taken its bytes, after any backpressure from gzip and the file.
  const add = (name: string, bytes: Buffer) =>
    new Promise<void>((resolve, reject) => tar.entry({ name, size: bytes.length, mtime: ENTRY_MTIME }, bytes, (error) => (error ? reject(error) : resolve())));
  await add(MANIFEST_PATH, manifest);
  for (const image of windowShuffled(images, TAR_SHUFFLE_WINDOW, seed)) await add(`export/${image.name}`, imageBytes(seed, image.index, image.size));
  tar.finalize();
  await written;
}

/** Fisher-Yates within consecutive windows of `window` items, seeded. */
export function windowShuffled<T>(items: readonly T[], window: number, seed: number): T[] {
  const random = seededRandom(seed ^ 0x7a4);
  const out = [...items];
  for (let start = 0; start < out.length; start += window) {
    const end = Math.min(out.length, start + window);
    for (let i = end - 1; i > start; i--) {
      const j = start + Math.floor(random() * (i - start + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// s3rver holding the archives, and the raw read rate through it.

export interface ArchiveS3 {
  readonly endpoint: string;
  readonly client: S3Client;
  /**
   * Bytes s3rver has sent and received on all its connections so far (bodies and HTTP headers): what a client read
   * from S3 and wrote to it, counted at the server, with no proxy in the way.
   */
  traffic(): S3Traffic;
  close(): Promise<void>;
}

export interface S3Traffic {
  readonly sentBytes: number;
  readonly receivedBytes: number;
}

/** s3rver on 127.0.0.1 (in this process, as in the other parts), with the source bucket that holds archives and batch ZIPs. */
export async function startArchiveS3(directory: string): Promise<ArchiveS3> {
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, resetOnClose: true, configureBuckets: [{ name: SOURCE_BUCKET }] });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  // s3rver keeps its http.Server as `httpServer` (untyped): every connection's byte counts, kept once it closes.
  const httpServer = (server as unknown as { httpServer: Server }).httpServer;
  const open = new Set<Socket>();
  let closed = { sentBytes: 0, receivedBytes: 0 };
  httpServer.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      closed = { sentBytes: closed.sentBytes + socket.bytesWritten, receivedBytes: closed.receivedBytes + socket.bytesRead };
    });
  });
  const traffic = (): S3Traffic => {
    let { sentBytes, receivedBytes } = closed;
    for (const socket of open) {
      sentBytes += socket.bytesWritten;
      receivedBytes += socket.bytesRead;
    }
    return { sentBytes, receivedBytes };
  };
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: LOCAL_S3_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    client,
    traffic,
    close: async () => {
      client.destroy();
      await server.close();
    },
  };
}

/** One streamed PUT of the file: s3rver writes it to its directory as it arrives. */
export async function uploadArchive(s3: ArchiveS3, archive: ArchiveFile): Promise<{ key: string; etag: string; seconds: number }> {
  const key = `${archive.exportPath}/${archive.fileName}`;
  const startedAt = process.hrtime.bigint();
  const response = await s3.client.send(
    new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: createReadStream(archive.path), ContentLength: archive.bytes, ContentType: 'application/octet-stream' }),
  );
  return { key, etag: response.ETag ?? '', seconds: elapsedSeconds(startedAt) };
}

/**
 * The raw read rate: a separate Node process (as the worker is) makes one plain GetObject of the whole object with the
 * SDK, configured as the worker's S3 client is (path style, no response checksum), and discards the bytes as they
 * come. `repeats` reads one after another; the fastest is the rate. The SDK is the one next to `workerScript`.
 */
export async function measureRawRead(endpoint: string, key: string, expectedBytes: number, repeats: number, workerScript: string): Promise<RawReadMeasurement> {
  // The SDK the repository's node_modules hold, found from the worker's bundle (which sits inside the repository).
  const sdk = createRequire(workerScript).resolve('@aws-sdk/client-s3');
  const script = `
    const { S3Client, GetObjectCommand } = require(${JSON.stringify(sdk)});
    const client = new S3Client({ endpoint: ${JSON.stringify(endpoint)}, region: 'us-east-1', forcePathStyle: true,
      credentials: ${JSON.stringify(LOCAL_S3_CREDENTIALS)}, responseChecksumValidation: 'WHEN_REQUIRED' });
    (async () => {
      const startedAt = process.hrtime.bigint();
      const response = await client.send(new GetObjectCommand({ Bucket: ${JSON.stringify(SOURCE_BUCKET)}, Key: ${JSON.stringify(key)} }));
      let bytes = 0;
      for await (const chunk of response.Body) bytes += chunk.length;
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      const usage = process.cpuUsage();
      process.stdout.write(JSON.stringify({ bytes, seconds, cpuSeconds: (usage.user + usage.system) / 1e6 }));
      client.destroy();
    })().catch((error) => { console.error(String(error && error.stack || error)); process.exit(1); });`;
  const reads: { seconds: number; cpuSeconds: number }[] = [];
  for (let i = 0; i < repeats; i++) {
    const { stdout } = await run(process.execPath, ['-e', script], { maxBuffer: 1 << 20, timeout: 600_000 });
    const result = JSON.parse(stdout) as { bytes: number; seconds: number; cpuSeconds: number };
    if (result.bytes !== expectedBytes) throw new Error(`the raw read of ${key} returned ${result.bytes} bytes, not ${expectedBytes}`);
    reads.push({ seconds: result.seconds, cpuSeconds: result.cpuSeconds });
  }
  const best = Math.min(...reads.map((read) => read.seconds));
  return {
    bytes: expectedBytes,
    readSeconds: reads.map((read) => read.seconds),
    readerCpuSeconds: reads.map((read) => read.cpuSeconds),
    megabytesPerSecond: expectedBytes / 1e6 / best,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// One worker splitting one archive.

export interface ArchiveWorkerOptions {
  readonly workerScript: string;
  readonly s3: ArchiveS3;
  readonly archive: ArchiveFile;
  readonly key: string;
  readonly rows: number;
  readonly images: number;
  readonly batchSize: number;
  readonly scratch: string;
  /** The cgroup's limit and the worker's TASK_MEMORY_MIB: the archive-split task's memory. */
  readonly memoryLimitMiB: number;
  readonly diskBudgetMiB: number;
  readonly messageDeadlineSeconds: number;
  readonly rawRead: RawReadMeasurement;
  readonly timeoutSeconds: number;
  readonly label: string;
  /** Where cgroup v1's memory controller is mounted. */
  readonly cgroupRoot?: string;
  /** More worker environment, for a diagnosis (another setting's effect). */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Node options before the script, for a diagnosis (`--cpu-prof`: the supervisor passes its own to the worker). */
  readonly nodeArgs?: readonly string[];
}

const POLL_MS = 20;
const EXIT_AFTER_CALLBACK_SECONDS = 60;
const DISK_SAMPLE_MS = 500;

/**
 * Queues one split request (the original system's message form) for the archive, runs the bundled worker on it and
 * watches from outside: the work queue's visible count for the first receive, the callback queue for the answer.
 */
export async function runArchiveSplitWorker(options: ArchiveWorkerOptions): Promise<ArchiveSplitRun> {
  const { archive } = options;
  mkdirSync(options.scratch, { recursive: true });
  const queuePath = join(options.scratch, 'work.db');
  const callbackPath = join(options.scratch, 'updates.db');
  const workDir = join(options.scratch, 'work');
  mkdirSync(workDir, { recursive: true });
  const queue = LocalQueue.open(queuePath, { create: { visibilityTimeoutSeconds: 120, maxReceiveCount: 3 } });
  const callbacks = LocalQueue.open(callbackPath, { create: { visibilityTimeoutSeconds: 30, maxReceiveCount: 5 } });
  const downloadId = `bench-${archive.format}-${Date.now()}`;
  const expectedBatches = Math.ceil(options.rows / options.batchSize);
  const base = {
    label: options.label,
    format: archive.format,
    archiveBytes: archive.bytes,
    images: options.images,
    rows: options.rows,
    batchSize: options.batchSize,
    expectedBatches,
    rawRead: options.rawRead,
    memoryLimitMiB: options.memoryLimitMiB,
    diskBudgetMiB: options.diskBudgetMiB,
  };
  let cgroup: MemoryCgroup | undefined;
  let cgroupReason: string | undefined;
  const created = createMemoryCgroup(options.memoryLimitMiB * 2 ** 20, `s3-queue-bench-archive-${process.pid}-${Date.now()}`, options.cgroupRoot ?? DEFAULT_CGROUP_MEMORY_ROOT);
  if ('reason' in created) cgroupReason = created.reason;
  else cgroup = created.cgroup;
  try {
    await queue.send(
      JSON.stringify({
        downloadId,
        file: archive.fileName,
        exportPath: archive.exportPath,
        totalSize: archive.bytes,
        updatesQueueUrl: callbackPath,
        s3Bucket: SOURCE_BUCKET,
      }),
    );
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      JOB: 'archive-split',
      QUEUE_URL: queuePath,
      CONCURRENCY: '1',
      WAIT_SECONDS: '1',
      IDLE_POLLS: '1',
      VISIBILITY_TIMEOUT_SECONDS: '120',
      MESSAGE_DEADLINE_SECONDS: String(options.messageDeadlineSeconds),
      LOG_LEVEL: 'INFO',
      THROUGHPUT_LOG_SECONDS: '3600',
      MALLOC_ARENA_MAX: '2',
      TASK_MEMORY_MIB: String(options.memoryLimitMiB),
      WORK_DIR: workDir,
      DISK_BUDGET_MIB: String(options.diskBudgetMiB),
      BATCH_SIZE: String(options.batchSize),
      ALLOWED_BUCKETS: SOURCE_BUCKET,
      ALLOWED_CALLBACK_QUEUES: callbackPath,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: options.s3.endpoint,
      AWS_ENDPOINT_URL_S3: options.s3.endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
      ...options.extraEnv,
    };
    const args = [...(options.nodeArgs ?? []), options.workerScript];
    const command = cgroup ? cgroup.wrap(process.execPath, args) : { command: process.execPath, args };
    const child = spawn(command.command, command.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = jobLogCollector(child.stdout);
    const stdoutTail = tailCollector(child.stdout, 20);
    const stderrTail = tailCollector(child.stderr, 20);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    let hasExited = false;
    void exited.then(() => (hasExited = true));
    const sampler = new ProcessSampler(child.pid!, 100);
    const disk = new DiskSampler(workDir, DISK_SAMPLE_MS);

    const trafficBefore = options.s3.traffic();
    let trafficAtCallback = trafficBefore;
    const startedAt = process.hrtime.bigint();
    let firstReceiveAt: bigint | undefined;
    let callbackAt: bigint | undefined;
    let cpuAtFirstReceive = 0;
    let harnessBefore = process.cpuUsage();
    let harnessCpuSeconds = 0;
    while (callbackAt === undefined && !hasExited && elapsedSeconds(startedAt) < options.timeoutSeconds) {
      if (firstReceiveAt === undefined && (await queue.depth()).visible === 0) {
        firstReceiveAt = process.hrtime.bigint();
        cpuAtFirstReceive = sampler.sample();
        harnessBefore = process.cpuUsage();
      }
      if ((await callbacks.depth()).visible > 0) {
        callbackAt = process.hrtime.bigint();
        trafficAtCallback = options.s3.traffic();
        const harness = process.cpuUsage(harnessBefore);
        harnessCpuSeconds = (harness.user + harness.system) / 1e6;
      }
      if (callbackAt === undefined) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    const cpuAtCallback = sampler.sample();
    // Answered: the worker deletes the message and exits after its idle poll. Otherwise asked to stop, as ECS would.
    if (callbackAt === undefined && !hasExited) child.kill('SIGTERM');
    const exit = await Promise.race([exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), EXIT_AFTER_CALLBACK_SECONDS * 1000).unref())]);
    if (exit === undefined) child.kill('SIGKILL');
    const { code, signal } = exit ?? (await exited);
    const memory = sampler.stop();
    const diskReport = disk.stop();
    const report = cgroup?.read();
    const cgroupOutcome: CgroupOutcome = cgroup && report
      ? { measured: true, limitMiB: options.memoryLimitMiB, peakMiB: report.maxUsageBytes / 2 ** 20, limitHits: report.failcnt, oomKills: report.oomKills }
      : { measured: false, reason: cgroupReason ?? 'no memory cgroup' };
    const killed = (report?.oomKills ?? 0) > 0 || (exit !== undefined && (signal === 'SIGKILL' || code === 137));
    const callback = await readCallback(callbacks);
    const depth = await queue.depth();
    const deadLettered = await queue.dlqDepth();
    const split = lines.split();
    const seconds = firstReceiveAt !== undefined && callbackAt !== undefined ? Number(callbackAt - firstReceiveAt) / 1e9 : undefined;
    const spotCheck = callback?.status === 'success' && callback.batchFiles.length > 0
      ? await spotCheckBatch(options.s3, callback.batchFiles[0]!, options.scratch)
      : undefined;
    const problems = [
      ...(callbackAt === undefined ? [`no callback within ${options.timeoutSeconds} s (worker ${hasExited ? `exited ${code ?? signal}` : 'still running'})`] : []),
      ...(deadLettered > 0 ? [`${deadLettered} message(s) dead-lettered`] : []),
      ...(depth.visible + depth.inFlight + depth.delayed > 0 ? ['the request message was still in the queue after the worker exited'] : []),
    ];
    return {
      ...base,
      seconds,
      megabytesPerSecond: seconds === undefined ? undefined : archive.bytes / 1e6 / seconds,
      ratio: seconds === undefined ? undefined : archive.bytes / 1e6 / seconds / options.rawRead.megabytesPerSecond,
      peakRssMiB: memory.peakRssMiB,
      cgroup: cgroupOutcome,
      killed,
      exitCode: code,
      signal,
      workerCpuSeconds: cpuAtCallback - cpuAtFirstReceive,
      harnessCpuSeconds,
      split,
      s3Traffic: {
        sentBytes: trafficAtCallback.sentBytes - trafficBefore.sentBytes,
        receivedBytes: trafficAtCallback.receivedBytes - trafficBefore.receivedBytes,
      },
      passLines: lines.passes(),
      batchesUploaded: lines.batchesUploaded(),
      sampledDiskHighWaterBytes: diskReport.highWaterBytes,
      callback,
      spotCheck,
      deadLettered,
      problems: problems.length > 0 ? [...problems, ...stderrTail().concat(stdoutTail()).filter((line) => /error|fail/i.test(line)).slice(-3).map((line) => line.slice(0, 400))] : [],
    };
  } finally {
    await queue.close();
    await callbacks.close();
    await cgroup?.remove();
  }
}

/** The `archive split`, `archive pass` and `batch uploaded` lines the worker logs (JSON lines on stdout). */
function jobLogCollector(stream: NodeJS.ReadableStream): {
  split: () => ArchiveSplitRun['split'];
  passes: () => ArchivePassLine[];
  batchesUploaded: () => number;
} {
  let split: ArchiveSplitRun['split'];
  const passes: ArchivePassLine[] = [];
  let uploaded = 0;
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.includes('"archive split"') && !line.includes('"archive pass"') && !line.includes('"batch uploaded"')) continue;
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const number = (name: string) => (typeof parsed[name] === 'number' ? (parsed[name] as number) : 0);
      if (parsed.message === 'batch uploaded') uploaded++;
      else if (parsed.message === 'archive pass') {
        passes.push({ pass: number('pass'), finishedParts: number('finishedParts'), remainingParts: number('remainingParts'), spilledBytes: number('spilledBytes'), spillHighWaterBytes: number('spillHighWaterBytes') });
      } else if (parsed.message === 'archive split') {
        split = {
          format: String(parsed.format),
          archiveBytes: number('archiveBytes'),
          bytesRead: number('bytesRead'),
          rows: number('rows'),
          images: number('images'),
          parts: number('parts'),
          passes: number('passes'),
          spillHighWaterBytes: number('spillHighWaterBytes'),
          seconds: number('seconds'),
          megabytesPerSecond: number('megabytesPerSecond'),
        };
      }
    }
  });
  return { split: () => split, passes: () => [...passes], batchesUploaded: () => uploaded };
}

async function readCallback(callbacks: LocalQueue): Promise<ArchiveCallbackSummary | undefined> {
  const [message] = await callbacks.receive({ maxMessages: 10, waitSeconds: 0 });
  if (message === undefined) return undefined;
  try {
    const body = JSON.parse(message.body) as Partial<ArchiveCallbackSummary> & { batchFiles?: string[] };
    return {
      status: String(body.status),
      batchFiles: body.batchFiles ?? [],
      batchFileCount: body.batchFileCount ?? 0,
      rows: body.rows ?? 0,
      images: body.images ?? 0,
      problemCount: body.problemCount ?? 0,
      ...(typeof body.reason === 'string' ? { reason: body.reason.slice(0, 300) } : {}),
    };
  } catch {
    return { status: 'not JSON', batchFiles: [], batchFileCount: 0, rows: 0, images: 0, problemCount: 0 };
  }
}

/** The first batch ZIP fetched to disk and tested as a newcomer would: `unzip -t`, and its entries counted. */
async function spotCheckBatch(s3: ArchiveS3, key: string, scratch: string): Promise<BatchSpotCheck> {
  const path = join(scratch, 'spot-check.zip');
  const response = await s3.client.send(new GetObjectCommand({ Bucket: SOURCE_BUCKET, Key: key }));
  await pipeline(response.Body as Readable, createWriteStream(path));
  const bytes = statSync(path).size;
  try {
    const tested = await run('unzip', ['-tq', path], { maxBuffer: 16 << 20 });
    const listed = await run('unzip', ['-Z1', path], { maxBuffer: 64 << 20 });
    const names = listed.stdout.split('\n').filter((name) => name !== '');
    return {
      key,
      bytes,
      ok: /No errors detected/.test(tested.stdout),
      entries: names.length,
      images: names.filter((name) => name.endsWith('.jpg')).length,
      detail: tested.stdout.trim().slice(0, 200),
    };
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message?: string };
    return { key, bytes, ok: false, entries: 0, images: 0, detail: `${failure.stdout ?? ''}${failure.stderr ?? failure.message ?? ''}`.trim().slice(0, 300) };
  } finally {
    rmSync(path, { force: true });
  }
}

/** The bytes under a directory, summed every `everyMs`: the worker's spill, seen from outside. */
class DiskSampler {
  private highWater = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly root: string, everyMs: number) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): void {
    this.highWater = Math.max(this.highWater, treeBytes(this.root));
  }

  stop(): { highWaterBytes: number } {
    clearInterval(this.timer);
    this.sample();
    return { highWaterBytes: this.highWater };
  }
}

function treeBytes(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const info = lstatSync(path);
      total += info.isDirectory() ? treeBytes(path) : info.size;
    } catch {
      // Removed between the listing and the stat.
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------------
// The part: every planned archive stored, read raw and split.

export interface ArchivePartOptions {
  readonly workerScript: string;
  readonly inputDir: string;
  readonly scratch: string;
  /** Each export; the TAR.GZ only where asked. */
  readonly exports: readonly ArchiveExportPlan[];
  readonly batchSize: number;
  readonly rawReads: number;
  readonly timeoutSeconds: number;
  readonly memoryLimitMiB: number;
  readonly diskBudgetMiB: number;
  readonly messageDeadlineSeconds: number;
  readonly log: (line: string) => void;
}

/** One export to generate and split: about `targetBytes` of images of `imageBytes` (default 50-100 kB). */
export interface ArchiveExportPlan {
  readonly targetBytes: number;
  readonly tarGz: boolean;
  readonly imageBytes?: { readonly min: number; readonly max: number };
}

export const ARCHIVE_IMAGE_BYTES = Object.freeze({ min: 50_000, max: 100_000 });
const ARCHIVE_SEED = 14;

export interface ArchivePartResult {
  readonly exports: readonly ArchiveExportSet[];
  readonly uploads: readonly { readonly label: string; readonly seconds: number }[];
  readonly runs: readonly ArchiveSplitRun[];
}

export function archiveLabel(format: ArchiveFormat, bytes: number, rows: number): string {
  const size = bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
  return `${format === 'zip' ? 'ZIP' : 'TAR.GZ'}, ${size}, ${rows.toLocaleString('en-US')} rows`;
}

export async function measureArchiveSplitPart(options: ArchivePartOptions): Promise<ArchivePartResult> {
  const { log } = options;
  // Not named `exports`: under CommonJS (ts-jest) that name shadows the module's own, and every exported constant
  // this module reads through it (ARCHIVE_IMAGE_BYTES) is then undefined.
  const exportSets: ArchiveExportSet[] = [];
  for (const plan of options.exports) {
    const imageBytes = plan.imageBytes ?? ARCHIVE_IMAGE_BYTES;
    const spec: ArchiveExportSpec = { targetBytes: plan.targetBytes, seed: ARCHIVE_SEED, minImageBytes: imageBytes.min, maxImageBytes: imageBytes.max, tarGz: plan.tarGz };
    const set = await ensureArchiveExport(options.inputDir, spec);
    exportSets.push(set);
    log(
      `  export: ${set.images.toLocaleString('en-US')} images, ${(set.imageBytes / 2 ** 20).toFixed(0)} MiB; ` +
        set.archives.map((archive) => `${archive.fileName} ${(archive.bytes / 2 ** 20).toFixed(0)} MiB`).join(', ') +
        (set.generatedSeconds === undefined ? ` (cached in ${set.dir})` : ` (generated in ${set.generatedSeconds.toFixed(0)} s, cached in ${set.dir})`),
    );
  }
  const s3 = await startArchiveS3(join(options.scratch, 's3'));
  const uploads: { label: string; seconds: number }[] = [];
  const runs: ArchiveSplitRun[] = [];
  try {
    for (const set of exportSets) {
      for (const archive of set.archives) {
        const label = archiveLabel(archive.format, archive.bytes, set.rows);
        const stored = await uploadArchive(s3, archive);
        uploads.push({ label, seconds: stored.seconds });
        const rawRead = await measureRawRead(s3.endpoint, stored.key, archive.bytes, options.rawReads, options.workerScript);
        log(
          `  ${label}: stored in ${stored.seconds.toFixed(1)} s; raw read ${rawRead.megabytesPerSecond.toFixed(0)} MB/s ` +
            `(${rawRead.readSeconds.map((seconds) => (archive.bytes / 1e6 / seconds).toFixed(0)).join(', ')})`,
        );
        const result = await runArchiveSplitWorker({
          workerScript: options.workerScript,
          s3,
          archive,
          key: stored.key,
          rows: set.rows,
          images: set.images,
          batchSize: options.batchSize,
          scratch: join(options.scratch, `run-${runs.length + 1}`),
          memoryLimitMiB: options.memoryLimitMiB,
          diskBudgetMiB: options.diskBudgetMiB,
          messageDeadlineSeconds: options.messageDeadlineSeconds,
          rawRead,
          timeoutSeconds: options.timeoutSeconds,
          label,
        });
        runs.push(result);
        log(
          `  ${label}: split in ${result.seconds?.toFixed(1) ?? 'n/a'} s, ${result.megabytesPerSecond?.toFixed(0) ?? 'n/a'} MB/s, ` +
            `${result.ratio?.toFixed(2) ?? 'n/a'}x the raw read; peak RSS ${result.peakRssMiB.toFixed(0)} MiB` +
            (result.cgroup.measured ? ` (cgroup ${result.cgroup.peakMiB.toFixed(0)} of ${result.cgroup.limitMiB} MiB with page cache)` : ` (${result.cgroup.reason})`) +
            `${result.killed ? ', KILLED' : ''}; disk high-water ${((result.split?.spillHighWaterBytes ?? 0) / 2 ** 20).toFixed(0)} MiB ` +
            `(sampled ${(result.sampledDiskHighWaterBytes / 2 ** 20).toFixed(0)}); reads of the archive ${result.split?.passes ?? 'n/a'}; ` +
            `${result.split ? (result.split.bytesRead / archive.bytes).toFixed(3) : 'n/a'}x its bytes fetched; worker CPU ${result.workerCpuSeconds.toFixed(1)} s; ` +
            `callback ${result.callback?.status ?? 'none'} with ${result.callback?.batchFileCount ?? 0}/${result.expectedBatches} batch ZIPs; ` +
            `first batch unzip -t ${result.spotCheck ? (result.spotCheck.ok ? 'OK' : 'FAILED') : 'not checked'}` +
            (result.problems.length > 0 ? `; problems: ${result.problems.join(' | ')}` : ''),
        );
        rmSync(join(options.scratch, `run-${runs.length}`, 'work'), { recursive: true, force: true });
      }
    }
  } finally {
    await s3.close();
  }
  return { exports: exportSets, uploads, runs };
}
