import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_AWS, startDynalite, startDynamoDbLocal, type DynamoDbServer } from '../../../../test/support/store-servers';
import { DynamoDbResultStore } from '../dynamodb-result-store';
import type { ScoredResult } from '../result-store';
import { resultStoreContract } from './result-store-contract';

/**
 * The DynamoDB adapter against two DynamoDB-protocol servers on 127.0.0.1: dynalite 4.0.0 (JavaScript, in process)
 * and DynamoDB Local 3.3.0 (AWS's own emulator, a Java child process). Both enforce BatchWriteItem's 25 items and
 * BatchGetItem's 100 keys; neither returns UnprocessedItems on its own, so that path is injected (against dynalite).
 * Not covered: throttling, IAM, point-in-time recovery.
 */
const servers: readonly [string, () => Promise<DynamoDbServer>][] = [['dynalite', startDynalite], ['DynamoDB Local', startDynamoDbLocal]];

let tables = 0;

async function createTable(raw: DynamoDBClient): Promise<string> {
  const table = `results-${process.pid}-${++tables}`;
  await raw.send(new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] }));
  return table;
}

async function scan(client: DynamoDBDocumentClient, table: string): Promise<ScoredResult[]> {
  const items: ScoredResult[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...((page.Items ?? []) as ScoredResult[]));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

describe.each(servers)('DynamoDbResultStore against %s', (_name, start) => {
  let server: DynamoDbServer;
  let raw: DynamoDBClient;
  let client: DynamoDBDocumentClient;

  beforeAll(async () => {
    server = await start();
    raw = new DynamoDBClient({ endpoint: server.endpoint, ...LOCAL_AWS });
    client = DynamoDBDocumentClient.from(raw);
  }, 30_000);

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  resultStoreContract(async () => {
    const table = await createTable(raw);
    const store = () => new DynamoDbResultStore(client, { table, sleep: noSleep });
    return { store: store(), another: store, stored: () => scan(client, table) };
  });
});

const result = (id: string, score = 0.5, modelVersion = 'v1'): ScoredResult => ({ id, score, modelVersion, scoredAt: '2026-12-02T00:00:00.000Z', details: { rms_db: -20 } });
const noSleep = async () => undefined;

describe('DynamoDbResultStore with UnprocessedItems and failures injected (dynalite)', () => {
  let server: DynamoDbServer;
  let client: DynamoDBDocumentClient;
  let table: string;

  beforeAll(async () => {
    server = await startDynalite();
    const raw = new DynamoDBClient({ endpoint: server.endpoint, ...LOCAL_AWS });
    client = DynamoDBDocumentClient.from(raw);
    table = await createTable(raw);
  });

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  it('retries what DynamoDB leaves unprocessed and reports durable only what was written', async () => {
    let throttle = 2;
    const throttling = {
      send: async (command: unknown) => {
        if (command instanceof BatchWriteCommand && throttle > 0) {
          throttle--;
          const requests = command.input.RequestItems![table]!;
          // Only the first half goes through; the rest comes back unprocessed, as under throttling.
          await client.send(new BatchWriteCommand({ RequestItems: { [table]: requests.slice(0, Math.ceil(requests.length / 2)) } }));
          return { UnprocessedItems: { [table]: requests.slice(Math.ceil(requests.length / 2)) } };
        }
        return client.send(command as never);
      },
    } as unknown as DynamoDBDocumentClient;
    const store = new DynamoDbResultStore(throttling, { table, sleep: noSleep });
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
          const requests = command.input.RequestItems![table]!;
          if (requests.some((request) => String(request.PutRequest?.Item?.id).startsWith('down-'))) throw Object.assign(new Error('service unavailable'), { name: 'ServiceUnavailable' });
          return { UnprocessedItems: { [table]: requests } };
        }
        return client.send(command as never);
      },
    } as unknown as DynamoDBDocumentClient;
    const store = new DynamoDbResultStore(neverProcessed, { table, sleep: noSleep });
    const stuck = await store.write([result('stuck-1'), result('stuck-2')]);
    expect(stuck.written).toEqual([]);
    expect(stuck.failed.map((each) => each.id)).toEqual(['stuck-1', 'stuck-2']);
    expect((await store.write([result('down-1')])).failed).toEqual([{ id: 'down-1', reason: 'ServiceUnavailable: service unavailable' }]);
  });
});
