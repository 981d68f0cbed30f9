/**
 * The worker itself, run by the supervisor in `main.ts`. Everything is configured from the environment (see README
 * "Worker configuration"); the process exits 0 when the queue is drained or after a graceful stop.
 */
import { loadWorkerAndJob, type WorkerConfig } from './config';
import { ConfigError } from '../../shared/errors';
import { createLog, type Log, type LogFields } from '../../shared/log/logger';
import { createEmfSink } from './metrics/emf-publisher';
import { WorkerStats } from './metrics/worker-stats';
import { openDiskWorkspaces } from './job/disk-workspaces';
import type { JobModule } from './job/job-module';
import { reconcileDeadLetters } from './fanout/reconcile-dead-letters';
import { isMessageJob } from './job/message-job';
import { openMessageSender } from './queue/open-message-sender';
import { detectCpuCount } from './runtime/cpu-count';
import { detectMemoryLimit } from './runtime/memory-limit';
import type { Queue } from '../../shared/ports/queue';
import { openQueue } from './queue/open-queue';
import type { ExitingNotice } from './runtime/supervisor-protocol';
import { createS3Client } from './store/s3-client';
import { S3ObjectStore } from './store/s3-object-store';
import { handleMessage } from './worker/handle-message';
import { HealthGate } from './worker/health-gate';
import { realSleep } from '../../shared/retry';
import { Worker } from './worker/worker';

const SERVICE = 'worker';
/** Dead letters a family looks at on its way out; more than this many unsettled is an incident for a person. */
const DEAD_LETTERS_RECONCILED = 100;

async function main(): Promise<number> {
  const runtime = { cpuCount: detectCpuCount(), memoryLimitBytes: detectMemoryLimit(process.env).bytes };
  let config: WorkerConfig;
  let jobModule: JobModule;
  let jobSettings: unknown;
  let queue: Queue;
  try {
    ({ config, jobModule, jobSettings } = loadWorkerAndJob(process.env, runtime));
    queue = await openQueue(config, { env: process.env, concurrency: config.concurrency });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`worker: invalid configuration\n${error.message}\n`);
      return 2;
    }
    throw error;
  }

  const log = createLog(SERVICE, config.logLevel, { pid: process.pid, job: config.job });
  const stats = new WorkerStats();
  const store = new S3ObjectStore(createS3Client(process.env, { maxSockets: config.concurrency * 4 }));
  const job = await jobModule.create(jobSettings);
  const workspaces = !isMessageJob(job) && job.consumes === 'file' ? await openDiskWorkspaces(config.workspace, log) : undefined;
  const sender = openMessageSender(process.env, config.concurrency);
  // The queue's own limit, unless MAX_RECEIVE_COUNT is set lower: then, as in the infra (redrive two receives later),
  // a task that dies on its last attempt leaves the message two more receives to be settled by a living one.
  const maxReceiveCount = process.env.MAX_RECEIVE_COUNT?.trim()
    ? Math.min(config.maxReceiveCount, queue.maxReceiveCount ?? config.maxReceiveCount)
    : queue.maxReceiveCount ?? config.maxReceiveCount;
  const gate = new HealthGate({ onChange: (open, detail) => logGateChange(log, open, detail) });
  const retry = { retries: config.transientRetries, baseDelayMs: 200, maxDelayMs: 5000, sleep: realSleep, gate };
  const worker = new Worker({
    queue,
    handle: (message, context) => handleMessage(message, { store, job, sender, ...(workspaces !== undefined ? { workspaces } : {}), config: { ...config, maxReceiveCount }, retry, log, stats }, context),
    config: { ...config, maxReceiveCount },
    log,
    stats,
    gate,
    metrics: createEmfSink(config.metricsNamespace, SERVICE),
  });
  installSignalHandlers(worker, log);
  log.info('worker started', {
    queue: config.queueKind,
    concurrency: config.concurrency,
    ...job.describe(),
    ...(workspaces !== undefined ? { workDir: config.workspace.root, diskBudgetMiB: Math.round(workspaces.budgetBytes / (1024 * 1024)) } : {}),
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE,
    destBucket: config.destBucket,
  });
  const summary = await worker.run();
  if (config.family !== undefined && queue.peekDeadLetters !== undefined && summary.reason === 'drained') {
    // A family leaving an empty queue is the last to see a batch SQS dead-lettered without a word: its run must end.
    await reconcileDeadLetters(await queue.peekDeadLetters(DEAD_LETTERS_RECONCILED), { family: config.family, destBucket: config.destBucket, store, sender, retry, log })
      .catch((error: unknown) => log.warn('dead letters not reconciled', { reason: error instanceof Error ? error.message : String(error) }));
  }
  await workspaces?.close();
  await sender.close();
  await queue.close();
  // A task that could not finish its work says so: the scaler's crash-loop guard and the ECS console see it.
  return summary.reason === 'receive-failing' || summary.reason === 'stuck' ? 1 : 0;
}


function logGateChange(log: Log, open: boolean, detail: LogFields): void {
  if (open) log.warn('outage: most recent S3 calls fail; holding messages and pausing receives', detail);
  else log.info('outage over: resuming', detail);
}

function installSignalHandlers(worker: Worker, log: Log): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log.info('signal received', { signal });
      worker.stop();
    });
  }
}

/**
 * Runs the worker and exits. Under the supervisor it first says it is exiting, because `process.exit()` can wait
 * for a native render that nothing can interrupt; the supervisor then ends it if need be. A supervisor that is gone
 * (killed) takes the worker with it, as the container would.
 */
export function runWorkerProcess(): void {
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  main().then(exit, (error: unknown) => {
    process.stderr.write(`worker: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    exit(1);
  });
}

function exit(code: number): void {
  if (process.send === undefined || !process.connected) process.exit(code);
  const notice: ExitingNotice = { type: 'exiting', code };
  process.removeAllListeners('disconnect');
  process.send(notice, () => process.exit(code));
  // A send that never completes must not keep the worker alive.
  setTimeout(() => process.exit(code), 1000).unref();
}
