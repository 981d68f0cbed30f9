import { loadConfig } from '../../../app/src/config';
import { buildS3Event } from '../../../shared/events/s3-event-shape';
import { MemoryLog } from '../../../shared/log/logger';
import { silentMetricsSink } from '../../../app/src/metrics/emf-publisher';
import { WorkerStats } from '../../../app/src/metrics/worker-stats';
import { resizeJobModule } from '../../../app/jobs/resize';
import { ResizeJob } from '../../../app/jobs/resize/resize-job';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { S3Client } from '@aws-sdk/client-s3';
import { httpHandler } from '../../../app/src/store/s3-client';
import { S3ObjectStore } from '../../../app/src/store/s3-object-store';
import { handleMessage } from '../../../app/src/worker/handle-message';
import { realSleep } from '../../../shared/retry';
import { Worker } from '../../../app/src/worker/worker';
import { CountingQueue, type QueueCallCounts } from './counting-queue';
import { LOCAL_S3_CREDENTIALS, SOURCE_BUCKET, type StoredObject } from './s3-stack';
import { workerEnv } from './worker-end-to-end';

/**
 * Queue calls per image: a separate process's in-process SQLite calls cannot be counted from outside, so the
 * worker's own loop, handler, S3 store and processor are composed here as main.ts composes them, with the queue
 * wrapped in a counter. The idle polls before exit are excluded: they are per task, not per image.
 */
export interface QueueCallsPerImage {
  readonly images: number;
  readonly concurrency: number;
  readonly calls: QueueCallCounts;
  /** Receives, batched deletes and visibility changes per image, as SQS would bill them. */
  readonly sqsRequestsPerImage: number;
}

export async function countQueueCalls(
  queuePath: string,
  s3Endpoint: string,
  objects: readonly StoredObject[],
  images: number,
  concurrency: number,
  sizes: string,
): Promise<QueueCallsPerImage> {
  const env = workerEnv(queuePath, s3Endpoint, concurrency, sizes);
  const config = loadConfig(env, concurrency);
  const local = LocalQueue.open(queuePath, { create: { visibilityTimeoutSeconds: 120, maxReceiveCount: 3 } });
  const bodies = Array.from({ length: images }, (_, index) => {
    const object = objects[index % objects.length]!;
    return buildS3Event([{ bucket: SOURCE_BUCKET, key: object.key, size: object.size, etag: object.etag }]);
  });
  await local.sendBatch(bodies);
  const queue = new CountingQueue(local);
  // The SDK reads region, endpoint and credentials from process.env, which the bench leaves alone: say them here.
  const s3 = new S3Client({
    endpoint: s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: LOCAL_S3_CREDENTIALS,
    maxAttempts: 3,
    requestHandler: httpHandler(concurrency * 4),
  });
  const store = new S3ObjectStore(s3);
  const job = new ResizeJob(resizeJobModule.readSettings(env, { cpuCount: concurrency, memoryLimitBytes: 4 * 1024 ** 3 }).resize);
  const log = new MemoryLog();
  const stats = new WorkerStats();
  const retry = { retries: config.transientRetries, baseDelayMs: 200, maxDelayMs: 5000, sleep: realSleep };
  try {
    const worker = new Worker({
      queue,
      handle: (message) => handleMessage(message, { store, job, config, retry, log, stats }),
      config,
      log,
      stats,
      metrics: silentMetricsSink,
    });
    await worker.run();
    const totals = stats.totals();
    if (totals.processed !== images) {
      const problems = log.lines.filter((line) => line.level !== 'INFO' && line.level !== 'DEBUG').slice(0, 3);
      throw new Error(`in-process worker processed ${totals.processed} of ${images} images: ${JSON.stringify(problems)}`);
    }
    const raw = queue.calls();
    // Take the trailing empty polls (IDLE_POLLS of them) out: they happen once per task whatever its work.
    const calls = { ...raw, receives: raw.receives - Math.min(raw.emptyReceives, config.idlePolls), emptyReceives: Math.max(0, raw.emptyReceives - config.idlePolls) };
    return {
      images,
      concurrency,
      calls,
      sqsRequestsPerImage: (calls.receives + calls.deleteBatches + calls.visibilityBatches) / images,
    };
  } finally {
    s3.destroy();
    await queue.close();
  }
}
