import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { pack } from 'tar-stream';
import * as yauzl from 'yauzl';
import { ZipFile } from 'yazl';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { listenOnLoopback, type LoopbackListener } from '../../../local/src/loopback-server';
import { LOCAL_CREDENTIALS } from '../../../local/src/s3-server';
import { startStrictS3Front, type StrictS3Front } from '../../../local/src/strict-s3-front';
import { localRoleStatements } from '../../../local/src/worker-policy';
import {
  checkArchiveInvariants, type ArchiveInvariantReport, type BatchZipFound, type DeadLetterFound, type ExportTruth, type PartWrites, type TruthRow, type WorkDirFound,
} from './archive-invariants';
import { CHAOS_WORKER_SETTINGS, directClient, parseLogLines, readLogs, sleep } from './chaos-run';
import { FAULT_KINDS, S3_OPERATIONS, startFaultProxy, type FaultCounts } from './fault-proxy';
import { findLogLeaks } from './log-hygiene';
import { launchPipeline, type RunningPipeline } from './pipeline-launcher';
import { SOURCE_BUCKET, type FromPipeline, type WorkerPipeline } from './pipeline-protocol';
import { killTask } from './process-probe';
import { auditSends, messagesLeft, sentMessages } from './queue-inspection';
import { pick, randomInt, seededRandom, type Random } from './seeded-random';

/** Where the exports are uploaded (the role's archive prefix) and where the batch ZIPs and markers go. */
export const ARCHIVE_CHAOS_EXPORT_PREFIX = 'exports/';
export const ARCHIVE_CHAOS_OUTPUT_PREFIX = 'batch/';
/** Every image carries it (in a JPEG comment): a log line holding it holds image content. */
const IMAGE_CANARY = 'CHAOS-IMAGE-CONTENT-';
/** The worker dead-letters on its 5th failed attempt (the infra's default); the queue redrives two later. */
const MAX_RECEIVE_COUNT = 5;
const REDRIVE_RECEIVE_COUNT = MAX_RECEIVE_COUNT + 2;
/**
 * Kills per export, whatever their kind (a cut TAR stream counts: it fails its attempt too): with MAX_RECEIVE_COUNT 5
 * a good export keeps two attempts for failures of its own, and only the fifth would end in a failure callback.
 */
const MAX_KILLS_PER_EXPORT = 3;
const TICK_MS = 100;
const MIN_VICTIM_AGE_MS = 1200;
const MIN_KILL_SPACING_MS = 800;
/** WORK_DIR is measured every this many ticks. */
const DISK_SAMPLE_TICKS = 5;
/** Only archive reads of at least this much are cut mid-body. */
const MIN_CUT_BODY_BYTES = 256 * 1024;
const HEADER = ['record_id', 'image', 'caption', 'observed_at'];
const CAPTIONS = ['Robin', 'Blue tit, juvenile', 'Wren "jenny"', 'Blackbird\n(female)', 'Chaffinch; ringed', 'Dunnock'];

/** One export the generator writes: its format, how many images, and how large each is (bytes, uniform in the range). */
export interface ArchiveExportSpec {
  readonly format: 'zip' | 'tar.gz';
  readonly images: number;
  readonly minImageBytes: number;
  readonly maxImageBytes: number;
}

export interface ArchiveChaosOptions {
  readonly dataDir: string;
  /** The worker bundle (dist/app/main.js) and the pipeline process (dist/test/chaos/pipeline-process.js). */
  readonly workerPath: string;
  readonly pipelinePath: string;
  readonly nodeModules: string;
  readonly seed: number;
  /** The good exports (the two broken uploads are always added). */
  readonly exports: readonly ArchiveExportSpec[];
  /** VISIBILITY_TIMEOUT_SECONDS (10 to 43200; default 10): how long a killed worker's message stays hidden. */
  readonly visibilityTimeoutSeconds?: number;
  /** Worker slots, each its own lane (one worker at a time) with its own S3 endpoint, so a request tells its process. */
  readonly workers: number;
  /** BATCH_SIZE: rows per batch ZIP. Batches over 8 MiB are uploaded in parts (multipart), smaller ones in one PUT. */
  readonly batchSize: number;
  /** DISK_BUDGET_MIB: a TAR.GZ's out-of-order entries spill within it, else its batches need more passes. */
  readonly diskBudgetMiB: number;
  /** S3 fault rate for GETs (ranged reads, TAR streams) and other calls. */
  readonly s3FaultRate: number;
  /** Rates for HEADs (the archive, each part, the marker), PUTs (single-part batch ZIPs, markers) and multipart calls. */
  readonly headFaultRate: number;
  readonly putFaultRate: number;
  readonly multipartFaultRate: number;
  /** How long a slow S3 answer is held. */
  readonly slowMs: number;
  /** SIGKILLs at random moments while a worker builds and uploads batch ZIPs. */
  readonly randomKills: number;
  /** SIGKILLs the moment a worker sends an UploadPart (the multipart upload begun, not completed). */
  readonly midUploadKills: number;
  /** SIGKILLs once S3 completed a batch ZIP's upload, before the answer reaches the worker. */
  readonly afterCompleteKills: number;
  /** SIGKILLs when a worker writes its callback marker: the callback already sent, the marker not written. */
  readonly beforeMarkerKills: number;
  /** SIGKILLs once S3 wrote the marker, before the answer reaches the worker: its redelivery must not send again. */
  readonly afterMarkerKills: number;
  /**
   * Archive GETs whose answer is cut mid-body (the connection reset after a random share of it): a ZIP's ranged read
   * is retried in place, a TAR.GZ's streamed pass fails its attempt.
   */
  readonly bodyCuts: number;
  readonly timeoutSeconds: number;
  readonly progress?: (line: string) => void;
}

export type ArchiveKillKind = 'random' | 'mid-upload' | 'after-complete' | 'before-marker' | 'after-marker';
export const ARCHIVE_KILL_KINDS: readonly ArchiveKillKind[] = ['random', 'mid-upload', 'after-complete', 'before-marker', 'after-marker'];

/** An archive GET whose answer the run cut mid-body. */
export interface BodyCutRecord {
  readonly lane: string;
  readonly stem: string;
  /** A ZIP's ranged read, or a TAR's streamed pass. */
  readonly ranged: boolean;
  readonly afterBytes: number;
  readonly ofBytes: number;
}

export interface ArchiveKillRecord {
  readonly kind: ArchiveKillKind;
  readonly lane: string;
  readonly stem: string;
  readonly at: number;
  readonly detail: string;
}

export interface ArchiveChaosResult {
  readonly report: ArchiveInvariantReport;
  readonly logLeaks: readonly string[];
  readonly s3Faults: FaultCounts;
  readonly kills: readonly ArchiveKillRecord[];
  readonly bodyCuts: readonly BodyCutRecord[];
  /** Planned kills and cuts the run ended before. */
  readonly unfiredKills: number;
  readonly workersStarted: number;
  readonly generated: { readonly zips: number; readonly tars: number; readonly images: number; readonly rows: number; readonly missing: number; readonly bytes: number };
  /** Per export: its size, and the archive bytes its GETs delivered over all its attempts (the lane proxies count them). */
  readonly archiveReads: readonly { readonly stem: string; readonly format: string; readonly bytes: number; readonly read: number; readonly attempts: number }[];
  /** What the lane proxies saw the workers do to the batch ZIPs. */
  readonly uploads: { readonly singlePuts: number; readonly multipartStarted: number; readonly uploadParts: number; readonly multipartCompleted: number; readonly aborts: number };
  /** What the workers said. */
  readonly workerLines: {
    /** `archive split` lines: attempts that reached the callback, with the parts they built and kept. */
    readonly splits: number;
    readonly partsBuilt: number;
    readonly partsKept: number;
    readonly batchesUploaded: number;
    /** The most reads of one archive an attempt that reached the callback made (a TAR's listing read included). */
    readonly maxPasses: number;
    /** TAR building passes, of every attempt (killed ones included), and the most any spilled to disk at once. */
    readonly buildingPasses: number;
    readonly spillHighWaterBytes: number;
    /** The most bytes the run saw in one worker's directory at once (sampled every half second). */
    readonly observedDiskBytes: number;
    readonly callbacksSent: number;
    readonly callbacksAlreadySent: number;
    readonly retriedByReason: Readonly<Record<string, number>>;
    /** Each failed attempt handed back for a retry: its reason and the start of its detail. */
    readonly retried: readonly string[];
    readonly deadLetteredByReason: Readonly<Record<string, number>>;
    readonly redeliveries: number;
  };
  readonly durationSeconds: number;
  readonly logLineCount: number;
}

/** What one S3 request of a worker is, as the lane proxy sees it. */
export type ArchiveCallKind =
  | 'archive-head' | 'archive-get' | 'part-head' | 'part-put' | 'multipart-create' | 'multipart-part' | 'multipart-complete' | 'multipart-abort'
  | 'marker-head' | 'marker-put' | 'other';

export interface ArchiveCall {
  readonly kind: ArchiveCallKind;
  /** A GET with a Range header (the lane proxy sets it; the classifier sees no headers). */
  readonly ranged?: boolean;
  /** The export the call is about (from the archive's key, a batch ZIP's or a marker's). */
  readonly stem?: string;
  readonly key?: string;
}

/**
 * Pure: a worker's path-style request to what it does. `stemOf` maps an archive's file name to its stem (only the
 * run's uploads have one).
 */
export function classifyArchiveCall(method: string, url: string, stemOf: (file: string) => string | undefined): ArchiveCall {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt + 1);
  const prefix = `/${SOURCE_BUCKET}/`;
  if (!path.startsWith(prefix)) return { kind: 'other' };
  let key: string;
  try {
    key = decodeURIComponent(path.slice(prefix.length));
  } catch {
    return { kind: 'other' };
  }
  if (key.startsWith(ARCHIVE_CHAOS_EXPORT_PREFIX)) {
    const stem = stemOf(key.slice(ARCHIVE_CHAOS_EXPORT_PREFIX.length));
    const kind = method === 'HEAD' ? 'archive-head' : method === 'GET' ? 'archive-get' : 'other';
    return { kind, key, ...(stem !== undefined ? { stem } : {}) };
  }
  if (!key.startsWith(ARCHIVE_CHAOS_OUTPUT_PREFIX)) return { kind: 'other', key };
  const name = key.slice(ARCHIVE_CHAOS_OUTPUT_PREFIX.length);
  const marker = /^(.+)\.callback-(success|failure)-[0-9a-f]{32}\.json$/.exec(name);
  if (marker !== null) return { kind: method === 'HEAD' ? 'marker-head' : method === 'PUT' ? 'marker-put' : 'other', stem: marker[1]!, key };
  const part = /^(.+)-part\d+\.zip$/.exec(name);
  if (part === null) return { kind: 'other', key };
  const stem = part[1]!;
  const has = (parameter: string) => new RegExp(`(^|&)${parameter}(=|&|$)`).test(query);
  const kind: ArchiveCallKind = method === 'HEAD' ? 'part-head'
    : method === 'POST' && has('uploads') ? 'multipart-create'
      : method === 'PUT' && has('partNumber') ? 'multipart-part'
        : method === 'POST' && has('uploadId') ? 'multipart-complete'
          : method === 'DELETE' && has('uploadId') ? 'multipart-abort'
            : method === 'PUT' ? 'part-put' : 'other';
  return { kind, stem, key };
}

/** The seeded exports for a full run: formats alternating, every third one of larger images (its batches go multipart). */
export function planArchiveExports(seed: number, count: number, minImages: number, maxImages: number): ArchiveExportSpec[] {
  const random = seededRandom(seed ^ 0x5eed);
  return Array.from({ length: count }, (_, i) => ({
    format: i % 2 === 0 ? 'zip' as const : 'tar.gz' as const,
    images: randomInt(random, minImages, maxImages),
    ...(i % 3 === 1 ? { minImageBytes: 28 * 1024, maxImageBytes: 60 * 1024 } : { minImageBytes: 3 * 1024, maxImageBytes: 14 * 1024 }),
  }));
}

interface Upload {
  readonly truth: ExportTruth;
  readonly path: string;
  readonly format: 'zip' | 'tar.gz' | 'broken';
  readonly missing: number;
  readonly images: number;
}

interface LaneState {
  stem?: string;
  phase: 'idle' | 'reading' | 'parts' | 'callback';
  since: number;
}

interface LiveWorker {
  readonly pid: number;
  readonly lane: string;
  readonly log: string;
  readonly startedAt: number;
}

/**
 * An archive-split chaos run: several generated exports (ZIPs and TAR.GZs, entries in shuffled order, hundreds to
 * thousands of small incompressible images, some rows naming images the export lacks) and two broken uploads (not an
 * archive; no manifest), uploaded to s3rver, one request each on a local queue file, in shuffled order. Real worker
 * processes (`JOB=archive-split`) split them, one lane each: worker -> lane proxy (tells which worker sent a request;
 * aims kills) -> the strict S3 front with the archive-split task role -> the S3 fault proxy -> s3rver. The run SIGKILLs
 * workers at random while they build and upload batch ZIPs and at aimed moments (an UploadPart sent; an upload
 * completed by S3, unanswered; the marker write after the callback was sent; the marker written, unanswered), cuts
 * archive reads mid-body, injects S3 faults on every kind of call, and restarts workers as the local scaler would until
 * the queue drains. Then the invariants over what was left (archive-invariants.ts).
 */
export async function runArchiveChaos(options: ArchiveChaosOptions): Promise<ArchiveChaosResult> {
  const started = Date.now();
  const say = options.progress ?? (() => undefined);
  const random = seededRandom(options.seed);
  mkdirSync(options.dataDir, { recursive: true });
  const queuePath = join(options.dataDir, 'archive-split.db');
  const callbackPath = join(options.dataDir, 'callbacks.db');
  const workDir = join(options.dataDir, 'work');
  const tmpDir = join(options.dataDir, 'worker-tmp');
  mkdirSync(tmpDir, { recursive: true });
  const visibility = options.visibilityTimeoutSeconds ?? 10;
  const queue = LocalQueue.open(queuePath, { create: { visibilityTimeoutSeconds: visibility, maxReceiveCount: REDRIVE_RECEIVE_COUNT } });
  const callbacks = LocalQueue.open(callbackPath, { create: { visibilityTimeoutSeconds: 30 } });
  auditSends(callbackPath);
  const lanes = Array.from({ length: options.workers }, (_, i) => `w${i + 1}`);

  say(`generating ${options.exports.length} exports and 2 broken uploads`);
  const uploads = await generateUploads(join(options.dataDir, 'exports'), options.exports, options.seed);
  const stems = new Map(uploads.map((upload) => [upload.truth.file, upload.truth.stem]));
  const stemOf = (file: string) => stems.get(file);

  // Chaos state, acted on synchronously by the lane proxies: a kill must land before the worker's next request.
  const live = new Map<number, LiveWorker>();
  const workers: (LiveWorker & { killedAt?: number; exitedAt?: number })[] = [];
  const laneState = new Map<string, LaneState>(lanes.map((lane) => [lane, { phase: 'idle', since: Date.now() }]));
  const kills: ArchiveKillRecord[] = [];
  const killsOf = new Map<string, number>();
  /** Uploads already killed between their callback and its marker. */
  const cutBeforeMarker = new Set<string>();
  const armed = { midUpload: 0, afterComplete: 0, beforeMarker: 0, afterMarker: 0, bodyCut: 0 };
  const bodyCuts: BodyCutRecord[] = [];
  /** Archive bytes the S3 GETs of each export delivered to the workers, over all its attempts. */
  const archiveBytesRead = new Map<string, number>();
  /** Attempts per export: a lane's first HEAD of the archive in a new attempt. */
  const attemptsOf = new Map<string, number>();
  let lastKillAt = 0;
  const completedParts = new Map<string, number>();
  const uploadCounts = { singlePuts: 0, multipartStarted: 0, uploadParts: 0, multipartCompleted: 0, aborts: 0 };
  const workerOf = (lane: string) => [...live.values()].find((worker) => worker.lane === lane);
  const canKill = (lane: string, stem: string | undefined) =>
    stem !== undefined && workerOf(lane) !== undefined && (killsOf.get(stem) ?? 0) < MAX_KILLS_PER_EXPORT && Date.now() - lastKillAt >= MIN_KILL_SPACING_MS;
  const kill = (lane: string, kind: ArchiveKillKind, stem: string, detail: string) => {
    const victim = workerOf(lane);
    if (victim === undefined) return;
    killTask(victim.pid);
    live.delete(victim.pid);
    const record = workers.find((worker) => worker.pid === victim.pid);
    if (record !== undefined) record.killedAt = Date.now();
    killsOf.set(stem, (killsOf.get(stem) ?? 0) + 1);
    lastKillAt = Date.now();
    kills.push({ kind, lane, stem, at: Date.now(), detail });
    laneState.set(lane, { phase: 'idle', since: Date.now() });
    say(`SIGKILL (${kind}) to ${lane}'s worker ${victim.pid} splitting ${stem}: ${detail}`);
  };
  const onRequest = (lane: string, call: ArchiveCall): 'forward' | 'cut' => {
    const state = laneState.get(lane)!;
    const now = Date.now();
    if (call.kind === 'archive-head' && call.stem !== undefined && (state.stem !== call.stem || state.phase !== 'reading')) {
      laneState.set(lane, { stem: call.stem, phase: 'reading', since: now });
      attemptsOf.set(call.stem, (attemptsOf.get(call.stem) ?? 0) + 1);
    } else if (call.kind === 'part-head' && state.phase === 'reading' && state.stem === call.stem) {
      laneState.set(lane, { ...state, phase: 'parts', since: now });
    } else if (call.kind === 'marker-head' && state.stem === call.stem) {
      laneState.set(lane, { ...state, phase: 'callback', since: now });
    }
    if (call.kind === 'part-put') uploadCounts.singlePuts++;
    if (call.kind === 'multipart-create') uploadCounts.multipartStarted++;
    if (call.kind === 'multipart-part') uploadCounts.uploadParts++;
    if (call.kind === 'multipart-abort') uploadCounts.aborts++;
    if (call.kind === 'multipart-part' && armed.midUpload > 0 && canKill(lane, call.stem)) {
      armed.midUpload--;
      kill(lane, 'mid-upload', call.stem!, `its UploadPart for ${call.key} sent, the upload not completed`);
      return 'cut';
    }
    // One per upload: each kill in this window sends the callback once more, and the job promises at most two.
    if (call.kind === 'marker-put' && armed.beforeMarker > 0 && canKill(lane, call.stem) && !cutBeforeMarker.has(call.stem!)) {
      armed.beforeMarker--;
      cutBeforeMarker.add(call.stem!);
      kill(lane, 'before-marker', call.stem!, `its callback sent, the marker ${call.key} not yet written`);
      return 'cut';
    }
    return 'forward';
  };
  const onAnswer = (lane: string, call: ArchiveCall, status: number, contentLength: number): AnswerAction => {
    if (call.kind === 'archive-get' && armed.bodyCut > 0 && (status === 200 || status === 206) && contentLength >= MIN_CUT_BODY_BYTES && call.stem !== undefined) {
      // A TAR pass cut costs its attempt: counted against the export's kills. A ranged read is retried in place.
      if (call.ranged === true || canKill(lane, call.stem)) {
        armed.bodyCut--;
        const afterBytes = Math.floor(contentLength * (0.1 + 0.8 * random()));
        bodyCuts.push({ lane, stem: call.stem, ranged: call.ranged === true, afterBytes, ofBytes: contentLength });
        if (call.ranged !== true) {
          killsOf.set(call.stem, (killsOf.get(call.stem) ?? 0) + 1);
          lastKillAt = Date.now();
        }
        say(`cut ${lane}'s ${call.ranged === true ? 'ranged read' : 'streamed pass'} of ${call.key} after ${afterBytes} of ${contentLength} bytes`);
        return { cutAfterBytes: afterBytes };
      }
    }
    if (call.kind === 'marker-put' && status >= 200 && status < 300 && armed.afterMarker > 0 && canKill(lane, call.stem)) {
      armed.afterMarker--;
      kill(lane, 'after-marker', call.stem!, `its marker ${call.key} written by S3, the answer not delivered`);
      return 'cut';
    }
    const completes = (call.kind === 'part-put' || call.kind === 'multipart-complete') && status >= 200 && status < 300;
    if (!completes) return 'reply';
    completedParts.set(call.key!, (completedParts.get(call.key!) ?? 0) + 1);
    if (call.kind === 'multipart-complete') uploadCounts.multipartCompleted++;
    if (armed.afterComplete > 0 && canKill(lane, call.stem)) {
      armed.afterComplete--;
      kill(lane, 'after-complete', call.stem!, `${call.key} ${call.kind === 'part-put' ? 'written' : 'completed'} by S3, the answer not delivered`);
      return 'cut';
    }
    return 'reply';
  };

  const proxy = await startFaultProxy({
    upstream: 'http://127.0.0.1:9', rate: options.s3FaultRate, seed: options.seed, slowMs: options.slowMs, answerAbortMultipart: true,
    rateByOperation: { HEAD: options.headFaultRate, PUT: options.putFaultRate, multipart: options.multipartFaultRate },
  });
  const frontRefusals: string[] = [];
  let front: StrictS3Front | undefined;
  const laneProxies: LoopbackListener[] = [];
  let pipeline: RunningPipeline | undefined;
  let s3: S3Client | undefined;
  try {
    // Workers -> their lane proxy -> the archive-split role's strict front -> the fault proxy -> s3rver.
    front = await startStrictS3Front({
      upstream: proxy.endpoint,
      statements: localRoleStatements({ kind: 'archive-split', outputPrefix: ARCHIVE_CHAOS_OUTPUT_PREFIX }, {
        pipeline: 'archive-split', sourceBucket: SOURCE_BUCKET, sourcePrefix: ARCHIVE_CHAOS_EXPORT_PREFIX, destBucket: SOURCE_BUCKET, destPrefix: ARCHIVE_CHAOS_OUTPUT_PREFIX,
      }),
      onRefused: (refusal) => {
        const text = `${refusal.method} s3://${refusal.bucket ?? ''}/${refusal.key ?? ''}: ${refusal.status} ${refusal.code} (${refusal.detail})`;
        frontRefusals.push(text);
        say(`S3 front refused ${text}`);
      },
    });
    const endpoints = new Map<string, string>();
    for (const lane of lanes) {
      const listener = await startLaneProxy(lane, front.endpoint, stemOf, onRequest, onAnswer, (stem, bytes) => archiveBytesRead.set(stem, (archiveBytesRead.get(stem) ?? 0) + bytes));
      laneProxies.push(listener);
      endpoints.set(lane, `http://127.0.0.1:${listener.port}`);
    }

    const { SIZES: _sizes, MAX_INPUT_BYTES: _maxInput, VISIBILITY_TIMEOUT_SECONDS: _visibility, ...jobNeutral } = CHAOS_WORKER_SETTINGS;
    const workerEnv = (lane: string): Record<string, string> => ({
      PATH: process.env.PATH ?? '',
      NODE_PATH: options.nodeModules,
      ...jobNeutral,
      JOB: 'archive-split',
      QUEUE_URL: queuePath,
      ALLOWED_SOURCE_BUCKETS: SOURCE_BUCKET,
      VISIBILITY_TIMEOUT_SECONDS: String(visibility),
      MAX_RECEIVE_COUNT: String(MAX_RECEIVE_COUNT),
      MESSAGE_DEADLINE_SECONDS: '900',
      ALLOWED_BUCKETS: SOURCE_BUCKET,
      ALLOWED_CALLBACK_QUEUES: callbackPath,
      BATCH_SIZE: String(options.batchSize),
      OUTPUT_PREFIX: ARCHIVE_CHAOS_OUTPUT_PREFIX,
      WORK_DIR: workDir,
      DISK_BUDGET_MIB: String(options.diskBudgetMiB),
      AWS_ENDPOINT_URL: endpoints.get(lane)!,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      MALLOC_ARENA_MAX: '2',
      NODE_NO_WARNINGS: '1',
      TMPDIR: tmpDir,
    });
    const pipelines: WorkerPipeline[] = lanes.map((name) => ({ name, workerEnv: workerEnv(name) }));
    let configRefused: string | undefined;
    const onMessage = (message: FromPipeline) => {
      if (message.type === 'worker-started') {
        const worker = { pid: message.pid, lane: message.pipeline ?? '?', log: message.log, startedAt: message.at };
        live.set(message.pid, worker);
        workers.push(worker);
        laneState.set(worker.lane, { phase: 'idle', since: Date.now() });
      } else if (message.type === 'worker-exited') {
        live.delete(message.pid);
        const record = workers.find((worker) => worker.pid === message.pid);
        if (record !== undefined) record.exitedAt = message.at;
        // Exit code 2: the worker refused its configuration; every restart would too.
        if (message.code === 2 && record !== undefined) configRefused ??= readFileSync(record.log, 'utf8').trim().split('\n').slice(-1)[0] ?? 'exit code 2';
      }
    };
    pipeline = await launchPipeline(options.pipelinePath, { dataDir: options.dataDir, workerPath: options.workerPath, pipelines, generation: 1 }, options.nodeModules, onMessage);
    proxy.setUpstream(pipeline.endpoint);
    s3 = directClient(pipeline.endpoint);

    for (const upload of uploads) {
      await s3.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: `${ARCHIVE_CHAOS_EXPORT_PREFIX}${upload.truth.file}`, Body: readFileSync(upload.path) }));
    }
    const order = [...uploads];
    shuffle(random, order);
    for (const upload of order) {
      await queue.send(JSON.stringify({
        downloadId: upload.truth.downloadId, file: upload.truth.file, exportPath: ARCHIVE_CHAOS_EXPORT_PREFIX, totalSize: statSync(upload.path).size,
        updatesQueueUrl: callbackPath, s3Bucket: SOURCE_BUCKET,
      }));
    }
    const good = uploads.filter((upload) => upload.truth.expect === 'success');
    const expectedParts = good.reduce((sum, upload) => sum + Math.ceil((upload.truth.rows?.length ?? 0) / options.batchSize), 0);
    say(`uploaded ${good.length} exports (${good.filter((u) => u.format === 'zip').length} ZIP, ${good.filter((u) => u.format === 'tar.gz').length} TAR.GZ; ${expectedParts} batch ZIPs expected) and ` +
      `${uploads.length - good.length} broken uploads; queued a request each in shuffled order`);

    for (const lane of lanes) pipeline.send({ type: 'scale', workers: 1, pipeline: lane });
    say(`${lanes.length} workers (BATCH_SIZE ${options.batchSize}, DISK_BUDGET_MIB ${options.diskBudgetMiB}); S3 faults: GET ${options.s3FaultRate}, HEAD ${options.headFaultRate}, ` +
      `PUT ${options.putFaultRate}, multipart ${options.multipartFaultRate} (slow answers ${options.slowMs} ms)`);

    // Kills at an UploadPart or a marker are armed from the start: only batch ZIPs over the part size make an
    // UploadPart, and an upload writes one marker, so both are rare; with an export's kills capped, late ones may
    // find nothing left to hit.
    armed.midUpload = options.midUploadKills;
    armed.beforeMarker = options.beforeMarkerKills;
    armed.afterMarker = options.afterMarkerKills;
    type Action = 'random' | 'arm-after-complete' | 'arm-body-cut';
    const actions: Action[] = [
      ...Array<Action>(options.randomKills).fill('random'), ...Array<Action>(options.afterCompleteKills).fill('arm-after-complete'),
      ...Array<Action>(options.bodyCuts).fill('arm-body-cut'),
    ];
    shuffle(random, actions);
    const plan = actions.map((action, index) => ({ action, atFraction: (0.7 * index) / Math.max(1, actions.length) }));
    /** How long into its building phase a random kill waits, drawn when the kill comes due. */
    let randomDelayMs: number | undefined;
    const deadline = started + options.timeoutSeconds * 1000;
    let unfinished: string | undefined;
    let ticks = 0;
    let observedDiskBytes = 0;
    for (;;) {
      await sleep(TICK_MS);
      if (++ticks % DISK_SAMPLE_TICKS === 0) observedDiskBytes = Math.max(observedDiskBytes, largestProcessDirBytes(workDir));
      const depth = await queue.depth();
      if (depth.visible + depth.inFlight + depth.delayed === 0 && live.size === 0) break;
      if (configRefused !== undefined) {
        unfinished = `the workers refuse their configuration: ${configRefused}`;
        say(unfinished);
        break;
      }
      if (Date.now() > deadline) {
        unfinished = `not finished after ${Math.round((Date.now() - started) / 1000)} s: ${depth.visible} visible, ${depth.inFlight} in flight, ${depth.delayed} delayed; ${live.size} workers`;
        say(unfinished);
        break;
      }
      const fraction = completedParts.size / Math.max(1, expectedParts);
      const next = plan[0];
      if (next === undefined || fraction < next.atFraction) continue;
      if (next.action !== 'random') {
        plan.shift();
        if (next.action === 'arm-after-complete') armed.afterComplete++;
        else armed.bodyCut++;
        say(`armed: a ${next.action.slice(4)}${next.action === 'arm-body-cut' ? '' : ' kill'} at ${Math.round(fraction * 100)}% of the batch ZIPs uploaded`);
        continue;
      }
      randomDelayMs ??= 150 + Math.floor(random() * 1500);
      const now = Date.now();
      const victims = lanes.filter((lane) => {
        const state = laneState.get(lane)!;
        const worker = workerOf(lane);
        return worker !== undefined && now - worker.startedAt >= MIN_VICTIM_AGE_MS && state.phase === 'parts' && now - state.since >= randomDelayMs! && canKill(lane, state.stem);
      });
      if (victims.length === 0) continue;
      plan.shift();
      const lane = pick(random, victims);
      const state = laneState.get(lane)!;
      kill(lane, 'random', state.stem!, `${((now - state.since) / 1000).toFixed(1)} s into building its batch ZIPs (${Math.round(fraction * 100)}% of all uploaded)`);
      randomDelayMs = undefined;
    }
    const unfiredKills = plan.length + armed.midUpload + armed.afterComplete + armed.beforeMarker + armed.afterMarker + armed.bodyCut;
    if (unfiredKills > 0) say(`the run ended before ${unfiredKills} planned kills could fire`);

    // Read back directly from s3rver, past every proxy.
    proxy.setRate(0);
    say('drained; reading back the batch ZIPs and checking invariants');
    const outputKeys = await listKeys(s3, ARCHIVE_CHAOS_OUTPUT_PREFIX);
    const checkDir = join(options.dataDir, 'check');
    mkdirSync(checkDir, { recursive: true });
    const batchZips = new Map<string, BatchZipFound>();
    for (const key of outputKeys.filter((candidate) => /-part\d+\.zip$/.test(candidate))) {
      batchZips.set(key, await readBatchZip(s3, key, checkDir));
    }
    rmSync(checkDir, { recursive: true, force: true });
    const writes = proxy.writes();
    const partWrites = new Map<string, PartWrites>([...completedParts].map(([key, completed]) => [key, { completed, distinctBodies: writes.get(`${SOURCE_BUCKET}/${key}`)?.size ?? 0 }]));
    const deadLetters: DeadLetterFound[] = (await queue.peekDeadLetters(10_000)).map((letter) => ({
      messageId: letter.attributes['source-message-id'] ?? letter.messageId, body: letter.body,
      reasons: (letter.attributes['failure-reasons'] ?? '').split(',').filter((reason) => reason !== ''),
    }));
    const logs = readLogs(join(options.dataDir, 'logs'));
    const logLines = logs.flatMap((source) => parseLogLines(source.text));
    const splitLines = logLines.filter((line) => line.message === 'archive split');
    const passLines = logLines.filter((line) => line.message === 'archive pass');
    const childPids = new Map<number, number>();
    for (const worker of workers) {
      const text = logs.find((source) => worker.log.endsWith(source.file))?.text ?? '';
      for (const line of parseLogLines(text)) if (typeof line.pid === 'number') childPids.set(line.pid, worker.pid);
    }
    const { workDirs, strays } = findLeftovers(workDir, tmpDir, (pid) => {
      const owner = workers.find((worker) => worker.pid === (childPids.get(pid) ?? pid));
      return owner === undefined ? undefined : { ...(owner.killedAt !== undefined ? { killedAt: owner.killedAt } : {}) };
    });
    const report = checkArchiveInvariants({
      exports: uploads.map((upload) => upload.truth),
      batchSize: options.batchSize,
      outputPrefix: ARCHIVE_CHAOS_OUTPUT_PREFIX,
      callbacks: sentMessages(callbackPath).map((message) => message.body),
      deadLetters,
      left: messagesLeft(queuePath).map((message) => ({ messageId: message.messageId, body: message.body })),
      outputKeys,
      batchZips,
      partWrites,
      workDirs,
      strays,
      lastWorkerStartAt: Math.max(0, ...workers.map((worker) => worker.startedAt)),
      disk: {
        budgetBytes: options.diskBudgetMiB * 1024 * 1024,
        loggedHighWaterBytes: Math.max(0, ...passLines.map((line) => Number(line.spillHighWaterBytes ?? 0))),
        observedHighWaterBytes: observedDiskBytes,
      },
      ...(unfinished !== undefined ? { unfinished } : {}),
    });
    // The callbacks as a consumer reads them: every one on the queue is one the audit saw sent.
    const onQueue = messagesLeft(callbackPath).length;
    if (onQueue !== report.counts.callbacks) report.violations.push(`the callback queue holds ${onQueue} messages, ${report.counts.callbacks} were sent to it`);
    for (const refusal of frontRefusals) report.violations.push(`the S3 front refused a worker's request the archive-split role should allow: ${refusal}`);

    const sum = (lines: typeof logLines, field: string) => lines.reduce((total, line) => total + Number(line[field] ?? 0), 0);
    const byReason = (outcome: string) => {
      const counts: Record<string, number> = {};
      for (const line of logLines.filter((candidate) => candidate.message === 'failed' && candidate.outcome === outcome)) {
        const reason = String(line.reason ?? '?');
        counts[reason] = (counts[reason] ?? 0) + 1;
      }
      return counts;
    };
    const logLeaks = findLogLeaks(logs, {
      forbidden: [
        { label: 'the secret access key', value: LOCAL_CREDENTIALS.secretAccessKey },
        { label: 'the access key id', value: LOCAL_CREDENTIALS.accessKeyId },
        { label: 'image content', value: IMAGE_CANARY },
      ],
    });
    return {
      report,
      logLeaks,
      s3Faults: proxy.counts(),
      kills,
      bodyCuts,
      unfiredKills,
      workersStarted: workers.length,
      generated: {
        zips: good.filter((upload) => upload.format === 'zip').length,
        tars: good.filter((upload) => upload.format === 'tar.gz').length,
        images: good.reduce((total, upload) => total + upload.images, 0),
        rows: good.reduce((total, upload) => total + (upload.truth.rows?.length ?? 0), 0),
        missing: good.reduce((total, upload) => total + upload.missing, 0),
        bytes: uploads.reduce((total, upload) => total + statSync(upload.path).size, 0),
      },
      uploads: uploadCounts,
      archiveReads: good.map((upload) => ({
        stem: upload.truth.stem, format: upload.format, bytes: statSync(upload.path).size, read: archiveBytesRead.get(upload.truth.stem) ?? 0, attempts: attemptsOf.get(upload.truth.stem) ?? 0,
      })),
      workerLines: {
        splits: splitLines.length,
        partsBuilt: sum(splitLines, 'built'),
        partsKept: sum(splitLines, 'kept'),
        batchesUploaded: logLines.filter((line) => line.message === 'batch uploaded').length,
        maxPasses: Math.max(0, ...splitLines.map((line) => Number(line.passes ?? 0))),
        spillHighWaterBytes: Math.max(0, ...passLines.map((line) => Number(line.spillHighWaterBytes ?? 0))),
        observedDiskBytes,
        buildingPasses: passLines.length,
        callbacksSent: logLines.filter((line) => line.message === 'callback sent').length,
        callbacksAlreadySent: logLines.filter((line) => line.message === 'callback already sent').length,
        retriedByReason: byReason('retry'),
        retried: logLines.filter((line) => line.message === 'failed' && line.outcome === 'retry').map((line) => `${String(line.reason ?? '?')}: ${String(line.detail ?? '').slice(0, 160)}`),
        deadLetteredByReason: byReason('dead-lettered'),
        redeliveries: logLines.filter((line) => line.message === 'received' && Number(line.receiveCount) > 1).length,
      },
      durationSeconds: Math.round((Date.now() - started) / 100) / 10,
      logLineCount: logLines.length,
    };
  } finally {
    const closing = Date.now();
    s3?.destroy();
    // The proxies first: their keep-alive sockets would hold the S3 server's close, and the pipeline's exit with it.
    await Promise.all(laneProxies.map((listener) => listener.close()));
    await front?.close();
    await proxy.close();
    await pipeline?.shutdown();
    await queue.close();
    await callbacks.close();
    say(`shut down in ${((Date.now() - closing) / 1000).toFixed(1)} s`);
  }
}

/**
 * One lane's proxy: forwards every request of its worker to `upstream`, bodies streamed both ways, and lets the run act
 * on a request before it is forwarded or once its answer arrived (a kill, then the connection cut).
 */
async function startLaneProxy(
  lane: string,
  upstream: string,
  stemOf: (file: string) => string | undefined,
  onRequest: (lane: string, call: ArchiveCall) => 'forward' | 'cut',
  onAnswer: (lane: string, call: ArchiveCall, status: number, contentLength: number) => AnswerAction,
  onArchiveBytes: (stem: string, bytes: number) => void,
): Promise<LoopbackListener> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 4000 });
  const server = createServer((req, res) => {
    const classified = classifyArchiveCall(req.method ?? '', req.url ?? '/', stemOf);
    const call = req.headers.range !== undefined ? { ...classified, ranged: true } : classified;
    if (onRequest(lane, call) === 'cut') return void req.socket.destroy();
    const outgoing = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      const status = answer.statusCode ?? 502;
      const action = onAnswer(lane, call, status, Number(answer.headers['content-length'] ?? 0));
      if (action === 'cut') {
        answer.resume();
        return void req.socket.destroy();
      }
      if (call.kind === 'archive-get' && call.stem !== undefined) {
        const stem = call.stem;
        answer.on('data', (chunk: Buffer) => onArchiveBytes(stem, chunk.length));
      }
      res.writeHead(status, answer.headers);
      if (action === 'reply') return void answer.pipe(res);
      // The headers and the first bytes, then the connection reset, as a network failure mid-body does.
      let sent = 0;
      answer.on('data', (chunk: Buffer) => {
        if (sent >= action.cutAfterBytes) return;
        const part = chunk.subarray(0, action.cutAfterBytes - sent);
        sent += part.length;
        res.write(part);
        if (sent >= action.cutAfterBytes) {
          answer.destroy();
          setTimeout(() => req.socket.destroy(), 20);
        }
      });
    });
    outgoing.on('error', () => req.socket.destroy());
    req.pipe(outgoing);
  });
  const listener = await listenOnLoopback(server);
  return { port: listener.port, close: async () => {
    agent.destroy();
    await listener.close();
  } };
}

/** The exports, their truth, and the two broken uploads, written under `dir`. */
async function generateUploads(dir: string, specs: readonly ArchiveExportSpec[], seed: number): Promise<Upload[]> {
  mkdirSync(dir, { recursive: true });
  const random = seededRandom(seed + 17);
  const uploads: Upload[] = [];
  for (const [index, spec] of specs.entries()) {
    const number = String(index + 1).padStart(2, '0');
    const stem = `survey-${seed}-${number}`;
    const file = `${stem}.${spec.format}`;
    const path = join(dir, file);
    const images = imageStream(seed, index);
    const rows: TruthRow[] = [];
    const files: { name: string; bytes: Buffer }[] = [];
    // About one row in thirty names an image the export lacks; a ZIP also has a row naming a path outside it.
    const missingEvery = 25 + randomInt(random, 0, 10);
    const unsafeAt = spec.format === 'zip' ? randomInt(random, 0, spec.images - 1) : -1;
    for (let i = 0; i < spec.images; i++) {
      const id = `E${number}-${String(i + 1).padStart(6, '0')}`;
      if (i === unsafeAt) {
        rows.push({ values: [id, `../outside/${id}.jpg`, 'a row naming a path outside the export', ''], image: `../outside/${id}.jpg` });
        continue;
      }
      const image = `photos/${id.slice(0, 7)}/${id}.jpg`;
      const values = [id, image, `${CAPTIONS[i % CAPTIONS.length]} at feeder ${i % 17}`, `2026-${String(1 + (i % 12)).padStart(2, '0')}-0${1 + (i % 9)}T0${i % 10}:00:00Z`];
      if ((i + 1) % missingEvery === 0) {
        rows.push({ values, image });
        continue;
      }
      const bytes = images(`${id}`, randomInt(random, spec.minImageBytes, spec.maxImageBytes));
      rows.push({ values, image, sha256: createHash('sha256').update(bytes).digest('hex') });
      files.push({ name: `export/${image}`, bytes });
    }
    shuffle(random, files);
    if (spec.format === 'zip') {
      // As a spreadsheet saves it on Windows: a BOM, CRLF line ends, a capitalised name, somewhere among the images.
      const csv = stringify([HEADER, ...rows.map((row) => row.values as string[])], { record_delimiter: 'windows', quoted_match: /[\r\n]/ });
      files.splice(randomInt(random, 0, files.length), 0, { name: 'export/Manifest.csv', bytes: Buffer.from(`\ufeff${csv}`, 'utf8') });
      await writeZip(path, files);
    } else {
      // At the end, as many exporters write it: the listing read has to reach it before any batch is planned.
      files.push({ name: 'export/manifest.csv', bytes: Buffer.from(stringify([HEADER, ...rows.map((row) => row.values as string[])]), 'utf8') });
      await writeTarGz(path, files);
    }
    const truth: ExportTruth = { downloadId: `dl-${seed}-${number}`, file, stem, expect: 'success', header: HEADER, rows };
    uploads.push({ truth, path, format: spec.format, missing: rows.length - files.length + 1, images: files.length - 1 });
  }
  const notArchive = join(dir, 'field-notes.zip');
  writeFileSync(notArchive, 'Field notes, week 48: a text file someone saved with a .zip name.\n'.repeat(40));
  uploads.push({ truth: { downloadId: `dl-${seed}-not-an-archive`, file: 'field-notes.zip', stem: 'field-notes', expect: 'not-an-archive' }, path: notArchive, format: 'broken', missing: 0, images: 0 });
  const noManifest = join(dir, 'photos-only.zip');
  const loose = imageStream(seed, 99);
  await writeZip(noManifest, Array.from({ length: 12 }, (_, i) => ({ name: `export/photos/loose-${i + 1}.jpg`, bytes: loose(`loose-${i + 1}`, 6000) })));
  uploads.push({ truth: { downloadId: `dl-${seed}-no-manifest`, file: 'photos-only.zip', stem: 'photos-only', expect: 'manifest-missing' }, path: noManifest, format: 'broken', missing: 0, images: 0 });
  return uploads;
}

/**
 * Incompressible JPEG-shaped images: SOI, a comment naming the image (with the canary a log must never show), an
 * AES-CTR keystream seeded per export (fast and the same for the same seed), EOI.
 */
function imageStream(seed: number, index: number): (id: string, size: number) => Buffer {
  const key = createHash('sha256').update(`archive-chaos:${seed}:${index}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return (id, size) => {
    const comment = Buffer.from(`${IMAGE_CANARY}${id}`, 'latin1');
    const head = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xfe, (comment.length + 2) >> 8, (comment.length + 2) & 0xff]), comment]);
    const body = cipher.update(Buffer.alloc(Math.max(16, size - head.length - 2)));
    return Buffer.concat([head, body, Buffer.from([0xff, 0xd9])]);
  };
}

async function writeZip(path: string, files: readonly { name: string; bytes: Buffer }[]): Promise<void> {
  const zip = new ZipFile();
  const written = streamPipeline(zip.outputStream, createWriteStream(path));
  for (const file of files) zip.addBuffer(file.bytes, file.name, { mtime: new Date(2026, 11, 1), compress: file.name.endsWith('.csv') });
  zip.end();
  await written;
}

async function writeTarGz(path: string, files: readonly { name: string; bytes: Buffer }[]): Promise<void> {
  const tar = pack();
  const written = streamPipeline(tar, createGzip({ level: 1 }), createWriteStream(path));
  for (const file of files) {
    await new Promise<void>((resolve, reject) => tar.entry({ name: file.name, size: file.bytes.length, mtime: new Date(2026, 10, 30) }, file.bytes, (error) => (error ? reject(error) : resolve())));
  }
  tar.finalize();
  await written;
}

async function listKeys(s3: S3Client, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: SOURCE_BUCKET, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys.sort();
}

/** A batch ZIP as a user would check it: `unzip -t`, then every entry read and hashed, manifest.csv and problems.csv parsed. */
async function readBatchZip(s3: S3Client, key: string, dir: string): Promise<BatchZipFound> {
  const answer = await s3.send(new GetObjectCommand({ Bucket: SOURCE_BUCKET, Key: key }));
  const bytes = Buffer.from(await answer.Body!.transformToByteArray());
  const path = join(dir, key.replace(/\//g, '_'));
  writeFileSync(path, bytes);
  let unzipError: string | undefined;
  try {
    execFileSync('unzip', ['-tqq', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failed = error as { stdout?: Buffer; stderr?: Buffer; message: string };
    unzipError = `${failed.stdout?.toString('utf8') ?? ''}${failed.stderr?.toString('utf8') ?? ''}`.trim() || failed.message;
  }
  const entries: { name: string; sha256: string }[] = [];
  const texts = new Map<string, string>();
  try {
    const zip = await yauzl.fromBufferPromise(bytes, { lazyEntries: true, validateEntrySizes: true });
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (error, stream) => {
          if (error !== null) return reject(error);
          const hash = createHash('sha256');
          const chunks: Buffer[] = [];
          const keep = entry.fileName === 'manifest.csv' || entry.fileName === 'problems.csv';
          stream.on('data', (chunk: Buffer) => {
            hash.update(chunk);
            if (keep) chunks.push(chunk);
          });
          stream.once('error', reject);
          stream.once('end', () => {
            entries.push({ name: entry.fileName, sha256: hash.digest('hex') });
            if (keep) texts.set(entry.fileName, Buffer.concat(chunks).toString('utf8'));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  } catch (error) {
    unzipError ??= `yauzl: ${error instanceof Error ? error.message : String(error)}`;
  }
  const csv = (name: string) => {
    const text = texts.get(name);
    if (text === undefined) return undefined;
    try {
      return parseCsv(text, { bom: true, relax_column_count: true }) as string[][];
    } catch {
      return undefined;
    }
  };
  const manifest = csv('manifest.csv');
  const problems = csv('problems.csv');
  return { key, ...(unzipError !== undefined ? { unzipError } : {}), entries, ...(manifest !== undefined ? { manifest } : {}), ...(problems !== undefined ? { problems } : {}) };
}

/** What is left under WORK_DIR (per worker process directory) and in the workers' TMPDIR. */
function findLeftovers(workDir: string, tmpDir: string, ownerOf: (pid: number) => { killedAt?: number } | undefined): { workDirs: WorkDirFound[]; strays: string[] } {
  const workDirs: WorkDirFound[] = [];
  const strays: string[] = [];
  const names = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const walk = (dir: string, relative: string): string[] => names(dir).flatMap((name) => {
    const path = join(dir, name);
    const inside = statSync(path).isDirectory() ? walk(path, `${relative}${name}/`) : [];
    return inside.length > 0 ? inside : [`${relative}${name}${statSync(path).isDirectory() ? '/' : ''}`];
  });
  for (const name of names(workDir)) {
    const match = /^(\d+)-/.exec(name);
    const path = join(workDir, name);
    if (match === null) {
      strays.push(path);
      continue;
    }
    const owner = ownerOf(Number(match[1]));
    workDirs.push({ path, contents: walk(path, ''), known: owner !== undefined, ...(owner?.killedAt !== undefined ? { killedAt: owner.killedAt } : {}) });
  }
  for (const name of names(tmpDir)) strays.push(join(tmpDir, name));
  return { workDirs, strays };
}

/** The bytes in the fullest worker process directory under WORK_DIR now (files vanish while it looks: skipped). */
function largestProcessDirBytes(workDir: string): number {
  const size = (path: string): number => {
    try {
      const stat = statSync(path);
      if (!stat.isDirectory()) return stat.size;
      return readdirSync(path).reduce((total, name) => total + size(join(path, name)), 0);
    } catch {
      return 0;
    }
  };
  let largest = 0;
  try {
    for (const name of readdirSync(workDir)) largest = Math.max(largest, size(join(workDir, name)));
  } catch {
    // not created yet
  }
  return largest;
}

/** What the lane proxy does with an answer: pass it on, reset the connection at once, or after this many body bytes. */
type AnswerAction = 'reply' | 'cut' | { readonly cutAfterBytes: number };

function shuffle<T>(random: Random, items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

/** The human report of an archive chaos run: the uploads, what was done to the run, what came out, every broken invariant. */
export function formatArchiveReport(title: string, result: ArchiveChaosResult): string {
  const { report, s3Faults, generated, uploads, workerLines } = result;
  const c = report.counts;
  const injected = FAULT_KINDS.reduce((total, kind) => total + s3Faults.faults[kind], 0);
  const killsOf = (kind: ArchiveKillKind) => result.kills.filter((kill) => kill.kind === kind).length;
  const perExport = new Map<string, number>();
  for (const kill of result.kills) perExport.set(kill.stem, (perExport.get(kill.stem) ?? 0) + 1);
  const lines = [
    `== ${title} ==`,
    `uploads: ${c.exports} (${c.good} exports: ${generated.zips} ZIP, ${generated.tars} TAR.GZ, ${generated.rows} rows, ${generated.images} images, ${generated.missing} rows without their image; ` +
      `${c.broken} broken uploads; ${(generated.bytes / 1024 / 1024).toFixed(1)} MiB); succeeded ${c.succeeded}; failed and dead-lettered ${c.failedAndDeadLettered}; lost ${c.lost}`,
    `callbacks: ${c.callbacks} sent (${c.callbacksTwice} uploads called back twice); workers logged ${workerLines.callbacksSent} sends, ${workerLines.callbacksAlreadySent} skipped behind a marker`,
    `batch ZIPs: ${c.partsExpected} expected, ${c.partsChecked} checked (unzip -t, ${c.rowsChecked} rows, ${c.imagesChecked} images byte for byte); ` +
      `uploads completed ${c.partUploadsCompleted} (${uploads.singlePuts} single PUTs sent, ${uploads.multipartStarted} multipart begun, ${uploads.uploadParts} UploadParts, ` +
      `${uploads.multipartCompleted} completed, ${uploads.aborts} aborted); finished parts rebuilt ${c.finishedPartsRebuilt}`,
    `splits: ${workerLines.splits} attempts reached the callback, building ${workerLines.partsBuilt} parts and keeping ${workerLines.partsKept} an earlier attempt had finished; ` +
      `${workerLines.batchesUploaded} batch uploads logged; TAR: ${workerLines.buildingPasses} building passes, at most ${workerLines.maxPasses} reads in one attempt, ` +
      `spill high water ${(workerLines.spillHighWaterBytes / 1024 / 1024).toFixed(1)} MiB (logged), ${(workerLines.observedDiskBytes / 1024 / 1024).toFixed(1)} MiB (seen on disk)`,
    `workers: ${result.workersStarted} started; ${workerLines.redeliveries} redeliveries; retried: ${entries(workerLines.retriedByReason)}; dead-lettered: ${entries(workerLines.deadLetteredByReason)}`,
    ...workerLines.retried.slice(0, 10).map((retry) => `  attempt failed, retried: ${retry}`),
    `kills: ${ARCHIVE_KILL_KINDS.map((kind) => `${kind} ${killsOf(kind)}`).join(', ')}${result.unfiredKills > 0 ? ` (${result.unfiredKills} planned kills or cuts never fired)` : ''}; ` +
      `per export: ${[...perExport].map(([stem, count]) => `${stem} ${count}`).join(', ') || 'none'}`,
    `archive bytes read (all attempts): ${result.archiveReads.map((read) => `${read.stem} ${read.format} ${mib(read.bytes)} -> ${mib(read.read)} MiB in ${read.attempts} attempts`).join('; ')}`,
    `archive reads cut mid-body: ${result.bodyCuts.length} (${result.bodyCuts.filter((cut) => cut.ranged).length} ZIP ranged reads, ${result.bodyCuts.filter((cut) => !cut.ranged).length} TAR streams)`,
    `S3 faults injected: ${injected} of ${s3Faults.requests} requests (${FAULT_KINDS.map((kind) => `${kind} ${s3Faults.faults[kind]}`).join(', ')}); ` +
      `by call ${S3_OPERATIONS.filter((op) => s3Faults.byOperation[op].requests > 0).map((op) => `${op} ${s3Faults.byOperation[op].faults}/${s3Faults.byOperation[op].requests}`).join(', ')}`,
    `disk: ${c.emptyProcessDirs} empty process directories of workers that exited on their own, ${c.awaitingSweep} of killed workers awaiting a sweep`,
    `logs: ${result.logLineCount} lines checked, ${result.logLeaks.length} leaks; duration: ${result.durationSeconds} s`,
  ];
  const problems = [...report.violations, ...result.logLeaks];
  lines.push(problems.length === 0 ? 'invariants: all hold' : `invariants: ${problems.length} BROKEN`);
  lines.push(...problems.slice(0, 50).map((problem) => `  - ${problem}`));
  if (problems.length > 50) lines.push(`  ... and ${problems.length - 50} more`);
  return lines.join('\n');
}

/** Whether the run did what it claims beside the invariants: its kills fired, S3 faults of every kind on every kind of call, multipart uploads. */
export function archiveRunProblems(
  result: ArchiveChaosResult,
  planned: { randomKills: number; midUploadKills: number; afterCompleteKills: number; beforeMarkerKills: number; afterMarkerKills: number; bodyCuts: number },
): string[] {
  const problems: string[] = [];
  const count = (kind: ArchiveKillKind) => result.kills.filter((kill) => kill.kind === kind).length;
  const wanted: [ArchiveKillKind, number][] = [
    ['random', planned.randomKills], ['mid-upload', planned.midUploadKills], ['after-complete', planned.afterCompleteKills],
    ['before-marker', planned.beforeMarkerKills], ['after-marker', planned.afterMarkerKills],
  ];
  for (const [kind, n] of wanted) if (count(kind) < n) problems.push(`${count(kind)} ${kind} SIGKILLs of ${n} planned`);
  if (result.bodyCuts.length < planned.bodyCuts) problems.push(`${result.bodyCuts.length} archive reads cut mid-body of ${planned.bodyCuts} planned`);
  const faults = result.s3Faults.faults;
  if (faults['slow-down-503'] === 0) problems.push('no S3 503 SlowDown was injected');
  if (faults['internal-error-500'] === 0) problems.push('no S3 500 was injected');
  if (faults['connection-reset'] === 0) problems.push('no S3 connection was reset');
  if (faults['slow-response'] === 0) problems.push('no S3 answer was slowed');
  for (const op of ['GET', 'PUT', 'HEAD', 'multipart'] as const) if (result.s3Faults.byOperation[op].faults === 0) problems.push(`no fault on an S3 ${op} call`);
  if (result.uploads.multipartCompleted === 0) problems.push('no batch ZIP was uploaded in parts (multipart)');
  return problems;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

function entries(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts).map(([reason, n]) => `${reason} ${n}`).join(', ') || 'none';
}
