import { DynamoDbRecordSource } from '../dynamodb-record-source';
import { DynamoDbWatermarkStore } from '../dynamodb-watermark-store';
import { startLocalDynamo, type LocalDynamo } from './dynalite-tables';
import { recordId, sourceItem } from './factories';

let dynamo: LocalDynamo;
const DATE = '2026-12-01';

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await dynamo.createSourceTable('source');
  await dynamo.createSourceTable('renamed', { date: 'day', id: 'recordingId' });
  await dynamo.createKeyedTable('state', 'name');
  // Inserted out of order, with a neighbouring date on each side: the order and the partition are the table's.
  const items = Array.from({ length: 23 }, (_, i) => sourceItem(DATE, 23 - i));
  await dynamo.putAll('source', [...items, sourceItem('2026-11-30', 1), sourceItem('2026-12-02', 1)]);
});

afterAll(async () => dynamo.close());

describe('DynamoDbRecordSource', () => {
  it('pages a date in ascending id order, strictly after the given id, across Query pages', async () => {
    const source = new DynamoDbRecordSource(dynamo.client, { table: 'source' });
    const first = await source.page(DATE, undefined, 10);
    expect(first.records.map((record) => record.id)).toEqual(Array.from({ length: 10 }, (_, i) => recordId(i + 1)));
    expect(first).toMatchObject({ more: true, invalid: [], lastId: recordId(10) });
    expect(first.records[0]).toEqual({ id: recordId(1), bucket: 'recordings', key: `2026/12/01/${recordId(1)}.wav`, date: DATE });
    const rest = await source.page(DATE, first.lastId, 100);
    expect(rest.records.map((record) => record.id)).toEqual(Array.from({ length: 13 }, (_, i) => recordId(i + 11)));
    expect(rest.more).toBe(false);
    expect(await source.page(DATE, recordId(23), 10)).toEqual({ records: [], invalid: [], more: false, lastId: undefined });
  });

  it('reads configured attribute names and normalises them into the one message shape', async () => {
    await dynamo.putAll('renamed', [{ day: DATE, recordingId: 'r-1', s3Bucket: 'field-audio', s3Key: 'x/r-1.wav' }]);
    const source = new DynamoDbRecordSource(dynamo.client, { table: 'renamed', attributes: { id: 'recordingId', date: 'day', bucket: 's3Bucket', key: 's3Key' } });
    expect((await source.page(DATE, undefined, 10)).records).toEqual([{ id: 'r-1', bucket: 'field-audio', key: 'x/r-1.wav', date: DATE }]);
  });

  it('reports records that cannot become a message by id, counts them towards the limit, and pages past them', async () => {
    const date = '2026-12-05';
    await dynamo.putAll('source', [
      sourceItem(date, 1),
      sourceItem(date, 2, { bucket: undefined }),
      sourceItem(date, 3, { key: 42 }),
      sourceItem(date, 4, { bucket: 'Not_A_Bucket' }),
      sourceItem(date, 5, { key: 'folder/' }),
      sourceItem(date, 6),
    ].map((item) => JSON.parse(JSON.stringify(item)) as Record<string, unknown>));
    const source = new DynamoDbRecordSource(dynamo.client, { table: 'source' });
    const first = await source.page(date, undefined, 4);
    expect(first.records.map((record) => record.id)).toEqual([recordId(1, date)]);
    expect(first.invalid).toEqual([
      { id: recordId(2, date), problem: 'attribute "bucket" (the bucket) is missing' },
      { id: recordId(3, date), problem: 'attribute "key" (the key) is a number, not a string' },
      { id: recordId(4, date), problem: expect.stringContaining('record message field "bucket" must be an S3 bucket name') },
    ]);
    expect(first).toMatchObject({ more: true, lastId: recordId(4, date) });
    const second = await source.page(date, first.lastId, 4);
    expect(second.invalid.map((bad) => bad.id)).toEqual([recordId(5, date)]);
    expect(second.records.map((record) => record.id)).toEqual([recordId(6, date)]);
    expect(second.more).toBe(false);
  });
});

describe('DynamoDbWatermarkStore', () => {
  it('has no watermark for a new date, and keeps one per date', async () => {
    const store = new DynamoDbWatermarkStore(dynamo.client, { table: 'state' });
    expect(await store.read('2026-10-01')).toBeUndefined();
    await store.advance('2026-10-01', recordId(10));
    await store.advance('2026-10-02', recordId(3));
    expect(await store.read('2026-10-01')).toBe(recordId(10));
    expect(await store.read('2026-10-02')).toBe(recordId(3));
  });

  it('moves only forward: a lower or equal id is accepted and changes nothing', async () => {
    const store = new DynamoDbWatermarkStore(dynamo.client, { table: 'state' });
    await store.advance('2026-10-03', recordId(20));
    await expect(store.advance('2026-10-03', recordId(10))).resolves.toBeUndefined();
    await expect(store.advance('2026-10-03', recordId(20))).resolves.toBeUndefined();
    expect(await store.read('2026-10-03')).toBe(recordId(20));
    await store.advance('2026-10-03', recordId(21));
    expect(await store.read('2026-10-03')).toBe(recordId(21));
  });

  it('ends at the greatest id whatever order racing advances land in', async () => {
    const store = new DynamoDbWatermarkStore(dynamo.client, { table: 'state' });
    const ids = Array.from({ length: 30 }, (_, i) => recordId((i * 7) % 30));
    await Promise.all(ids.map((id) => store.advance('2026-10-04', id)));
    expect(await store.read('2026-10-04')).toBe([...ids].sort().at(-1));
  });

  it('passes on errors other than "already further"', async () => {
    const store = new DynamoDbWatermarkStore(dynamo.client, { table: 'no-such-table' });
    await expect(store.advance('2026-10-05', recordId(1))).rejects.toThrow(/not found|non-existent|ResourceNotFound/i);
  });
});
