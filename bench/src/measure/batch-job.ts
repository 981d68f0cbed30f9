import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { MongoClient } from 'mongodb';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { batchBufferSlots, readBatchSettings } from '../../../app/jobs/batch/batch-settings';
import { writeBatchDemoSet } from '../../../app/jobs/batch/demo-records';
import { DynamoDbResultStore } from '../../../app/jobs/batch/dynamodb-result-store';
import { MongoDbResultStore, type ResultDocument } from '../../../app/jobs/batch/mongodb-result-store';
import { openModel } from '../../../app/jobs/batch/open-model';
import { recordMessageBody } from '../../../app/jobs/batch/record-message';
import { chunks, type ResultStore, type ScoredResult } from '../../../app/jobs/batch/result-store';
import { startDynalite, startJongodb, type DynamoDbServer } from '../../../test/support/store-servers';
import {
  awsWriteEstimate,
  comparisonRow,
  writeRun,
  type BatchEndToEnd,
  type BatchPhaseTotals,
  type ModelCeiling,
  type StoreWriteComparison,
  type WriteComparisonRow,
  type WriteRun,
} from '../report/batch-report';
import { startCountingProxy } from './counting-proxy';
import { ProcessSampler } from './process-sampler';
import { elapsedSeconds, runPool } from './run-pool';
import { DEST_BUCKET, LOCAL_S3_CREDENTIALS, SOURCE_BUCKET, startS3Stack } from './s3-stack';
import { tailCollector, watchDrain } from './worker-end-to-end';

/** The demo set's date and seed: a fixed set, cached between runs. */
const DEMO_DATE = '2026-12-01';
const DEMO_SEED = 13;
const LOCAL_DYNAMO = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } as const;

export interface BatchSet {
  readonly dir: string;
  readonly records: readonly { readonly id: string; readonly fileName: string; readonly expected: string }[];
  readonly files: readonly string[];
  readonly bytes: number;
}

/** `batchDemoRecords` written once into the input cache (deterministic for the count and seed). */
export async function ensureBatchSet(inputDir: string, count: number): Promise<BatchSet> {
  const dir = join(inputDir, `batch-${count}-seed${DEMO_SEED}`);
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) {
    mkdirSync(dir, { recursive: true });
    const records = await writeBatchDemoSet(dir, { count, seed: DEMO_SEED });
    writeFileSync(manifestPath, JSON.stringify(records));
  }
  const records = JSON.parse(readFileSync(manifestPath, 'utf8')) as BatchSet['records'];
  const files = records.map((record) => join(dir, record.fileName));
  const bytes = files.reduce((sum, file) => sum + readFileSync(file).length, 0);
  return { dir, records, files, bytes };
}

function dynamoClient(endpoint: string): { client: DynamoDBDocumentClient; calls: () => number } {
  const raw = new DynamoDBClient({ ...LOCAL_DYNAMO, endpoint, maxAttempts: 5 });
  let calls = 0;
  raw.middlewareStack.add((next) => async (args) => {
    calls++;
    return next(args);
  }, { step: 'initialize', name: 'benchCallCounter' });
  return { client: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }), calls: () => calls };
}

async function createTable(client: DynamoDBDocumentClient, name: string): Promise<void> {
  await client.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
  }));
}

async function countItems(client: DynamoDBDocumentClient, table: string): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: start }));
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return count;
}

export interface BatchEndToEndOptions {
  readonly workerScript: string;
  readonly set: BatchSet;
  readonly scratch: string;
  readonly vcpus: number;
  readonly timeoutSeconds: number;
}

/**
 * The bundled worker with JOB=batch at its defaults for `vcpus`, draining a local queue of one record message per
 * demo file, the files in s3rver (behind the counting proxy) on 127.0.0.1, the results into dynalite in this process.
 */
export async function measureBatchEndToEnd(options: BatchEndToEndOptions): Promise<BatchEndToEnd> {
  const { set } = options;
  const dynamo = await startDynalite();
  const stack = await startS3Stack(join(options.scratch, 's3-batch'), set.files, `recordings/${DEMO_DATE}/`);
  const proxy = await startCountingProxy(stack.port);
  const queuePath = join(options.scratch, 'batch-queue.db');
  const queue = LocalQueue.open(queuePath, { create: { visibilityTimeoutSeconds: 120, maxReceiveCount: 3 } });
  const { client } = dynamoClient(dynamo.endpoint);
  const table = 'bench-batch-results';
  try {
    await createTable(client, table);
    const bodies = set.records.map((record, index) =>
      recordMessageBody({ id: record.id, bucket: SOURCE_BUCKET, key: stack.objects[index]!.key, date: DEMO_DATE }));
    for (const chunk of chunks(bodies, 500)) await queue.sendBatch(chunk);

    const jobEnv: NodeJS.ProcessEnv = { JOB: 'batch', RESULTS_TABLE: table, DYNAMODB_ENDPOINT: dynamo.endpoint, MAX_CONCURRENCY: String(options.vcpus) };
    const settings = readBatchSettings(jobEnv, { cpuCount: options.vcpus, memoryLimitBytes: 4 * 2 ** 30 });
    const workerSlots = batchBufferSlots(options.vcpus, jobEnv);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...jobEnv,
      QUEUE_URL: queuePath,
      // The worker's configuration asks for it whatever the job; the batch job writes nothing to S3.
      DEST_BUCKET,
      CONCURRENCY: String(workerSlots),
      WAIT_SECONDS: '1',
      IDLE_POLLS: '1',
      VISIBILITY_TIMEOUT_SECONDS: '120',
      LOG_LEVEL: 'INFO',
      THROUGHPUT_LOG_SECONDS: '3600',
      MALLOC_ARENA_MAX: '2',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: proxy.endpoint,
      AWS_ENDPOINT_URL_S3: proxy.endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    };
    proxy.reset();
    const child = spawn(process.execPath, [options.workerScript], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const batchLines = batchScoredCollector(child.stdout);
    const errors = tailCollector(child.stderr, 20);
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const sampler = new ProcessSampler(child.pid!, 200);
    let cpuAtFirstReceive = 0;
    let harnessBefore = process.cpuUsage();
    const watch = await watchDrain(queue, bodies.length, options.timeoutSeconds, exited, () => {
      cpuAtFirstReceive = sampler.sample();
      harnessBefore = process.cpuUsage();
    });
    const report = sampler.stop();
    const harness = process.cpuUsage(harnessBefore);
    if (!watch.drained) child.kill('SIGTERM');
    const exitCode = await exited;
    if (!watch.drained || watch.seconds === undefined) {
      throw new Error(`the batch worker did not drain ${bodies.length} record messages (exit ${exitCode}): ${errors().join('\n').slice(-2000)}`);
    }
    const batches = batchLines();
    const phases = batches.reduce<BatchPhaseTotals>(
      (sum, batch) => ({
        lookupMs: sum.lookupMs + batch.lookupMs,
        fetchMs: sum.fetchMs + batch.fetchMs,
        inferenceMs: sum.inferenceMs + batch.inferenceMs,
        writeMs: sum.writeMs + batch.writeMs,
      }),
      { lookupMs: 0, fetchMs: 0, inferenceMs: 0, writeMs: 0 },
    );
    const records = bodies.length;
    return {
      records,
      expectedBroken: set.records.filter((record) => record.expected === 'broken').length,
      inputMiB: set.bytes / 2 ** 20,
      settings: {
        batchSize: settings.batchSize,
        maxConcurrentBatches: settings.maxConcurrentBatches,
        workerSlots,
        downloadConcurrency: settings.downloadConcurrency,
        writeChunkSize: settings.writeChunkSize,
        flushMs: settings.flushMs,
      },
      seconds: watch.seconds,
      recordsPerSecond: records / watch.seconds,
      vcpus: options.vcpus,
      recordsPerSecondPerVcpu: records / watch.seconds / options.vcpus,
      stored: await countItems(client, table),
      deadLettered: await queue.dlqDepth(),
      batches: batches.length,
      batchedRecords: batches.reduce((sum, batch) => sum + batch.size, 0),
      phases,
      workerCpuSecondsPerRecord: (report.cpuSeconds - cpuAtFirstReceive) / records,
      workerBusyVcpus: (report.cpuSeconds - cpuAtFirstReceive) / watch.seconds,
      harnessCpuSecondsPerRecord: (harness.user + harness.system) / 1e6 / records,
      peakRssMiB: report.peakRssMiB,
      s3CallsByMethod: proxy.counts(),
    };
  } finally {
    client.destroy();
    await queue.close();
    await proxy.close();
    await stack.close();
    await dynamo.stop();
  }
}

interface BatchLine {
  readonly size: number;
  readonly lookupMs: number;
  readonly fetchMs: number;
  readonly inferenceMs: number;
  readonly writeMs: number;
}

/** Every `batch scored` line the worker logs (JSON lines on stdout), with its size and timings. */
function batchScoredCollector(stream: NodeJS.ReadableStream): () => BatchLine[] {
  const lines: BatchLine[] = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.includes('batch scored')) continue;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.message !== 'batch scored') continue;
        const number = (name: string) => (typeof parsed[name] === 'number' ? (parsed[name] as number) : 0);
        lines.push({ size: number('size'), lookupMs: number('lookupMs'), fetchMs: number('fetchMs'), inferenceMs: number('inferenceMs'), writeMs: number('writeMs') });
      } catch {
        // Not a JSON log line.
      }
    }
  });
  return () => [...lines];
}

/** The shipped model on the set's bytes in memory, batch after batch on this event loop: no S3, no store, no queue. */
export async function measureModelCeiling(set: BatchSet, batchSize: number): Promise<ModelCeiling> {
  const model = await openModel(undefined);
  const inputs = set.records.map((record, index) => ({ id: record.id, bytes: new Uint8Array(readFileSync(set.files[index]!)) }));
  // One warm-up batch: the JIT, as a worker that has run for a while.
  await model.score(inputs.slice(0, batchSize), new AbortController().signal);
  const cpuBefore = process.cpuUsage();
  const startedAt = process.hrtime.bigint();
  for (const batch of chunks(inputs, batchSize)) await model.score(batch, new AbortController().signal);
  const seconds = elapsedSeconds(startedAt);
  const cpu = process.cpuUsage(cpuBefore);
  return {
    records: inputs.length,
    batchSize,
    seconds,
    recordsPerSecond: inputs.length / seconds,
    cpuMsPerRecord: (cpu.user + cpu.system) / 1000 / inputs.length,
  };
}

/** R results shaped as the job writes them (the model's details included), ids distinct. */
export function syntheticResults(count: number): ScoredResult[] {
  const scoredAt = new Date(0).toISOString();
  return Array.from({ length: count }, (_, index) => ({
    id: `rec-${String(index + 1).padStart(6, '0')}`,
    score: Math.round((1 + (index % 97) / 25) * 1e4) / 1e4,
    modelVersion: 'audio-anomaly-bench',
    scoredAt,
    details: { anomalous: index % 7 === 0 ? 'yes' : 'no', threshold: 3.2, rmsDb: -20.5, spectralCentroidHz: 812.25, spectralFlatness: 0.0421, peakHz: 120 },
  }));
}

async function timed(task: () => Promise<void>): Promise<number> {
  const startedAt = process.hrtime.bigint();
  await task();
  return elapsedSeconds(startedAt);
}

/** The adapter's write: the results in chunks of `writeChunkSize` (as scoreBatch calls it), `concurrency` chunks at once. */
async function bulkWrite(store: ResultStore, results: readonly ScoredResult[], writeChunkSize: number, concurrency: number): Promise<void> {
  const parts = chunks(results, writeChunkSize);
  await runPool(parts.length, concurrency, async (index) => {
    const outcome = await store.write(parts[index]!);
    if (outcome.failed.length > 0) throw new Error(`the ${store.name} store failed ${outcome.failed.length} results: ${outcome.failed[0]!.reason}`);
  });
}

export interface WriteComparisonOptions {
  readonly results: number;
  readonly writeChunkSize: number;
  /** Calls in flight for each way; 1 is the headline, the job's MAX_CONCURRENCY the other. */
  readonly concurrencies: readonly number[];
}

/** DynamoDB on dynalite: the adapter's BatchWriteItem path against one PutItem per record, each into a fresh table. */
export async function compareDynamoDbWrites(options: WriteComparisonOptions): Promise<StoreWriteComparison> {
  const server: DynamoDbServer = await startDynalite();
  const { client, calls } = dynamoClient(server.endpoint);
  const results = syntheticResults(options.results);
  let tables = 0;
  try {
    const run = async (write: (table: string) => Promise<void>): Promise<WriteRun> => {
      const table = `bench-writes-${++tables}`;
      await createTable(client, table);
      const before = calls();
      const seconds = await timed(() => write(table));
      const made = calls() - before;
      return writeRun(results.length, seconds, made, await countItems(client, table));
    };
    // A warm-up into its own table: connections open and the SDK's code loaded before either way is timed.
    await run(async (table) => void (await new DynamoDbResultStore(client, { table }).write(results.slice(0, 50))));
    const rows: WriteComparisonRow[] = [];
    for (const concurrency of options.concurrencies) {
      const bulk = await run((table) => bulkWrite(new DynamoDbResultStore(client, { table }), results, options.writeChunkSize, concurrency));
      const perRecord = await run((table) =>
        runPool(results.length, concurrency, async (index) => void (await client.send(new PutCommand({ TableName: table, Item: { ...results[index]! } })))));
      rows.push(comparisonRow(concurrency, bulk, perRecord));
    }
    return {
      store: 'dynamodb',
      server: 'dynalite 4.0.0 on 127.0.0.1 (in the bench process)',
      results: results.length,
      bulkPath: `\`DynamoDbResultStore.write\` (BatchWriteItem of 25) on chunks of ${options.writeChunkSize}`,
      perRecordPath: 'one PutItem per record (DynamoDBDocumentClient `PutCommand`, the same item)',
      itemsPerBulkCall: 25,
      rows,
      aws: awsWriteEstimate(1000, 25),
    };
  } finally {
    client.destroy();
    await server.stop();
  }
}

/** MongoDB on jongodb: the adapter's bulkWrite path against one replaceOne (upsert) per record, each into a fresh collection. */
export async function compareMongoDbWrites(options: WriteComparisonOptions): Promise<StoreWriteComparison> {
  const server = await startJongodb();
  const client = await MongoClient.connect(server.uri, { monitorCommands: true });
  let calls = 0;
  client.on('commandStarted', (event) => {
    if (event.commandName === 'update' || event.commandName === 'insert') calls++;
  });
  const db = client.db('bench');
  const results = syntheticResults(options.results);
  let collections = 0;
  try {
    const run = async (write: (name: string) => Promise<void>): Promise<WriteRun> => {
      const name = `results_${++collections}`;
      // Created by its first write (jongodb has no `create` command); a new name is an empty collection.
      const before = calls;
      const seconds = await timed(() => write(name));
      const made = calls - before;
      return writeRun(results.length, seconds, made, await db.collection(name).countDocuments());
    };
    const store = (name: string) => new MongoDbResultStore(db.collection<ResultDocument>(name));
    await run(async (name) => void (await store(name).write(results.slice(0, 50))));
    const rows: WriteComparisonRow[] = [];
    for (const concurrency of options.concurrencies) {
      const bulk = await run((name) => bulkWrite(store(name), results, options.writeChunkSize, concurrency));
      const perRecord = await run(async (name) => {
        const collection = db.collection<ResultDocument>(name);
        await runPool(results.length, concurrency, async (index) => {
          const { id, ...rest } = results[index]!;
          await collection.replaceOne({ _id: id }, rest, { upsert: true });
        });
      });
      rows.push(comparisonRow(concurrency, bulk, perRecord));
    }
    return {
      store: 'mongodb',
      server: 'jongodb 0.1.6 on 127.0.0.1',
      results: results.length,
      bulkPath: `\`MongoDbResultStore.write\` (bulkWrite of replaceOne upserts, 500 a call, unordered) on chunks of ${options.writeChunkSize}`,
      perRecordPath: 'one `replaceOne({_id}, result, {upsert: true})` per record',
      itemsPerBulkCall: 500,
      rows,
      aws: awsWriteEstimate(1000, 500),
    };
  } finally {
    await client.close();
    await server.stop();
  }
}
