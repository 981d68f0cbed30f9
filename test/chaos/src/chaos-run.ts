import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { buildS3Event } from '../../../shared/events/s3-event-shape';
import { OUTPUT_METADATA, sourceKeyOf } from '../../../shared/naming/output-metadata';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { LOCAL_CREDENTIALS } from '../../../local/src/s3-server';
import { startStrictS3Front } from '../../../local/src/strict-s3-front';
import { localWorkerStatements } from '../../../local/src/worker-policy';
import { readMemoryCgroup, removeMemoryCgroup } from '../../../local/src/memory-cgroup';
import { BODY_CANARY, MATRIX_MAX_INPUT_BYTES, matrixCases, SLOW_RENDER_SETTINGS, type MatrixCase, type MatrixPass, type UploadedObject } from './bad-input-matrix';
import {
  chaosCommand, COMMAND_MATRIX, COPY_FILE, DEMO_FILE_CONTENT, demoGeojson, featureCountOf, FILE_CANARY, goodGeojson, LARGE_PREFIX, largeGeojson, slowOlderGeojson, STATS_FILE,
  type CommandMatrixCase,
} from './command-inputs';
import { deadLetterRecord } from './dead-letters';
import { startFaultProxy, type FaultCounts, type FaultProxy, type OutageMode } from './fault-proxy';
import { estimatedDecodeBytes, heavyPng16, heavyProgressiveJpeg, slowOlderVersion } from './heavy-inputs';
import { checkInvariants, type ExpectedInput, type InvariantReport, type LogLine, type OutputObject, type OutputRules, type SigtermRecord, type WorkerMemory } from './invariants';
import { findLogLeaks } from './log-hygiene';
import { LogTail } from './log-tail';
import { launchPipeline, type RunningPipeline } from './pipeline-launcher';
import { DESTINATION_BUCKET, SOURCE_BUCKET, type FromPipeline, type PipelineSettings } from './pipeline-protocol';
import { descendsFrom, isAlive, processesRunning, sampleProcess, type ProcessSample } from './process-probe';
import { stillInvisible, type HandedBack } from './queue-inspection';
import { pick, seededRandom, type Random } from './seeded-random';

/** The job the workers run: `resize` (images) or `command` (the GeoJSON example program, one run per object). */
export type ChaosJob = 'resize' | 'command';

export interface ChaosOptions {
  readonly dataDir: string;
  /** JOB of the workers (default `resize`). */
  readonly job?: ChaosJob;
  /** For the `command` job: the bundled example program (dist/app/jobs/command/geojson-stats.js), run with this node. */
  readonly commandProgramPath?: string;
  /** For the `command` job: GeoJSON files over the 8 MiB part size, whose copy the command uploads in parts. */
  readonly largeInputs?: number;
  /** The worker bundle (dist/app/main.js) and the pipeline bundle (dist/test/chaos/pipeline-process.js). */
  readonly workerPath: string;
  readonly pipelinePath: string;
  /** For bundles outside the repository: where sharp, better-sqlite3 and s3rver are found. */
  readonly nodeModules: string;
  /** Good inputs: images, or small GeoJSON files for the `command` job. */
  readonly goodImages: number;
  /** Include the bad-input matrix cases of this pass (the load run leaves the matrix out); the `command` job's own matrix and demo set. */
  readonly matrix: boolean;
  /** `main` (default) or `slow-render`: which matrix cases, and the short RENDER_TIMEOUT_SECONDS for the latter. */
  readonly pass?: MatrixPass;
  readonly workers: number;
  readonly concurrency: number;
  readonly faultRate: number;
  readonly seed: number;
  readonly sigkills: number;
  readonly sigterms: number;
  readonly pipelineKills: number;
  readonly timeoutSeconds: number;
  /** Keys, beyond the matrix's two, overwritten the moment a worker has read their older version. */
  readonly races?: number;
  /** Valid images that decode whole, queued after everything else so each worker ends up holding several at once. */
  readonly decodeHeavy?: DecodeHeavyOptions;
  /** An S3 outage: every request refused for `seconds` once `atFraction` of the messages are done. */
  readonly outage?: { readonly seconds: number; readonly atFraction: number; readonly mode?: OutageMode };
  /** Each worker process in its own memory cgroup of this size, as a Fargate task (needs root). */
  readonly memoryLimitMiB?: number;
  /** Worker settings on top of the run's (e.g. MEMORY_BUDGET_MIB for the memory control). */
  readonly workerEnv?: Readonly<Record<string, string>>;
  /** Sample every worker's RSS and open descriptors (the load run). */
  readonly sampleResources?: boolean;
  readonly progress?: (line: string) => void;
}

export interface DecodeHeavyOptions {
  /** 16-bit RGBA interlaced PNGs, `side` x `side`. */
  readonly png16: number;
  /** Progressive JPEGs, `side` x `side`. */
  readonly progressive: number;
  readonly side: number;
}

export interface WorkerResources {
  readonly pid: number;
  readonly samples: number;
  readonly firstQuarterPeakRssBytes: number;
  readonly lastQuarterPeakRssBytes: number;
  readonly firstQuarterMaxFds: number;
  readonly lastQuarterMaxFds: number;
}

export interface OutageRecord {
  readonly seconds: number;
  readonly mode: OutageMode;
  /** Share of the messages done when it began. */
  readonly atFraction: number;
  /** From the outage's end to the first message finished after it. */
  readonly recoverySeconds?: number;
}

/** What only a `command` run reports. */
export interface CommandRunFacts {
  /** SIGKILLs that landed on a worker while it had a program running (victims are chosen among such workers first). */
  readonly sigkillsMidProgram: number;
  /** Program processes running under a worker (or the pipeline) at the moment it was SIGKILLed: orphaned, left to end on their own. */
  readonly programsOrphaned: number;
  /** SIGTERMs that landed on a worker while it had a program running: the worker forwards the signal to it. */
  readonly sigtermsMidProgram: number;
  /** `failed` lines with reason `command-stopped`: programs ended by a forwarded SIGTERM (or given up), released for another attempt. */
  readonly programsStopped: number;
  /** Work directories and program processes found once every worker had exited (the invariants require none). */
  readonly workDirsLeft: readonly string[];
  readonly programsLeft: readonly string[];
  /** `removed work directories left by killed workers` lines: worker starts whose sweep found something. */
  readonly sweeps: number;
}

export interface ChaosResult {
  readonly job: ChaosJob;
  readonly pass: MatrixPass;
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
    /** SIGTERMs sent 0.7 s into the render of a `sigtermWhileRendering` case. */
    readonly renderSigterms: number;
    /** Keys overwritten while the run was under way (once a worker had read the older version, or late as a fallback). */
    readonly overwrites: number;
  };
  readonly outage?: OutageRecord;
  /** Per worker process, when they ran under a memory limit. */
  readonly memory: readonly WorkerMemory[];
  /** The worker's own decode estimate for each decode-heavy input (matrix ones included), bytes. */
  readonly decodeHeavyEstimates: readonly number[];
  readonly durationSeconds: number;
  readonly logLineCount: number;
  readonly resources: readonly WorkerResources[];
  /** Files left in the workers' TMPDIR. */
  readonly tempFilesLeft: readonly string[];
  /** Outputs whose metadata names their source in `source-key-base64url` (keys too long to URL-encode in 2 KB). */
  readonly base64KeyOutputs: readonly string[];
  readonly command?: CommandRunFacts;
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
/** A Fargate task's memory as the infra sizes it by default (infra/src/config.ts taskMemory). */
export const TASK_MEMORY_MIB = 4096;
const SIZES = [{ width: 32, height: 32 }, { width: 48, height: 40 }];
/** The worker's default (app/src/config.ts), which the main pass keeps. */
const DEFAULT_RENDER_TIMEOUT_SECONDS = 60;
const MAX_RECEIVE_COUNT = 3;
const TICK_MS = 100;
/** A worker younger than this may not have received anything yet: killing it would test nothing. */
const MIN_VICTIM_AGE_MS = 1200;
const MIN_ACTION_SPACING_MS = 600;
const BROWN_OUT_EXTRA_MS = 1500;
/** How far into a render a `sigtermWhileRendering` case's worker gets its SIGTERM (the GET of a few MB is done by then). */
const RENDER_SIGTERM_DELAY_MS = 700;
/** Races whose older event no worker was seen receiving are overwritten anyway once this much of the run is done. */
const LATE_OVERWRITE_FRACTION = 0.8;
/**
 * The command run's fault rate for multipart calls (create, part, complete, abort): its few large copies make a
 * handful of them among hundreds of small calls, and each should see faults, not only the GETs, PUTs and HEADs.
 */
const MULTIPART_FAULT_RATE = 0.4;

type ChaosAction = 'sigkill' | 'sigterm' | 'pipeline-kill';

interface LiveWorker {
  readonly pid: number;
  readonly startedAt: number;
}

/** A key whose newer version is written during the run. */
interface PendingRace {
  readonly inputIndex: number;
  readonly key: string;
  readonly newer: Buffer;
  /** The older version's event, queued again after the newer one's. */
  readonly olderMessageId: string;
  readonly olderEvent: string;
}

/**
 * One chaos run: loads good images and the bad-input matrix, runs the pipeline with workers behind the fault proxy,
 * kills workers and the whole pipeline on a seeded schedule as the queue drains, takes S3 down for a while, overwrites
 * keys under the workers, then checks the invariants over the destination bucket, the DLQ, the sources as they are
 * now, the workers' memory cgroups and every worker log line.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const pass = options.pass ?? 'main';
  const job = options.job ?? 'resize';
  const command = job === 'command';
  const programPath = options.commandProgramPath ?? '';
  if (command && !existsSync(programPath)) throw new Error(`the command job's program is not at ${JSON.stringify(programPath)}: build it first (npm run build)`);
  const say = options.progress ?? (() => undefined);
  const random = seededRandom(options.seed);
  mkdirSync(options.dataDir, { recursive: true });
  const tmpDir = join(options.dataDir, 'worker-tmp');
  mkdirSync(tmpDir, { recursive: true });
  const queuePath = join(options.dataDir, 'queue.db');
  const queue = LocalQueue.open(queuePath, { create: { visibilityTimeoutSeconds: 10, maxReceiveCount: MAX_RECEIVE_COUNT } });
  // The command job's WORK_DIR: every worker's private directories, which must all be gone at the end.
  const workDir = join(options.dataDir, 'work');
  // Keys whose older version a worker has just read (the proxy saw its GET answered): overwritten on the next tick.
  const justRead = new Set<string>();
  const proxy = await startFaultProxy({
    upstream: 'http://127.0.0.1:9', rate: options.faultRate, seed: options.seed, answerAbortMultipart: true,
    ...(command && options.faultRate > 0 ? { rateByOperation: { multipart: Math.max(options.faultRate, MULTIPART_FAULT_RATE) } } : {}),
    onAnswered: (method, path, status) => {
      if (method === 'GET' && status === 200 && path.startsWith(`${SOURCE_BUCKET}/`)) justRead.add(path.slice(SOURCE_BUCKET.length + 1));
    },
  });
  // Workers -> strict front (the task role's policy, S3's 403s and limits) -> fault proxy -> s3rver. The front lives
  // here, not in the pipeline process, so it outlives the pipeline kills as S3 would.
  const frontRefusals: string[] = [];
  const front = await startStrictS3Front({
    upstream: proxy.endpoint,
    statements: localWorkerStatements({ sourceBucket: SOURCE_BUCKET, sourcePrefix: '', destBucket: DESTINATION_BUCKET, destPrefix: '' }),
    onRefused: (refusal) => {
      const text = `${refusal.method} s3://${refusal.bucket ?? ''}/${refusal.key ?? ''}: ${refusal.status} ${refusal.code} (${refusal.detail})`;
      frontRefusals.push(text);
      say(`S3 front refused ${text}`);
    },
  });
  const { SIZES: sizesSetting, ...jobNeutralSettings } = CHAOS_WORKER_SETTINGS;
  const workerEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NODE_PATH: options.nodeModules,
    QUEUE_URL: queuePath,
    DEST_BUCKET: DESTINATION_BUCKET,
    ALLOWED_SOURCE_BUCKETS: SOURCE_BUCKET,
    CONCURRENCY: String(options.concurrency),
    ...jobNeutralSettings,
    ...(command ? { JOB: 'command', COMMAND: chaosCommand(process.execPath, programPath), WORK_DIR: workDir } : { SIZES: sizesSetting }),
    ...(pass === 'slow-render' ? SLOW_RENDER_SETTINGS : {}),
    AWS_ENDPOINT_URL: front.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    MALLOC_ARENA_MAX: '2',
    NODE_NO_WARNINGS: '1',
    TMPDIR: tmpDir,
    ...options.workerEnv,
  };
  const live = new Map<number, LiveWorker>();
  const logOf = new Map<number, string>();
  const pidOfLog = new Map<string, number>();
  const tails = new Map<string, LogTail>();
  const cgroups: { worker: string; path: string }[] = [];
  const sigterms: SigtermRecord[] = [];
  const pendingTerms = new Map<number, number>();
  /** The program processes a SIGTERMed worker had running: each must be gone once the worker has exited. */
  const programsAtTerm = new Map<number, number[]>();
  const samples = new Map<number, ProcessSample[]>();
  const actions = { workersStarted: 0, sigkills: 0, sigterms: 0, pipelineKills: 0, renderSigterms: 0, overwrites: 0 };
  const commandCounts = { sigkillsMidProgram: 0, sigtermsMidProgram: 0, programsOrphaned: 0 };
  /** The program processes running now under `pid` (a worker), or under any worker. */
  const programsUnder = (pid?: number) => (command ? processesRunning(programPath).filter((program) => pid === undefined || descendsFrom(program.pid, pid)) : []);
  let generation = 0;
  let pipeline: RunningPipeline | undefined;

  const onMessage = (message: FromPipeline) => {
    if (message.type === 'worker-started') {
      actions.workersStarted++;
      live.set(message.pid, { pid: message.pid, startedAt: message.at });
      logOf.set(message.pid, message.log);
      pidOfLog.set(message.log, message.pid);
      tails.set(message.log, new LogTail(message.log));
      if (message.cgroup !== undefined) cgroups.push({ worker: basename(message.log, '.log').replace(/^worker-/, ''), path: message.cgroup });
    } else if (message.type === 'worker-exited') {
      live.delete(message.pid);
      const sentAt = pendingTerms.get(message.pid);
      if (sentAt !== undefined) {
        pendingTerms.delete(message.pid);
        // Checked the moment the exit is known: later, other workers may have taken the messages either way.
        const handedBack = handedBackBy(logOf.get(message.pid));
        const programs = programsAtTerm.get(message.pid);
        programsAtTerm.delete(message.pid);
        sigterms.push({
          pid: message.pid, sentAt, exitedAt: message.at, exitCode: message.code, signal: message.signal,
          released: handedBack.map((m) => m.messageId), invisibleAfterExit: stillInvisible(queuePath, handedBack),
          ...(programs !== undefined ? { programsAlive: programs.filter(isAlive) } : {}),
        });
      }
    }
  };
  const startPipeline = async () => {
    generation++;
    const settings: PipelineSettings = {
      dataDir: options.dataDir, workerPath: options.workerPath, pipelines: [{ workerEnv }], generation,
      ...(options.memoryLimitMiB !== undefined ? { memoryLimitBytes: options.memoryLimitMiB * 1024 * 1024 } : {}),
    };
    pipeline = await launchPipeline(options.pipelinePath, settings, options.nodeModules, onMessage);
    proxy.setUpstream(pipeline.endpoint);
    return pipeline;
  };

  let s3: S3Client | undefined;
  try {
    await startPipeline();
    s3 = directClient(pipeline!.endpoint);
    const client = () => s3!;
    const loaded = await loadInputs(client, queue, options, say);
    const { inputs, races, sigtermTargets } = loaded;
    let totalMessages = loaded.messages;
    say(`${command ? 'command job: ' : options.matrix ? `${pass} pass: ` : ''}loaded ${inputs.length} inputs in ${totalMessages} messages; ${options.workers} workers x ${options.concurrency}, fault rate ${options.faultRate}` +
      `${options.memoryLimitMiB !== undefined ? `, each worker in a ${options.memoryLimitMiB} MiB memory cgroup` : ''}`);
    pipeline!.send({ type: 'scale', workers: options.workers });

    const plan = planActions(random, options);
    let lastActionAt = 0;
    const renderTerms = new Map<number, number>();
    let outage: { startedAt: number; endsAt: number; atFraction: number; mode: OutageMode; lastRemaining: number; recoveredAt?: number } | undefined;
    let deadline = started + options.timeoutSeconds * 1000;
    const overwrite = async (race: PendingRace, why: string) => {
      races.delete(race.olderMessageId);
      const newer = await upload(client(), race.key, race.newer);
      await queue.send(event(newer));
      // S3 delivers at least once and in no order: the older version's event arrives again, after the newer one's.
      await queue.send(race.olderEvent);
      totalMessages += 2;
      inputs[race.inputIndex] = { ...inputs[race.inputIndex], etag: newer.etag, versions: 2 };
      actions.overwrites++;
      say(`overwrote ${race.key} (${why})`);
    };
    for (;;) {
      await sleep(TICK_MS);
      if (options.sampleResources) sampleWorkers(live, samples);
      const depth = await queue.depth();
      const remaining = depth.visible + depth.inFlight + depth.delayed;
      if (remaining === 0 && live.size === 0 && pendingTerms.size === 0 && races.size === 0) break;
      if (Date.now() > deadline) {
        throw new Error(`chaos run not finished after ${options.timeoutSeconds}s: ${depth.visible} visible, ${depth.inFlight} in flight, ${depth.delayed} delayed, ${live.size} workers`);
      }
      const doneFraction = 1 - remaining / totalMessages;

      // A raced key is overwritten once a worker has read its older version and is rendering it: after writing, the
      // worker must find the source changed and redo it.
      const read = [...justRead];
      justRead.clear();
      for (const race of [...races.values()]) {
        if (read.includes(race.key)) await overwrite(race, 'a worker had just read its older version');
      }
      // Act on what workers say as they say it: the received line of an image to SIGTERM mid-render.
      if (sigtermTargets.size > 0) {
        for (const [path, tail] of tails) {
          for (const line of tail.read()) {
            if (line.message !== 'received') continue;
            const id = String(line.messageId);
            if (sigtermTargets.has(id) && Number(line.receiveCount) === 1) {
              sigtermTargets.delete(id);
              const pid = pidOfLog.get(path);
              if (pid !== undefined) renderTerms.set(pid, Date.now() + RENDER_SIGTERM_DELAY_MS);
            }
          }
        }
      }
      for (const [pid, at] of renderTerms) {
        if (Date.now() < at) continue;
        renderTerms.delete(pid);
        if (!live.has(pid) || pendingTerms.has(pid)) continue;
        pendingTerms.set(pid, Date.now());
        process.kill(pid, 'SIGTERM');
        actions.renderSigterms++;
        say(`SIGTERM to worker ${pid} ${RENDER_SIGTERM_DELAY_MS} ms into a long render`);
      }
      if (races.size > 0 && doneFraction >= LATE_OVERWRITE_FRACTION) {
        for (const race of [...races.values()]) await overwrite(race, 'late: no worker was seen reading it');
      }

      // The outage: once, when its share of the work is done; the deadline moves by its length.
      if (options.outage !== undefined && outage === undefined && doneFraction >= options.outage.atFraction && pendingTerms.size === 0) {
        const mode = options.outage.mode ?? 'mixed';
        proxy.outageFor(options.outage.seconds * 1000, mode);
        outage = { startedAt: Date.now(), endsAt: Date.now() + options.outage.seconds * 1000, atFraction: doneFraction, mode, lastRemaining: remaining };
        deadline += options.outage.seconds * 1000;
        say(`S3 outage for ${options.outage.seconds} s (${mode}) at ${Math.round(doneFraction * 100)}% done`);
      }
      if (outage !== undefined && outage.recoveredAt === undefined) {
        if (Date.now() < outage.endsAt) outage.lastRemaining = remaining;
        else if (remaining < outage.lastRemaining) {
          outage.recoveredAt = Date.now();
          say(`work resumed ${((outage.recoveredAt - outage.endsAt) / 1000).toFixed(1)} s after the outage ended`);
        }
      }
      if (proxy.inOutage()) continue;

      const next = plan[0];
      if (next === undefined || Date.now() - lastActionAt < MIN_ACTION_SPACING_MS || doneFraction < next.atFraction) continue;
      const victims = [...live.values()].filter((worker) => Date.now() - worker.startedAt >= MIN_VICTIM_AGE_MS && !pendingTerms.has(worker.pid));
      if (next.action === 'pipeline-kill') {
        // Wait for SIGTERMed workers to report their exit first: the killed pipeline could not report it.
        if (pendingTerms.size > 0 || live.size === 0) continue;
        plan.shift();
        commandCounts.programsOrphaned += programsUnder().length;
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
        // The command job's kills go to a worker with a program running, when there is one: killed, or stopped, mid-program.
        const busy = victims.filter((worker) => programsUnder(worker.pid).length > 0);
        const victim = pick(random, busy.length > 0 ? busy : victims);
        const running = programsUnder(victim.pid).length;
        if (next.action === 'sigkill') {
          process.kill(victim.pid, 'SIGKILL');
          actions.sigkills++;
          if (running > 0) {
            commandCounts.sigkillsMidProgram++;
            commandCounts.programsOrphaned += running;
          }
        } else {
          if (running > 0) commandCounts.sigtermsMidProgram++;
          if (command) programsAtTerm.set(victim.pid, programsUnder(victim.pid).map((program) => program.pid));
          // A brown-out longer than the grace period holds the victim's S3 calls, so it is caught mid-batch and must
          // hand its unfinished messages back rather than finish them.
          proxy.holdFor(Number(CHAOS_WORKER_SETTINGS.SHUTDOWN_GRACE_SECONDS) * 1000 + BROWN_OUT_EXTRA_MS);
          pendingTerms.set(victim.pid, Date.now());
          process.kill(victim.pid, 'SIGTERM');
          actions.sigterms++;
        }
        say(`${next.action.toUpperCase()} to worker ${victim.pid}${busy.includes(victim) ? ' (a program running)' : ''} at ${Math.round(doneFraction * 100)}% done`);
      }
      lastActionAt = Date.now();
    }
    if (plan.length > 0) say(`the queue drained before ${plan.length} planned actions could run`);

    // Every worker has exited: nothing of the command job may be left, neither directories nor programs.
    const leftovers = command ? { workDirs: listTree(workDir), programs: programsUnder().map((program) => `pid ${program.pid}: ${program.command}`) } : undefined;
    proxy.setRate(0);
    say('drained; checking invariants');
    const [outputs, letters] = await Promise.all([listOutputs(s3, job), queue.peekDeadLetters(1_000_000)]);
    const sourceKeys = [...new Set([...inputs.flatMap((input) => (input.key !== undefined ? [input.key] : [])), ...outputs.flatMap((o) => (o.sourceKey !== undefined ? [o.sourceKey] : []))])];
    const currentSourceEtags = await currentEtags(s3, sourceKeys);
    const memory = cgroups.map(({ worker, path }) => {
      const report = readMemoryCgroup(path);
      return { worker, limitBytes: report.limitBytes, peakBytes: report.maxUsageBytes, oomKills: report.oomKills ?? 0 };
    });
    const logs = readLogs(join(options.dataDir, 'logs'));
    const logLines = logs.flatMap((source) => parseLogLines(source.text));
    const outputRules: OutputRules = command
      ? { job: 'command', destPrefix: '', sourcePrefix: '', files: [STATS_FILE] }
      : { job: 'resize', sizes: SIZES, naming: { destPrefix: '', sourcePrefix: '', extension: '.jpg' } };
    const report = checkInvariants({
      inputs,
      outputs,
      deadLetters: letters.map(deadLetterRecord),
      logLines,
      outputRules,
      distinctWritesByKey: distinctWrites(proxy),
      currentSourceEtags,
      sigterms,
      shutdownGraceSeconds: Number(CHAOS_WORKER_SETTINGS.SHUTDOWN_GRACE_SECONDS),
      memory,
      frontRefusals,
      renderTimeoutSeconds: Number(workerEnv.RENDER_TIMEOUT_SECONDS ?? DEFAULT_RENDER_TIMEOUT_SECONDS),
      ...(leftovers !== undefined ? { leftovers } : {}),
    });
    const logLeaks = findLogLeaks(logs, {
      forbidden: [
        { label: 'the secret access key', value: LOCAL_CREDENTIALS.secretAccessKey },
        { label: 'the access key id', value: LOCAL_CREDENTIALS.accessKeyId },
        { label: 'message body content', value: BODY_CANARY },
        ...(command ? [FILE_CANARY, ...DEMO_FILE_CONTENT].map((value) => ({ label: 'input file content', value })) : []),
      ],
    });
    return {
      job,
      pass,
      report,
      logLeaks,
      faults: proxy.counts(),
      actions: { ...actions, sigtermsWithReleases: sigterms.filter((term) => term.released.length > 0).length },
      ...(outage !== undefined ? {
        outage: {
          seconds: options.outage!.seconds, mode: outage.mode, atFraction: outage.atFraction,
          ...(outage.recoveredAt !== undefined ? { recoverySeconds: Math.round((outage.recoveredAt - outage.endsAt) / 100) / 10 } : {}),
        },
      } : {}),
      memory,
      decodeHeavyEstimates: loaded.heavyEstimates,
      durationSeconds: Math.round((Date.now() - started) / 100) / 10,
      logLineCount: logLines.length,
      resources: [...samples.entries()].map(([pid, list]) => summariseResources(pid, list)).filter((r) => r.samples >= 8),
      tempFilesLeft: readdirSync(tmpDir),
      base64KeyOutputs: outputs.filter((output) => output.sourceKeyForm === 'base64url').map((output) => output.key),
      ...(command ? {
        command: {
          ...commandCounts, workDirsLeft: leftovers?.workDirs ?? [], programsLeft: leftovers?.programs ?? [],
          sweeps: logLines.filter((line) => line.message === 'removed work directories left by killed workers').length,
          programsStopped: logLines.filter((line) => line.message === 'failed' && line.reason === 'command-stopped').length,
        },
      } : {}),
    };
  } finally {
    const closing = Date.now();
    s3?.destroy();
    // The front and the proxy first: their idle keep-alive sockets would hold the S3 server's close for seconds.
    await front.close();
    await proxy.close();
    await pipeline?.shutdown();
    await queue.close();
    for (const { path } of cgroups) removeMemoryCgroup(path);
    say(`shut down in ${((Date.now() - closing) / 1000).toFixed(1)} s`);
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

/** Loading and verifying bypass the proxy; s3rver itself answers 500 now and then under thousands of requests. */
export function directClient(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS, maxAttempts: 10 });
}

interface LoadedInputs {
  readonly inputs: ExpectedInput[];
  /** Messages queued. */
  readonly messages: number;
  /** Overwrites still to do, by the older version's message id. */
  readonly races: Map<string, PendingRace>;
  /** Message ids whose worker gets a SIGTERM while it renders them. */
  readonly sigtermTargets: Set<string>;
  readonly heavyEstimates: number[];
}

const event = (object: UploadedObject) => buildS3Event([{ bucket: SOURCE_BUCKET, ...object }]);

async function upload(s3: S3Client, key: string, bytes: Buffer): Promise<UploadedObject> {
  const put = await s3.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: bytes }));
  return { key, etag: (put.ETag ?? '').replace(/"/g, ''), size: bytes.length };
}

/**
 * Uploads every input (straight to the server: loading is not under test) and queues its message: good images, then
 * extra races, the matrix cases of the pass, and last the decode-heavy images, so that near the end each worker's
 * slots fill with them and it holds several at once.
 */
async function loadInputs(s3: () => S3Client, queue: LocalQueue, options: ChaosOptions, say: (line: string) => void): Promise<LoadedInputs> {
  const inputs: ExpectedInput[] = [];
  const races = new Map<string, PendingRace>();
  const sigtermTargets = new Set<string>();
  const heavyEstimates: number[] = [];
  let messages = 0;
  const command = options.job === 'command';
  /** What the outputs of a processed input must say about its (newest) bytes: nothing more for images. */
  const expectations = (key: string, bytes: Buffer) => (command ? commandExpectations(key, bytes) : {});

  const addRace = async (caseId: string, key: string, older: Buffer, newer: Buffer) => {
    const olderObject = await upload(s3(), key, older);
    const olderEvent = event(olderObject);
    const olderMessageId = await queue.send(olderEvent);
    messages++;
    inputs.push({ caseId, messageId: olderMessageId, key, etag: olderObject.etag, expected: 'processed', ...expectations(key, newer) });
    races.set(olderMessageId, { inputIndex: inputs.length - 1, key, newer, olderMessageId, olderEvent });
  };
  const loadCase = async (matrixCase: MatrixCase & Pick<CommandMatrixCase, 'detailIncludes'>) => {
    const expectation = {
      caseId: matrixCase.id, expected: matrixCase.expected, ...(matrixCase.reason !== undefined ? { reason: matrixCase.reason } : {}),
      ...(matrixCase.detailIncludes !== undefined ? { detailIncludes: matrixCase.detailIncludes } : {}),
    };
    const delivery = matrixCase.delivery;
    if (delivery.kind === 'overwrite-race') {
      const [object] = matrixCase.objects;
      if (delivery.when === 'while-processing') {
        await addRace(matrixCase.id, object.key, await object.bytes(), await delivery.newer());
      } else {
        // Both versions stored before any worker runs; the newer event queued first, the older one after it.
        const older = await upload(s3(), object.key, await object.bytes());
        const newerBytes = await delivery.newer();
        const newer = await upload(s3(), object.key, newerBytes);
        const [newerId] = await queue.sendBatch([event(newer), event(older)]);
        messages += 2;
        inputs.push({ ...expectation, messageId: newerId, key: object.key, etag: newer.etag, versions: 2, ...expectations(object.key, newerBytes) });
      }
      return;
    }
    const uploaded: UploadedObject[] = [];
    const bytesOf = new Map<string, Buffer>();
    for (const object of matrixCase.objects) {
      const bytes = await object.bytes();
      bytesOf.set(object.key, bytes);
      uploaded.push(await upload(s3(), object.key, bytes));
    }
    const own = (key: string) => {
      const object = matrixCase.objects.find((o) => o.key === key);
      const outcome = object?.expected ?? matrixCase.expected;
      return {
        ...(object?.expected !== undefined ? { expected: object.expected, ...(object.reason !== undefined ? { reason: object.reason } : {}) } : {}),
        ...(outcome === 'processed' ? expectations(key, bytesOf.get(key)!) : {}),
      };
    };
    if (matrixCase.id.startsWith('decode-heavy')) for (const object of matrixCase.objects) heavyEstimates.push(await estimatedDecodeBytes(await object.bytes(), SIZES));
    if (delivery.kind === 'raw-body') {
      const messageId = await queue.send(delivery.body(uploaded));
      messages++;
      if (uploaded.length === 0) inputs.push({ ...expectation, messageId });
      for (const object of uploaded) inputs.push({ ...expectation, messageId, key: object.key, etag: object.etag, ...own(object.key) });
      return;
    }
    for (const object of uploaded) {
      const messageId = await queue.send(event(object));
      messages++;
      inputs.push({ ...expectation, messageId, key: object.key, etag: object.etag, ...own(object.key) });
      if (matrixCase.sigtermWhileRendering === true) sigtermTargets.add(messageId);
      if (delivery.kind === 'deleted-before-processing') await s3().send(new DeleteObjectCommand({ Bucket: SOURCE_BUCKET, Key: object.key }));
    }
  };
  // Races first: their older versions are received in the first seconds, when no outage holds the worker's GET back,
  // so the overwrite can land between the worker's read and its check of the source after writing.
  const cases: (MatrixCase & Pick<CommandMatrixCase, 'detailIncludes'>)[] = !options.matrix ? [] : command ? [...COMMAND_MATRIX] : matrixCases(options.pass ?? 'main');
  const raceFirst = (c: MatrixCase) => (c.delivery.kind === 'overwrite-race' ? 0 : 1);
  cases.sort((a, b) => raceFirst(a) - raceFirst(b));
  for (let i = 0; i < (options.races ?? 0); i++) {
    if (command) await addRace('overwrite-race', `race/extra-${i}.geojson`, slowOlderGeojson(), goodGeojson(200_000 + i));
    else await addRace('overwrite-race', `race/extra-${i}.jpg`, await slowOlderVersion(), await goodImage(200_000 + i));
  }
  for (const matrixCase of cases.filter((c) => raceFirst(c) === 0)) await loadCase(matrixCase);
  // Good inputs: images, or for the command job small GeoJSON files and (with the matrix) the demo set's good files.
  const demo = command && options.matrix ? [...(await demoGeojson()).good].map(([key, bytes]) => ({ caseId: 'demo-good', key: `demo/${key}`, bytes: async () => bytes })) : [];
  const goods = [
    ...demo,
    ...Array.from({ length: options.goodImages }, (_, i) => {
      const folder = `good/${String(Math.floor(i / 100)).padStart(3, '0')}`;
      return command
        ? { caseId: 'good', key: `${folder}/item-${i}.geojson`, bytes: async () => goodGeojson(i) }
        : { caseId: 'good', key: `${folder}/img-${i}.jpg`, bytes: () => goodImage(i) };
    }),
  ];
  for (let start = 0; start < goods.length; start += 200) {
    const batch = await mapLimit(goods.slice(start, start + 200), 16, async (good) => {
      const bytes = await good.bytes();
      return { good, bytes, object: await upload(s3(), good.key, bytes) };
    });
    const ids = await queue.sendBatch(batch.map(({ object }) => event(object)));
    messages += ids.length;
    batch.forEach(({ good, bytes, object }, i) => inputs.push({
      caseId: good.caseId, messageId: ids[i], key: object.key, etag: object.etag, expected: 'processed', ...expectations(object.key, bytes),
    }));
    if (goods.length > 1000) say(`uploaded ${Math.min(start + 200, goods.length)}/${goods.length} good ${command ? 'files' : 'images'}`);
  }
  for (const matrixCase of cases.filter((c) => raceFirst(c) === 1)) await loadCase(matrixCase);
  // Large GeoJSON files last, for the command job: the copy its COMMAND leaves goes up in parts.
  for (let i = 0; i < (command ? (options.largeInputs ?? 0) : 0); i++) {
    const key = `${LARGE_PREFIX}big-${i}.geojson`;
    const bytes = largeGeojson(i);
    const object = await upload(s3(), key, bytes);
    inputs.push({ caseId: 'large-multipart', messageId: await queue.send(event(object)), key, etag: object.etag, expected: 'processed', ...expectations(key, bytes) });
    messages++;
  }
  const heavy = options.decodeHeavy;
  if (heavy !== undefined && heavy.png16 + heavy.progressive > 0) {
    const kinds = [
      ...Array.from({ length: heavy.png16 }, (_, i) => ({ key: `heavy/png16-${i}.png`, bytes: () => heavyPng16(heavy.side) })),
      ...Array.from({ length: heavy.progressive }, (_, i) => ({ key: `heavy/progressive-${i}.jpg`, bytes: () => heavyProgressiveJpeg(heavy.side) })),
    ];
    say(`making ${kinds.length} decode-heavy images of ${heavy.side}x${heavy.side}`);
    for (const { key, bytes } of kinds) {
      const body = await bytes();
      heavyEstimates.push(await estimatedDecodeBytes(body, SIZES));
      const object = await upload(s3(), key, body);
      inputs.push({ caseId: 'decode-heavy', messageId: await queue.send(event(object)), key, etag: object.etag, expected: 'processed' });
      messages++;
    }
  }
  return { inputs, messages, races, sigtermTargets, heavyEstimates };
}

/** Small, fast to make, and each one different so two outputs can never be confused. */
function goodImage(n: number): Promise<Buffer> {
  const colour = { r: (n * 37) % 256, g: (n * 91) % 256, b: (n * 53) % 256 };
  return sharp({ create: { width: 64 + (n % 7), height: 48 + (n % 5), channels: 3, background: colour } }).jpeg({ quality: 80 }).toBuffer();
}

async function listOutputs(s3: S3Client, job: ChaosJob): Promise<(OutputObject & { sourceKeyForm?: 'url' | 'base64url' })[]> {
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
    const described = job === 'command' ? { facts: commandOutputFacts(key, bytes) } : await imageSize(bytes);
    const metadata = object.Metadata ?? {};
    const sourceKey = sourceKeyOf(metadata);
    const sourceKeyForm = metadata[OUTPUT_METADATA.sourceKeyBase64] !== undefined ? 'base64url' as const : metadata[OUTPUT_METADATA.sourceKey] !== undefined ? 'url' as const : undefined;
    return {
      key, sourceEtag: metadata[OUTPUT_METADATA.sourceEtag], ...described,
      ...(sourceKey !== undefined ? { sourceKey } : {}), ...(sourceKeyForm !== undefined ? { sourceKeyForm } : {}),
    };
  });
}

async function imageSize(bytes: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(bytes).metadata();
  return { width: meta.width ?? 0, height: meta.height ?? 0 };
}

/** What a command output says about its source: stats.json's feature count, or a copy's MD5 (its source's ETag). */
function commandOutputFacts(key: string, bytes: Buffer): Record<string, string | number> {
  if (!key.endsWith(`/${STATS_FILE}`)) return { md5: md5(bytes) };
  try {
    const stats = JSON.parse(bytes.toString('utf8')) as { featureCount?: unknown };
    return typeof stats.featureCount === 'number' ? { featureCount: stats.featureCount } : {};
  } catch {
    return {};
  }
}

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

/** What the command job must leave for a GeoJSON source: stats.json counting its features, and for a large one its copy. */
function commandExpectations(key: string, bytes: Buffer): Pick<ExpectedInput, 'outputFacts' | 'extraFiles'> {
  const featureCount = featureCountOf(bytes);
  const large = key.startsWith(LARGE_PREFIX);
  return {
    outputFacts: { ...(featureCount !== undefined ? { [STATS_FILE]: { featureCount } } : {}), ...(large ? { [COPY_FILE]: { md5: md5(bytes) } } : {}) },
    ...(large ? { extraFiles: [COPY_FILE] } : {}),
  };
}

/** Every path under `root`, two levels deep (process directories and the message directories in them); none when it is missing. */
function listTree(root: string): string[] {
  const entries = (dir: string) => {
    try {
      return readdirSync(dir, { withFileTypes: true });
    } catch {
      return [];
    }
  };
  return entries(root).flatMap((entry) => {
    const path = join(root, entry.name);
    const inside = entry.isDirectory() ? entries(path).map((child) => join(path, child.name)) : [];
    return inside.length > 0 ? inside : [path];
  });
}

/** Each source key's ETag now (a key that no longer exists is left out). */
async function currentEtags(s3: S3Client, keys: readonly string[]): Promise<Record<string, string>> {
  const etags = await mapLimit(keys, 8, async (key) => {
    try {
      const head = await s3.send(new HeadObjectCommand({ Bucket: SOURCE_BUCKET, Key: key }));
      return (head.ETag ?? '').replace(/"/g, '');
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw error;
    }
  });
  return Object.fromEntries(keys.flatMap((key, i) => (etags[i] !== undefined ? [[key, etags[i]]] : [])));
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

export function readLogs(dir: string): { file: string; text: string }[] {
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

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
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

export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for killed workers to die');
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
