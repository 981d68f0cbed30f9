import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { chunks } from '../../result-store';

/**
 * dynalite (architect/dynalite 4.0.0, the DynamoDB protocol in JavaScript) in process on 127.0.0.1, with the three
 * tables discovery reads and writes. It covers Query with key conditions, Limit and LastEvaluatedKey, and conditional
 * updates; not throttling or IAM.
 */
// dynalite ships no types: its factory returns an http.Server.
const dynalite = require('dynalite') as (options: { createTableMs: number }) => Server;

export interface LocalDynamo {
  readonly client: DynamoDBDocumentClient;
  readonly endpoint: string;
  createSourceTable(name: string, keys?: { date: string; id: string }): Promise<void>;
  createKeyedTable(name: string, key: 'id' | 'name'): Promise<void>;
  putAll(table: string, items: readonly Record<string, unknown>[]): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalDynamo(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const raw = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const client = DynamoDBDocumentClient.from(raw);
  return {
    client,
    endpoint,
    async createSourceTable(name, keys = { date: 'date', id: 'id' }) {
      await raw.send(new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: keys.date, AttributeType: 'S' }, { AttributeName: keys.id, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: keys.date, KeyType: 'HASH' }, { AttributeName: keys.id, KeyType: 'RANGE' }],
      }));
    },
    async createKeyedTable(name, key) {
      await raw.send(new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
      }));
    },
    async putAll(table, items) {
      for (const chunk of chunks(items, 25)) {
        let pending = chunk.map((item) => ({ PutRequest: { Item: item } }));
        while (pending.length > 0) {
          const response = await client.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
          pending = (response.UnprocessedItems?.[table] as typeof pending | undefined) ?? [];
        }
      }
    },
    async close() {
      raw.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
