import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLog } from '../../../../../shared/log/logger';
import { LocalQueue } from '../../../../../shared/queue/local-queue';
import { openMessageSender } from '../../../../src/queue/open-message-sender';
import { DynamoDbResultStore } from '../../dynamodb-result-store';
import { parseRecordMessage } from '../../record-message';
import { discover, type DiscoverOptions } from '../discover';
import { DynamoDbRecordSource } from '../dynamodb-record-source';
import { DynamoDbWatermarkStore } from '../dynamodb-watermark-store';
import type { RecordSource } from '../record-source';
import { startLocalDynamo, type LocalDynamo } from './dynalite-tables';
import { RecordingSender, recordId, scoredResult, sendCounts, sourceItem } from './factories';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/batch';
let dynamo: LocalDynamo;
let tables = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await dynamo.createSourceTable('source');
  await dynamo.createKeyedTable('results', 'id');
});

afterAll(async () => dynamo.close());

/** A date of `count` records, the given ones already scored, and a state table of its own. */
async function scenario(date: string, count: number, scored: readonly number[]) {
  await dynamo.putAll('source', Array.from({ length: count }, (_, i) => sourceItem(date, i + 1)));
  const results = new DynamoDbResultStore(dynamo.client, { table: 'results' });
  const id = (n: number) => recordId(n, date);
  const written = await results.write(scored.map((n) => scoredResult(id(n))));
  expect(written.failed).toEqual([]);
  const state = `state-${++tables}`;
  await dynamo.createKeyedTable(state, 'name');
  const sender = new RecordingSender();
  const options = {
    date,
    source: new DynamoDbRecordSource(dynamo.client, { table: 'source' }),
    watermarks: new DynamoDbWatermarkStore(dynamo.client, { table: state }),
    results,
    sender,
    queueUrl: QUEUE_URL,
  } satisfies DiscoverOptions;
  const ids = (numbers: Iterable<number>) => [...numbers].map(id);
  return { options, sender, ids, id };
}

const numbers = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('discover()', () => {
  it('enqueues the date\'s records without results in id order, ten per batch, and ends with the watermark at the last id', async () => {
    const scored = [3, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 37];
    const { options, sender, ids, id } = await scenario('2026-12-01', 37, scored);
    const summary = await discover({ ...options, pageSize: 25 });
    const expected = ids(numbers(1, 37).filter((n) => !scored.includes(n)));
    expect(sender.ids()).toEqual(expected);
    expect(sender.calls.every((call) => call.queueUrl === QUEUE_URL && call.records.length <= 10)).toBe(true);
    expect(sender.calls[0]!.records[0]).toEqual({ id: id(1), bucket: 'recordings', key: `2026/12/01/${id(1)}.wav`, date: '2026-12-01' });
    expect(summary).toEqual({
      date: '2026-12-01', backfill: false, scanned: 37, skippedWithResult: scored.length, enqueued: expected.length,
      batches: sender.calls.length, invalid: 0, invalidIds: [], startedAfter: undefined, watermark: id(37), complete: true,
    });
    expect(await options.watermarks.read('2026-12-01')).toBe(id(37));
  });

  it('enqueues nothing on a second run after a complete one', async () => {
    const { options, sender, id } = await scenario('2026-12-02', 23, [5]);
    await discover(options);
    const sent = sender.ids().length;
    const again = await discover(options);
    expect(sender.ids()).toHaveLength(sent);
    expect(again).toMatchObject({ scanned: 0, enqueued: 0, batches: 0, startedAfter: id(23), watermark: id(23), complete: true });
  });

  it('picks up only the records added after the watermark', async () => {
    const { options, sender, ids, id } = await scenario('2026-12-03', 12, []);
    await discover(options);
    await dynamo.putAll('source', numbers(13, 15).map((n) => sourceItem('2026-12-03', n)));
    sender.calls.length = 0;
    expect(await discover(options)).toMatchObject({ scanned: 3, enqueued: 3, startedAfter: id(12), watermark: id(15) });
    expect(sender.ids()).toEqual(ids(numbers(13, 15)));
  });

  it('--backfill re-enqueues records below the watermark that have no result, and leaves the watermark where it was', async () => {
    const { options, sender, ids, id } = await scenario('2026-12-04', 30, numbers(1, 10));
    // As if messages for 11..30 were enqueued once and lost (expired, purged): the watermark says they are done.
    await options.watermarks.advance('2026-12-04', id(30));
    expect(await discover(options)).toMatchObject({ enqueued: 0, scanned: 0 });
    const summary = await discover({ ...options, backfill: true });
    expect(sender.ids()).toEqual(ids(numbers(11, 30)));
    expect(summary).toMatchObject({ backfill: true, scanned: 30, skippedWithResult: 10, enqueued: 20, startedAfter: undefined, watermark: id(30) });
    expect(await options.watermarks.read('2026-12-04')).toBe(id(30));
  });

  it('--backfill below a partial watermark also carries on past it and advances it', async () => {
    const { options, sender, ids, id } = await scenario('2026-12-05', 25, [2]);
    await options.watermarks.advance('2026-12-05', id(10));
    const summary = await discover({ ...options, backfill: true, pageSize: 7 });
    expect(sender.ids()).toEqual(ids(numbers(1, 25).filter((n) => n !== 2)));
    expect(summary.watermark).toBe(id(25));
    expect(await options.watermarks.read('2026-12-05')).toBe(id(25));
  });

  it('reports invalid source records by id, enqueues the rest, and counts them', async () => {
    const { options, sender, id } = await scenario('2026-12-06', 12, []);
    await dynamo.putAll('source', [{ date: '2026-12-06', id: id(5), bucket: 'recordings' }]);
    const log = new MemoryLog();
    const summary = await discover({ ...options, log });
    expect(summary).toMatchObject({ scanned: 12, enqueued: 11, invalid: 1, invalidIds: [id(5)] });
    expect(sender.ids()).not.toContain(id(5));
    expect(log.messages('discovery invalid record')).toEqual([{ date: '2026-12-06', id: id(5), problem: 'attribute "key" (the key) is missing' }]);
  });

  it('stops between chunks when aborted, with the watermark at the last finished chunk, and a rerun finishes', async () => {
    const { options, sender, ids, id } = await scenario('2026-12-07', 35, []);
    const controller = new AbortController();
    const stopping = { sendAll: async (url: string, bodies: readonly string[]) => { await sender.sendAll(url, bodies); if (sender.calls.length === 2) controller.abort(); } };
    const stopped = await discover({ ...options, sender: stopping, signal: controller.signal });
    expect(stopped).toMatchObject({ complete: false, enqueued: 20, watermark: id(20) });
    const rest = await discover(options);
    expect(rest).toMatchObject({ complete: true, enqueued: 15, startedAfter: id(20) });
    expect(sender.ids()).toEqual(ids(numbers(1, 35)));
  });

  it('refuses a date that is not a calendar date before touching any store', async () => {
    const { options } = await scenario('2026-12-08', 1, []);
    const untouched = { page: () => { throw new Error('read'); } } as unknown as RecordSource;
    await expect(discover({ ...options, source: untouched, date: '2026-02-30' })).rejects.toThrow('"2026-02-30" is not a date');
    await expect(discover({ ...options, pageSize: 0 })).rejects.toThrow('pageSize must be an integer from 1 to 1000, got 0');
  });

  it('stops, naming the ids, when a source breaks its order promise', async () => {
    const { options } = await scenario('2026-12-09', 1, []);
    const record = (id: string) => ({ id, bucket: 'recordings', key: `${id}.wav`, date: '2026-12-09' });
    const unordered: RecordSource = { page: async () => ({ records: [record('b'), record('a')], invalid: [], more: false, lastId: 'b' }) };
    await expect(discover({ ...options, source: unordered })).rejects.toThrow('id "a" came after "b"');
  });

  it('puts the messages on a local queue file when QUEUE_URL is a path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'discover-'));
    const path = join(dir, 'batch.sqlite');
    LocalQueue.open(path, { create: {} }).close();
    const sender = openMessageSender({}, 1);
    try {
      const { options } = await scenario('2026-12-10', 13, [4]);
      expect(await discover({ ...options, sender, queueUrl: path })).toMatchObject({ enqueued: 12, batches: 2 });
      const queue = LocalQueue.open(path);
      const bodies: string[] = [];
      for (let batch = await queue.receive({ maxMessages: 10, waitSeconds: 0 }); batch.length > 0; batch = await queue.receive({ maxMessages: 10, waitSeconds: 0 })) {
        bodies.push(...batch.map((message) => message.body));
      }
      queue.close();
      expect(sendCounts(bodies.map((body) => parseRecordMessage(body).id)).size).toBe(12);
    } finally {
      await sender.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
