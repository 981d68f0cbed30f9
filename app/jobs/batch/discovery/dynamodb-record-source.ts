import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseRecordMessage, recordMessageBody, RecordMessageError, type RecordMessage } from '../record-message';
import type { InvalidSourceRecord, RecordSource, SourcePage } from './record-source';

/** The source table's attribute names; the id attribute must be its sort key and the date attribute its partition key. */
export interface SourceAttributes {
  readonly id: string;
  readonly date: string;
  readonly bucket: string;
  readonly key: string;
}

export const DEFAULT_SOURCE_ATTRIBUTES: SourceAttributes = Object.freeze({ id: 'id', date: 'date', bucket: 'bucket', key: 'key' });

export interface DynamoDbRecordSourceOptions {
  readonly table: string;
  readonly attributes?: Partial<SourceAttributes>;
}

/**
 * Reads one date's partition with Query in sort-key order (`#id > :after`, ScanIndexForward), so the order is the
 * table's own and costs no sorting. Queries continue with LastEvaluatedKey until `limit` items or the partition's end:
 * DynamoDB stops a page at 1 MB whatever the Limit.
 */
export class DynamoDbRecordSource implements RecordSource {
  private readonly names: SourceAttributes;

  constructor(private readonly client: DynamoDBDocumentClient, private readonly options: DynamoDbRecordSourceOptions) {
    this.names = { ...DEFAULT_SOURCE_ATTRIBUTES, ...options.attributes };
  }

  async page(date: string, afterId: string | undefined, limit: number): Promise<SourcePage> {
    const records: RecordMessage[] = [];
    const invalid: InvalidSourceRecord[] = [];
    let lastId: string | undefined;
    let startKey: Record<string, unknown> | undefined;
    do {
      const response = await this.client.send(new QueryCommand({
        TableName: this.options.table,
        KeyConditionExpression: afterId === undefined ? '#date = :date' : '#date = :date AND #id > :after',
        ExpressionAttributeNames: { '#date': this.names.date, '#id': this.names.id, '#bucket': this.names.bucket, '#key': this.names.key },
        ExpressionAttributeValues: afterId === undefined ? { ':date': date } : { ':date': date, ':after': afterId },
        ProjectionExpression: '#id, #bucket, #key',
        ScanIndexForward: true,
        ConsistentRead: true,
        Limit: limit - records.length - invalid.length,
        ExclusiveStartKey: startKey,
      }));
      for (const item of response.Items ?? []) {
        const id = item[this.names.id];
        // The sort key is a string in any table this can query; anything else is a misconfigured id attribute.
        if (typeof id !== 'string') throw new Error(`table ${this.options.table}: attribute "${this.names.id}" is not a string sort key; set the id attribute's name to the table's sort key`);
        lastId = id;
        const record = this.normalise(id, date, item);
        if ('problem' in record) invalid.push(record);
        else records.push(record);
      }
      startKey = response.LastEvaluatedKey;
    } while (startKey !== undefined && records.length + invalid.length < limit);
    return { records, invalid, more: startKey !== undefined, lastId };
  }

  /** The record as a message, checked by the same rules the worker parses it with, or the reason it cannot be one. */
  private normalise(id: string, date: string, item: Record<string, unknown>): RecordMessage | InvalidSourceRecord {
    const text = (role: 'bucket' | 'key'): string | InvalidSourceRecord => {
      const value = item[this.names[role]];
      if (value === undefined || value === null) return { id, problem: `attribute "${this.names[role]}" (the ${role}) is missing` };
      if (typeof value !== 'string') return { id, problem: `attribute "${this.names[role]}" (the ${role}) is a ${typeof value}, not a string` };
      return value;
    };
    const bucket = text('bucket');
    if (typeof bucket !== 'string') return bucket;
    const key = text('key');
    if (typeof key !== 'string') return key;
    try {
      return parseRecordMessage(recordMessageBody({ id, bucket, key, date }));
    } catch (error) {
      if (error instanceof RecordMessageError) return { id: id.slice(0, 300), problem: `${error.message} (source attributes ${this.names.id}, ${this.names.bucket}, ${this.names.key})` };
      throw error;
    }
  }
}
