import { spawn } from 'node:child_process';
import { buildS3Event } from '../../../shared/events/s3-event-shape';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { ProcessSampler, rssGrowthPercent } from './process-sampler';
import type { CountingProxy } from './counting-proxy';
import { DEST_BUCKET, LOCAL_S3_CREDENTIALS, SOURCE_BUCKET, type StoredObject } from './s3-stack';
import { elapsedSeconds } from './run-pool';

/**
 * Part 2: one real worker process (the bundled dist/app/main.js) draining a local queue of S3 events against an
 * S3-protocol server on loopback. Throughput is timed from the worker's first receive to the queue being empty, so
 * neither the process start nor the idle polls before exit count against it.
 */
export interface WorkerRunOptions {
  readonly workerScript: string;
  readonly queuePath: string;
  readonly proxy: CountingProxy;
  /** Source objects; events cycle through them when more images than objects are asked for. */
  readonly objects: readonly StoredObject[];
  readonly images: number;
  readonly concurrency: number;
  /** The resize job's SIZES; undefined for another job. */
  readonly sizes: string | undefined;
  /** Variables added to (or replacing) the worker's: another job's settings (JOB=command, COMMAND, ...). */
  readonly extraEnv?: Readonly<Record<string, string>>;
  readonly memorySampleMs: number;
  readonly timeoutSeconds: number;
}

export interface WorkerRunResult {
  readonly concurrency: number;
  readonly images: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
  /** Peak of the summed RSS of the worker's process tree (the supervisor and the worker it runs). */
  readonly peakRssMiB: number;
  /** Median RSS of the last quarter against the second quarter; undefined on short runs. */
  readonly rssGrowthPercent: number | undefined;
  /**
   * The worker's CPU time per image, over the same window as the throughput (first receive to empty queue), summed
   * over its process tree: against the ceiling's CPU per image it is the worker's true overhead.
   */
  readonly workerCpuSecondsPerImage: number;
  /**
   * The supervisor's and the worker's own CPU per image over the same window, without the processes they ran (the
   * command job's programs); the same as workerCpuSecondsPerImage for a job that runs no program.
   */
  readonly workerOwnCpuSecondsPerImage: number;
  /** The bench process's CPU per image over the same window: the S3-protocol server, the counting proxy, the queue watcher. */
  readonly harnessCpuSecondsPerImage: number;
  /** The most processes seen in the worker's tree at once (2: the supervisor and the worker). */
  readonly workerProcesses: number;
  readonly s3CallsPerImage: number;
  readonly s3CallsByMethod: Readonly<Record<string, number>>;
  /** What the worker itself reported on exit (its `worker exiting` line), when it printed one. */
  readonly workerSummary: Readonly<Record<string, unknown>> | undefined;
  readonly exitCode: number | null;
}

const DEPTH_POLL_MS = 20;

export function workerEnv(queuePath: string, s3Endpoint: string, concurrency: number, sizes: string | undefined): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    QUEUE_URL: queuePath,
    DEST_BUCKET,
    ...(sizes !== undefined ? { SIZES: sizes } : {}),
    CONCURRENCY: String(concurrency),
    WAIT_SECONDS: '1',
    IDLE_POLLS: '1',
    VISIBILITY_TIMEOUT_SECONDS: '120',
    LOG_LEVEL: 'INFO',
    THROUGHPUT_LOG_SECONDS: '3600',
    // As in the container image: keeps glibc's per-thread arenas from inflating RSS under sharp.
    MALLOC_ARENA_MAX: '2',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: s3Endpoint,
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
  };
}

export async function runWorkerEndToEnd(options: WorkerRunOptions): Promise<WorkerRunResult> {
  const queue = LocalQueue.open(options.queuePath, { create: { visibilityTimeoutSeconds: 120, maxReceiveCount: 3 } });
  try {
    const bodies: string[] = [];
    for (let i = 0; i < options.images; i++) {
      const object = options.objects[i % options.objects.length]!;
      bodies.push(buildS3Event([{ bucket: SOURCE_BUCKET, key: object.key, size: object.size, etag: object.etag }]));
    }
    for (let i = 0; i < bodies.length; i += 500) await queue.sendBatch(bodies.slice(i, i + 500));
    options.proxy.reset();

    const child = spawn(process.execPath, [options.workerScript], {
      env: { ...workerEnv(options.queuePath, options.proxy.endpoint, options.concurrency, options.sizes), ...options.extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lastLines = tailCollector(child.stdout, 20);
    const errors = tailCollector(child.stderr, 20);
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const sampler = new ProcessSampler(child.pid!, options.memorySampleMs);
    // Both CPU figures start at the first receive, like the throughput: process start-up is cold start, not per image.
    let workerCpuAtFirstReceive = 0;
    let workerOwnCpuAtFirstReceive = 0;
    let harnessCpuBefore = process.cpuUsage();

    const watch = await watchDrain(queue, options.images, options.timeoutSeconds, exited, () => {
      workerCpuAtFirstReceive = sampler.sample();
      workerOwnCpuAtFirstReceive = sampler.ownCpuSeconds();
      harnessCpuBefore = process.cpuUsage();
    });
    const memory = sampler.stop();
    const harnessCpu = process.cpuUsage(harnessCpuBefore);
    if (!watch.drained) child.kill('SIGTERM');
    const exitCode = await exited;
    if (!watch.drained || watch.seconds === undefined) {
      throw new Error(
        `worker at CONCURRENCY=${options.concurrency} did not drain ${options.images} messages (exit ${exitCode}): ` +
          [...errors(), ...lastLines()].join('\n').slice(-2000),
      );
    }
    const counts = options.proxy.counts();
    const calls = Object.values(counts).reduce((sum, count) => sum + count, 0);
    return {
      concurrency: options.concurrency,
      images: options.images,
      seconds: watch.seconds,
      imagesPerSecond: options.images / watch.seconds,
      peakRssMiB: memory.peakRssMiB,
      rssGrowthPercent: rssGrowthPercent(memory.samples),
      workerCpuSecondsPerImage: (memory.cpuSeconds - workerCpuAtFirstReceive) / options.images,
      workerOwnCpuSecondsPerImage: (memory.ownCpuSeconds - workerOwnCpuAtFirstReceive) / options.images,
      harnessCpuSecondsPerImage: (harnessCpu.user + harnessCpu.system) / 1e6 / options.images,
      workerProcesses: memory.maxProcesses,
      s3CallsPerImage: calls / options.images,
      s3CallsByMethod: counts,
      workerSummary: findExitSummary(lastLines()),
      exitCode,
    };
  } finally {
    await queue.close();
  }
}

/**
 * Watches the queue from outside: first receive = the visible count drops; drained = nothing visible, in flight or
 * waiting out a retry delay (every message processed or dead-lettered). Gives up when the process exits first or the timeout passes.
 */
export async function watchDrain(
  queue: LocalQueue,
  total: number,
  timeoutSeconds: number,
  exited: Promise<unknown>,
  onFirstReceive: () => void = () => undefined,
): Promise<{ drained: boolean; seconds: number | undefined }> {
  let processExited = false;
  void exited.then(() => (processExited = true));
  const startedAt = process.hrtime.bigint();
  let firstReceiveAt: bigint | undefined;
  for (;;) {
    const depth = await queue.depth();
    const now = process.hrtime.bigint();
    if (firstReceiveAt === undefined && depth.visible < total) {
      firstReceiveAt = now;
      onFirstReceive();
    }
    if (depth.visible === 0 && depth.inFlight === 0 && depth.delayed === 0 && firstReceiveAt !== undefined) {
      return { drained: true, seconds: Number(now - firstReceiveAt) / 1e9 };
    }
    if (processExited || elapsedSeconds(startedAt) > timeoutSeconds) return { drained: false, seconds: undefined };
    await new Promise((resolve) => setTimeout(resolve, DEPTH_POLL_MS));
  }
}

export function tailCollector(stream: NodeJS.ReadableStream, keep: number): () => string[] {
  const lines: string[] = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (lines.length > keep) lines.shift();
    }
  });
  return () => (partial ? [...lines, partial] : [...lines]);
}

export function findExitSummary(lines: readonly string[]): Record<string, unknown> | undefined {
  for (const line of [...lines].reverse()) {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed.message === 'worker exiting') return parsed;
    } catch {
      // Not a JSON log line.
    }
  }
  return undefined;
}
