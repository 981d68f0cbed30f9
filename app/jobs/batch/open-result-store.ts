import type { ResultStoreSettings } from './batch-settings';
import type { ResultStore } from './result-store';

export interface OpenedResultStore {
  readonly store: ResultStore;
  close(): Promise<void>;
}

/** The configured store's adapter, its driver imported only when chosen: a DynamoDB task never loads the MongoDB driver. */
export async function openResultStore(settings: ResultStoreSettings): Promise<OpenedResultStore> {
  if (settings.kind === 'dynamodb') {
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
    const { DynamoDbResultStore } = await import('./dynamodb-result-store');
    const raw = new DynamoDBClient({ ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}), maxAttempts: 5 });
    const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    return { store: new DynamoDbResultStore(client, { table: settings.table }), close: async () => client.destroy() };
  }
  const { MongoClient } = await import('mongodb');
  const { MongoDbResultStore } = await import('./mongodb-result-store');
  const { mongoClientOptions } = await import('./mongodb-settings');
  const client = new MongoClient(settings.mongodb.uri, mongoClientOptions(settings.mongodb));
  await client.connect();
  const collection = client.db(settings.mongodb.database).collection(settings.mongodb.collection);
  return { store: new MongoDbResultStore(collection as never), close: () => client.close() };
}
