import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import type { CompanionPipeline, ExpectedOutputs, JobDemo } from '../../app/src/job/job-demo';
import { loadConfig, loadWorkerAndJob } from '../../app/src/config';
import { findJobModule } from '../../app/src/job/job-registry';
import { objectsNamedIn } from '../../shared/events/parse-message';
import type { Log, LogFields } from '../../shared/log/logger';
import { LocalQueue } from '../../shared/queue/local-queue';
import { runScaler } from '../../scaler/src/run-scaler';
import { account, type Accounting } from './accounting';
import { describeDeadLetters, type DeadLetterLine } from './dead-letter-report';
import { mirrorDir, mirrorObjects, type ListedObject } from './output-mirror';
import { connectEventBridge } from './event-bridge';
import { startPipelineDashboard, type PipelineDashboard } from './dashboard/pipeline-dashboard';
import { LocalTaskLauncher } from './local-task-launcher';
import { PeriodicPass } from './periodic-pass';
import { formatProgress, type ProgressSnapshot } from './progress';
import { LOCAL_CREDENTIALS, startS3Server } from './s3-server';
import type { IamStatement } from './iam-policy-evaluator';
import { startStrictS3Front, type Refusal, type StrictS3Front } from './strict-s3-front';
import { uploadDirectory } from './upload';
import { startEmbeddedDynamoDb, type EmbeddedDynamoDb } from './embedded-dynamodb';
import { localRoleStatements } from './worker-policy';

export const SOURCE_BUCKET = 'source';
const LOCAL_MAX_RECEIVE_COUNT = 3;
const LOCAL_REDRIVE_RECEIVE_COUNT = LOCAL_MAX_RECEIVE_COUNT + 2;
export const DESTINATION_BUCKET = 'destination';
/** How often the outputs' plain-file copy catches up during a run; each pass copies only what changed. */
const MIRROR_INTERVAL_MS = 5000;

export interface PipelineOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly load?: string;
  readonly untilDrained: boolean;
  readonly json: boolean;
  readonly timeoutSeconds: number;
  readonly scaleIntervalSeconds: number;
  readonly maxTasks: number;
  readonly messagesPerTask: number;
  readonly workerPath: string;
  /** The job the workers run, with its demo set and its own settings. */
  readonly demo: JobDemo;
  /** Where the built bundles are (the command job's example program lives there). */
  readonly distDir: string;
  /** Worker settings passed through (SIZES, FIT, FORMAT, CONCURRENCY, ...), as a task definition would set them. */
  readonly env: NodeJS.ProcessEnv;
  readonly interactive: boolean;
  readonly write: (text: string) => void;
  /** Serve the dashboard on 127.0.0.1 at this port (0: any free one); undefined: no dashboard. */
  readonly dashboardPort?: number;
}

export interface PipelineSummary extends Accounting {
  readonly durationSeconds: number;
  /** Sources done per second, counted from the first one done. */
  readonly filesPerSecond: number;
  readonly job: string;
  readonly workersStarted: number;
  readonly peakWorkers: number;
  /** Workers still running when the summary was taken: 0 after --until-drained. */
  readonly workersAtEnd: number;
  readonly dlqDepth: number;
  /** Uploads whose event could not be put on the queue (reported as they happen); 0 in any healthy run. */
  readonly eventsNotQueued: number;
  readonly endpoint: string;
  /** The destination as plain files (s3rver's own files are `<key>._S3rver_object`). */
  readonly outputsDir: string;
  /** What is in the DLQ and why, at most the first 100. */
  readonly deadLetters: readonly DeadLetterLine[];
  /** A database-fed job's closing lines (DemoDatabase.summary). */
  readonly databaseSummary?: readonly string[];
  /** The job's own closing lines (JobDemo.closingLines): its callbacks, a check of its outputs. */
  readonly closingLines?: readonly string[];
}

/** The worker's own settings a local run passes through; each job adds its own (JobDemo.settingNames). */
const WORKER_SETTINGS = [
  'CONCURRENCY', 'MAX_INPUT_BYTES', 'LOG_LEVEL', 'DEST_PREFIX', 'SOURCE_PREFIX', 'SHUTDOWN_GRACE_SECONDS', 'MESSAGE_DEADLINE_SECONDS',
  'WORK_DIR', 'DISK_BUDGET_MIB', 'DISK_RESERVE_FACTOR',
];

/**
 * The whole blueprint on one machine: S3-protocol server, S3 events bridged to the local queue in the AWS shape, the
 * scaler's own policy every few seconds, and worker processes started like Fargate tasks that drain and exit.
 */
export async function runPipeline(options: PipelineOptions, stopSignal: { onStop: (handler: (force: boolean) => void) => void }): Promise<PipelineSummary> {
  mkdirSync(options.dataDir, { recursive: true });
  const visibilityTimeoutSeconds = options.env.VISIBILITY_TIMEOUT_SECONDS ?? '60';
  // Locally a failing file is dead-lettered by its worker on the 3rd attempt (AWS default in the infra: 5), so the demo
  // shows it quickly; the queue's redrive comes two receives later, as in the infra, so a worker killed on a last
  // attempt leaves the message to a living one. The attributes apply when the queue file is created.
  const queue = LocalQueue.open(join(options.dataDir, 'queue.db'), { create: { visibilityTimeoutSeconds: Number(visibilityTimeoutSeconds), maxReceiveCount: LOCAL_REDRIVE_RECEIVE_COUNT } });
  const database = options.demo.database;
  const embeddedDb: EmbeddedDynamoDb | undefined = database === undefined ? undefined : await startEmbeddedDynamoDb(join(options.dataDir, 'dynamodb'));
  const server = await startS3Server({ dataDir: options.dataDir, port: options.port, buckets: [SOURCE_BUCKET, DESTINATION_BUCKET] }).catch(async (error: unknown) => {
    await embeddedDb?.close();
    throw error;
  });
  const wiring = { distDir: options.distDir, queueFile: (name: string) => join(options.dataDir, `${name}.db`), sourceBucket: SOURCE_BUCKET, destBucket: DESTINATION_BUCKET };
  const companionSpecs = options.demo.companions?.(wiring) ?? [];
  const shared: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ...(process.env.NODE_PATH !== undefined ? { NODE_PATH: process.env.NODE_PATH } : {}),
    QUEUE_URL: join(options.dataDir, 'queue.db'),
    DEST_BUCKET: DESTINATION_BUCKET,
    ALLOWED_SOURCE_BUCKETS: SOURCE_BUCKET,
    WAIT_SECONDS: '2',
    MAX_RECEIVE_COUNT: String(LOCAL_MAX_RECEIVE_COUNT),
    IDLE_POLLS: '2',
    VISIBILITY_TIMEOUT_SECONDS: visibilityTimeoutSeconds,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    MALLOC_ARENA_MAX: '2',
    NODE_NO_WARNINGS: '1',
  };
  const settings: NodeJS.ProcessEnv = {
    ...shared,
    JOB: options.demo.job,
    ...options.demo.defaultSettings(wiring),
    ...(database !== undefined && embeddedDb !== undefined ? database.settings(embeddedDb.endpoint) : {}),
    ...Object.fromEntries([...WORKER_SETTINGS, ...options.demo.settingNames].filter((name) => options.env[name] !== undefined).map((name) => [name, options.env[name]])),
  };
  const workerConfig = loadConfig(settings);
  // The job's own settings too, now: a bad SIZES or COMMAND stops here with its message, not as crashing workers.
  findJobModule(workerConfig.job)?.readSettings(settings, { cpuCount: 1, memoryLimitBytes: 4 * 1024 ** 3 });
  // Workers reach S3 through the strict front, as the role the infra gives the Fargate task (403 for what that policy
  // refuses and for a missing key it may not list, S3's key and metadata limits); uploads and the operator commands
  // use the server directly.
  const fronts: StrictS3Front[] = [];
  const companionQueues: LocalQueue[] = [];
  const startFront = async (statements: readonly IamStatement[]) => {
    const front = await startStrictS3Front({
      upstream: server.endpoint,
      statements,
      onRefused: (refusal) => options.write(`${options.interactive ? '\n' : ''}${describeRefusal(refusal)}\n`),
    });
    fronts.push(front);
    return front;
  };
  let front: StrictS3Front;
  let companions: { spec: CompanionPipeline; queue: LocalQueue; env: NodeJS.ProcessEnv }[];
  try {
    const prefixes = { sourcePrefix: workerConfig.sourcePrefix, destPrefix: workerConfig.destPrefix };
    const roleInput = { sourceBucket: SOURCE_BUCKET, destBucket: DESTINATION_BUCKET, ...prefixes };
    front = await startFront(localRoleStatements(options.demo.role ?? { kind: 'object' }, { pipeline: options.demo.job, ...roleInput }));
    companions = [];
    for (const spec of companionSpecs) {
      const queueFile = wiring.queueFile(spec.name);
      const companionQueue = LocalQueue.open(queueFile, { create: { visibilityTimeoutSeconds: Number(visibilityTimeoutSeconds), maxReceiveCount: LOCAL_REDRIVE_RECEIVE_COUNT } });
      companionQueues.push(companionQueue);
      // A companion's role is scoped to the group's run root: the fan-out pipeline's destination prefix.
      const statements = localRoleStatements(spec.role, { pipeline: spec.name, ...roleInput });
      const env: NodeJS.ProcessEnv = { ...shared, ...spec.settings, QUEUE_URL: queueFile, AWS_ENDPOINT_URL: (await startFront(statements)).endpoint };
      // A companion's settings are checked now too, before any worker starts.
      loadWorkerAndJob(env, { cpuCount: 1, memoryLimitBytes: 4 * 1024 ** 3 });
      companions.push({ spec, queue: companionQueue, env });
    }
    // Queues the job only sends to (its callbacks): created now, so the first send finds them.
    for (const name of options.demo.callbackQueues ?? []) {
      companionQueues.push(LocalQueue.open(wiring.queueFile(name), { create: { visibilityTimeoutSeconds: Number(visibilityTimeoutSeconds), maxReceiveCount: LOCAL_REDRIVE_RECEIVE_COUNT } }));
    }
  } catch (error) {
    await Promise.all(fronts.map((started) => started.close()));
    await Promise.all(companionQueues.map((opened) => opened.close()));
    await server.close();
    await embeddedDb?.close();
    throw error;
  }
  const workerEnv: NodeJS.ProcessEnv = { ...settings, AWS_ENDPOINT_URL: front.endpoint };
  const expectedOutputs = options.demo.expectedOutputs(settings);
  const outputsBucket = options.demo.outputsIn === 'source' ? SOURCE_BUCKET : DESTINATION_BUCKET;

  const suffixes = (options.env.SOURCE_SUFFIXES ?? options.demo.sourceSuffixes?.join(',') ?? '').split(',').map((suffix) => suffix.trim()).filter(Boolean);
  let eventsNotQueued = 0;
  // A database-fed job's uploads are its records' input files: discovery, not an S3 event, puts work on its queue.
  if (database === undefined) connectEventBridge(server.server, queue, { bucket: SOURCE_BUCKET, prefix: workerConfig.sourcePrefix, suffixes }, (body, error) => {
    eventsNotQueued++;
    options.write(`event NOT queued (${error instanceof Error ? error.message : String(error)}): ${body}\n`);
  });

  const s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  const logDir = join(options.dataDir, 'logs');
  let crashes = 0;
  const launcher = new LocalTaskLauncher({
    workerPath: options.workerPath,
    env: workerEnv,
    logDir,
    onExit: (worker, code, signal) => {
      if (code === 0 || signal === 'SIGTERM' || stopping) return;
      crashes++;
      options.write(`${options.interactive ? '\n' : ''}worker ${worker} exited with ${signal ?? `code ${code}`}: see ${join(logDir, `worker-${worker}.log`)}\n`);
    },
  });
  const companionLaunchers = companions.map(({ spec, queue: companionQueue, env }) => ({
    spec,
    queue: companionQueue,
    launcher: new LocalTaskLauncher({
      workerPath: options.workerPath,
      env,
      logDir: join(logDir, spec.name),
      onExit: (worker, code, signal) => {
        if (code === 0 || signal === 'SIGTERM' || stopping) return;
        crashes++;
        options.write(`${options.interactive ? '\n' : ''}${spec.name} worker ${worker} exited with ${signal ?? `code ${code}`}: see ${join(logDir, spec.name, `worker-${worker}.log`)}\n`);
      },
    }),
  }));
  const launchers = [launcher, ...companionLaunchers.map((companion) => companion.launcher)];
  const allQueues = [queue, ...companionLaunchers.map((companion) => companion.queue)];
  const decisionsFile = join(options.dataDir, 'decisions.jsonl');
  const decisionLog = fileLog(decisionsFile);
  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  let stopping = false;
  stopSignal.onStop((force) => {
    stopping = true;
    for (const each of launchers) void each.stopAll(force ? 'SIGKILL' : 'SIGTERM');
  });

  let dashboard: PipelineDashboard | undefined;
  let mirroring: PeriodicPass | undefined;
  try {
    options.write(`S3 endpoint ${server.endpoint} (buckets ${SOURCE_BUCKET}, ${DESTINATION_BUCKET}); data in ${options.dataDir}\n`);
    if (options.dashboardPort !== undefined) {
      dashboard = await startPipelineDashboard({
        port: options.dashboardPort, job: options.demo.job, dataDir: options.dataDir, queues: allQueues, s3, outputsBucket, listObjects,
        isOutput: (key) => outputsBucket === DESTINATION_BUCKET || !isInput(key, workerConfig.sourcePrefix),
      });
      const taken = dashboard.fellBack ? ` (port ${options.dashboardPort} is taken)` : '';
      options.write(`dashboard ${dashboard.url}${taken}\n`);
    }
    if (!options.untilDrained) {
      options.write(
        `load more with any S3 client, e.g.: AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey} ` +
          `aws s3 cp --recursive ./photos s3://${SOURCE_BUCKET}/ --endpoint-url ${server.endpoint}\nCtrl-C stops (workers finish or hand back their messages)\n`,
      );
    }
    await load(options, s3);
    if (database !== undefined && embeddedDb !== undefined) {
      const inputKeys = (await listObjects(s3, SOURCE_BUCKET)).map((object) => object.key).filter((key) => key.startsWith(workerConfig.sourcePrefix));
      await database.discover({ endpoint: embeddedDb.endpoint, sourceBucket: SOURCE_BUCKET, queueFile: join(options.dataDir, 'queue.db'), inputKeys, write: options.write });
    }
    const outputsDir = mirrorDir(options.dataDir);
    // Outputs beside their inputs are mirrored without the inputs.
    const mirrorOutputs = async () => {
      const outputObjects = (await listObjects(s3, outputsBucket)).filter((object) => outputsBucket === DESTINATION_BUCKET || !isInput(object.key, workerConfig.sourcePrefix));
      await mirrorObjects(s3, outputsBucket, outputObjects, outputsDir);
    };
    // The plain-file copy keeps in step while the run serves, not only at its end; one pass at a time, off the tick.
    mirroring = new PeriodicPass(mirrorOutputs, MIRROR_INTERVAL_MS, (error) => options.write(`outputs not mirrored to ${outputsDir} (${error instanceof Error ? error.message : String(error)})\n`));
    const accountNow = async (): Promise<Accounting> => (database !== undefined && embeddedDb !== undefined
      ? database.account({ endpoint: embeddedDb.endpoint, sourceBucket: SOURCE_BUCKET, deadLetterBodies: (await queue.peekDeadLetters(100_000)).map((letter) => letter.body) })
      : accountingOf(queue, s3, expectedOutputs, workerConfig, outputsBucket));
    let firstProcessed: { elapsedSeconds: number; processed: number } | undefined;
    let accounting: Accounting | undefined;
    let doneBefore: number | undefined;
    let nextScale = 0;
    let nextProgress = 0;
    let nextAccounting = 0;
    const deadline = options.timeoutSeconds * 1000 + started;
    for (;;) {
      if (stopping) break;
      const now = Date.now();
      if (now >= nextScale) {
        await runScaler({ depthReader: queue, launcher, config: { maxTasks: options.maxTasks, messagesPerTask: options.messagesPerTask, enabled: true, dryRun: false }, log: decisionLog });
        for (const companion of companionLaunchers) {
          const maxTasks = Math.min(options.maxTasks, companion.spec.maxTasks ?? options.maxTasks);
          await runScaler({ depthReader: companion.queue, launcher: companion.launcher, config: { maxTasks, messagesPerTask: options.messagesPerTask, enabled: true, dryRun: false }, log: withPipeline(decisionLog, companion.spec.name) });
        }
        nextScale = now + options.scaleIntervalSeconds * 1000;
      }
      const [depth, dlq, workers] = await Promise.all([totalDepth(allQueues), totalDlqDepth(allQueues), countRunning(launchers)]);
      const quiet = depth.visible + depth.inFlight + depth.delayed === 0 && workers === 0;
      // Listing both buckets is the expensive part of a tick: every 2 s, and at once when the queue looks drained.
      if (accounting === undefined || now >= nextAccounting || (quiet && options.untilDrained)) {
        accounting = await accountNow();
        // A rerun finds earlier runs' outputs: the rate counts only what this run processes.
        doneBefore ??= accounting.done;
        nextAccounting = now + 2000;
      }
      writeFileSync(join(options.dataDir, 'state.json'), JSON.stringify({ pid: process.pid, endpoint: server.endpoint, workerPids: launcher.pids(), updatedAt: new Date().toISOString() }));
      const progress: ProgressSnapshot = {
        elapsedSeconds: elapsed(), visible: depth.visible, inFlight: depth.inFlight, deadLettered: dlq, workers, processed: accounting.done, loaded: accounting.loaded,
      };
      dashboard?.tick({ ...progress, delayed: depth.delayed, pending: accounting.pending.length });
      mirroring.poke();
      if (firstProcessed === undefined && progress.processed > (doneBefore ?? 0)) firstProcessed = { elapsedSeconds: progress.elapsedSeconds, processed: doneBefore ?? 0 };
      if (now >= nextProgress) {
        const line = formatProgress(progress, firstProcessed);
        options.write(options.interactive ? `\r\x1b[2K${line}` : `${line}\n`);
        nextProgress = now + (options.interactive ? 500 : 5000);
      }
      if (options.untilDrained && quiet && accounting.pending.length === 0) break;
      if (crashes >= 3 * options.maxTasks) throw new Error(`${crashes} workers crashed; giving up (their logs are in ${logDir})`);
      if (options.untilDrained && Date.now() > deadline) {
        throw new Error(`not drained after --timeout ${options.timeoutSeconds}s: ${accounting.pending.length} files pending, ${depth.visible} visible, ${depth.inFlight} in flight`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (options.interactive) options.write('\n');
    // After Ctrl-C the workers are finishing their files: count what they complete, not what was done at the signal.
    while (stopping && (await countRunning(launchers)) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    const final = await accountNow();
    await mirroring.idle();
    await mirrorOutputs();
    const closingLines = await options.demo.closingLines?.({ queueFile: wiring.queueFile, outputsDir });
    const processingSeconds = Math.max(0.001, elapsed() - (firstProcessed?.elapsedSeconds ?? 0));
    return {
      ...final,
      durationSeconds: Math.round(elapsed() * 10) / 10,
      filesPerSecond: Math.round(((final.done - (doneBefore ?? 0)) / processingSeconds) * 10) / 10,
      job: options.demo.job,
      workersStarted: launchers.reduce((sum, each) => sum + each.startedCount, 0),
      peakWorkers: launcher.peakRunning + companionLaunchers.reduce((sum, companion) => sum + companion.launcher.peakRunning, 0),
      workersAtEnd: await countRunning(launchers),
      dlqDepth: await totalDlqDepth(allQueues),
      eventsNotQueued,
      endpoint: server.endpoint,
      outputsDir,
      deadLetters: (await Promise.all(allQueues.map(async (each) => describeDeadLetters(await each.peekDeadLetters(100))))).flat().slice(0, 100),
      ...(closingLines !== undefined ? { closingLines } : {}),
      ...(database !== undefined && embeddedDb !== undefined
        ? { databaseSummary: await database.summary({ endpoint: embeddedDb.endpoint, sourceBucket: SOURCE_BUCKET, durationSeconds: Math.max(0.001, processingSeconds), since: new Date(started) }) }
        : {}),
    };
  } finally {
    // First: the page and the outputs' copy read the queues and the S3 server closed below.
    await dashboard?.close();
    await mirroring?.idle();
    await Promise.all(launchers.map((each) => each.stopAll('SIGTERM')));
    s3.destroy();
    await Promise.all(fronts.map((started) => started.close()));
    await server.close();
    await Promise.all(allQueues.map((each) => each.close()));
    await embeddedDb?.close();
  }
}

async function load(options: PipelineOptions, s3: S3Client): Promise<void> {
  const demoMarker = join(options.dataDir, 'demo-loaded');
  // Files the events are filtered for (manifests) go last, so the files they name are there before they are read.
  const suffixes = options.env.SOURCE_SUFFIXES?.split(',').map((suffix) => suffix.trim()).filter(Boolean) ?? options.demo.sourceSuffixes ?? [];
  const triggersLast = (key: string) => suffixes.some((suffix) => key.endsWith(suffix));
  if (options.load !== undefined) {
    const keys = await uploadDirectory(s3, SOURCE_BUCKET, options.load, '', triggersLast);
    options.write(`loaded ${keys.length} files from ${options.load}\n`);
  } else if (!existsSync(demoMarker)) {
    const demoDir = join(options.dataDir, 'demo');
    const { good, broken } = await options.demo.writeDemoSet(demoDir);
    const keys = await uploadDirectory(s3, SOURCE_BUCKET, demoDir, '', triggersLast);
    writeFileSync(demoMarker, new Date().toISOString());
    options.write(`loaded the ${options.demo.job} demo set: ${keys.length} files (${good} ${options.demo.noun}, ${broken} deliberately broken)\n`);
  }
}

async function accountingOf(
  queue: LocalQueue, s3: S3Client, expectedOutputs: (relativeKey: string) => ExpectedOutputs, config: { destPrefix: string; sourcePrefix: string }, outputsBucket: string,
): Promise<Accounting> {
  const [sourceKeys, destinationKeys, deadLetters] = await Promise.all([
    listObjects(s3, SOURCE_BUCKET), outputsBucket === SOURCE_BUCKET ? Promise.resolve([]) : listObjects(s3, outputsBucket), queue.peekDeadLetters(100_000),
  ]).then(([source, destination, dead]) => [source.map((object) => object.key), destination.map((object) => object.key), dead] as const);
  const beside = outputsBucket === SOURCE_BUCKET;
  return account({
    // Outputs beside their inputs: the bucket holds both, and only what is under SOURCE_PREFIX was ever an input.
    sourceKeys: beside ? sourceKeys.filter((key) => isInput(key, config.sourcePrefix)) : sourceKeys,
    destinationKeys: beside ? sourceKeys.filter((key) => !isInput(key, config.sourcePrefix)) : destinationKeys,
    expectedOutputs,
    // A job writing beside its inputs names its outputs from the bucket's root (its own prefix is in the names).
    destPrefix: beside ? '' : config.destPrefix,
    sourcePrefix: config.sourcePrefix,
    deadLetteredKeys: deadLetters.flatMap((letter) => keysIn(letter.body)),
  });
}

function keysIn(body: string): string[] {
  return objectsNamedIn(body).map((object) => object.key);
}

/**
 * ListObjects v1, paged by Marker: s3rver 3.7 encrypts v2 continuation tokens with DES, which OpenSSL 3 refuses, so
 * any v2 listing past 1,000 keys fails with a 500.
 */
async function listObjects(s3: S3Client, bucket: string): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Marker: marker }));
    const pageObjects = (page.Contents ?? []).map((object) => ({ key: object.Key ?? '', size: object.Size ?? 0, ...(object.LastModified !== undefined ? { lastModified: object.LastModified } : {}) }));
    objects.push(...pageObjects);
    if (page.IsTruncated !== true || pageObjects.length === 0) return objects;
    marker = page.NextMarker ?? pageObjects[pageObjects.length - 1]!.key;
  }
}

async function totalDepth(queues: readonly LocalQueue[]): Promise<{ visible: number; inFlight: number; delayed: number }> {
  const depths = await Promise.all(queues.map((each) => each.depth()));
  return depths.reduce((sum, depth) => ({ visible: sum.visible + depth.visible, inFlight: sum.inFlight + depth.inFlight, delayed: sum.delayed + depth.delayed }), { visible: 0, inFlight: 0, delayed: 0 });
}

async function totalDlqDepth(queues: readonly LocalQueue[]): Promise<number> {
  return (await Promise.all(queues.map((each) => each.dlqDepth()))).reduce((sum, depth) => sum + depth, 0);
}

async function countRunning(launchers: readonly LocalTaskLauncher[]): Promise<number> {
  return (await Promise.all(launchers.map((each) => each.countRunning()))).reduce((sum, count) => sum + count, 0);
}

/** A companion pipeline's decisions carry its name, as one scaler run logs every pipeline's in AWS. */
function withPipeline(log: Log, pipeline: string): Log {
  return {
    debug: (message, fields) => log.debug(message, { pipeline, ...fields }),
    info: (message, fields) => log.info(message, { pipeline, ...fields }),
    warn: (message, fields) => log.warn(message, { pipeline, ...fields }),
    error: (message, fields) => log.error(message, { pipeline, ...fields }),
  };
}

/** A refusal means the deployed worker would be refused the same way: worth a line of its own. */
function describeRefusal(refusal: Refusal): string {
  const target = refusal.bucket === undefined ? '' : ` s3://${refusal.bucket}/${refusal.key ?? ''}`;
  return `S3 (as the worker task role) answered ${refusal.method}${target} with ${refusal.status} ${refusal.code}: ${refusal.detail}`;
}

/** Scaling decisions go to a JSON-lines file that `npm run status` reads. */
function fileLog(path: string): Log {
  const write = (level: string) => (message: string, fields: LogFields = {}) =>
    appendFileSync(path, `${JSON.stringify({ level, message, timestamp: new Date().toISOString(), ...fields })}\n`);
  return { debug: () => undefined, info: write('INFO'), warn: write('WARN'), error: write('ERROR') };
}

function isInput(key: string, sourcePrefix: string): boolean {
  return key.startsWith(sourcePrefix);
}
