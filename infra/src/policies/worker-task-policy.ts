/**
 * What the worker task may do, as plain IAM statements. This module imports nothing (no cdktf, no provider): the
 * stack attaches these statements to the task role, and the local S3 emulator evaluates the very same ones to decide
 * what the local worker may do, so both sides answer 403 and 404 alike.
 */

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface WorkerTaskPolicyInput {
  readonly queueArn: string;
  readonly deadLetterQueueArn: string;
  readonly sourceBucketArn: string;
  /** '' for the whole bucket. */
  readonly sourcePrefix: string;
  /**
   * Reads narrowed to keys with these endings under the prefix (`<prefix>*<suffix>`); absent or empty: every key
   * under the prefix. Pipelines that share the source bucket use it so each reads only the keys its filters send it.
   */
  readonly sourceSuffixes?: readonly string[];
  readonly destBucketArn: string;
  /** '' for the whole bucket. */
  readonly destPrefix: string;
  /** The customer-managed key of the queues and buckets, when there is one. */
  readonly kmsKeyArn?: string;
}

/** The statement ids the security-policy aspect finds a worker role's queue, reads and writes by. */
export const WORKER_STATEMENT_IDS = Object.freeze({
  consume: 'ConsumeAndRequeueOnTheWorkQueue',
  readSource: 'ReadSourceObjects',
  writeOutputs: 'WriteAndCheckOutputs',
});

/**
 * s3:ListBucket on a bucket, limited to listing under `prefix`. S3 answers a GET or HEAD of a missing key with 404
 * only when the caller may list the bucket, and with 403 otherwise, so the worker needs this to tell "gone" (a
 * permanent failure) from "forbidden".
 */
export function listUnder(sid: string, bucketArn: string, prefix: string): PolicyStatement {
  // With an empty prefix the role may already read (or write) every key, so listing the whole bucket discloses
  // nothing more, and the condition is left out: a ListObjects without a prefix parameter carries no s3:prefix
  // key at all, and a StringLike on a key that is absent never matches, so a `*` condition would deny exactly that.
  if (prefix === '') return { Sid: sid, Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucketArn };
  return { Sid: sid, Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucketArn, Condition: { StringLike: { 's3:prefix': [`${prefix}*`] } } };
}

/** The task role's statements: consume and re-queue on the work queue, dead-letter, read the source prefix, write the destination prefix. */
export function workerTaskPolicyStatements(input: WorkerTaskPolicyInput): PolicyStatement[] {
  return [
    ...ownQueueStatements(input),
    { Sid: WORKER_STATEMENT_IDS.readSource, Effect: 'Allow', Action: ['s3:GetObject'], Resource: sourceObjects(input) },
    listUnder('MissingSourceKeyAnswers404', input.sourceBucketArn, input.sourcePrefix),
    // GetObject too: a redelivered message HEADs its outputs, and skips the work when they already match the source's ETag.
    // AbortMultipartUpload: a large output (a program's) goes multipart, and a failed one is aborted so its parts are
    // not billed until the bucket's 7-day rule.
    { Sid: WORKER_STATEMENT_IDS.writeOutputs, Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], Resource: `${input.destBucketArn}/${input.destPrefix}*` },
    listUnder('MissingOutputAnswers404', input.destBucketArn, input.destPrefix),
    ...dataKeyStatements(input.kmsKeyArn),
  ];
}

/** Every worker role's hold on its own pipeline's queue and DLQ. */
export function ownQueueStatements(input: { readonly queueArn: string; readonly deadLetterQueueArn: string }): PolicyStatement[] {
  return [
    {
      // SendMessage here re-queues the records of a multi-record message that still need a retry. No
      // GetQueueAttributes: the worker never reads the queue's depth (the scaler and the operator commands do).
      Sid: WORKER_STATEMENT_IDS.consume,
      Effect: 'Allow',
      Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage'],
      Resource: input.queueArn,
    },
    // The worker dead-letters what cannot succeed, and its last allowed attempt, itself, with the reasons attached.
    { Sid: 'DeadLetterWithReasons', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: input.deadLetterQueueArn },
  ];
}

/**
 * With the customer-managed key, which encrypts the buckets and every queue: Decrypt to read encrypted messages and
 * objects; GenerateDataKey to write objects and send to an encrypted queue (SendMessage to a KMS queue needs both).
 */
export function dataKeyStatements(kmsKeyArn: string | undefined): PolicyStatement[] {
  return kmsKeyArn !== undefined ? [{ Sid: 'UseTheDataKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: kmsKeyArn }] : [];
}

function sourceObjects(input: WorkerTaskPolicyInput): string | string[] {
  const under = `${input.sourceBucketArn}/${input.sourcePrefix}*`;
  const suffixes = input.sourceSuffixes ?? [];
  return suffixes.length === 0 ? under : suffixes.map((suffix) => `${under}${suffix}`);
}

/** The ARNs a pipeline's task role is scoped to. */
export interface PipelineResourceArns {
  readonly queueArn: string;
  readonly deadLetterQueueArn: string;
  readonly sourceBucketArn: string;
  readonly destBucketArn: string;
  readonly kmsKeyArn?: string;
}

/**
 * One pipeline's task role: its queue and DLQ, its source prefix (narrowed to its suffixes when `shareSource`, i.e.
 * when other pipelines read the same bucket) and its destination prefix, nothing of any other pipeline.
 */
export function pipelineTaskPolicyStatements(
  // Structurally infra's PipelineConfig: this module imports nothing, so the local emulator loads it without cdktf.
  pipeline: { readonly sourcePrefix: string; readonly sourceSuffixes: readonly string[]; readonly destPrefix: string },
  arns: PipelineResourceArns,
  options: { readonly shareSource: boolean },
): PolicyStatement[] {
  return workerTaskPolicyStatements({
    ...arns,
    sourcePrefix: pipeline.sourcePrefix,
    destPrefix: pipeline.destPrefix,
    ...(options.shareSource ? { sourceSuffixes: pipeline.sourceSuffixes } : {}),
  });
}
