import { Construct } from '../framework/core';
import { SqsQueue, SqsQueuePolicy } from '../framework/aws';

export interface UpdatesQueueProps {
  readonly name: string;
  /** How long a callback waits for its reader (SQS allows 60 s to 14 days). */
  readonly retentionSeconds: number;
  /** SSE-KMS with this key; SSE-SQS when absent. */
  readonly kmsKeyArn?: string;
}

/**
 * A queue the workers send callback messages to (an archive-split pipeline's "updates", when it names none of yours):
 * encrypted as the work queues are, long-polled, TLS-only. Whoever reads it is granted that by their own IAM policy;
 * the queue policy only refuses plain HTTP.
 */
export class UpdatesQueue extends Construct {
  readonly queue: SqsQueue;
  readonly policy: SqsQueuePolicy;

  constructor(scope: Construct, id: string, props: UpdatesQueueProps) {
    super(scope, id);
    const encryption = props.kmsKeyArn !== undefined
      ? { kmsMasterKeyId: props.kmsKeyArn, kmsDataKeyReusePeriodSeconds: 300 }
      : { sqsManagedSseEnabled: true };
    this.queue = new SqsQueue(this, 'queue', { name: props.name, receiveWaitTimeSeconds: 20, messageRetentionSeconds: props.retentionSeconds, ...encryption });
    this.policy = new SqsQueuePolicy(this, 'policy', {
      queueUrl: this.queue.url,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{
          Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'sqs:*', Resource: this.queue.arn, Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }],
      }),
    });
  }
}
