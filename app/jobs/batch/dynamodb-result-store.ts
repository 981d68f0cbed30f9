import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { chunks, type ResultStore, type ScoredResult, type WriteOutcome } from './result-store';

/** DynamoDB's own limits: BatchWriteItem takes 25 items, BatchGetItem 100 keys. */
const MAX_WRITE_BATCH = 25;
const MAX_READ_BATCH = 100;
/** Unprocessed items and keys are retried with backoff this many times before they count as failed. */
const UNPROCESSED_RETRIES = 5;

export interface DynamoDbResultStoreOptions {
  readonly table: string;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Results in a DynamoDB table keyed by `id` (on-demand billing scales to zero with the rest of the stack). Bulk writes
 * are BatchWriteItem puts, so the same id written twice is one item; items DynamoDB leaves unprocessed (throttling)
 * are retried with backoff and reported failed if they stay so, never reported written.
 */
export class DynamoDbResultStore implements ResultStore {
  readonly name = 'dynamodb';
  readonly maxWriteBatch = MAX_WRITE_BATCH;
  readonly maxReadBatch = MAX_READ_BATCH;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly client: DynamoDBDocumentClient, private readonly options: DynamoDbResultStoreOptions) {
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async existing(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const chunk of chunks([...new Set(ids)], MAX_READ_BATCH)) {
      let keys: Record<string, unknown>[] = chunk.map((id) => ({ id }));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > UNPROCESSED_RETRIES) throw new Error(`DynamoDB left ${keys.length} keys of ${this.options.table} unprocessed after ${UNPROCESSED_RETRIES} retries`);
        if (attempt > 0) await this.sleep(backoffMs(attempt));
        const response = await this.client.send(new BatchGetCommand({
          // Strongly consistent: a result written a moment ago (a redelivery racing its first copy) is seen and skipped.
          RequestItems: { [this.options.table]: { Keys: keys, ConsistentRead: true, ProjectionExpression: '#id', ExpressionAttributeNames: { '#id': 'id' } } },
        }));
        for (const item of response.Responses?.[this.options.table] ?? []) found.add(String(item.id));
        keys = (response.UnprocessedKeys?.[this.options.table]?.Keys as Record<string, unknown>[] | undefined) ?? [];
      }
    }
    return found;
  }

  async write(results: readonly ScoredResult[]): Promise<WriteOutcome> {
    // One item per id: BatchWriteItem refuses a batch naming the same key twice.
    const latest = new Map(results.map((result) => [result.id, result]));
    const written: string[] = [];
    const failed: { id: string; reason: string }[] = [];
    for (const chunk of chunks([...latest.values()], MAX_WRITE_BATCH)) {
      let pending = chunk.map((result) => ({ PutRequest: { Item: { ...result } } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > UNPROCESSED_RETRIES) {
          failed.push(...pending.map((request) => ({ id: request.PutRequest.Item.id, reason: `unprocessed by DynamoDB after ${UNPROCESSED_RETRIES} retries` })));
          break;
        }
        if (attempt > 0) await this.sleep(backoffMs(attempt));
        let unprocessed: typeof pending;
        try {
          const response = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.options.table]: pending } }));
          unprocessed = (response.UnprocessedItems?.[this.options.table] as typeof pending | undefined) ?? [];
        } catch (error) {
          // The whole call failed (the SDK's own retries spent): none of this chunk is known durable.
          failed.push(...pending.map((request) => ({ id: request.PutRequest.Item.id, reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })));
          break;
        }
        const left = new Set(unprocessed.map((request) => request.PutRequest.Item.id));
        written.push(...pending.map((request) => request.PutRequest.Item.id).filter((id) => !left.has(id)));
        pending = pending.filter((request) => left.has(request.PutRequest.Item.id));
      }
    }
    return { written, failed };
  }
}

function backoffMs(attempt: number): number {
  return Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2);
}
