import { Construct, Fn } from '../framework/core';
import { SqsQueue, SqsQueuePolicy, SqsQueueRedriveAllowPolicy } from '../framework/aws';
import { arnPart } from '../arn-part';

export interface WorkQueueProps {
  readonly name: string;
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
  /** How long the work queue keeps a message (SQS allows 60 s to 14 days). */
  readonly retentionSeconds: number;
  /**
   * How long the DLQ keeps a message: longer than retentionSeconds, because a message the redrive policy moves into a
   * standard queue's DLQ keeps its original enqueue time: with equal retentions, one that waited long in the work
   * queue would expire from the DLQ soon after it arrived.
   */
  readonly deadLetterRetentionSeconds: number;
  /**
   * The bucket whose events may be sent here, and nothing else. Absent for a queue fed by messages (a fan-out group's
   * family or aggregator): no S3 event may be sent to it, and only identities in the account with an IAM grant send.
   */
  readonly sourceBucketArn?: string;
  /** SSE-KMS with this key (its policy must let S3 use it); SSE-SQS when absent. */
  readonly kmsKeyArn?: string;
}

/** Receives SQS allows beyond the worker's own last attempt before it moves a message to the DLQ itself. */
export const REDRIVE_MARGIN = 2;

const denyInsecureTransport = (queueArn: string) => ({
  Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'sqs:*', Resource: queueArn, Condition: { Bool: { 'aws:SecureTransport': 'false' } },
});

/** The job queue and its dead-letter queue, encrypted, long-polled, with redrive both ways. */
export class WorkQueue extends Construct {
  readonly queue: SqsQueue;
  readonly deadLetterQueue: SqsQueue;
  readonly policy: SqsQueuePolicy;
  /** The attempt on which the worker dead-letters a failing record itself, with its reason (MAX_RECEIVE_COUNT). */
  readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);
    if (props.deadLetterRetentionSeconds <= props.retentionSeconds) {
      throw new Error(
        `WorkQueue ${props.name}: deadLetterRetentionSeconds (${props.deadLetterRetentionSeconds}) must be longer than retentionSeconds ` +
        `(${props.retentionSeconds}): a redriven message keeps its original enqueue time, so it could expire from the DLQ as soon as it arrives`,
      );
    }
    this.maxReceiveCount = props.maxReceiveCount;
    const encryption = props.kmsKeyArn !== undefined
      // Reusing a data key for 5 minutes keeps KMS calls, and their cost, far below one per message.
      ? { kmsMasterKeyId: props.kmsKeyArn, kmsDataKeyReusePeriodSeconds: 300 }
      : { sqsManagedSseEnabled: true };
    this.deadLetterQueue = new SqsQueue(this, 'dlq', { name: `${props.name}-dlq`, messageRetentionSeconds: props.deadLetterRetentionSeconds, ...encryption });
    this.queue = new SqsQueue(this, 'queue', {
      name: props.name,
      visibilityTimeoutSeconds: props.visibilityTimeoutSeconds,
      receiveWaitTimeSeconds: 20,
      messageRetentionSeconds: props.retentionSeconds,
      ...encryption,
      // SQS's redrive is the backstop for a task that dies: a few receives beyond the worker's own last attempt, so a
      // Spot stop or a lost visibility on that attempt still leaves the worker to dead-letter it with its reason.
      redrivePolicy: JSON.stringify({ deadLetterTargetArn: this.deadLetterQueue.arn, maxReceiveCount: props.maxReceiveCount + REDRIVE_MARGIN }),
    });
    new SqsQueueRedriveAllowPolicy(this, 'redrive-allow', {
      queueUrl: this.deadLetterQueue.url,
      redriveAllowPolicy: JSON.stringify({ redrivePermission: 'byQueue', sourceQueueArns: [this.queue.arn] }),
    });
    this.policy = new SqsQueuePolicy(this, 'policy', {
      queueUrl: this.queue.url,
      policy: props.sourceBucketArn === undefined
        ? JSON.stringify({ Version: '2012-10-17', Statement: [denyInsecureTransport(this.queue.arn)] })
        : Fn.jsonencode({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'S3EventsFromTheSourceBucketOnly', Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'sqs:SendMessage',
              Resource: this.queue.arn,
              // The account is read from the queue's own ARN, so the plan needs no caller-identity lookup.
              Condition: { ArnEquals: { 'aws:SourceArn': props.sourceBucketArn }, StringEquals: { 'aws:SourceAccount': arnPart(this.queue.arn, 4) } },
            },
            denyInsecureTransport(this.queue.arn),
          ],
        }),
    });
    new SqsQueuePolicy(this, 'dlq-policy', {
      queueUrl: this.deadLetterQueue.url,
      policy: JSON.stringify({ Version: '2012-10-17', Statement: [denyInsecureTransport(this.deadLetterQueue.arn)] }),
    });
  }
}
