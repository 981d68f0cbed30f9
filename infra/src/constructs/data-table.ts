import { Construct } from '../framework/core';
import { DynamodbResourcePolicy, DynamodbTable } from '../framework/aws';

export interface DataTableProps {
  readonly name: string;
  /** The partition key, a string attribute. */
  readonly partitionKey: string;
  /** The sort key, a string attribute, when the table has one. */
  readonly sortKey?: string;
  /** SSE-KMS with this key; the AWS-managed key (`aws/dynamodb`) when absent. */
  readonly kmsKeyArn?: string;
  /** Refuse DeleteTable (and so `cdktf destroy`) while on: off only with the stack's forceDestroy (demos). */
  readonly deletionProtection: boolean;
}

/**
 * One DynamoDB table of the blueprint: on demand (no capacity to pay for while idle: it scales to zero), encrypted at
 * rest with KMS, point-in-time recovery on (35 days of restores), deletion protection unless the stack is a demo, and
 * a resource policy that refuses requests without TLS (DynamoDB's endpoints also answer plain HTTP), as the buckets'
 * and queues' policies do.
 */
export class DataTable extends Construct {
  readonly table: DynamodbTable;
  readonly policy: DynamodbResourcePolicy;

  constructor(scope: Construct, id: string, props: DataTableProps) {
    super(scope, id);
    this.table = new DynamodbTable(this, 'table', {
      name: props.name,
      billingMode: 'PAY_PER_REQUEST',
      hashKey: props.partitionKey,
      ...(props.sortKey !== undefined ? { rangeKey: props.sortKey } : {}),
      attribute: [props.partitionKey, ...(props.sortKey !== undefined ? [props.sortKey] : [])].map((name) => ({ name, type: 'S' })),
      serverSideEncryption: { enabled: true, ...(props.kmsKeyArn !== undefined ? { kmsKeyArn: props.kmsKeyArn } : {}) },
      pointInTimeRecovery: { enabled: true },
      deletionProtectionEnabled: props.deletionProtection,
    });
    this.policy = new DynamodbResourcePolicy(this, 'tls-only', {
      resourceArn: this.table.arn,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{
          Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'dynamodb:*', Resource: this.table.arn,
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }],
      }),
    });
  }
}
