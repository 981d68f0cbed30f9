import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { batchDemoRecords } from '../../../app/jobs/batch/demo-records';
import { openModel } from '../../../app/jobs/batch/open-model';
import { chunks } from '../../../app/jobs/batch/result-store';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { startEmbeddedDynamoDb, type EmbeddedDynamoDb } from '../../../local/src/embedded-dynamodb';
import { LOCAL_CREDENTIALS } from '../../../local/src/s3-server';
import {
  checkBatchInvariants, type BatchDeadLetterFound, type BatchInvariantReport, type BatchRecordPlanned, type BatchResultFound, type DiscoveryFacts,
} from './batch-invariants';
import { CHAOS_WORKER_SETTINGS, directClient, mapLimit, parseLogLines, readLogs, sleep } from './chaos-run';
import { startFaultProxy, type FaultCounts } from './fault-proxy';
import { findLogLeaks } from './log-hygiene';
import { launchPipeline, type RunningPipeline } from './pipeline-launcher';
import { DESTINATION_BUCKET, SOURCE_BUCKET, type FromPipeline, type WorkerPipeline } from './pipeline-protocol';
import { killTask } from './process-probe';
import { auditSends, messagesLeft, sentMessages } from './queue-inspection';
import { pick, seededRandom } from './seeded-random';
import { startStoreFaultProxy, type StoreFaultCounts, type StoreIntercept, type StoreOperation, type StoreOutageMode } from './store-fault-proxy';

/** Discovery's date for the run's records, and where their inputs are. */
export const BATCH_CHAOS_DATE = '2026-12-01';
const INPUT_PREFIX = `recordings/${BATCH_CHAOS_DATE}/`;
export const BATCH_CHAOS_TABLES = { source: 'chaos-recordings', results: 'chaos-results', state: 'chaos-discovery-state' } as const;
const DISCOVERY_LANE = 'discovery';
/** Records per SendMessageBatch in discovery (discovery-plan.ts CHUNK_SIZE): a killed run may resend one chunk. */
const DISCOVERY_CHUNK = 10;
/** The worker dead-letters a record on its 5th failed attempt (the infra's default); the queue redrives two later. */
const MAX_RECEIVE_COUNT = 5;
const REDRIVE_RECEIVE_COUNT = MAX_RECEIVE_COUNT + 2;
const TICK_MS = 100;
const MIN_VICTIM_AGE_MS = 1200;
const MIN_ACTION_SPACING_MS = 600;

export interface BatchChaosOptions {
  readonly dataDir: string;
  /** The worker bundle (dist/app/main.js), the pipeline process (dist/test/chaos/pipeline-process.js), discovery (dist/app/discover.js). */
  readonly workerPath: string;
  readonly pipelinePath: string;
  readonly discoverPath: string;
  readonly nodeModules: string;
  /** Records with an uploaded input (the batch demo set: ~15% anomalous, ~3% broken files). */
  readonly records: number;
  /** Records whose input was never uploaded. */
  readonly missingInputs: number;
  readonly seed: number;
  /** Worker slots: each its own pipeline lane (one worker at a time) with its own store endpoint. */
  readonly workers: number;
  readonly batchSize: number;
  /** MAX_CONCURRENCY: batches in flight per worker. */
  readonly maxConcurrentBatches: number;
  /** S3 fault rate (503, 500, resets, slow responses of `slowMs`). */
  readonly s3FaultRate: number;
  /** DOWNLOAD_TIMEOUT_MS; the slow S3 responses are held longer, so each one is a download timeout. */
  readonly downloadTimeoutMs: number;
  readonly slowMs: number;
  /** Store fault rate (500, 400 ProvisionedThroughputExceeded, resets, BatchWriteItem applied but answered 500). */
  readonly storeFaultRate: number;
  /** The rate for BatchWriteItem calls (default storeFaultRate): there are a few per batch against many lookups. */
  readonly storeWriteFaultRate?: number;
  /** Random SIGKILLs of live workers, spread over the run. */
  readonly sigkills: number;
  /** SIGKILLs of a worker the moment it sends a BatchWriteItem, which never reaches the store (model done, write not). */
  readonly beforeWriteKills: number;
  /** SIGKILLs of a worker once the store applied its BatchWriteItem, before the answer reaches it (written, not acknowledged). */
  readonly afterWriteKills: number;
  /** SIGKILL the first discovery run once it has sent this share of the records (0: let it finish). */
  readonly discoveryKillAt: number;
  /** A full outage of the store for `seconds` once `atFraction` of the valid records have a result. */
  readonly storeOutage?: { readonly seconds: number; readonly atFraction: number; readonly mode: StoreOutageMode };
  readonly visibilityTimeoutSeconds?: number;
  readonly timeoutSeconds: number;
  readonly progress?: (line: string) => void;
}

export type BatchKillKind = 'random' | 'before-write' | 'after-write' | 'discovery';

export interface BatchKillRecord {
  readonly kind: BatchKillKind;
  readonly lane: string;
  readonly at: number;
  readonly detail: string;
}

export interface BatchChaosResult {
  readonly report: BatchInvariantReport;
  readonly logLeaks: readonly string[];
  readonly s3Faults: FaultCounts;
  readonly storeFaults: StoreFaultCounts;
  readonly kills: readonly BatchKillRecord[];
  readonly workersStarted: number;
  readonly discovery: DiscoveryFacts & { readonly firstRunExitCode: number | null; readonly rerunEnqueued?: number };
  readonly storeOutage?: { readonly seconds: number; readonly mode: StoreOutageMode; readonly atFraction: number; readonly recoverySeconds?: number };
  /** What the workers said: `batch scored` lines and their sums, failures retried, redeliveries. */
  readonly workerLines: {
    readonly batches: number;
    readonly scored: number;
    readonly skipped: number;
    readonly failed: number;
    readonly retriedByReason: Readonly<Record<string, number>>;
    readonly redeliveries: number;
  };
  readonly shippedModelVersion: string;
  readonly durationSeconds: number;
  readonly logLineCount: number;
}

interface LiveWorker {
  readonly pid: number;
  readonly lane: string;
  readonly startedAt: number;
}

/**
 * A batch chaos run: N recordings (the batch demo set, a few broken) and a few records whose input was never uploaded,
 * in a source table of a DynamoDB-protocol server (dynalite on 127.0.0.1); discovery run as its own process, SIGKILLed
 * mid-run and rerun (its watermark must hold); then real worker processes (`JOB=batch`) scoring from a local queue
 * file, reading S3 through the fault proxy and writing results through a store fault proxy, while the run SIGKILLs
 * workers at random and at the write (before the store gets it; after it applied it, before the answer), injects S3
 * and store faults (a write applied but answered 500 among them) and takes the store down for a while. Then the
 * invariants over what was left.
 */
export async function runBatchChaos(options: BatchChaosOptions): Promise<BatchChaosResult> {
  const started = Date.now();
  const say = options.progress ?? (() => undefined);
  const random = seededRandom(options.seed);
  mkdirSync(options.dataDir, { recursive: true });
  const queuePath = join(options.dataDir, 'batch.db');
  const queue = LocalQueue.open(queuePath, { create: { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 10, maxReceiveCount: REDRIVE_RECEIVE_COUNT } });
  auditSends(queuePath);
  const shippedModelVersion = (await openModel(undefined)).version;
  const lanes = Array.from({ length: options.workers }, (_, i) => `w${i + 1}`);

  const live = new Map<number, LiveWorker>();
  const kills: BatchKillRecord[] = [];
  const armed = { beforeWrite: 0, afterWrite: 0 };
  const killLane = (lane: string, kind: BatchKillKind, detail: string): boolean => {
    const victims = [...live.values()].filter((worker) => worker.lane === lane);
    for (const victim of victims) {
      killTask(victim.pid);
      live.delete(victim.pid);
    }
    if (victims.length === 0) return false;
    kills.push({ kind, lane, at: Date.now(), detail });
    say(`SIGKILL (${kind}) to ${lane}'s worker ${victims.map((victim) => victim.pid).join(',')}: ${detail}`);
    return true;
  };
  const intercept = (lane: string, operation: StoreOperation): StoreIntercept | undefined => {
    if (operation !== 'BatchWriteItem' || lane === DISCOVERY_LANE || ![...live.values()].some((worker) => worker.lane === lane)) return undefined;
    if (armed.beforeWrite > 0) {
      armed.beforeWrite--;
      return { when: 'before-forward', act: () => void killLane(lane, 'before-write', 'its BatchWriteItem sent, never reaching the store') };
    }
    if (armed.afterWrite > 0) {
      armed.afterWrite--;
      return { when: 'after-applied', act: () => void killLane(lane, 'after-write', 'its BatchWriteItem applied by the store, the answer not yet delivered') };
    }
    return undefined;
  };

  let db: EmbeddedDynamoDb | undefined;
  let direct: DynamoDBDocumentClient | undefined;
  let pipeline: RunningPipeline | undefined;
  let s3: S3Client | undefined;
  let discovery: ChildProcess | undefined;
  const s3Proxy = await startFaultProxy({ upstream: 'http://127.0.0.1:9', rate: options.s3FaultRate, seed: options.seed, slowMs: options.slowMs });
  let store: Awaited<ReturnType<typeof startStoreFaultProxy>> | undefined;
  try {
    db = await startEmbeddedDynamoDb(join(options.dataDir, 'dynamodb'));
    direct = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: db.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS }), { marshallOptions: { removeUndefinedValues: true } });
    for (const [name, keys] of [[BATCH_CHAOS_TABLES.source, [['date', 'HASH'], ['id', 'RANGE']]], [BATCH_CHAOS_TABLES.results, [['id', 'HASH']]], [BATCH_CHAOS_TABLES.state, [['name', 'HASH']]]] as const) {
      await direct.send(new CreateTableCommand({
        TableName: name, BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: keys.map(([AttributeName]) => ({ AttributeName, AttributeType: 'S' })),
        KeySchema: keys.map(([AttributeName, KeyType]) => ({ AttributeName, KeyType })),
      }));
    }
    store = await startStoreFaultProxy({
      upstream: db.endpoint, lanes: [DISCOVERY_LANE, ...lanes], rate: options.storeFaultRate, writeRate: options.storeWriteFaultRate ?? options.storeFaultRate, seed: options.seed + 1, quietLanes: [DISCOVERY_LANE],
      laneDelayMs: { [DISCOVERY_LANE]: 40 }, resultsTable: BATCH_CHAOS_TABLES.results, intercept,
    });

    const workerEnv = (lane: string): Record<string, string> => ({
      PATH: process.env.PATH ?? '',
      NODE_PATH: options.nodeModules,
      JOB: 'batch',
      QUEUE_URL: queuePath,
      DEST_BUCKET: DESTINATION_BUCKET,
      ALLOWED_SOURCE_BUCKETS: SOURCE_BUCKET,
      WAIT_SECONDS: CHAOS_WORKER_SETTINGS.WAIT_SECONDS,
      IDLE_POLLS: CHAOS_WORKER_SETTINGS.IDLE_POLLS,
      VISIBILITY_TIMEOUT_SECONDS: String(options.visibilityTimeoutSeconds ?? 10),
      SHUTDOWN_GRACE_SECONDS: CHAOS_WORKER_SETTINGS.SHUTDOWN_GRACE_SECONDS,
      TRANSIENT_RETRIES: CHAOS_WORKER_SETTINGS.TRANSIENT_RETRIES,
      THROUGHPUT_LOG_SECONDS: CHAOS_WORKER_SETTINGS.THROUGHPUT_LOG_SECONDS,
      LOG_LEVEL: 'INFO',
      MAX_RECEIVE_COUNT: String(MAX_RECEIVE_COUNT),
      RESULTS_TABLE: BATCH_CHAOS_TABLES.results,
      DYNAMODB_ENDPOINT: store!.endpoints[lane]!,
      BATCH_SIZE: String(options.batchSize),
      BATCH_FLUSH_MS: '300',
      MAX_CONCURRENCY: String(options.maxConcurrentBatches),
      DOWNLOAD_TIMEOUT_MS: String(options.downloadTimeoutMs),
      AWS_ENDPOINT_URL: s3Proxy.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      MALLOC_ARENA_MAX: '2',
      NODE_NO_WARNINGS: '1',
    });
    const pipelines: WorkerPipeline[] = lanes.map((name) => ({ name, workerEnv: workerEnv(name) }));
    let workersStarted = 0;
    const onMessage = (message: FromPipeline) => {
      if (message.type === 'worker-started') {
        workersStarted++;
        live.set(message.pid, { pid: message.pid, lane: message.pipeline ?? '?', startedAt: message.at });
      } else if (message.type === 'worker-exited') live.delete(message.pid);
    };
    pipeline = await launchPipeline(options.pipelinePath, { dataDir: options.dataDir, workerPath: options.workerPath, pipelines, generation: 1 }, options.nodeModules, onMessage);
    s3Proxy.setUpstream(pipeline.endpoint);
    s3 = directClient(pipeline.endpoint);

    // The records: the demo set's files uploaded, and a few whose files never were.
    const demo = batchDemoRecords({ count: options.records, seed: options.seed });
    await mapLimit(demo, 8, (record) => s3!.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: `${INPUT_PREFIX}${record.fileName}`, Body: record.bytes })));
    const missing = Array.from({ length: options.missingInputs }, (_, i) => `rec-missing-input-${i + 1}`);
    const planned: BatchRecordPlanned[] = [
      ...demo.map((record) => ({ id: record.id, expect: record.expected === 'broken' ? 'undecodable-audio' as const : 'scored' as const })),
      ...missing.map((id) => ({ id, expect: 'input-missing' as const })),
    ];
    const rows = planned.map((record) => ({ date: BATCH_CHAOS_DATE, id: record.id, bucket: SOURCE_BUCKET, key: `${INPUT_PREFIX}${record.id}.wav` }));
    for (const chunk of chunks(rows, 25)) {
      await direct.send(new BatchWriteCommand({ RequestItems: { [BATCH_CHAOS_TABLES.source]: chunk.map((Item) => ({ PutRequest: { Item } })) } }));
    }
    const valid = planned.filter((record) => record.expect === 'scored').length;
    say(`loaded ${planned.length} records (${valid} valid, ${demo.length - valid} broken files, ${missing.length} inputs never uploaded) into ${BATCH_CHAOS_TABLES.source} and S3`);

    // Discovery: a run SIGKILLed once it has sent a share of the records, then a rerun that must resume at the watermark.
    const discoveryEnv: Record<string, string> = {
      PATH: process.env.PATH ?? '', NODE_PATH: options.nodeModules, NODE_NO_WARNINGS: '1',
      SOURCE_TABLE: BATCH_CHAOS_TABLES.source, RESULTS_TABLE: BATCH_CHAOS_TABLES.results, DISCOVERY_STATE_TABLE: BATCH_CHAOS_TABLES.state,
      QUEUE_URL: queuePath, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      DYNAMODB_ENDPOINT: store.endpoints[DISCOVERY_LANE]!, DISCOVERY_PAGE_SIZE: '25',
    };
    const runDiscovery = (killAtSent: number | undefined) => new Promise<{ code: number | null; killed: boolean; sentAtKill: number; lines: Record<string, unknown>[] }>((resolve, reject) => {
      const child = spawn(process.execPath, [options.discoverPath, '--date', BATCH_CHAOS_DATE], { env: discoveryEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      discovery = child;
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
      });
      child.stderr!.on('data', (chunk: Buffer) => say(`discovery: ${chunk.toString('utf8').trim()}`));
      let killed = false;
      let sentAtKill = 0;
      const poll = killAtSent === undefined ? undefined : setInterval(() => {
        void queue.depth().then((depth) => {
          if (killed || depth.visible < killAtSent) return;
          killed = true;
          sentAtKill = depth.visible;
          child.kill('SIGKILL');
        });
      }, 20);
      child.once('error', reject);
      child.once('exit', (code) => {
        if (poll !== undefined) clearInterval(poll);
        discovery = undefined;
        resolve({ code, killed, sentAtKill, lines: parseLogLines(out) as Record<string, unknown>[] });
      });
    });
    const killAt = options.discoveryKillAt > 0 ? Math.max(1, Math.round(planned.length * options.discoveryKillAt)) : undefined;
    const first = await runDiscovery(killAt);
    if (first.killed) {
      kills.push({ kind: 'discovery', lane: DISCOVERY_LANE, at: Date.now(), detail: `${first.sentAtKill} of ${planned.length} records sent` });
      say(`SIGKILL (discovery) once it had sent ${first.sentAtKill} of ${planned.length} records`);
    } else say(`discovery's first run ended on its own (exit ${String(first.code)})${killAt !== undefined ? `: it finished before ${killAt} records were sent` : ''}`);
    const rerun = first.killed || first.code !== 0 ? await runDiscovery(undefined) : first;
    const summary = rerun.lines.find((line) => line.message === 'discovery summary');
    say(`discovery ${rerun === first ? 'run' : 'rerun'}: exit ${String(rerun.code)}, started after ${String(summary?.startedAfter ?? 'the beginning')}, enqueued ${String(summary?.enqueued ?? '?')}`);
    const discoveryFacts = {
      killed: first.killed, sentBeforeKill: first.sentAtKill, chunkSize: DISCOVERY_CHUNK,
      rerunStartedAfter: typeof summary?.startedAfter === 'string' ? summary.startedAfter : undefined,
      rerunExitCode: rerun.code, firstRunExitCode: first.code,
      ...(typeof summary?.enqueued === 'number' ? { rerunEnqueued: summary.enqueued } : {}),
    };

    // The workers, and the chaos over them.
    for (const lane of lanes) pipeline.send({ type: 'scale', workers: 1, pipeline: lane });
    say(`${lanes.length} workers (BATCH_SIZE ${options.batchSize}, MAX_CONCURRENCY ${options.maxConcurrentBatches}, DOWNLOAD_TIMEOUT_MS ${options.downloadTimeoutMs}); ` +
      `S3 fault rate ${options.s3FaultRate} (slow answers ${options.slowMs} ms), store fault rate ${options.storeFaultRate} (writes ${options.storeWriteFaultRate ?? options.storeFaultRate})`);
    const spread: ('sigkill' | 'arm-before' | 'arm-after')[] = [
      ...Array<'sigkill'>(options.sigkills).fill('sigkill'), ...Array<'arm-before'>(options.beforeWriteKills).fill('arm-before'), ...Array<'arm-after'>(options.afterWriteKills).fill('arm-after'),
    ];
    for (let i = spread.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [spread[i], spread[j]] = [spread[j]!, spread[i]!];
    }
    const plan = spread.map((action, index) => ({ action, atFraction: 0.05 + (0.65 * index) / Math.max(1, spread.length) }));
    let lastActionAt = 0;
    let outage: { atFraction: number; lastDone: number; recoveredAt?: number } | undefined;
    let deadline = started + options.timeoutSeconds * 1000;
    let unfinished: string | undefined;
    for (;;) {
      await sleep(TICK_MS);
      const depth = await queue.depth();
      const remaining = depth.visible + depth.inFlight + depth.delayed;
      const done = store.applied().size;
      const fraction = done / Math.max(1, valid);
      if (remaining === 0 && live.size === 0) break;
      if (Date.now() > deadline) {
        unfinished = `not finished after ${Math.round((Date.now() - started) / 1000)} s: ${depth.visible} visible, ${depth.inFlight} in flight, ${depth.delayed} delayed; ${live.size} workers`;
        say(unfinished);
        break;
      }
      if (options.storeOutage !== undefined && outage === undefined && fraction >= options.storeOutage.atFraction) {
        // It begins with the next request a worker makes of the store, so that it always meets work.
        store.armOutage(options.storeOutage.seconds * 1000, options.storeOutage.mode, [DISCOVERY_LANE]);
        outage = { atFraction: fraction, lastDone: done };
        deadline += options.storeOutage.seconds * 1000;
        say(`store outage of ${options.storeOutage.seconds} s (${options.storeOutage.mode}) armed at ${Math.round(fraction * 100)}% of the valid records scored: it begins with the next store request`);
      }
      if (outage !== undefined && outage.recoveredAt === undefined && !store.outageArmed()) {
        if (Date.now() < store.outageEndsAt()) outage.lastDone = done;
        else if (done > outage.lastDone) {
          outage.recoveredAt = Date.now();
          say(`results written again ${((outage.recoveredAt - store.outageEndsAt()) / 1000).toFixed(1)} s after the store outage ended`);
        }
      }
      if (store.inOutage()) continue;
      const next = plan[0];
      if (next === undefined || Date.now() - lastActionAt < MIN_ACTION_SPACING_MS || fraction < next.atFraction) continue;
      if (next.action === 'sigkill') {
        const victims = [...live.values()].filter((worker) => Date.now() - worker.startedAt >= MIN_VICTIM_AGE_MS);
        if (victims.length === 0) continue;
        plan.shift();
        const victim = pick(random, victims);
        killLane(victim.lane, 'random', `at ${Math.round(fraction * 100)}% (${depth.inFlight} messages in flight)`);
      } else {
        plan.shift();
        if (next.action === 'arm-before') armed.beforeWrite++;
        else armed.afterWrite++;
        say(`armed: a ${next.action === 'arm-before' ? 'before' : 'after'}-write kill at ${Math.round(fraction * 100)}%`);
      }
      lastActionAt = Date.now();
    }
    const unfired = plan.length + armed.beforeWrite + armed.afterWrite;
    if (unfired > 0) say(`the run ended before ${unfired} planned kills could fire`);

    // Read back, directly (no proxy).
    s3Proxy.setRate(0);
    store.setRate(0);
    say('drained; checking invariants');
    const results: BatchResultFound[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await direct.send(new ScanCommand({ TableName: BATCH_CHAOS_TABLES.results, ExclusiveStartKey: start }));
      results.push(...((page.Items ?? []) as BatchResultFound[]));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    const deadLetters: BatchDeadLetterFound[] = (await queue.peekDeadLetters(100_000)).map((letter) => ({
      messageId: letter.attributes['source-message-id'] ?? letter.messageId, body: letter.body, receiveCount: letter.receiveCount,
      reasons: (letter.attributes['failure-reasons'] ?? '').split(',').filter((reason) => reason !== ''),
      failures: parseFailures(letter.attributes.failures),
    }));
    const report = checkBatchInvariants({
      records: planned, results, deadLetters,
      left: messagesLeft(queuePath).map((message) => ({ messageId: message.messageId, body: message.body })),
      sent: sentMessages(queuePath).map((message) => message.body),
      applied: store.applied(), shippedModelVersion, discovery: discoveryFacts,
      ...(unfinished !== undefined ? { unfinished } : {}),
    });
    const logs = readLogs(join(options.dataDir, 'logs'));
    const logLines = logs.flatMap((source) => parseLogLines(source.text));
    const scoredLines = logLines.filter((line) => line.message === 'batch scored');
    const sum = (field: string) => scoredLines.reduce((total, line) => total + Number(line[field] ?? 0), 0);
    const retriedByReason: Record<string, number> = {};
    for (const line of logLines.filter((candidate) => candidate.message === 'failed' && candidate.outcome === 'retry')) {
      const reason = String(line.reason ?? '?');
      retriedByReason[reason] = (retriedByReason[reason] ?? 0) + 1;
    }
    const logLeaks = findLogLeaks(logs, {
      forbidden: [
        { label: 'the secret access key', value: LOCAL_CREDENTIALS.secretAccessKey },
        { label: 'the access key id', value: LOCAL_CREDENTIALS.accessKeyId },
      ],
    });
    return {
      report,
      logLeaks,
      s3Faults: s3Proxy.counts(),
      storeFaults: store.counts(),
      kills,
      workersStarted,
      discovery: discoveryFacts,
      ...(outage !== undefined ? {
        storeOutage: {
          seconds: options.storeOutage!.seconds, mode: options.storeOutage!.mode, atFraction: outage.atFraction,
          ...(outage.recoveredAt !== undefined ? { recoverySeconds: Math.round((outage.recoveredAt - store.outageEndsAt()) / 100) / 10 } : {}),
        },
      } : {}),
      workerLines: {
        batches: scoredLines.length, scored: sum('scored'), skipped: sum('skipped'), failed: sum('failed'), retriedByReason,
        redeliveries: logLines.filter((line) => line.message === 'received' && Number(line.receiveCount) > 1).length,
      },
      shippedModelVersion,
      durationSeconds: Math.round((Date.now() - started) / 100) / 10,
      logLineCount: logLines.length,
    };
  } finally {
    const closing = Date.now();
    discovery?.kill('SIGKILL');
    s3?.destroy();
    await pipeline?.shutdown();
    await s3Proxy.close();
    await store?.close();
    direct?.destroy();
    await db?.close();
    await queue.close();
    say(`shut down in ${((Date.now() - closing) / 1000).toFixed(1)} s`);
  }
}

function parseFailures(attribute: string | undefined): BatchDeadLetterFound['failures'] {
  try {
    const failures = JSON.parse(attribute ?? '[]') as { reason?: unknown; kind?: unknown; detail?: unknown }[];
    return failures.map((failure) => ({ reason: String(failure.reason ?? ''), kind: String(failure.kind ?? ''), detail: String(failure.detail ?? '') }));
  } catch {
    return [];
  }
}
