import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbResultStore } from '../dynamodb-result-store';
import type { ScoredResult } from '../result-store';

/**
 * The DynamoDB adapter against dynalite (architect/dynalite 4.0.0: the DynamoDB protocol in JavaScript, in process on
 * 127.0.0.1). It enforces BatchWriteItem's 25 items and BatchGetItem's 100 keys; it never returns UnprocessedItems on
 * its own, so that path is injected below. Not covered here: throttling, IAM, point-in-time recovery.
 */
// dynalite ships no types: its factory returns an http.Server.
const dynalite = require('dynalite') as (options: { createTableMs: number }) => Server;

const TABLE = 'results';
let server: Server;
let client: DynamoDBDocumentClient;

beforeAll(async () => {
  server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const raw = new DynamoDBClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  client = DynamoDBDocumentClient.from(raw);
  await raw.send(new CreateTableCommand({ TableName: TABLE, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] }));
});

afterAll(async () => {
  client.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const result = (id: string, score = 0.5, modelVersion = 'v1'): ScoredResult => ({ id, score, modelVersion, scoredAt: '2026-12-02T00:00:00.000Z', details: { rms_db: -20 } });
const noSleep = async () => undefined;

async function count(): Promise<number> {
  let total = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: TABLE, ExclusiveStartKey: start }));
    total += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return total;
}

describe('DynamoDbResultStore against a DynamoDB-protocol server', () => {
  it('writes any number of results in chunks of 25 and finds them again in chunks of 100', async () => {
    const store = new DynamoDbResultStore(client, { table: TABLE, sleep: noSleep });
    const results = Array.from({ length: 60 }, (_, i) => result(`rec-${i}`));
    expect(await store.write(results)).toEqual({ written: results.map((each) => each.id), failed: [] });
    const asked = Array.from({ length: 150 }, (_, i) => `rec-${i}`);
    expect(await store.existing(asked)).toEqual(new Set(results.map((each) => each.id)));
  });

  it('keeps one result per id whatever writes it twice: a batch naming it twice, two writers racing', async () => {
    const store = new DynamoDbResultStore(client, { table: TABLE, sleep: noSleep });
    const before = await count();
    const ids = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    const [first, second] = await Promise.all([
      store.write(ids.map((id) => result(id, 0.1))),
      store.write([...ids, ...ids].map((id) => result(id, 0.9, 'v2'))),
    ]);
    expect(first.failed).toEqual([]);
    expect(second.failed).toEqual([]);
    expect(await count()).toBe(before + 40);
  });

  it('retries what DynamoDB leaves unprocessed and reports durable only what was written', async () => {
    let throttle = 2;
    const throttling = {
      send: async (command: unknown) => {
        if (command instanceof BatchWriteCommand && throttle > 0) {
          throttle--;
          const requests = command.input.RequestItems![TABLE]!;
          // Only the first half goes through; the rest comes back unprocessed, as under throttling.
          await client.send(new BatchWriteCommand({ RequestItems: { [TABLE]: requests.slice(0, Math.ceil(requests.length / 2)) } }));
          return { UnprocessedItems: { [TABLE]: requests.slice(Math.ceil(requests.length / 2)) } };
        }
        return client.send(command as never);
      },
    } as unknown as DynamoDBDocumentClient;
    const store = new DynamoDbResultStore(throttling, { table: TABLE, sleep: noSleep });
    const results = Array.from({ length: 20 }, (_, i) => result(`throttled-${i}`));
    const outcome = await store.write(results);
    expect(outcome.failed).toEqual([]);
    expect([...outcome.written].sort()).toEqual(results.map((each) => each.id).sort());
    expect((await store.existing(results.map((each) => each.id))).size).toBe(20);
  });

  it('reports as failed, not written, items that stay unprocessed, and a chunk whose call fails', async () => {
    const neverProcessed = {
      send: async (command: unknown) => {
        if (command instanceof BatchWriteCommand) {
          const requests = command.input.RequestItems![TABLE]!;
          if (requests.some((request) => String(request.PutRequest?.Item?.id).startsWith('down-'))) throw Object.assign(new Error('service unavailable'), { name: 'ServiceUnavailable' });
          return { UnprocessedItems: { [TABLE]: requests } };
        }
        return client.send(command as never);
      },
    } as unknown as DynamoDBDocumentClient;
    const store = new DynamoDbResultStore(neverProcessed, { table: TABLE, sleep: noSleep });
    const stuck = await store.write([result('stuck-1'), result('stuck-2')]);
    expect(stuck.written).toEqual([]);
    expect(stuck.failed.map((each) => each.id)).toEqual(['stuck-1', 'stuck-2']);
    expect((await store.write([result('down-1')])).failed).toEqual([{ id: 'down-1', reason: 'ServiceUnavailable: service unavailable' }]);
  });
});
