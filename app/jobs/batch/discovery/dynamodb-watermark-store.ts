import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { WatermarkStore } from './watermark-store';

export interface DynamoDbWatermarkStoreOptions {
  /** A small state table with partition key `name` (S). */
  readonly table: string;
}

/**
 * One item per date, `watermark#<date>` with `lastId`. The advance is a conditional write, so two runs of the same
 * date (a schedule overlapping a one-off, a backfill) cannot move it backwards whichever writes last.
 */
export class DynamoDbWatermarkStore implements WatermarkStore {
  constructor(private readonly client: DynamoDBDocumentClient, private readonly options: DynamoDbWatermarkStoreOptions) {}

  async read(date: string): Promise<string | undefined> {
    const response = await this.client.send(new GetCommand({
      TableName: this.options.table,
      Key: { name: itemName(date) },
      ConsistentRead: true,
    }));
    const lastId = response.Item?.lastId;
    if (lastId !== undefined && typeof lastId !== 'string') throw new Error(`${this.options.table}: item ${itemName(date)} has a lastId that is not a string`);
    return lastId;
  }

  async advance(date: string, id: string): Promise<void> {
    try {
      await this.client.send(new UpdateCommand({
        TableName: this.options.table,
        Key: { name: itemName(date) },
        UpdateExpression: 'SET lastId = :id, updatedAt = :now',
        ConditionExpression: 'attribute_not_exists(lastId) OR lastId < :id',
        ExpressionAttributeValues: { ':id': id, ':now': new Date().toISOString() },
      }));
    } catch (error) {
      // The watermark is already at or past this id: what this call wanted is already true.
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return;
      throw error;
    }
  }
}

function itemName(date: string): string {
  return `watermark#${date}`;
}
