import { spawn } from 'node:child_process';
import { buildS3Event } from '../../../shared/events/s3-event-shape';
import { LocalQueue } from '../../../shared/queue/local-queue';
import type { DecodeHeavyInput } from '../inputs/decode-heavy-images';
import { createMemoryCgroup, DEFAULT_CGROUP_MEMORY_ROOT } from '../../../local/src/memory-cgroup';
import { ProcessSampler } from './process-sampler';
import { SOURCE_BUCKET, type StoredObject } from './s3-stack';
import { elapsedSeconds } from './run-pool';
import { tailCollector, watchDrain, workerEnv } from './worker-end-to-end';

/**
 * One worker process at a fixed CONCURRENCY draining a queue of decode-heavy images inside a memory cgroup with the
 * task's memory as its limit, as on Fargate: what it peaks at, and whether the kernel killed it. Copies of each
 * input are queued next to each other, so CONCURRENCY images of the same kind are in flight at once (the worst
 * case for that kind). One run, no restart: a kill ends it, as it would end the task.
 */
export interface DecodeHeavyRunOptions {
  readonly name: string;
  readonly workerScript: string;
  readonly queuePath: string;
  readonly s3Endpoint: string;
  /** The stored source objects, with the input each one holds. */
  readonly objects: readonly { readonly object: StoredObject; readonly input: DecodeHeavyInput }[];
  /** Messages per object, queued together. */
  readonly copies: number;
  readonly concurrency: number;
  /** The cgroup's limit, also given to the worker as TASK_MEMORY_MIB. */
  readonly limitMiB: number;
  readonly sizes: string;
  readonly timeoutSeconds: number;
  readonly memorySampleMs: number;
  /** More worker environment, e.g. MEMORY_BUDGET_MIB for a control run without the decode budget. */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** A control run: reported for comparison, not judged against the target. */
  readonly control?: boolean;
  /** Where cgroup v1's memory controller is mounted (tests point it elsewhere to check the unmeasured path). */
  readonly cgroupRoot?: string;
}

export interface DecodeHeavyInputInfo {
  readonly name: string;
  readonly bytes: number;
  /** One whole decode of it: width x height x channels x bytes per sample. */
  readonly decodedMiB: number;
}

interface DecodeHeavyRunBase {
  readonly name: string;
  readonly control: boolean;
  /** Worker environment beyond the bench's usual (CONCURRENCY, TASK_MEMORY_MIB and the S3 and queue settings). */
  readonly extraEnv: Readonly<Record<string, string>>;
  readonly concurrency: number;
  readonly limitMiB: number;
  readonly images: number;
  readonly inputs: readonly DecodeHeavyInputInfo[];
}

export interface DecodeHeavyMeasured extends DecodeHeavyRunBase {
  readonly measured: true;
  /** memory.max_usage_in_bytes of the cgroup (every process of the worker, page cache included). */
  readonly peakMiB: number;
  /** Peak of the summed RSS of the worker's process tree, sampled. */
  readonly peakTreeRssMiB: number;
  /** memory.failcnt: how often usage reached the limit. */
  readonly limitHits: number;
  /** Processes the OOM killer ended in the cgroup; undefined on a kernel that does not report it. */
  readonly oomKills: number | undefined;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** OOM-killed, or ended by SIGKILL (exit 137, the supervisor's code when its worker was killed). */
  readonly killed: boolean;
  /** The queue drained before the timeout (everything processed or dead-lettered). */
  readonly drained: boolean;
  readonly processed: number;
  readonly deadLettered: number;
  /** Still queued, in flight or delayed when the worker exited: what a kill leaves behind. */
  readonly leftInQueue: number;
  readonly deadLetterReasons: readonly string[];
  /** Spawn to exit. */
  readonly seconds: number;
  /** The last JSON lines the worker tree wrote to stderr (the supervisor reports a killed worker there). */
  readonly stderrReports: readonly string[];
}

export interface DecodeHeavyNotMeasured extends DecodeHeavyRunBase {
  readonly measured: false;
  readonly reason: string;
}

export type DecodeHeavyRun = DecodeHeavyMeasured | DecodeHeavyNotMeasured;

const EXIT_AFTER_DRAIN_SECONDS = 30;

export async function runDecodeHeavy(options: DecodeHeavyRunOptions): Promise<DecodeHeavyRun> {
  const base: DecodeHeavyRunBase = {
    name: options.name,
    control: options.control ?? false,
    extraEnv: options.extraEnv ?? {},
    concurrency: options.concurrency,
    limitMiB: options.limitMiB,
    images: options.objects.length * options.copies,
    inputs: options.objects.map(({ input }) => ({ name: input.name, bytes: input.bytes, decodedMiB: input.decodedMiB })),
  };
  const cgroupName = `s3-queue-bench-${process.pid}-${Date.now()}-${options.name.replace(/[^a-z0-9]+/gi, '-')}`;
  const created = createMemoryCgroup(options.limitMiB * 2 ** 20, cgroupName, options.cgroupRoot ?? DEFAULT_CGROUP_MEMORY_ROOT);
  if ('reason' in created) return { ...base, measured: false, reason: created.reason };
  const { cgroup } = created;

  const queue = LocalQueue.open(options.queuePath, { create: { visibilityTimeoutSeconds: 120, maxReceiveCount: 3 } });
  try {
    const bodies = options.objects.flatMap(({ object }) =>
      Array.from({ length: options.copies }, () =>
        buildS3Event([{ bucket: SOURCE_BUCKET, key: object.key, size: object.size, etag: object.etag }]),
      ),
    );
    await queue.sendBatch(bodies);

    const startedAt = process.hrtime.bigint();
    const wrapped = cgroup.wrap(process.execPath, [options.workerScript]);
    const child = spawn(wrapped.command, wrapped.args, {
      env: {
        ...workerEnv(options.queuePath, options.s3Endpoint, options.concurrency, options.sizes),
        TASK_MEMORY_MIB: String(options.limitMiB),
        ...options.extraEnv,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const stderr = tailCollector(child.stderr, 50);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    const sampler = new ProcessSampler(child.pid!, options.memorySampleMs);

    const watch = await watchDrain(queue, bodies.length, options.timeoutSeconds, exited);
    // Drained: the worker exits by itself after its idle poll. Timed out: asked to stop, as ECS would.
    if (!watch.drained) child.kill('SIGTERM');
    const exit = await Promise.race([
      exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), EXIT_AFTER_DRAIN_SECONDS * 1000).unref()),
    ]);
    const memory = sampler.stop();
    const report = cgroup.read();
    if (exit === undefined) child.kill('SIGKILL');
    const { code, signal } = exit ?? (await exited);

    const depth = await queue.depth();
    const deadLettered = await queue.dlqDepth();
    const leftInQueue = depth.visible + depth.inFlight + depth.delayed;
    const reasons = new Set((await queue.peekDeadLetters(100)).map((letter) => letter.attributes['failure-reasons'] ?? 'unknown'));
    const oomKills = report.oomKills;
    return {
      ...base,
      measured: true,
      peakMiB: report.maxUsageBytes / 2 ** 20,
      peakTreeRssMiB: memory.peakRssMiB,
      limitHits: report.failcnt,
      oomKills,
      exitCode: code,
      signal,
      // A SIGKILL from the bench itself (a worker that would not exit) is not counted as a kill.
      killed: (oomKills ?? 0) > 0 || (exit !== undefined && (signal === 'SIGKILL' || code === 137)),
      drained: watch.drained,
      processed: bodies.length - leftInQueue - deadLettered,
      deadLettered,
      leftInQueue,
      deadLetterReasons: [...reasons],
      seconds: elapsedSeconds(startedAt),
      stderrReports: stderr()
        .filter((line) => line.startsWith('{'))
        .slice(-5)
        .map((line) => line.slice(0, 300)),
    };
  } finally {
    await queue.close();
    await cgroup.remove();
  }
}
