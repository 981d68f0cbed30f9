import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { buildS3Event } from '../../../app/src/events/s3-event-shape';
import { OUTPUT_METADATA } from '../../../app/src/naming/output-key';
import { LocalQueue } from '../../../app/src/queue/local-queue';
import { LOCAL_CREDENTIALS } from '../../../local/src/s3-server';
import { startStrictS3Front } from '../../../local/src/strict-s3-front';
import { localWorkerStatements } from '../../../local/src/worker-policy';
import { BAD_INPUT_MATRIX, BODY_CANARY, MATRIX_MAX_INPUT_BYTES, type UploadedObject } from './bad-input-matrix';
import { startFaultProxy, type FaultCounts, type FaultProxy } from './fault-proxy';
import { checkInvariants, type ExpectedInput, type InvariantReport, type LogLine, type OutputObject, type SigtermRecord } from './invariants';
import { findLogLeaks } from './log-hygiene';
import { DESTINATION_BUCKET, SOURCE_BUCKET, type FromPipeline, type PipelineSettings } from './pipeline-protocol';
import { isAlive, sampleProcess, type ProcessSample } from './process-probe';
import { stillInvisible, type HandedBack } from './queue-inspection';
import { pick, seededRandom, type Random } from './seeded-random';

export interface ChaosOptions {
  readonly dataDir: string;
  /** The worker bundle (dist/app/main.js) and the pipeline bundle (dist/test/chaos/pipeline-process.js). */
  readonly workerPath: string;
  readonly pipelinePath: string;
  /** For bundles outside the repository: where sharp, better-sqlite3 and s3rver are found. */
  readonly nodeModules: string;
  readonly goodImages: number;
  /** Include the bad-input matrix (the load run leaves it out). */
  readonly matrix: boolean;
  readonly workers: number;
  readonly concurrency: number;
  readonly faultRate: number;
  readonly seed: number;
  readonly sigkills: number;
  readonly sigterms: number;
  readonly pipelineKills: number;
  readonly timeoutSeconds: number;
  /** Sample every worker's RSS and open descriptors (the load run). */
  readonly sampleResources?: boolean;
  readonly progress?: (line: string) => void;
}

export interface WorkerResources {
  readonly pid: number;
  readonly samples: number;
  readonly firstQuarterPeakRssBytes: number;
  readonly lastQuarterPeakRssBytes: number;
  readonly firstQuarterMaxFds: number;
  readonly lastQuarterMaxFds: number;
}

export interface ChaosResult {
  readonly report: InvariantReport;
  readonly logLeaks: readonly string[];
  readonly faults: FaultCounts;
  readonly actions: {
    readonly workersStarted: number;
    readonly sigkills: number;
    readonly sigterms: number;
    /** SIGTERMs whose worker handed back at least one unfinished message. */
    readonly sigtermsWithReleases: number;
    readonly pipelineKills: number;
  };
  readonly durationSeconds: number;
  readonly logLineCount: number;
  readonly resources: readonly WorkerResources[];
  /** Files left in the workers' TMPDIR. */
  readonly tempFilesLeft: readonly string[];
}

/** Worker settings of every chaos run: small sizes, short timeouts so kills cost seconds, not minutes. */
export const CHAOS_WORKER_SETTINGS = {
  SIZES: '32x32,48x40',
  WAIT_SECONDS: '1',
  IDLE_POLLS: '3',
  VISIBILITY_TIMEOUT_SECONDS: '10',
  SHUTDOWN_GRACE_SECONDS: '3',
  MAX_INPUT_BYTES: String(MATRIX_MAX_INPUT_BYTES),
  TRANSIENT_RETRIES: '3',
  THROUGHPUT_LOG_SECONDS: '5',
  LOG_LEVEL: 'INFO',
} as const;
const SIZES = [{ width: 32, height: 32 }, { width: 48, height: 40 }];
const MAX_RECEIVE_COUNT = 3;
const TICK_MS = 100;
/** A worker younger than this may not have received anything yet: killing it would test nothing. */
const MIN_VICTIM_AGE_MS = 1200;
const MIN_ACTION_SPACING_MS = 600;
const BROWN_OUT_EXTRA_MS = 1500;

type ChaosAction = 'sigkill' | 'sigterm' | 'pipeline-kill';

interface LiveWorker {
  readonly pid: number;
  readonly startedAt: number;
}

/**
 * One chaos run: loads good images and the bad-input matrix, runs the pipeline with workers behind the fault proxy,
 * kills workers and the whole pipeline on a seeded schedule as the queue drains, then checks the invariants over the
 * destination bucket, the DLQ and every worker log line.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const say = options.progress ?? (() => undefined);
  const random = seededRandom(options.seed);
  mkdirSync(options.dataDir, { recursive: true });
  const tmpDir = join(options.dataDir, 'worker-tmp');
  mkdirSync(tmpDir, { recursive: true });
  const queuePath = join(options.dataDir, 'queue.db');
  const queue = LocalQueue.open(queuePath, { create: { visibilityTimeoutSeconds: 10, maxReceiveCount: MAX_RECEIVE_COUNT } });
  const proxy = await startFaultProxy({ upstream: 'http://127.0.0.1:9', rate: options.faultRate, seed: options.seed });
  // Workers -> strict front (the task role's policy, S3's 403s and limits) -> fault proxy -> s3rver. The front lives
  // here, not in the pipeline process, so it outlives the pipeline kills as S3 would.
  const front = await startStrictS3Front({
    upstream: proxy.endpoint,
    statements: localWorkerStatements({ sourceBucket: SOURCE_BUCKET, sourcePrefix: '', destBucket: DESTINATION_BUCKET, destPrefix: '' }),
    onRefused: (refusal) => say(`S3 front refused ${refusal.method} s3://${refusal.bucket ?? ''}/${refusal.key ?? ''}: ${refusal.status} ${refusal.code} (${refusal.detail})`),
  });
  const workerEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NODE_PATH: options.nodeModules,
    QUEUE_URL: queuePath,
    DEST_BUCKET: DESTINATION_BUCKET,
    ALLOWED_SOURCE_BUCKETS: SOURCE_BUCKET,
    CONCURRENCY: String(options.concurrency),
    ...CHAOS_WORKER_SETTINGS,
    AWS_ENDPOINT_URL: front.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    MALLOC_ARENA_MAX: '2',
    NODE_NO_WARNINGS: '1',
    TMPDIR: tmpDir,
  };
  const live = new Map<number, LiveWorker>();
  const logOf = new Map<number, string>();
  const sigterms: SigtermRecord[] = [];
  const pendingTerms = new Map<number, number>();
  const samples = new Map<number, ProcessSample[]>();
  const actions = { workersStarted: 0, sigkills: 0, sigterms: 0, pipelineKills: 0 };
  let generation = 0;
  let pipeline: RunningPipeline | undefined;

  const onMessage = (message: FromPipeline) => {
    if (message.type === 'worker-started') {
      actions.workersStarted++;
      live.set(message.pid, { pid: message.pid, startedAt: message.at });
      logOf.set(message.pid, message.log);
    } else if (message.type === 'worker-exited') {
      live.delete(message.pid);
      const sentAt = pendingTerms.get(message.pid);
      if (sentAt !== undefined) {
        pendingTerms.delete(message.pid);
        // Checked the moment the exit is known: later, other workers may have taken the messages either way.
        const handedBack = handedBackBy(logOf.get(message.pid));
        sigterms.push({
          pid: message.pid, sentAt, exitedAt: message.at, exitCode: message.code, signal: message.signal,
          released: handedBack.map((m) => m.messageId), invisibleAfterExit: stillInvisible(queuePath, handedBack),
        });
      }
    }
  };
  const startPipeline = async () => {
    generation++;
    pipeline = await launchPipeline(options.pipelinePath, { dataDir: options.dataDir, workerPath: options.workerPath, workerEnv, generation }, options.nodeModules, onMessage);
    proxy.setUpstream(pipeline.endpoint);
    return pipeline;
  };

  let s3: S3Client | undefined;
  try {
    await startPipeline();
    s3 = directClient(pipeline!.endpoint);
    const inputs = await loadInputs(s3, queue, options, say);
    const totalMessages = new Set(inputs.map((input) => input.messageId)).size;
    say(`loaded ${inputs.length} inputs in ${totalMessages} messages; ${options.workers} workers x ${options.concurrency}, fault rate ${options.faultRate}`);
    pipeline!.send({ type: 'scale', workers: options.workers });

    const plan = planActions(random, options);
    let lastActionAt = 0;
    const deadline = started + options.timeoutSeconds * 1000;
    for (;;) {
      await sleep(TICK_MS);
      if (options.sampleResources) sampleWorkers(live, samples);
      const depth = await queue.depth();
      const remaining = depth.visible + depth.inFlight + depth.delayed;
      if (remaining === 0 && live.size === 0 && pendingTerms.size === 0) break;
      if (Date.now() > deadline) {
        throw new Error(`chaos run not finished after ${options.timeoutSeconds}s: ${depth.visible} visible, ${depth.inFlight} in flight, ${depth.delayed} delayed, ${live.size} workers`);
      }
      const doneFraction = 1 - remaining / totalMessages;
      const next = plan[0];
      if (next === undefined || Date.now() - lastActionAt < MIN_ACTION_SPACING_MS || doneFraction < next.atFraction) continue;
      const victims = [...live.values()].filter((worker) => Date.now() - worker.startedAt >= MIN_VICTIM_AGE_MS && !pendingTerms.has(worker.pid));
      if (next.action === 'pipeline-kill') {
        // Wait for SIGTERMed workers to report their exit first: the killed pipeline could not report it.
        if (pendingTerms.size > 0 || live.size === 0) continue;
        plan.shift();
        say(`SIGKILL to the whole pipeline (generation ${generation}, ${live.size} workers) at ${Math.round(doneFraction * 100)}% done`);
        await pipeline!.killGroup();
        await waitUntil(() => [...live.keys()].every((pid) => !isAlive(pid)), 10_000);
        live.clear();
        actions.pipelineKills++;
        await startPipeline();
        s3.destroy();
        s3 = directClient(pipeline!.endpoint);
        pipeline!.send({ type: 'scale', workers: options.workers });
        say(`pipeline restarted (generation ${generation}) on ${pipeline!.endpoint}`);
      } else {
        if (victims.length === 0) continue;
        plan.shift();
        const victim = pick(random, victims);
        if (next.action === 'sigkill') {
          process.kill(victim.pid, 'SIGKILL');
          actions.sigkills++;
        } else {
          // A brown-out longer than the grace period holds the victim's S3 calls, so it is caught mid-batch and must
          // hand its unfinished messages back rather than finish them.
          proxy.holdFor(Number(CHAOS_WORKER_SETTINGS.SHUTDOWN_GRACE_SECONDS) * 1000 + BROWN_OUT_EXTRA_MS);
          pendingTerms.set(victim.pid, Date.now());
          process.kill(victim.pid, 'SIGTERM');
          actions.sigterms++;
        }
        say(`${next.action.toUpperCase()} to worker ${victim.pid} at ${Math.round(doneFraction * 100)}% done`);
      }
      lastActionAt = Date.now();
    }
    if (plan.length > 0) say(`the queue drained before ${plan.length} planned actions could run`);

    proxy.setRate(0);
    say('drained; checking invariants');
    const [outputs, deadLetters] = await Promise.all([listOutputs(s3), queue.peekDeadLetters(1_000_000)]);
    const logs = readLogs(join(options.dataDir, 'logs'));
    const logLines = logs.flatMap((source) => parseLogLines(source.text));
    const report = checkInvariants({
      inputs,
      outputs,
      deadLetterIds: deadLetters.map((letter) => letter.attributes['source-message-id'] ?? letter.messageId),
      logLines,
      sizes: SIZES,
      naming: { destPrefix: '', sourcePrefix: '', extension: '.jpg' },
      distinctWritesByKey: distinctWrites(proxy),
      sigterms,
      shutdownGraceSeconds: Number(CHAOS_WORKER_SETTINGS.SHUTDOWN_GRACE_SECONDS),
    });
    const logLeaks = findLogLeaks(logs, {
      forbidden: [
        { label: 'the secret access key', value: LOCAL_CREDENTIALS.secretAccessKey },
        { label: 'the access key id', value: LOCAL_CREDENTIALS.accessKeyId },
        { label: 'message body content', value: BODY_CANARY },
      ],
    });
    return {
      report,
      logLeaks,
      faults: proxy.counts(),
      actions: { ...actions, sigtermsWithReleases: sigterms.filter((term) => term.released.length > 0).length },
      durationSeconds: Math.round((Date.now() - started) / 100) / 10,
      logLineCount: logLines.length,
      resources: [...samples.entries()].map(([pid, list]) => summariseResources(pid, list)).filter((r) => r.samples >= 8),
      tempFilesLeft: readdirSync(tmpDir),
    };
  } finally {
    s3?.destroy();
    await pipeline?.shutdown();
    await front.close();
    await proxy.close();
    await queue.close();
  }
}

/** Actions at seeded points spread over the first 70% of the run, the pipeline kill in the middle of them. */
export function planActions(random: Random, counts: { sigkills: number; sigterms: number; pipelineKills: number }): { action: ChaosAction; atFraction: number }[] {
  const workerActions: ChaosAction[] = [...Array<ChaosAction>(counts.sigkills).fill('sigkill'), ...Array<ChaosAction>(counts.sigterms).fill('sigterm')];
  for (let i = workerActions.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [workerActions[i], workerActions[j]] = [workerActions[j], workerActions[i]];
  }
  const all = [...workerActions];
  for (let k = 0; k < counts.pipelineKills; k++) all.splice(Math.floor(((k + 1) * all.length) / (counts.pipelineKills + 1)), 0, 'pipeline-kill');
  return all.map((action, index) => ({ action, atFraction: (0.7 * index) / Math.max(1, all.length) }));
}

interface RunningPipeline {
  readonly endpoint: string;
  send(message: { type: 'scale'; workers: number }): void;
  killGroup(): Promise<void>;
  shutdown(): Promise<void>;
}

async function launchPipeline(path: string, settings: PipelineSettings, nodeModules: string, onMessage: (message: FromPipeline) => void): Promise<RunningPipeline> {
  const child: ChildProcess = fork(path, [], {
    detached: true,
    env: { PATH: process.env.PATH ?? '', NODE_PATH: nodeModules, NODE_NO_WARNINGS: '1', CHAOS_PIPELINE: JSON.stringify(settings) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.on('message', (message: FromPipeline) => {
      if (message.type === 'ready') resolve(message.endpoint);
      else onMessage(message);
    });
    child.once('exit', (code, signal) => reject(new Error(`chaos pipeline exited before it was ready (${code ?? signal})`)));
  });
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  return {
    endpoint,
    send: (message) => child.send(message),
    killGroup: async () => {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
      await exited;
    },
    shutdown: async () => {
      if (!alive) return;
      child.send({ type: 'shutdown' });
      const timer = setTimeout(() => alive && process.kill(-(child.pid ?? 0), 'SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Loading and verifying bypass the proxy; s3rver itself answers 500 now and then under thousands of requests. */
function directClient(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS, maxAttempts: 10 });
}

/** Uploads every input (straight to the server: loading is not under test) and queues its message. */
async function loadInputs(s3: S3Client, queue: LocalQueue, options: ChaosOptions, say: (line: string) => void): Promise<ExpectedInput[]> {
  const upload = async (key: string, bytes: Buffer): Promise<UploadedObject> => {
    const put = await s3.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: bytes }));
    return { key, etag: (put.ETag ?? '').replace(/"/g, ''), size: bytes.length };
  };
  const inputs: ExpectedInput[] = [];
  const event = (object: UploadedObject) => buildS3Event([{ bucket: SOURCE_BUCKET, ...object }]);

  const goodKeys = Array.from({ length: options.goodImages }, (_, i) => `good/${String(Math.floor(i / 100)).padStart(3, '0')}/img-${i}.jpg`);
  for (let start = 0; start < goodKeys.length; start += 200) {
    const batch = await mapLimit(goodKeys.slice(start, start + 200), 16, async (key, i) => upload(key, await goodImage(start + i)));
    const ids = await queue.sendBatch(batch.map(event));
    batch.forEach((object, i) => inputs.push({ caseId: 'good', messageId: ids[i], key: object.key, etag: object.etag, expected: 'processed' }));
    if (goodKeys.length > 1000) say(`uploaded ${Math.min(start + 200, goodKeys.length)}/${goodKeys.length} good images`);
  }
  if (!options.matrix) return inputs;

  for (const matrixCase of BAD_INPUT_MATRIX) {
    const uploaded: UploadedObject[] = [];
    for (const object of matrixCase.objects) uploaded.push(await upload(object.key, await object.bytes()));
    const expectation = { caseId: matrixCase.id, expected: matrixCase.expected, ...(matrixCase.reason !== undefined ? { reason: matrixCase.reason } : {}) };
    const delivery = matrixCase.delivery;
    if (delivery.kind === 'raw-body') {
      const messageId = await queue.send(delivery.body(uploaded));
      if (uploaded.length === 0) inputs.push({ ...expectation, messageId });
      for (const object of uploaded) inputs.push({ ...expectation, messageId, key: object.key, etag: object.etag });
      continue;
    }
    for (const object of uploaded) {
      const messageId = await queue.send(event(object));
      inputs.push({ ...expectation, messageId, key: object.key, etag: object.etag });
      if (delivery.kind === 'deleted-before-processing') await s3.send(new DeleteObjectCommand({ Bucket: SOURCE_BUCKET, Key: object.key }));
    }
  }
  return inputs;
}

/** Small, fast to make, and each one different so two outputs can never be confused. */
function goodImage(n: number): Promise<Buffer> {
  const colour = { r: (n * 37) % 256, g: (n * 91) % 256, b: (n * 53) % 256 };
  return sharp({ create: { width: 64 + (n % 7), height: 48 + (n % 5), channels: 3, background: colour } }).jpeg({ quality: 80 }).toBuffer();
}

async function listOutputs(s3: S3Client): Promise<OutputObject[]> {
  // ListObjects (v1, paged by Marker), not V2: s3rver 3.7.1 builds V2 continuation tokens with DES, which OpenSSL 3
  // (Node >= 17) refuses, so any V2 listing past 1,000 keys answers 500 InternalError.
  const keys: string[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: DESTINATION_BUCKET, Marker: marker }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
    if (page.IsTruncated !== true || keys.length === 0) break;
    marker = keys[keys.length - 1];
  }
  return mapLimit(keys, 8, async (key) => {
    const object = await s3.send(new GetObjectCommand({ Bucket: DESTINATION_BUCKET, Key: key }));
    const bytes = Buffer.from(await object.Body!.transformToByteArray());
    const meta = await sharp(bytes).metadata();
    return { key, sourceEtag: object.Metadata?.[OUTPUT_METADATA.sourceEtag], width: meta.width ?? 0, height: meta.height ?? 0 };
  });
}

function distinctWrites(proxy: FaultProxy): Record<string, number> {
  const prefix = `${DESTINATION_BUCKET}/`;
  return Object.fromEntries([...proxy.writes()].filter(([path]) => path.startsWith(prefix)).map(([path, bodies]) => [path.slice(prefix.length), bodies.size]));
}

/** The messages a worker logged as handed back, with the receive count of the delivery it gave up. */
function handedBackBy(logPath: string | undefined): HandedBack[] {
  if (logPath === undefined) return [];
  const lines = parseLogLines(readFileSync(logPath, 'utf8'));
  const receiveCounts = new Map(lines.filter((line) => line.message === 'received').map((line) => [String(line.messageId), Number(line.receiveCount)]));
  return lines
    .filter((line) => line.message === 'released unfinished messages')
    .flatMap((line) => (Array.isArray(line.messageIds) ? (line.messageIds as string[]) : []))
    .map((messageId) => ({ messageId, receiveCount: receiveCounts.get(messageId) ?? Number.MAX_SAFE_INTEGER }));
}

function readLogs(dir: string): { file: string; text: string }[] {
  return readdirSync(dir).filter((name) => name.endsWith('.log')).sort().map((name) => ({ file: name, text: readFileSync(join(dir, name), 'utf8') }));
}

/** The last line of a killed worker may be cut off mid-write; anything that is not a JSON object is not a log event. */
export function parseLogLines(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(raw) as LogLine);
    } catch {
      // a truncated last line
    }
  }
  return lines;
}

function sampleWorkers(live: Map<number, LiveWorker>, samples: Map<number, ProcessSample[]>): void {
  for (const pid of live.keys()) {
    const sample = sampleProcess(pid);
    if (sample === undefined) continue;
    const list = samples.get(pid) ?? [];
    list.push(sample);
    samples.set(pid, list);
  }
}

export function summariseResources(pid: number, list: readonly ProcessSample[]): WorkerResources {
  const quarter = Math.max(1, Math.floor(list.length / 4));
  const first = list.slice(0, quarter);
  const last = list.slice(-quarter);
  const max = (items: readonly ProcessSample[], pickValue: (s: ProcessSample) => number) => Math.max(0, ...items.map(pickValue));
  return {
    pid,
    samples: list.length,
    firstQuarterPeakRssBytes: max(first, (s) => s.rssBytes),
    lastQuarterPeakRssBytes: max(last, (s) => s.rssBytes),
    firstQuarterMaxFds: max(first, (s) => s.fds),
    lastQuarterMaxFds: max(last, (s) => s.fds),
  };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  }));
  return results;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for killed workers to die');
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
