import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { GeojsonInput } from '../inputs/geojson-files';
import { startCountingProxy } from './counting-proxy';
import { median, reapedChildrenCpuSeconds } from './process-sampler';
import { elapsedSeconds, runPool } from './run-pool';
import { DEST_BUCKET, LOCAL_S3_CREDENTIALS, startS3Stack } from './s3-stack';
import { runWorkerEndToEnd, workerEnv, type WorkerRunResult } from './worker-end-to-end';
import { programEnvironment } from '../../../app/jobs/command/command-config';

/**
 * Part 7: the command job's price. The same program on the same files at the same concurrency, two ways, in
 * alternating rounds (a share of the files directly, then the same share through a new worker, and so on):
 * - direct: `node <program> <file> <outDir>`, one process per file, the files already on local disk, `concurrency`
 *   processes at a time (a new one starts when one ends), as a shell loop or xargs -P would run it;
 * - worker: the bundled worker with JOB=command draining a local queue of S3 events for the same files, stored in an
 *   S3-protocol server on loopback: receive, download to a private directory, run the program, upload its output,
 *   read the source back, delete the message, remove the directory.
 * The difference per file is what the worker adds around the program. The program's own start (spawn, Node, loading
 * the bundle) is paid in both and measured on its own.
 */
export interface CommandJobOptions {
  /** The bundled worker (dist/app/main.js). */
  readonly workerScript: string;
  /** The bundled example program (dist/app/jobs/command/geojson-stats.js). */
  readonly programScript: string;
  readonly files: readonly GeojsonInput[];
  /** Both ways run this many programs at once: the worker's CONCURRENCY. */
  readonly concurrency: number;
  /** A private directory for the S3-protocol server, the queue, the outputs and the worker's WORK_DIR. */
  readonly scratch: string;
  /** How many bare starts of the program to time (no arguments: it prints its usage and exits 64). */
  readonly programStarts: number;
  readonly timeoutSeconds: number;
  /**
   * The files are measured in this many consecutive rounds, each directly and then through a new worker, and the
   * rounds summed: other work on the machine that comes and goes then weighs on both ways alike.
   */
  readonly rounds: number;
  /** Run by `--only command` rather than within a whole bench run (said in the summary). */
  readonly alone: boolean;
}

/** One round: its files directly, then through the worker. */
export interface CommandJobRound {
  readonly files: number;
  readonly directSeconds: number;
  readonly workerSeconds: number;
  readonly ratio: number;
  readonly cpuRatio: number;
}

export interface DirectRun {
  readonly seconds: number;
  readonly filesPerSecond: number;
  /** seconds x concurrency / files: how long one file holds one of the `concurrency` slots. */
  readonly wallMsPerFile: number;
  /** The mean of each process's own spawn-to-exit time. */
  readonly meanProcessMs: number;
  /** The programs' CPU (reaped children) plus the launching process's own, per file. */
  readonly cpuMsPerFile: number;
}

export interface CommandWorkerRun {
  readonly seconds: number;
  readonly filesPerSecond: number;
  /** seconds x concurrency / files, from the first receive to the empty queue. */
  readonly wallMsPerFile: number;
  /** The worker's whole process tree (supervisor, worker and the programs it ran), first receive to empty queue. */
  readonly cpuMsPerFile: number;
  /** Of cpuMsPerFile, the programs' (every process below the worker) ... */
  readonly programCpuMsPerFile: number;
  /** ... and the supervisor's and the worker's own: queue, S3 calls, files, spawning, logging. */
  readonly workerOwnCpuMsPerFile: number;
  /** The bench process over the same window: the S3-protocol server, the counting proxy, the queue watcher. */
  readonly harnessCpuMsPerFile: number;
  readonly peakRssMiB: number;
  readonly s3CallsPerFile: number;
  readonly s3CallsByMethod: Readonly<Record<string, number>>;
  /** From the worker's own exit line. */
  readonly processed: number | undefined;
  readonly failed: number | undefined;
  /** Outputs found at DEST/<key>/stats.json, and how many of them are byte for byte the direct run's stats.json. */
  readonly outputs: number;
  readonly outputsMatchingDirect: number;
}

export interface CommandJobMeasurement {
  readonly measuredAt: string;
  readonly loadAverageAtStart: number;
  readonly loadAverageMax: number;
  readonly program: string;
  readonly files: number;
  readonly largeFiles: number;
  readonly totalMiB: number;
  readonly smallKiB: { readonly min: number; readonly max: number };
  readonly largeKiB: { readonly min: number; readonly max: number };
  /** Measured by `--only command`, on its own, rather than as part of a whole bench run. */
  readonly alone: boolean;
  readonly concurrency: number;
  /** Median spawn-to-exit of the program started with no work (usage error): its start cost, in both ways. */
  readonly programStartMs: number;
  /** The mean CPU of such a start (spawn, Node, loading the bundle). */
  readonly programStartCpuMs: number;
  /** Each round's figures, to show how much they vary; the totals below sum the rounds. */
  readonly rounds: readonly CommandJobRound[];
  readonly direct: DirectRun;
  readonly worker: CommandWorkerRun;
  /** worker.wallMsPerFile - direct.wallMsPerFile: download, upload, queue and bookkeeping around each run. */
  readonly overheadMsPerFile: number;
  /** worker.cpuMsPerFile - direct.cpuMsPerFile. */
  readonly overheadCpuMsPerFile: number;
  /** worker.seconds / direct.seconds on the same files at the same concurrency. */
  readonly ratio: number;
  /** worker.cpuMsPerFile / direct.cpuMsPerFile. */
  readonly cpuRatio: number;
}

const SOURCE_KEY_PREFIX = 'bench geojson/';
const OUTPUT_NAME = 'stats.json';

export async function measureCommandJob(options: CommandJobOptions): Promise<CommandJobMeasurement> {
  const loadAverageAtStart = loadavg()[0] ?? 0;
  let loadAverageMax = loadAverageAtStart;
  const noteLoad = (): void => {
    loadAverageMax = Math.max(loadAverageMax, loadavg()[0] ?? 0);
  };
  const { files, concurrency } = options;
  if (files.length === 0) throw new Error('the command job measurement needs at least one file');
  const measuredAt = new Date().toISOString();

  const starts: number[] = [];
  const startTmp = join(options.scratch, 'start-tmp');
  mkdirSync(startTmp, { recursive: true });
  const startCpuBefore = reapedChildrenCpuSeconds();
  for (let run = 0; run < options.programStarts; run++) starts.push((await runProgram(options.programScript, [], startTmp)).ms);
  const programStartCpuMs = ((reapedChildrenCpuSeconds() - startCpuBefore) * 1000) / Math.max(1, options.programStarts);

  const directDir = join(options.scratch, 'direct');
  const stack = await startS3Stack(
    join(options.scratch, 's3'),
    files.map((file) => file.path),
    SOURCE_KEY_PREFIX,
  );
  const proxy = await startCountingProxy(stack.port);
  const workDir = join(options.scratch, 'work');
  mkdirSync(workDir, { recursive: true });
  const rounds: CommandJobRound[] = [];
  const directRuns: DirectRun[] = [];
  const workerRuns: WorkerRunResult[] = [];
  let outputs: { outputs: number; outputsMatchingDirect: number };
  try {
    // Directly, then through the worker, round by round: a change in the machine's load hits both ways alike.
    for (const [round, range] of roundRanges(files.length, options.rounds).entries()) {
      const direct = await runDirect(options.programScript, files, range, concurrency, directDir, join(options.scratch, 'direct-tmp'));
      noteLoad();
      const worker = await runWorkerEndToEnd({
        workerScript: options.workerScript,
        queuePath: join(options.scratch, `command-${round}.db`),
        proxy,
        objects: stack.objects.slice(range.start, range.end),
        images: range.end - range.start,
        concurrency,
        sizes: undefined,
        extraEnv: {
          JOB: 'command',
          COMMAND: JSON.stringify([process.execPath, options.programScript, '{input}', '{outputDir}']),
          WORK_DIR: workDir,
        },
        memorySampleMs: 100,
        timeoutSeconds: options.timeoutSeconds,
      });
      noteLoad();
      directRuns.push(direct);
      workerRuns.push(worker);
      rounds.push({
        files: worker.images,
        directSeconds: direct.seconds,
        workerSeconds: worker.seconds,
        ratio: worker.seconds / direct.seconds,
        cpuRatio: worker.workerCpuSecondsPerImage / (direct.cpuMsPerFile / 1000),
      });
    }
    outputs = await compareOutputs(
      `http://127.0.0.1:${stack.port}`,
      stack.objects.map((object, index) => ({ key: `${object.key}/${OUTPUT_NAME}`, expected: join(directDir, String(index), OUTPUT_NAME) })),
    );
  } finally {
    await proxy.close();
    await stack.close();
  }

  const direct = combineDirect(directRuns, rounds, concurrency);
  const worker = combineWorker(workerRuns, concurrency, outputs);
  const range = (large: boolean): { min: number; max: number } => {
    const sizes = files.filter((file) => file.large === large).map((file) => file.bytes / 1024);
    return sizes.length === 0 ? { min: 0, max: 0 } : { min: Math.min(...sizes), max: Math.max(...sizes) };
  };
  return {
    measuredAt,
    loadAverageAtStart,
    loadAverageMax,
    program: 'geojson-stats (app/jobs/command/example, bundled)',
    files: files.length,
    largeFiles: files.filter((file) => file.large).length,
    totalMiB: files.reduce((sum, file) => sum + file.bytes, 0) / 2 ** 20,
    smallKiB: range(false),
    largeKiB: range(true),
    alone: options.alone,
    concurrency,
    programStartMs: median(starts),
    programStartCpuMs,
    rounds,
    direct,
    worker,
    overheadMsPerFile: worker.wallMsPerFile - direct.wallMsPerFile,
    overheadCpuMsPerFile: worker.cpuMsPerFile - direct.cpuMsPerFile,
    ratio: worker.seconds / direct.seconds,
    cpuRatio: worker.cpuMsPerFile / direct.cpuMsPerFile,
  };
}

/** `count` files in `rounds` consecutive ranges of (nearly) equal size. */
export function roundRanges(count: number, rounds: number): { start: number; end: number }[] {
  const n = Math.max(1, Math.min(rounds, count));
  return Array.from({ length: n }, (_, round) => ({ start: Math.round((round * count) / n), end: Math.round(((round + 1) * count) / n) }));
}

function combineDirect(runs: readonly DirectRun[], rounds: readonly CommandJobRound[], concurrency: number): DirectRun {
  const files = rounds.reduce((sum, round) => sum + round.files, 0);
  const seconds = runs.reduce((sum, run) => sum + run.seconds, 0);
  const weighted = (value: (run: DirectRun) => number): number => runs.reduce((sum, run, index) => sum + value(run) * rounds[index]!.files, 0) / files;
  return {
    seconds,
    filesPerSecond: files / seconds,
    wallMsPerFile: (seconds * 1000 * concurrency) / files,
    meanProcessMs: weighted((run) => run.meanProcessMs),
    cpuMsPerFile: weighted((run) => run.cpuMsPerFile),
  };
}

function combineWorker(runs: readonly WorkerRunResult[], concurrency: number, outputs: { outputs: number; outputsMatchingDirect: number }): CommandWorkerRun {
  const files = runs.reduce((sum, run) => sum + run.images, 0);
  const seconds = runs.reduce((sum, run) => sum + run.seconds, 0);
  const perFile = (value: (run: WorkerRunResult) => number): number => runs.reduce((sum, run) => sum + value(run) * run.images, 0) / files;
  const byMethod: Record<string, number> = {};
  for (const run of runs) for (const [method, count] of Object.entries(run.s3CallsByMethod)) byMethod[method] = (byMethod[method] ?? 0) + count;
  /** A count from each worker's exit line, summed; undefined when any worker did not print one. */
  const reported = (name: string): number | undefined => {
    let total = 0;
    for (const run of runs) {
      const value = run.workerSummary?.[name];
      if (typeof value !== 'number') return undefined;
      total += value;
    }
    return total;
  };
  return {
    seconds,
    filesPerSecond: files / seconds,
    wallMsPerFile: (seconds * 1000 * concurrency) / files,
    cpuMsPerFile: perFile((run) => run.workerCpuSecondsPerImage) * 1000,
    programCpuMsPerFile: perFile((run) => run.workerCpuSecondsPerImage - run.workerOwnCpuSecondsPerImage) * 1000,
    workerOwnCpuMsPerFile: perFile((run) => run.workerOwnCpuSecondsPerImage) * 1000,
    harnessCpuMsPerFile: perFile((run) => run.harnessCpuSecondsPerImage) * 1000,
    peakRssMiB: Math.max(...runs.map((run) => run.peakRssMiB)),
    s3CallsPerFile: Object.values(byMethod).reduce((sum, count) => sum + count, 0) / files,
    s3CallsByMethod: byMethod,
    processed: reported('processed'),
    failed: reported('failed'),
    ...outputs,
  };
}

/** A range of the files through the program, `concurrency` at a time, each into its own directory (directDir/<index>). */
async function runDirect(
  programScript: string,
  allFiles: readonly GeojsonInput[],
  range: { start: number; end: number },
  concurrency: number,
  directDir: string,
  tmpDir: string,
): Promise<DirectRun> {
  const files = allFiles.slice(range.start, range.end);
  const outDir = (index: number): string => join(directDir, String(range.start + index));
  for (let index = 0; index < files.length; index++) mkdirSync(outDir(index), { recursive: true });
  mkdirSync(tmpDir, { recursive: true });
  const childrenBefore = reapedChildrenCpuSeconds();
  const selfBefore = process.cpuUsage();
  const startedAt = process.hrtime.bigint();
  let processMs = 0;
  await runPool(files.length, concurrency, async (index) => {
    const result = await runProgram(programScript, [files[index]!.path, outDir(index)], tmpDir);
    if (result.code !== 0) throw new Error(`geojson-stats exited ${result.code} on ${files[index]!.path}: ${result.stderr}`);
    processMs += result.ms;
  });
  const seconds = elapsedSeconds(startedAt);
  const self = process.cpuUsage(selfBefore);
  const cpuSeconds = reapedChildrenCpuSeconds() - childrenBefore + (self.user + self.system) / 1e6;
  return {
    seconds,
    filesPerSecond: files.length / seconds,
    wallMsPerFile: (seconds * 1000 * concurrency) / files.length,
    meanProcessMs: processMs / files.length,
    cpuMsPerFile: (cpuSeconds * 1000) / files.length,
  };
}

/**
 * One program run, spawned as the worker spawns it (its own process group, stdout ignored) with the environment the
 * worker gives a program (command-config.ts's programEnvironment over the bench's worker environment: PATH, HOME,
 * TMPDIR), timed spawn to exit. The same environment matters: a variable such as NODE_EXTRA_CA_CERTS in the bench's
 * own environment makes every Node start read a certificate bundle, which the worker's programs never do.
 */
function runProgram(programScript: string, args: readonly string[], tmpDir: string): Promise<{ code: number | null; ms: number; stderr: string }> {
  const env = programEnvironment({ envPassthrough: [] }, workerEnv('', '', 1, undefined), tmpDir);
  return new Promise((resolve, reject) => {
    const startedAt = process.hrtime.bigint();
    const child = spawn(process.execPath, [programScript, ...args], { cwd: tmpDir, env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ms: Number(process.hrtime.bigint() - startedAt) / 1e6, stderr: stderr.trim() }));
  });
}

/** Lists the destination bucket and reads every expected output back, comparing it with the direct run's file. */
async function compareOutputs(
  endpoint: string,
  expected: readonly { key: string; expected: string }[],
): Promise<{ outputs: number; outputsMatchingDirect: number }> {
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_S3_CREDENTIALS });
  try {
    const keys = new Set<string>();
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: DEST_BUCKET, Prefix: SOURCE_KEY_PREFIX, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.add(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    let matching = 0;
    for (const item of expected) {
      if (!keys.has(item.key)) continue;
      const response = await client.send(new GetObjectCommand({ Bucket: DEST_BUCKET, Key: item.key }));
      const body = await response.Body?.transformToString();
      if (body !== undefined && body === readFileSync(item.expected, 'utf8')) matching++;
    }
    return { outputs: keys.size, outputsMatchingDirect: matching };
  } finally {
    client.destroy();
  }
}
