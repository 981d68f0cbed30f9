import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { MemoryLog } from '../../../../shared/log/logger';
import { LOCAL_AWS, startDynalite, type DynamoDbServer } from '../../../../test/support/store-servers';
import { silentMetricsSink } from '../../../src/metrics/emf-publisher';
import { WorkerStats } from '../../../src/metrics/worker-stats';
import { handleMessage } from '../../../src/worker/handle-message';
import { Worker, type WorkerLoopConfig } from '../../../src/worker/worker';
import { MemoryQueue } from '../../../test/fakes/memory-queue';
import { MemoryStore } from '../../../test/fakes/memory-store';
import { BatchJob } from '../batch-job';
import { silentBatchSink } from '../batch-metrics';
import type { BatchSettings } from '../batch-settings';
import { DynamoDbResultStore } from '../dynamodb-result-store';
import { parseRecordMessage } from '../record-message';
import type { ResultStore } from '../result-store';
import { AUDIO_BUCKET, FakeModel, MemoryResultStore, record, recordBody } from './factories';

/** The batch job inside the real worker loop: what is deleted, released and dead-lettered, and when. */

const settings: BatchSettings = {
  batchSize: 10,
  flushMs: 50,
  maxConcurrentBatches: 2,
  downloadTimeoutMs: 1000,
  downloadConcurrency: 8,
  inferenceTimeoutMs: 2000,
  writeChunkSize: 5,
  storeTimeoutMs: 5000,
  maxRecordBytes: 10_000,
  allowedBuckets: [AUDIO_BUCKET],
  resultStore: { kind: 'dynamodb', table: 'unused' },
  metricsNamespace: 'test',
};

const loop: WorkerLoopConfig = {
  concurrency: settings.batchSize * (settings.maxConcurrentBatches + 1),
  receiveBatchSize: 10,
  waitSeconds: 0,
  idlePolls: 3,
  visibilityTimeoutSeconds: 30,
  shutdownGraceSeconds: 10,
  throughputLogSeconds: 60,
  maxReceiveCount: 3,
  messageDeadlineSeconds: 300,
  outageWaitSeconds: 900,
};

/** A queue that checks, at the moment each message is deleted, that its record's result is stored. */
class DurabilityCheckingQueue extends MemoryQueue {
  readonly deletedWithoutResult: string[] = [];
  constructor(private readonly results: () => ResultStore, emptyPollMs = 2) {
    super(30, emptyPollMs);
  }
  override async deleteMessages(receiptHandles: readonly string[]) {
    const ids = receiptHandles.map((handle) => parseRecordMessage(this.messages.find((message) => message.receiptHandle === handle)!.body).id);
    const stored = await this.results().existing(ids);
    this.deletedWithoutResult.push(...ids.filter((id) => !stored.has(id)));
    return super.deleteMessages(receiptHandles);
  }
}

function setup<R extends ResultStore = MemoryResultStore>(options: { results?: R; objects?: MemoryStore; queue?: MemoryQueue; jobSettings?: Partial<BatchSettings>; loopConfig?: Partial<WorkerLoopConfig> } = {}) {
  const results = options.results ?? (new MemoryResultStore() as ResultStore as R);
  const objects = options.objects ?? new MemoryStore();
  const queue = options.queue ?? new DurabilityCheckingQueue(() => results);
  const model = new FakeModel();
  const log = new MemoryLog();
  const job = new BatchJob({ ...settings, ...options.jobSettings }, { model, results, metrics: silentBatchSink });
  const config = { destBucket: 'unused', destPrefix: '', sourcePrefix: '', maxInputBytes: 1_000_000, maxReceiveCount: loop.maxReceiveCount };
  const retry = { retries: 0, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined };
  const worker = new Worker({
    queue,
    handle: (message, context) => handleMessage(message, { store: objects, job, config, retry, log, stats: new WorkerStats() }, context),
    config: { ...loop, ...options.loopConfig },
    log,
    stats: new WorkerStats(),
    metrics: silentMetricsSink,
  });
  return { results, objects, queue, model, log, worker };
}

function load(objects: MemoryStore, queue: MemoryQueue, count: number, from = 0): void {
  for (let n = from; n < from + count; n++) {
    const each = record(n);
    objects.add(each.bucket, each.key, `audio-${n}`);
    queue.add(recordBody(n));
  }
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

describe('the batch job in the worker loop', () => {
  it('drains: batches of at most BATCH_SIZE, one model call each, every message deleted after its result is stored', async () => {
    const { results, objects, queue, model, worker } = setup();
    load(objects, queue, 95);
    const summary = await worker.run();
    expect(summary.reason).toBe('drained');
    expect(results.results.size).toBe(95);
    expect(queue.messages).toHaveLength(0);
    expect(Math.max(...model.calls.map((call) => call.length))).toBeLessThanOrEqual(10);
    expect(model.calls.flat().sort()).toEqual([...results.results.keys()].sort());
    expect((queue as DurabilityCheckingQueue).deletedWithoutResult).toEqual([]);
  });

  it('dead-letters a record with a missing or undecodable input alone, with its reason; the batch is not redone', async () => {
    const { results, objects, queue, model, worker, log } = setup();
    load(objects, queue, 20);
    objects.add(AUDIO_BUCKET, record(3).key, 'broken');
    objects.objects.delete(`${AUDIO_BUCKET}/${record(7).key}`);
    queue.add('{"not":"a record"}');
    await worker.run();
    expect(results.results.size).toBe(18);
    const reasons = queue.deadLetters.map((letter) => letter.attributes.FailureReason ?? JSON.stringify(letter.attributes)).join(' ');
    expect(queue.deadLetters).toHaveLength(3);
    expect(reasons).toMatch(/undecodable-audio/);
    expect(reasons).toMatch(/input-missing/);
    expect(reasons).toMatch(/invalid-record/);
    expect(model.calls.flat().filter((id) => id === record(0).id)).toHaveLength(1);
    expect(log.messages("batch scored").length).toBeGreaterThan(0);
  });

  it.each(['report', 'throw'] as const)('a store that fails after half a chunk (%s) leaves no message deleted whose result is missing, and redelivery completes the rest', async (mode) => {
    const results = new MemoryResultStore();
    // Idle long enough (400 polls of 50 ms) for the released messages' 5 s delay to pass.
    const { objects, queue, worker } = setup({ results, queue: new DurabilityCheckingQueue(() => results, 50), loopConfig: { idlePolls: 400 } });
    load(objects, queue, 10);
    results.failWrite = { storeFirst: 2, mode };
    // Released messages come back after the worker's release delay (5 s on a first attempt); wait for them.
    const finished = worker.run();
    for (let waited = 0; results.results.size < 10 && waited < 20_000; waited += 100) await wait(100);
    worker.stop();
    await finished;
    expect((queue as DurabilityCheckingQueue).deletedWithoutResult).toEqual([]);
    expect(results.results.size).toBe(10);
    expect(queue.deadLetters).toEqual([]);
  }, 30_000);

  it('stops receiving when its buffer is full (backpressure) and heartbeats the buffered messages', async () => {
    const { objects, queue, model, worker } = setup({ jobSettings: { maxConcurrentBatches: 1, flushMs: 10, inferenceTimeoutMs: 60_000 }, loopConfig: { concurrency: 20, visibilityTimeoutSeconds: 10 } });
    load(objects, queue, 100);
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => { release = resolve; });
    model.beforeCall = () => blocked;
    const finished = worker.run();
    await wait(6000);
    const depth = await queue.depth();
    expect(depth.inFlight).toBe(20);
    // Held (buffered or blocked) messages were kept invisible by the heartbeat, not released.
    expect(queue.visibilityChanges.filter((change) => change.timeoutSeconds >= 10).length).toBeGreaterThanOrEqual(20);
    release();
    model.beforeCall = async () => undefined;
    expect((await finished).reason).toBe('drained');
    expect(queue.messages).toHaveLength(0);
  }, 30_000);

  it('on a stop, a half-full batch is scored at once (not at its flush timer) and its messages deleted before the worker exits', async () => {
    const { results, objects, queue, model, worker } = setup({ jobSettings: { batchSize: 100, flushMs: 60_000 }, loopConfig: { concurrency: 300 } });
    load(objects, queue, 30);
    const finished = worker.run();
    for (let waited = 0; (await queue.depth()).inFlight < 30 && waited < 5000; waited += 20) await wait(20);
    const stoppedAt = Date.now();
    worker.stop();
    const summary = await finished;
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    expect(summary.reason).not.toBe('drained');
    expect(model.calls).toEqual([expect.any(Array)]);
    expect(model.calls[0]).toHaveLength(30);
    expect(results.results.size).toBe(30);
    expect(queue.messages).toHaveLength(0);
  });
});

describe('two workers racing on the same records, one DynamoDB table (dynalite)', () => {
  let server: DynamoDbServer;
  let client: DynamoDBDocumentClient;
  beforeAll(async () => {
    server = await startDynalite();
    client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: server.endpoint, ...LOCAL_AWS }));
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  it('leave exactly one result per record, and every message of both queues is deleted', async () => {
    const table = `race-${process.pid}`;
    await client.send(new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] }));
    const objects = new MemoryStore();
    const store = () => new DynamoDbResultStore(client, { table });
    const first = setup({ results: store(), objects, jobSettings: { flushMs: 5 } });
    const second = setup({ results: store(), objects, jobSettings: { flushMs: 5 } });
    load(objects, first.queue, 120);
    for (let n = 0; n < 120; n++) second.queue.add(recordBody(n));
    await Promise.all([first.worker.run(), second.worker.run()]);
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    expect(items).toHaveLength(120);
    expect(new Set(items.map((item) => item.id)).size).toBe(120);
    expect(first.queue.messages).toHaveLength(0);
    expect(second.queue.messages).toHaveLength(0);
    expect([...first.queue.deadLetters, ...second.queue.deadLetters]).toEqual([]);
    // Both scored some of the same records at once: the race was real, not taken in turns.
    const scoredByBoth = first.model.calls.flat().filter((id) => second.model.calls.flat().includes(id));
    expect(scoredByBoth.length).toBeGreaterThan(0);
    expect((first.queue as DurabilityCheckingQueue).deletedWithoutResult).toEqual([]);
  }, 30_000);
});
