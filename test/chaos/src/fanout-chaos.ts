import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { GetObjectCommand, ListObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseManifest } from '../../../app/jobs/fanout/manifest';
import { BROKEN_WAVS, MIN_WAV_DEMO_COUNT, WAV_DEMO_EXPECTATIONS, writeWavDemoSet } from '../../../app/jobs/fanout/example/demo-set';
import { buildS3Event } from '../../../shared/events/s3-event-shape';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { readMemoryCgroup, removeMemoryCgroup } from '../../../local/src/memory-cgroup';
import { LOCAL_CREDENTIALS } from '../../../local/src/s3-server';
import { startStrictS3Front, type StrictS3Front } from '../../../local/src/strict-s3-front';
import { localRoleStatements } from '../../../local/src/worker-policy';
import type { DemoRole } from '../../../app/src/job/job-demo';
import { CHAOS_WORKER_SETTINGS, directClient, mapLimit, parseLogLines, readLogs, sleep, waitUntil, type OutageRecord } from './chaos-run';
import { startFaultProxy, type FaultCounts, type OutageMode } from './fault-proxy';
import {
  batchOf, checkFanoutInvariants, type BadManifest, type DeadLetterFound, type ExpectedRun, type FanoutInvariantReport, type PipelineLogLine, type QueuedMessage,
  type RunFindings, type SummaryRowFound, type WriteEvent,
} from './fanout-invariants';
import type { WorkerMemory } from './invariants';
import { findLogLeaks } from './log-hygiene';
import { LogTail } from './log-tail';
import { launchPipeline, type RunningPipeline } from './pipeline-launcher';
import { DESTINATION_BUCKET, SOURCE_BUCKET, type FromPipeline, type PipelineSettings, type WorkerPipeline } from './pipeline-protocol';
import { isAlive, killTask } from './process-probe';
import { auditSends, messagesLeft, sentMessages } from './queue-inspection';
import { pick, seededRandom, type Random } from './seeded-random';

/** The fan-out group the run drives: the manifest pipeline, two families running the example DSP programs, the aggregator. */
export const FANOUT_PIPELINE = 'fanout';
export const FANOUT_FAMILIES = ['loudness', 'spectrum'] as const;
export const AGGREGATOR_PIPELINE = 'summary';
export const FANOUT_GROUP = [FANOUT_PIPELINE, ...FANOUT_FAMILIES, AGGREGATOR_PIPELINE] as const;
const RUNS_ROOT = 'runs/';
/** The workers' attempts; the queues' redrive comes two receives later, as the infra sets it (pipeline-config.ts). */
const MAX_RECEIVE_COUNT = 3;
const REDRIVE_RECEIVE_COUNT = MAX_RECEIVE_COUNT + 2;
const VISIBILITY_TIMEOUT_SECONDS = 10;
const TICK_MS = 100;
/** A worker younger than this may not have received anything yet: killing it would test nothing. */
const MIN_VICTIM_AGE_MS = 1200;
const MIN_ACTION_SPACING_MS = 600;

export interface FanoutChaosOptions {
  readonly dataDir: string;
  /** The worker bundle (dist/app/main.js) and the pipeline bundle (dist/test/chaos/pipeline-process.js). */
  readonly workerPath: string;
  readonly pipelinePath: string;
  readonly nodeModules: string;
  /** Where the families' programs are: `<dir>/loudness.js` and `<dir>/spectrum.js` (app/jobs/fanout/example, bundled). */
  readonly programDir: string;
  /** Good runs (at least 3: one per kind of manifest): each a manifest of `filesPerRun` WAV files. */
  readonly runs: number;
  readonly filesPerRun: number;
  /** Broken WAVs among each run's files (the demo set has 7). */
  readonly brokenPerRun: number;
  /** BATCH_SIZE of the fan-out pipeline: small, so that each run has many batches. */
  readonly batchSize: number;
  /** Workers of each pipeline (the launcher keeps this many while its queue has visible work), and their CONCURRENCY. */
  readonly workers: number;
  readonly concurrency: number;
  readonly faultRate: number;
  readonly seed: number;
  /** SIGKILLs of random live workers (family or aggregator) at seeded points of the run. */
  readonly sigkills: number;
  /** SIGKILLs of a family's workers the moment the proxy has passed a batch's results, before its ledger entry is written. */
  readonly windowKills: number;
  /** SIGKILLs of the families' workers the moment a run's aggregation trigger was created, before the request is sent. */
  readonly triggerKills: number;
  /** SIGKILLs of the aggregator's workers mid-aggregation: its summary written, its report not yet. */
  readonly aggregatorKills: number;
  /** SIGKILLs of the fan-out's workers mid-dispatch (once a run's batch lists are being written). */
  readonly dispatchKills: number;
  /**
   * Poison batches of the first run: every worker that receives one of them is SIGKILLed at once, on every receive,
   * as a task is that a file gets OOM-killed each time. The queue's redrive takes them to the DLQ; the run must still end.
   */
  readonly poisonedBatches: number;
  /**
   * Of the trigger kills, how many also poison the batch message that created the trigger: every later receive of it
   * is SIGKILLed too, so the redelivery the trigger counts on to send its request never runs (default 0).
   */
  readonly poisonedTriggers?: number;
  /** Whole-pipeline SIGKILLs (server, launchers, every worker) and restarts, once every run is dispatched. */
  readonly pipelineKills: number;
  /** An S3 outage: every request refused for `seconds` once `atFraction` of the batch settlements are done. */
  readonly outage?: { readonly seconds: number; readonly atFraction: number; readonly mode?: OutageMode };
  readonly memoryLimitMiB?: number;
  readonly timeoutSeconds: number;
  readonly progress?: (line: string) => void;
}

export type FanoutKillKind = 'random' | 'mid-dispatch' | 'results-before-ledger' | 'trigger-before-request' | 'mid-aggregation' | 'poisoned-batch';

export interface KillRecord {
  readonly kind: FanoutKillKind;
  readonly pipeline: string;
  readonly at: number;
  /** Worker processes killed (their tasks: worker, worker child, programs). */
  readonly workers: number;
  readonly processes: number;
  /** The key whose write must come after the kill for it to have landed where it was meant to. */
  readonly mustFollow?: string;
  /** Whether it did: the key was first written after the kill (computed once the run is over). */
  readonly landed?: boolean;
  readonly detail: string;
}

export interface FanoutChaosResult {
  readonly report: FanoutInvariantReport;
  readonly logLeaks: readonly string[];
  readonly faults: FaultCounts;
  readonly kills: readonly KillRecord[];
  readonly pipelineKills: number;
  readonly workersStarted: Readonly<Record<string, number>>;
  readonly outage?: OutageRecord;
  readonly memory: readonly WorkerMemory[];
  readonly durationSeconds: number;
  readonly logLineCount: number;
  readonly runs: readonly { name: string; runId: string; files: number; batches: number; kind: string; runSeconds?: number; dispatchInterrupted: boolean }[];
  /** The redelivered manifest's run (by name), and its deliveries: the third queued once it was dispatched; how many found it dispatched. */
  readonly redeliveredRun: string;
  readonly lateRedelivery: { readonly queued: boolean; readonly skipped: number };
  /** What the workers said about the repeats chaos causes: trigger outcomes, settled batches met again, aggregations skipped. */
  readonly repeats: {
    /** Attempts of family and aggregator messages failed and released during the outage: receives spent on it. */
    readonly outageReleases: number;
    readonly triggerOutcomes: Readonly<Record<string, number>>;
    readonly batchesAlreadySettled: number;
    readonly aggregationsSkipped: number;
    readonly dispatchesSkipped: number;
    readonly redeliveries: number;
  };
}

type PlannedAction = 'sigkill' | 'arm-window' | 'arm-trigger' | 'arm-aggregator' | 'pipeline-kill';

interface LiveWorker {
  readonly pid: number;
  readonly pipeline: string;
  readonly startedAt: number;
  readonly cgroup?: string;
}

/** A manifest the run loads: its text, where its event goes, what it must become. */
interface LoadedManifest {
  readonly key: string;
  readonly body: string;
  readonly run?: ExpectedRun & { readonly kind: string };
  readonly bad?: Omit<BadManifest, 'messageId' | 'runIds' | 'manifestKey'> & { readonly runId?: string };
}

/**
 * Plans the chaos over the run's batch settlements: the random SIGKILLs, the armings of the targeted kills (each fires
 * at the next write that opens its window) and the pipeline kill, spread over the first 70%; the aggregator's and the
 * trigger's armings early, so that they catch an early run's aggregation.
 */
export function planFanoutActions(random: Random, counts: Pick<FanoutChaosOptions, 'sigkills' | 'windowKills' | 'triggerKills' | 'aggregatorKills' | 'pipelineKills'>): { action: PlannedAction; atFraction: number }[] {
  const spread: PlannedAction[] = [...Array<PlannedAction>(counts.sigkills).fill('sigkill'), ...Array<PlannedAction>(counts.windowKills).fill('arm-window')];
  for (let i = spread.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [spread[i], spread[j]] = [spread[j]!, spread[i]!];
  }
  for (let k = 0; k < counts.pipelineKills; k++) spread.splice(Math.floor(((k + 1) * spread.length) / (counts.pipelineKills + 1)), 0, 'pipeline-kill');
  const planned = spread.map((action, index) => ({ action, atFraction: 0.05 + (0.65 * index) / Math.max(1, spread.length) }));
  const early = [
    ...Array.from({ length: counts.aggregatorKills }, (_, i) => ({ action: 'arm-aggregator' as const, atFraction: 0.1 + 0.3 * i })),
    ...Array.from({ length: counts.triggerKills }, (_, i) => ({ action: 'arm-trigger' as const, atFraction: 0.1 + 0.3 * i })),
  ];
  return [...planned, ...early].sort((a, b) => a.atFraction - b.atFraction);
}

/**
 * A fan-out chaos run: the four pipelines of a fan-out group (the manifest fan-out, the loudness and spectrum families
 * running the example programs through the command job, the aggregator) as real worker processes, each in its memory
 * cgroup and behind its own role's strict S3 front, all through one fault proxy; several manifests (one delivered
 * twice at once and once more after its dispatch, two bad ones, broken WAVs among the files); SIGKILLs at random and
 * at the moments that matter (mid-dispatch, between a batch's results and its ledger entry, between the aggregation
 * trigger and its request, mid-aggregation), a whole-pipeline SIGKILL and an S3 outage. Then the invariants over what
 * the run left.
 */
export async function runFanoutChaos(options: FanoutChaosOptions): Promise<FanoutChaosResult> {
  const started = Date.now();
  const say = options.progress ?? (() => undefined);
  if (options.runs < 3) throw new RangeError(`a fan-out chaos run needs at least 3 runs (a keys manifest, a redelivered one, a prefix one), got ${options.runs}`);
  const random = seededRandom(options.seed);
  mkdirSync(options.dataDir, { recursive: true });
  const tmpDir = join(options.dataDir, 'worker-tmp');
  mkdirSync(tmpDir, { recursive: true });
  const queuePath = (pipeline: string) => join(options.dataDir, `${pipeline}.db`);
  const queues = new Map(FANOUT_GROUP.map((name) => {
    const queue = LocalQueue.open(queuePath(name), { create: { visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS, maxReceiveCount: REDRIVE_RECEIVE_COUNT } });
    auditSends(queuePath(name));
    return [name, queue] as const;
  }));
  const fanoutQueue = queues.get(FANOUT_PIPELINE)!;

  // Chaos state the proxy's hook acts on synchronously: a kill must land before the worker's next request.
  const live = new Map<number, LiveWorker>();
  /** The families' worker logs, followed for the poison batches' `received` lines. */
  const tails = new Map<number, LogTail>();
  const kills: KillRecord[] = [];
  const writes: WriteEvent[] = [];
  const armed = { window: 0, trigger: 0, aggregator: 0, dispatch: 0 };
  let dispatchTarget: { prefix: string; atBatchList: number; seen: number } | undefined;
  const killPipeline = (pipelines: readonly string[], kind: FanoutKillKind, detail: string, mustFollow?: string) => {
    const victims = [...live.values()].filter((worker) => pipelines.includes(worker.pipeline));
    let processes = 0;
    for (const victim of victims) {
      processes += killTask(victim.pid, victim.cgroup).length;
      live.delete(victim.pid);
    }
    kills.push({ kind, pipeline: pipelines.join('+'), at: Date.now(), workers: victims.length, processes, ...(mustFollow !== undefined ? { mustFollow } : {}), detail });
    say(`SIGKILL (${kind}) to ${victims.length} ${pipelines.join('+')} workers: ${detail}`);
    return victims.length;
  };
  const written = (key: string) => writes.some((write) => write.key === key);
  /** Triggers whose creating message is to be poisoned: read once the kill has landed (the trigger names it). */
  const triggerPoisons = { pending: [] as string[], done: 0 };
  /** Messages every receive of which is SIGKILLed, beside the poisoned batches. */
  const poisonedMessages = new Set<string>();
  /** Runs already hit by an aimed kill of this kind: one each, so no message is aimed at twice. */
  const hit = { trigger: new Set<string>(), aggregator: new Set<string>() };
  const onWrite = (key: string) => {
    const run = key.slice(RUNS_ROOT.length).split('/')[0] ?? '';
    const rest = key.slice(RUNS_ROOT.length + run.length + 1);
    const prefix = `${RUNS_ROOT}${run}/`;
    if (armed.dispatch > 0 && dispatchTarget !== undefined && key.startsWith(`${dispatchTarget.prefix}batches/`) && ++dispatchTarget.seen >= dispatchTarget.atBatchList) {
      if (killPipeline([FANOUT_PIPELINE], 'mid-dispatch', `${dispatchTarget.seen} batch lists of ${run} written`, `${prefix}dispatched.json`) > 0) armed.dispatch--;
    }
    const results = /^results\/([a-z][a-z0-9-]*)\/(\d{6,})\.json$/.exec(rest);
    // Results of a batch not settled yet (a second copy of a settled batch message may write them again: no window there).
    if (armed.window > 0 && results !== null && !written(`${prefix}ledger/${results[1]}/${results[2]}.json`)) {
      const [, family, batch] = results;
      if (killPipeline([family!], 'results-before-ledger', `${run} batch ${Number(batch)} results written, not yet settled`, `${prefix}ledger/${family}/${batch}.json`) > 0) armed.window--;
    }
    if (armed.trigger > 0 && rest === 'aggregate.json' && !hit.trigger.has(run)) {
      // Which family's worker created it is not known here: both families' workers go.
      hit.trigger.add(run);
      if (killPipeline([...FANOUT_FAMILIES], 'trigger-before-request', `${run}'s aggregation trigger created`, `${prefix}report.json`) > 0) {
        armed.trigger--;
        if (triggerPoisons.done + triggerPoisons.pending.length < (options.poisonedTriggers ?? 0)) triggerPoisons.pending.push(key);
      }
    }
    if (armed.aggregator > 0 && rest === 'summary.csv' && !hit.aggregator.has(run) && !written(`${prefix}report.json`)) {
      hit.aggregator.add(run);
      if (killPipeline([AGGREGATOR_PIPELINE], 'mid-aggregation', `${run}'s summary written, its report not yet`, `${prefix}report.json`) > 0) armed.aggregator--;
    }
  };
  const proxy = await startFaultProxy({
    upstream: 'http://127.0.0.1:9', rate: options.faultRate, seed: options.seed,
    onAnswered: (method, path, status) => {
      if (method !== 'PUT' || status < 200 || status >= 300 || !path.startsWith(`${DESTINATION_BUCKET}/${RUNS_ROOT}`)) return;
      const key = path.slice(DESTINATION_BUCKET.length + 1);
      writes.push({ at: Date.now(), key });
      onWrite(key);
    },
  });
  // Each pipeline's workers -> its role's strict front -> the one fault proxy -> s3rver. The fronts share the per-key
  // lock of conditional writes (they name the same upstream), as one S3 would for every role.
  const frontRefusals: string[] = [];
  const fronts: StrictS3Front[] = [];
  const roleOf = (pipeline: string): DemoRole => pipeline === FANOUT_PIPELINE ? { kind: 'fanout', families: FANOUT_FAMILIES }
    : pipeline === AGGREGATOR_PIPELINE ? { kind: 'aggregator' } : { kind: 'family', family: pipeline, aggregator: AGGREGATOR_PIPELINE };
  const endpoints = new Map<string, string>();
  let pipeline: RunningPipeline | undefined;
  let s3: S3Client | undefined;
  const cgroups: { worker: string; path: string }[] = [];
  try {
    for (const name of FANOUT_GROUP) {
      const front = await startStrictS3Front({
        upstream: proxy.endpoint,
        statements: localRoleStatements(roleOf(name), { pipeline: name, sourceBucket: SOURCE_BUCKET, sourcePrefix: '', destBucket: DESTINATION_BUCKET, destPrefix: RUNS_ROOT }),
        onRefused: (refusal) => {
          const text = `${name}: ${refusal.method} s3://${refusal.bucket ?? ''}/${refusal.key ?? ''}: ${refusal.status} ${refusal.code} (${refusal.detail})`;
          frontRefusals.push(text);
          say(`S3 front refused ${text}`);
        },
      });
      fronts.push(front);
      endpoints.set(name, front.endpoint);
    }
    const { SIZES: _sizes, MAX_INPUT_BYTES: _maxInput, ...jobNeutral } = CHAOS_WORKER_SETTINGS;
    const common: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_PATH: options.nodeModules,
      DEST_BUCKET: DESTINATION_BUCKET,
      ALLOWED_SOURCE_BUCKETS: SOURCE_BUCKET,
      CONCURRENCY: String(options.concurrency),
      ...jobNeutral,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      MALLOC_ARENA_MAX: '2',
      NODE_NO_WARNINGS: '1',
      TMPDIR: tmpDir,
    };
    const envOf = (name: string): Record<string, string> => {
      const own = { ...common, QUEUE_URL: queuePath(name), AWS_ENDPOINT_URL: endpoints.get(name)!, MAX_RECEIVE_COUNT: String(MAX_RECEIVE_COUNT) };
      if (name === FANOUT_PIPELINE) {
        return { ...own, JOB: 'fanout', DEST_PREFIX: RUNS_ROOT, BATCH_SIZE: String(options.batchSize), FANOUT_FAMILIES: JSON.stringify(Object.fromEntries(FANOUT_FAMILIES.map((family) => [family, queuePath(family)]))) };
      }
      if (name === AGGREGATOR_PIPELINE) return { ...own, JOB: 'aggregate', RUNS_PREFIX: RUNS_ROOT };
      return {
        ...own, JOB: 'command', COMMAND: JSON.stringify([process.execPath, join(options.programDir, `${name}.js`), '{input}', '{outputDir}']),
        FANOUT_FAMILY: name, AGGREGATE_QUEUE_URL: queuePath(AGGREGATOR_PIPELINE), RUNS_PREFIX: RUNS_ROOT, WORK_DIR: join(options.dataDir, 'work', name),
      };
    };
    const pipelines: WorkerPipeline[] = FANOUT_GROUP.map((name) => ({ name, workerEnv: envOf(name) }));
    const workersStarted: Record<string, number> = Object.fromEntries(FANOUT_GROUP.map((name) => [name, 0]));
    let generation = 0;
    let pipelineKills = 0;
    const pipelineKillTimes: number[] = [];
    const onMessage = (message: FromPipeline) => {
      if (message.type === 'worker-started') {
        const name = message.pipeline ?? '';
        workersStarted[name] = (workersStarted[name] ?? 0) + 1;
        live.set(message.pid, { pid: message.pid, pipeline: name, startedAt: message.at, ...(message.cgroup !== undefined ? { cgroup: message.cgroup } : {}) });
        if ((FANOUT_FAMILIES as readonly string[]).includes(name)) tails.set(message.pid, new LogTail(message.log));
        if (message.cgroup !== undefined) cgroups.push({ worker: basename(message.log, '.log').replace(/^worker-/, ''), path: message.cgroup });
      } else if (message.type === 'worker-exited') {
        live.delete(message.pid);
      }
    };
    const startPipeline = async () => {
      generation++;
      const settings: PipelineSettings = {
        dataDir: options.dataDir, workerPath: options.workerPath, pipelines, generation,
        ...(options.memoryLimitMiB !== undefined ? { memoryLimitBytes: options.memoryLimitMiB * 1024 * 1024 } : {}),
      };
      pipeline = await launchPipeline(options.pipelinePath, settings, options.nodeModules, onMessage);
      proxy.setUpstream(pipeline.endpoint);
      s3?.destroy();
      s3 = directClient(pipeline.endpoint);
    };
    await startPipeline();
    const client = () => s3!;

    const loaded = await loadFanoutInputs(client, options, random, say);
    const expectedRuns = loaded.manifests.flatMap((manifest) => (manifest.run !== undefined ? [manifest.run] : []));
    const expectedSettlements = expectedRuns.reduce((sum, run) => sum + run.batchCount * FANOUT_FAMILIES.length, 0);
    const messageIds = new Map<string, string>();
    const queueManifest = async (manifest: LoadedManifest) => {
      const messageId = await fanoutQueue.send(buildS3Event([{ bucket: SOURCE_BUCKET, ...loaded.uploaded.get(manifest.key)! }]));
      if (!messageIds.has(manifest.key)) messageIds.set(manifest.key, messageId);
      return messageId;
    };
    // The manifests go in stages, so that each run's dispatch is repeated only by what is aimed at it: first run a
    // (its poison batches want every receive they can get); once it is dispatched, the prefix run and the others with
    // the bad manifests, the dispatch kill aimed at the prefix run; once that kill has landed, the redelivered
    // manifest twice at once; once its run is dispatched, that manifest a third time.
    const redelivered = loaded.manifests.find((manifest) => manifest.run?.redelivered === true)!;
    const first = loaded.manifests[0]!;
    const target = loaded.manifests.find((manifest) => manifest.run?.kind === 'prefix')!.run!;
    dispatchTarget = { prefix: `${RUNS_ROOT}${target.runId}/`, atBatchList: 1 + Math.floor(random() * target.batchCount), seen: 0 };
    const dispatched = (run: ExpectedRun) => writes.some((write) => write.key === `${RUNS_ROOT}${run.runId}/dispatched.json`);
    let stage = 1;
    let lateQueued = false;
    const nextStage = async () => {
      if (stage === 1 && dispatched(first.run!)) {
        for (const manifest of loaded.manifests.filter((candidate) => candidate !== first && candidate !== redelivered)) await queueManifest(manifest);
        armed.dispatch = options.dispatchKills;
        stage = 2;
      }
      if (stage === 2 && armed.dispatch === 0) {
        // S3 delivers at least once: the same event twice, back to back.
        await queueManifest(redelivered);
        await queueManifest(redelivered);
        stage = 3;
        say(`queued ${redelivered.key} twice`);
      }
      if (stage === 3 && dispatched(redelivered.run!)) {
        await queueManifest(redelivered);
        lateQueued = true;
        stage = 4;
        say(`queued ${redelivered.key} a third time, its run dispatched`);
      }
    };
    await queueManifest(first);
    say(`loaded ${expectedRuns.length} runs (${expectedRuns.map((run) => `${run.name}: ${run.keys.length} files in ${run.batchCount} batches`).join(', ')}) and ${loaded.manifests.length - expectedRuns.length} bad manifests; ` +
      `${options.workers} workers x ${options.concurrency} per pipeline, fault rate ${options.faultRate}${options.memoryLimitMiB !== undefined ? `, each worker in a ${options.memoryLimitMiB} MiB memory cgroup` : ''}`);
    const scaleAll = () => pipeline!.send({ type: 'scale', workers: options.workers });
    scaleAll();

    const plan = planFanoutActions(random, options);
    const poisons = expectedRuns.flatMap((run) => (run.poisoned ?? []).map((poison) => ({ runId: run.runId, ...poison })));
    /** Batch message ids, from the family queues' audit of what they were sent. */
    const batchOfMessage = new Map<string, { runId: string; family: string; batch: number }>();
    const killPoisonReceivers = () => {
      for (const [pid, tail] of tails) {
        const worker = live.get(pid);
        for (const line of tail.read()) {
          if (line.message !== 'received' || worker === undefined || !live.has(pid)) continue;
          const id = String(line.messageId);
          if (!batchOfMessage.has(id)) {
            for (const sent of sentMessages(queuePath(worker.pipeline))) {
              const batch = batchOf(sent.body);
              if (batch !== undefined) batchOfMessage.set(sent.messageId, batch);
            }
          }
          const batch = batchOfMessage.get(id);
          const poisoned = poisonedMessages.has(id) || (batch !== undefined && poisons.some((poison) => poison.runId === batch.runId && poison.family === batch.family && poison.batch === batch.batch));
          if (batch === undefined || !poisoned) continue;
          const processes = killTask(pid, worker.cgroup).length;
          live.delete(pid);
          kills.push({ kind: 'poisoned-batch', pipeline: worker.pipeline, at: Date.now(), workers: 1, processes, detail: `${batch.runId} batch ${batch.batch}, receive ${String(line.receiveCount)}` });
          say(`SIGKILL (poisoned batch) to ${worker.pipeline} worker ${pid}: it received ${batch.runId} batch ${batch.batch} (receive ${String(line.receiveCount)})`);
        }
        if (!live.has(pid)) tails.delete(pid);
      }
    };
    let lastActionAt = 0;
    let outage: { startedAt: number; endsAt: number; atFraction: number; mode: OutageMode; lastSettled: number; recoveredAt?: number } | undefined;
    let deadline = started + options.timeoutSeconds * 1000;
    let unfinished: string | undefined;
    let idleSince: number | undefined;
    const allDispatched = () => expectedRuns.every((run) => writes.some((write) => write.key === `${RUNS_ROOT}${run.runId}/dispatched.json`));
    for (;;) {
      await sleep(TICK_MS);
      for (const key of triggerPoisons.pending.splice(0)) {
        const trigger = JSON.parse(await (await client().send(new GetObjectCommand({ Bucket: DESTINATION_BUCKET, Key: key }))).Body!.transformToString('utf8')) as { messageId?: string };
        if (trigger.messageId !== undefined) poisonedMessages.add(trigger.messageId);
        triggerPoisons.done++;
        say(`poisoned ${key}'s message ${trigger.messageId ?? '?'}: every later receive of it is SIGKILLed`);
      }
      if (poisons.length > 0 || poisonedMessages.size > 0) killPoisonReceivers();
      await nextStage();
      const depths = await Promise.all([...queues.values()].map((queue) => queue.depth()));
      const remaining = depths.reduce((sum, depth) => sum + depth.visible + depth.inFlight + depth.delayed, 0);
      const settled = new Set(writes.filter((write) => write.key.includes('/ledger/')).map((write) => write.key)).size;
      const doneFraction = settled / Math.max(1, expectedSettlements);
      // Nothing queued and no worker left: nothing can happen any more, finished or not.
      if (remaining === 0 && live.size === 0) {
        if (stage === 4) break;
        idleSince ??= Date.now();
        if (Date.now() - idleSince > 3000) {
          unfinished = `the manifests' loading stopped at stage ${stage}: ${stage === 1 ? `run ${first.run!.name} was never dispatched` : stage === 2 ? 'the dispatch kill never fired' : `run ${redelivered.run!.name} was never dispatched`}`;
          say(unfinished);
          break;
        }
      } else idleSince = undefined;
      if (Date.now() > deadline) {
        unfinished = `not finished after ${Math.round((Date.now() - started) / 1000)} s: ${FANOUT_GROUP.map((name, i) => `${name} ${depths[i]!.visible} visible, ${depths[i]!.inFlight} in flight`).join('; ')}; ${live.size} workers`;
        say(unfinished);
        break;
      }
      if (options.outage !== undefined && outage === undefined && doneFraction >= options.outage.atFraction) {
        const mode = options.outage.mode ?? 'mixed';
        proxy.outageFor(options.outage.seconds * 1000, mode);
        outage = { startedAt: Date.now(), endsAt: Date.now() + options.outage.seconds * 1000, atFraction: doneFraction, mode, lastSettled: settled };
        deadline += options.outage.seconds * 1000;
        say(`S3 outage for ${options.outage.seconds} s (${mode}) at ${Math.round(doneFraction * 100)}% of the batches settled`);
      }
      if (outage !== undefined && outage.recoveredAt === undefined) {
        if (Date.now() < outage.endsAt) outage.lastSettled = settled;
        else if (settled > outage.lastSettled) {
          outage.recoveredAt = Date.now();
          say(`work resumed ${((outage.recoveredAt - outage.endsAt) / 1000).toFixed(1)} s after the outage ended`);
        }
      }
      if (proxy.inOutage()) continue;
      const next = plan[0];
      if (next === undefined || Date.now() - lastActionAt < MIN_ACTION_SPACING_MS || doneFraction < next.atFraction) continue;
      if (next.action === 'pipeline-kill') {
        // Once every run is dispatched and the fan-out holds nothing: a dispatch interrupted by it would be resent, by
        // design, and blur the count.
        if (!allDispatched() || live.size === 0 || depths[0]!.visible + depths[0]!.inFlight > 0) continue;
        plan.shift();
        say(`SIGKILL to the whole pipeline (generation ${generation}, ${live.size} workers) at ${Math.round(doneFraction * 100)}%`);
        const pids = [...live.keys()];
        await pipeline!.killGroup();
        await waitUntil(() => pids.every((pid) => !isAlive(pid)), 10_000);
        live.clear();
        pipelineKills++;
        pipelineKillTimes.push(Date.now());
        await startPipeline();
        scaleAll();
        say(`pipeline restarted (generation ${generation}) on ${pipeline!.endpoint}`);
      } else if (next.action === 'sigkill') {
        const victims = [...live.values()].filter((worker) => worker.pipeline !== FANOUT_PIPELINE && Date.now() - worker.startedAt >= MIN_VICTIM_AGE_MS);
        if (victims.length === 0) continue;
        plan.shift();
        const victim = pick(random, victims);
        const processes = killTask(victim.pid, victim.cgroup).length;
        live.delete(victim.pid);
        kills.push({ kind: 'random', pipeline: victim.pipeline, at: Date.now(), workers: 1, processes, detail: `at ${Math.round(doneFraction * 100)}%` });
        say(`SIGKILL to ${victim.pipeline} worker ${victim.pid} at ${Math.round(doneFraction * 100)}%`);
      } else {
        plan.shift();
        if (next.action === 'arm-window') armed.window++;
        if (next.action === 'arm-trigger') armed.trigger++;
        if (next.action === 'arm-aggregator') armed.aggregator++;
        say(`armed: ${next.action.slice(4)} kill at ${Math.round(doneFraction * 100)}%`);
      }
      lastActionAt = Date.now();
    }
    const unfired = plan.length + armed.window + armed.trigger + armed.aggregator + armed.dispatch;
    if (unfired > 0) say(`the run ended before ${unfired} planned kills could fire`);

    // Read back: everything is done or never will be. The direct client, no faults.
    proxy.setRate(0);
    say('drained; checking invariants');
    const runKeys = await listKeys(client(), DESTINATION_BUCKET, RUNS_ROOT);
    const badManifests: BadManifest[] = loaded.manifests.flatMap((manifest) => (manifest.bad !== undefined ? [{
      name: manifest.bad.name, manifestKey: manifest.key, messageId: messageIds.get(manifest.key) ?? '', fieldIncludes: manifest.bad.fieldIncludes,
      runIds: [manifest.bad.runId, derivedRunId(manifest, loaded.uploaded.get(manifest.key)!.etag)].filter((id): id is string => id !== undefined),
    }] : []));
    const findings: Record<string, RunFindings> = {};
    for (const runId of [...expectedRuns.map((run) => run.runId), ...badManifests.flatMap((bad) => bad.runIds)]) {
      findings[runId] = await readRun(client(), runId, runKeys.filter((key) => key.startsWith(`${RUNS_ROOT}${runId}/`)));
    }
    const left: QueuedMessage[] = FANOUT_GROUP.flatMap((name) => messagesLeft(queuePath(name)).map((message) => ({ queue: name, messageId: message.messageId, body: message.body })));
    const deadLetters: DeadLetterFound[] = (await Promise.all(FANOUT_GROUP.map(async (name) => (await queues.get(name)!.peekDeadLetters(100_000)).map((letter) => ({
      queue: name, messageId: letter.attributes['source-message-id'] ?? letter.messageId, body: letter.body, receiveCount: letter.receiveCount,
      reasons: (letter.attributes['failure-reasons'] ?? '').split(',').filter((reason) => reason !== ''),
      details: failureDetails(letter.attributes.failures),
    }))))).flat();
    const sentToFamilies = Object.fromEntries(FANOUT_FAMILIES.map((family) => [family, sentMessages(queuePath(family)).map((message) => message.body)]));
    const memory = cgroups.map(({ worker, path }) => {
      const report = readMemoryCgroup(path);
      return { worker, limitBytes: report.limitBytes, peakBytes: report.maxUsageBytes, oomKills: report.oomKills ?? 0 };
    });
    const logs = readLogs(join(options.dataDir, 'logs'));
    const logLines: PipelineLogLine[] = logs.flatMap((source) => {
      const name = FANOUT_GROUP.find((candidate) => source.file.startsWith(`worker-${candidate}-`)) ?? '?';
      return parseLogLines(source.text).map((line) => ({ ...line, pipeline: name }));
    });
    // A dispatch is cut short by a kill of the fan-out's workers (aimed, or the whole pipeline's) before its marker.
    const fanoutKills = [...kills.filter((kill) => kill.pipeline === FANOUT_PIPELINE && kill.workers > 0).map((kill) => kill.at), ...pipelineKillTimes];
    const interruptedDispatches = expectedRuns.filter((run) => {
      const marked = writes.find((write) => write.key === `${RUNS_ROOT}${run.runId}/dispatched.json`)?.at ?? Number.POSITIVE_INFINITY;
      const begun = writes.find((write) => write.key.startsWith(`${RUNS_ROOT}${run.runId}/`))?.at ?? Number.POSITIVE_INFINITY;
      return fanoutKills.some((at) => at >= begun && at <= marked);
    }).map((run) => run.runId);
    const report = checkFanoutInvariants({
      families: FANOUT_FAMILIES, fanoutPipeline: FANOUT_PIPELINE, aggregatorPipeline: AGGREGATOR_PIPELINE, root: RUNS_ROOT,
      runs: expectedRuns, badManifests, findings, writes, sentToFamilies, left, deadLetters, logLines, memory, frontRefusals, interruptedDispatches,
      ...(unfinished !== undefined ? { unfinished } : {}),
    });
    const logLeaks = findLogLeaks(logs, {
      forbidden: [
        { label: 'the secret access key', value: LOCAL_CREDENTIALS.secretAccessKey },
        { label: 'the access key id', value: LOCAL_CREDENTIALS.accessKeyId },
      ],
    });
    const firstWrite = (key: string) => writes.find((write) => write.key === key)?.at;
    const count = (message: string, pipelineName?: string) => logLines.filter((line) => line.message === message && (pipelineName === undefined || line.pipeline === pipelineName));
    const triggerOutcomes: Record<string, number> = {};
    for (const line of count('run complete')) triggerOutcomes[String(line.trigger)] = (triggerOutcomes[String(line.trigger)] ?? 0) + 1;
    return {
      report,
      logLeaks,
      faults: proxy.counts(),
      kills: kills.map((kill) => {
        if (kill.mustFollow === undefined) return kill;
        const at = firstWrite(kill.mustFollow);
        return { ...kill, landed: at !== undefined && at > kill.at };
      }),
      pipelineKills,
      workersStarted,
      ...(outage !== undefined ? {
        outage: {
          seconds: options.outage!.seconds, mode: outage.mode, atFraction: outage.atFraction,
          ...(outage.recoveredAt !== undefined ? { recoverySeconds: Math.round((outage.recoveredAt - outage.endsAt) / 100) / 10 } : {}),
        },
      } : {}),
      memory,
      durationSeconds: Math.round((Date.now() - started) / 100) / 10,
      logLineCount: logLines.length,
      runs: expectedRuns.map((run) => {
        const seconds = (findings[run.runId]?.report as { runSeconds?: number } | undefined)?.runSeconds;
        return {
          name: run.name, runId: run.runId, files: run.keys.length, batches: run.batchCount, kind: run.kind, dispatchInterrupted: interruptedDispatches.includes(run.runId),
          ...(seconds !== undefined ? { runSeconds: seconds } : {}),
        };
      }),
      redeliveredRun: redelivered.run!.name,
      lateRedelivery: {
        queued: lateQueued,
        skipped: count('skipped', FANOUT_PIPELINE).filter((line) => line.runId === redelivered.run!.runId && line.reason === 'run already dispatched').length,
      },
      repeats: {
        outageReleases: outage === undefined ? 0 : count('failed').filter((line) => line.outcome === 'retry' && line.pipeline !== FANOUT_PIPELINE && inWindow(line, outage!.startedAt, outage!.endsAt)).length,
        triggerOutcomes,
        batchesAlreadySettled: count('batch already settled').length,
        aggregationsSkipped: count('skipped', AGGREGATOR_PIPELINE).length,
        dispatchesSkipped: count('skipped', FANOUT_PIPELINE).filter((line) => line.reason === 'run already dispatched').length,
        redeliveries: count('received').filter((line) => Number(line.receiveCount) > 1).length,
      },
    };
  } finally {
    const closing = Date.now();
    s3?.destroy();
    for (const front of fronts) await front.close();
    await proxy.close();
    await pipeline?.shutdown();
    for (const queue of queues.values()) await queue.close();
    for (const { path } of cgroups) removeMemoryCgroup(path);
    say(`shut down in ${((Date.now() - closing) / 1000).toFixed(1)} s`);
  }
}

function inWindow(line: PipelineLogLine, from: number, to: number): boolean {
  const at = Date.parse(String(line.timestamp ?? ''));
  return at >= from && at <= to;
}

/** The runId a manifest without one is given: named after its version, as the fan-out names it. */
function derivedRunId(manifest: LoadedManifest, etag: string): string | undefined {
  try {
    return parseManifest(manifest.body, { bucket: SOURCE_BUCKET, key: manifest.key, etag }).runId;
  } catch {
    // A manifest that does not parse: its version would still name this run.
    return parseManifest('{"keys":["x"]}', { bucket: SOURCE_BUCKET, key: manifest.key, etag }).runId;
  }
}

function failureDetails(attribute: string | undefined): string[] {
  try {
    const failures = JSON.parse(attribute ?? '[]') as { detail?: unknown }[];
    return failures.map((failure) => String(failure.detail ?? ''));
  } catch {
    return [];
  }
}

interface LoadedInputs {
  readonly manifests: readonly LoadedManifest[];
  /** Every object the run uploaded, with its ETag (manifests included). */
  readonly uploaded: ReadonlyMap<string, { key: string; etag: string; size: number }>;
}

/**
 * Writes the WAV demo set (a few broken files among tones, chirps, noise and silence), uploads it, and composes the
 * manifests: a keys manifest with a runId and settings (one key listed twice), a keys manifest without a runId (named
 * after its version: the one delivered more than once), a prefix manifest over copies of its files, more keys
 * manifests for runs beyond three, a manifest that is not JSON and one with a reserved setting.
 */
async function loadFanoutInputs(s3: () => S3Client, options: FanoutChaosOptions, random: Random, say: (line: string) => void): Promise<LoadedInputs> {
  const brokenPerRun = Math.min(options.brokenPerRun, BROKEN_WAVS.length);
  const goodPerRun = options.filesPerRun - brokenPerRun;
  if (goodPerRun < 1) throw new RangeError(`filesPerRun (${options.filesPerRun}) must leave room for good files beside ${brokenPerRun} broken ones`);
  const set = await writeWavDemoSet(join(options.dataDir, 'wavs'), { count: Math.max(MIN_WAV_DEMO_COUNT, Math.ceil(goodPerRun * 1.2) + BROKEN_WAVS.length) });
  const uploaded = new Map<string, { key: string; etag: string; size: number }>();
  const put = async (key: string, body: Buffer) => {
    const answer = await s3().send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: body }));
    uploaded.set(key, { key, etag: (answer.ETag ?? '').replace(/"/g, ''), size: body.length });
  };
  const bytes = new Map(set.keys.map((key) => [key, readFileSync(join(options.dataDir, 'wavs', key))]));
  await mapLimit(set.keys, 8, (key) => put(key, bytes.get(key)!));
  const brokenReason = new Map(BROKEN_WAVS.map((wav) => [wav.key, wav.reason]));
  const good = set.keys.filter((key) => !brokenReason.has(key));
  const shuffled = <T>(items: readonly T[]) => {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  };
  const expectations = new Map(WAV_DEMO_EXPECTATIONS.map((expectation) => [expectation.key, { loudness: expectation.loudness, spectrum: expectation.spectrum }]));
  const batches = (files: number) => Math.ceil(files / options.batchSize);
  const pickFiles = (runIndex: number) => shuffled([
    ...shuffled(good).slice(0, goodPerRun),
    ...Array.from({ length: brokenPerRun }, (_, i) => BROKEN_WAVS[(runIndex * brokenPerRun + i) % BROKEN_WAVS.length]!.key),
  ]);
  const describe = (name: string, kind: string, runId: string, manifestKey: string, keys: readonly string[], original: (key: string) => string, redelivered = false): ExpectedRun & { kind: string } => ({
    name, kind, runId, manifestKey, keys, ordered: kind !== 'prefix', batchCount: batches(keys.length), batchSize: options.batchSize, redelivered,
    broken: Object.fromEntries(keys.flatMap((key) => (brokenReason.has(original(key)) ? [[key, brokenReason.get(original(key))!]] : []))),
    expectedSummaries: Object.fromEntries(keys.flatMap((key) => (expectations.has(original(key)) ? [[key, expectations.get(original(key))!]] : []))),
  });
  const manifests: LoadedManifest[] = [];
  const addManifest = async (manifest: LoadedManifest) => {
    await put(manifest.key, Buffer.from(manifest.body));
    manifests.push(manifest);
  };
  const same = (key: string) => key;

  // a: keys, a runId, settings, and its first file listed twice (one file: one row, one analysis per family).
  const aKeys = pickFiles(0);
  // Its poison batches: every attempt of them is killed.
  const poisoned: { family: string; batch: number }[] = [];
  while (poisoned.length < Math.min(options.poisonedBatches, batches(aKeys.length) * FANOUT_FAMILIES.length)) {
    const candidate = { family: pick(random, FANOUT_FAMILIES), batch: Math.floor(random() * batches(aKeys.length)) };
    if (!poisoned.some((p) => p.family === candidate.family && p.batch === candidate.batch)) poisoned.push(candidate);
  }
  await addManifest({
    key: 'manifests/a/manifest.json', body: JSON.stringify({ runId: 'chaos-a', keys: [...aKeys, aKeys[0]], settings: { ACTIVITY_THRESHOLD_DB: '-45' } }),
    run: { ...describe('a', 'keys', 'chaos-a', 'manifests/a/manifest.json', aKeys, same), ...(poisoned.length > 0 ? { poisoned } : {}) },
  });
  // b: keys and no runId: the run is named after the manifest's version, so each delivery of its event is the same run.
  const bKeys = pickFiles(1);
  const bBody = JSON.stringify({ keys: bKeys });
  const bKey = 'manifests/b/manifest.json';
  await put(bKey, Buffer.from(bBody));
  const bRunId = parseManifest(bBody, { bucket: SOURCE_BUCKET, key: bKey, etag: uploaded.get(bKey)!.etag }).runId;
  manifests.push({ key: bKey, body: bBody, run: describe('b', 'keys, delivered 3 times', bRunId, bKey, bKeys, same, true) });
  // c: a prefix over copies of its files, listed (and frozen) by the fan-out.
  const cOriginals = pickFiles(2);
  const prefix = 'prefixed/';
  await mapLimit(cOriginals, 8, (key) => put(`${prefix}${key}`, bytes.get(key)!));
  const cKeys = cOriginals.map((key) => `${prefix}${key}`).sort();
  await addManifest({ key: 'manifests/c/manifest.json', body: JSON.stringify({ runId: 'chaos-c', prefix }), run: describe('c', 'prefix', 'chaos-c', 'manifests/c/manifest.json', cKeys, (key) => key.slice(prefix.length)) });
  for (let i = 3; i < options.runs; i++) {
    const keys = pickFiles(i);
    const runId = `chaos-${String.fromCharCode(97 + i)}`;
    const key = `manifests/${runId}/manifest.json`;
    await addManifest({ key, body: JSON.stringify({ runId, keys }), run: describe(runId.slice(6), 'keys', runId, key, keys, same) });
  }
  // Bad manifests: cut-off JSON, and a setting that would change how every family's program runs.
  await addManifest({ key: 'manifests/bad-json/manifest.json', body: `{"runId": "chaos-bad-json", "keys": ["${aKeys[0]}",`, bad: { name: 'not JSON', runId: 'chaos-bad-json', fieldIncludes: ['is not valid JSON'] } });
  await addManifest({
    key: 'manifests/bad-field/manifest.json',
    body: JSON.stringify({ runId: 'chaos-bad-field', keys: aKeys.slice(0, 3), settings: { LD_PRELOAD: '/tmp/evil.so' } }),
    bad: { name: 'reserved setting', runId: 'chaos-bad-field', fieldIncludes: ['"settings"', 'LD_PRELOAD'] },
  });
  say(`uploaded ${set.keys.length} WAV files (${set.broken} broken), ${cOriginals.length} copies under ${prefix} and ${manifests.length} manifests`);
  return { manifests, uploaded };
}

async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  // ListObjects v1, paged by Marker (s3rver's v2 continuation tokens break past 1,000 keys under OpenSSL 3).
  const keys: string[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker }));
    const found = (page.Contents ?? []).map((object) => object.Key ?? '');
    keys.push(...found);
    if (page.IsTruncated !== true || found.length === 0) return keys;
    marker = found[found.length - 1];
  }
}

async function readRun(s3: S3Client, runId: string, keys: readonly string[]): Promise<RunFindings> {
  const prefix = `${RUNS_ROOT}${runId}/`;
  const text = async (key: string) => {
    if (!keys.includes(key)) return undefined;
    const object = await s3.send(new GetObjectCommand({ Bucket: DESTINATION_BUCKET, Key: key }));
    return object.Body!.transformToString('utf8');
  };
  const json = async <T>(key: string): Promise<T | undefined> => {
    const body = await text(key);
    if (body === undefined) return undefined;
    try {
      return JSON.parse(body) as T;
    } catch {
      return undefined;
    }
  };
  const ledger: Record<string, Record<number, { status: string; at: string; reason?: string }>> = {};
  for (const key of keys.filter((candidate) => candidate.startsWith(`${prefix}ledger/`))) {
    const match = /ledger\/([^/]+)\/(\d+)\.json$/.exec(key);
    const entry = await json<{ status: string; at: string; reason?: string }>(key);
    if (match === null || entry === undefined) continue;
    (ledger[match[1]!] ??= {})[Number(match[2])] = entry;
  }
  const summary = await json<{ rows?: SummaryRowFound[] }>(`${prefix}summary.json`);
  const csv = await text(`${prefix}summary.csv`);
  const report = await json<RunFindings['report']>(`${prefix}report.json`);
  return {
    keys,
    ledger,
    ...(report !== undefined ? { report } : {}),
    ...(summary?.rows !== undefined ? { summaryRows: summary.rows } : {}),
    ...(csv !== undefined ? { csvKeys: parseCsv(csv).slice(1).map((row) => row[0] ?? '') } : {}),
  };
}

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF), enough to read summary.csv's key column back. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += char;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
