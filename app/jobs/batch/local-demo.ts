import { basename } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { LocalMessageSender } from '../../src/queue/message-senders';
import type { DemoDatabaseContext, JobDemo } from '../../src/job/job-demo';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { writeBatchDemoSet } from './demo-records';
import { discover } from './discovery/discover';
import { DynamoDbRecordSource } from './discovery/dynamodb-record-source';
import { DynamoDbWatermarkStore } from './discovery/dynamodb-watermark-store';
import { DynamoDbResultStore } from './dynamodb-result-store';
import { chunks, type ScoredResult } from './result-store';

/** The night the demo's recordings were made: discovery's date. */
const DEMO_DATE = '2026-12-01';
const DEMO_RECORDS = 400;
const DEMO_SEED = 13;
export const BATCH_DEMO_TABLES = { source: 'batch-recordings', results: 'batch-results', state: 'batch-discovery-state' } as const;
/** A record whose file was never uploaded: it shows how a missing input ends (its own DLQ entry, nothing else held). */
const MISSING_INPUT_ID = 'rec-missing-input';
const RESULTS_SHOWN = 5;

/**
 * `npm start -- --job batch`: 400 machine recordings (WAV, 15% anomalous, a few broken) uploaded as the records'
 * inputs; a source table in the embedded DynamoDB gets a record per file for one date; discovery enqueues them (with
 * its watermark); the workers score them in batches with the shipped anomaly model and write one result per record.
 */
export const batchDemo: JobDemo = {
  job: 'batch',
  noun: 'recordings',
  defaultSettings: () => ({ BATCH_SIZE: '50', BATCH_FLUSH_MS: '500' }),
  settingNames: ['BATCH_SIZE', 'BATCH_FLUSH_MS', 'MAX_CONCURRENCY', 'DOWNLOAD_TIMEOUT_MS', 'DOWNLOAD_CONCURRENCY', 'INFERENCE_TIMEOUT_MS', 'WRITE_CHUNK_SIZE', 'MAX_RECORD_BYTES', 'MODEL_PATH'],
  async writeDemoSet(dir) {
    const records = await writeBatchDemoSet(`${dir}/recordings/${DEMO_DATE}`, { count: DEMO_RECORDS, seed: DEMO_SEED });
    const broken = records.filter((record) => record.expected === 'broken').length;
    return { good: records.length - broken, broken };
  },
  expectedOutputs: () => () => ({ ignored: true }),
  database: {
    settings: (endpoint) => ({ RESULTS_TABLE: BATCH_DEMO_TABLES.results, DYNAMODB_ENDPOINT: endpoint }),
    async discover({ endpoint, sourceBucket, queueFile, inputKeys, write }) {
      const client = documentClient(endpoint);
      const sender = new LocalMessageSender(async (path) => LocalQueue.open(path));
      try {
        await createTableIfAbsent(client, BATCH_DEMO_TABLES.source, [['date', 'HASH'], ['id', 'RANGE']]);
        await createTableIfAbsent(client, BATCH_DEMO_TABLES.results, [['id', 'HASH']]);
        await createTableIfAbsent(client, BATCH_DEMO_TABLES.state, [['name', 'HASH']]);
        // The source system's rows: one per uploaded recording, and one whose file never arrived.
        const rows = inputKeys.filter((key) => key.endsWith('.wav')).map((key) => ({ date: DEMO_DATE, id: basename(key, '.wav'), bucket: sourceBucket, key }));
        rows.push({ date: DEMO_DATE, id: MISSING_INPUT_ID, bucket: sourceBucket, key: `recordings/${DEMO_DATE}/${MISSING_INPUT_ID}.wav` });
        for (const chunk of chunks(rows, 25)) {
          await client.send(new BatchWriteCommand({ RequestItems: { [BATCH_DEMO_TABLES.source]: chunk.map((Item) => ({ PutRequest: { Item } })) } }));
        }
        const summary = await discover({
          date: DEMO_DATE,
          source: new DynamoDbRecordSource(client, { table: BATCH_DEMO_TABLES.source }),
          watermarks: new DynamoDbWatermarkStore(client, { table: BATCH_DEMO_TABLES.state }),
          results: new DynamoDbResultStore(client, { table: BATCH_DEMO_TABLES.results }),
          sender,
          queueUrl: queueFile,
        });
        write(`discovery for ${DEMO_DATE}: ${summary.scanned} records scanned after ${summary.startedAfter ?? 'the start'}, ${summary.skippedWithResult} already scored, `
          + `${summary.enqueued} enqueued in ${summary.batches} batches of at most 10; watermark ${summary.watermark ?? 'none'}\n`);
      } finally {
        await sender.close();
        client.destroy();
      }
    },
    async account({ endpoint, deadLetterBodies }) {
      const client = documentClient(endpoint);
      try {
        const ids = await sourceIds(client);
        const scored = new Set((await allResults(client)).map((result) => result.id));
        const dead = new Set(deadLetterBodies.map(recordIdOf));
        const pending = [...ids].filter((id) => !scored.has(id) && !dead.has(id));
        const done = [...ids].filter((id) => scored.has(id)).length;
        return { loaded: ids.size, done, deadLettered: ids.size - done - pending.length, pending, outputs: scored.size };
      } finally {
        client.destroy();
      }
    },
    async summary({ endpoint, durationSeconds, since }: DemoDatabaseContext & { durationSeconds: number; since: Date }) {
      const client = documentClient(endpoint);
      try {
        const results = await allResults(client);
        const anomalous = results.filter((result) => result.details?.anomalous === 'yes');
        const threshold = results[0]?.details?.threshold;
        // Results are kept across runs: the rate is this run's own.
        const scoredNow = results.filter((result) => result.scoredAt >= since.toISOString()).length;
        const rate = Math.round((scoredNow / durationSeconds) * 60);
        return [
          `${results.length} results in DynamoDB table ${BATCH_DEMO_TABLES.results} (embedded, 127.0.0.1), one per record; `
            + `${scoredNow} scored by this run${scoredNow > 0 ? `, ${rate} records/min` : ''}`,
          `${anomalous.length} anomalous (score above the model's threshold ${String(threshold ?? '?')}), model ${results[0]?.modelVersion ?? '-'}`,
          ...[...anomalous.slice(0, RESULTS_SHOWN), ...results.filter((result) => result.details?.anomalous !== 'yes').slice(0, 2)]
            .map((result) => `  ${result.id}: score ${result.score}${result.details?.anomalous === 'yes' ? ' (anomalous)' : ''}`),
        ];
      } finally {
        client.destroy();
      }
    },
  },
};

function documentClient(endpoint: string): DynamoDBDocumentClient {
  const raw = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
}

async function createTableIfAbsent(client: DynamoDBDocumentClient, name: string, keys: readonly (readonly [string, 'HASH' | 'RANGE'])[]): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: name }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  await client.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: keys.map(([AttributeName]) => ({ AttributeName, AttributeType: 'S' })),
    KeySchema: keys.map(([AttributeName, KeyType]) => ({ AttributeName, KeyType })),
  }));
}

async function sourceIds(client: DynamoDBDocumentClient): Promise<Set<string>> {
  const ids = new Set<string>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new QueryCommand({
      TableName: BATCH_DEMO_TABLES.source, KeyConditionExpression: '#date = :date', ExpressionAttributeNames: { '#date': 'date', '#id': 'id' },
      ExpressionAttributeValues: { ':date': DEMO_DATE }, ProjectionExpression: '#id', ExclusiveStartKey: start,
    }));
    for (const item of page.Items ?? []) ids.add(String(item.id));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return ids;
}

async function allResults(client: DynamoDBDocumentClient): Promise<ScoredResult[]> {
  const results: ScoredResult[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: BATCH_DEMO_TABLES.results, ExclusiveStartKey: start }));
    results.push(...((page.Items ?? []) as ScoredResult[]));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return results.sort((a, b) => b.score - a.score);
}

function recordIdOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { id?: unknown };
    return typeof parsed.id === 'string' ? parsed.id : '';
  } catch {
    return '';
  }
}
