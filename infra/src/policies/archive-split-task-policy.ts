/**
 * The task role of an archive-split pipeline (`job: "archive-split"`), as plain IAM statements. Like
 * worker-task-policy.ts it imports no cdktf, so a local emulator can evaluate the very statements the stack attaches.
 *
 * The worker consumes its own queue; reads archives under the archive prefix of the source bucket and under the export
 * prefixes of the other allowed buckets; writes batch ZIPs (multipart) under the output prefix of each allowed bucket,
 * the archive's own; lists each allowed bucket only under those prefixes; and sends callbacks to exactly the callback
 * queues. Nothing else: no write outside the output prefix, no `*`.
 */
import { dataKeyStatements, ownQueueStatements, type PolicyStatement } from './worker-task-policy';

export interface ArchiveSplitTaskPolicyInput {
  readonly queueArn: string;
  readonly deadLetterQueueArn: string;
  readonly sourceBucketArn: string;
  /** Where archives are uploaded in the source bucket (never empty: see archive-split-settings.ts). */
  readonly archivePrefix: string;
  /** The other buckets requests may name, as ARNs. */
  readonly extraBucketArns: readonly string[];
  /** Where in those buckets archives may live; '' for anywhere. */
  readonly exportPrefixes: readonly string[];
  /** Where batch ZIPs go, in every allowed bucket (never empty). */
  readonly outputPrefix: string;
  /** The queues callbacks may be sent to. */
  readonly callbackQueueArns: readonly string[];
  /** The customer-managed key of the stack's buckets and queues, when there is one. */
  readonly kmsKeyArn?: string;
}

/** The statement ids the security-policy aspect finds an archive-split role's reads and writes by (beside WORKER_STATEMENT_IDS.consume). */
export const ARCHIVE_SPLIT_STATEMENT_IDS = Object.freeze({
  readArchives: 'ReadTheArchives',
  writeBatches: 'WriteAndCheckBatchZips',
  listSource: 'MissingKeysAnswer404InTheSourceBucket',
  /** One per further bucket, numbered from 1 in the order of archiveSplit.buckets. */
  listBucket: (index: number) => `MissingKeysAnswer404InBucket${index}`,
  sendUpdates: 'SendCallbacksToTheUpdatesQueues',
});

/**
 * The actions on the batch ZIPs: PutObject covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload;
 * AbortMultipartUpload lets a failed upload be cleaned up at once (the bucket's lifecycle rule aborts the rest after 7
 * days); GetObject answers the HEAD by which a redelivered archive skips the parts already uploaded.
 */
export const BATCH_ZIP_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'] as const;

/**
 * s3:ListBucket on a bucket, only under the given prefixes: S3 answers a HEAD of a missing key with 404 only when the
 * caller may list the bucket (403 otherwise), and the job tells "not uploaded yet" by that 404. With a '' prefix the
 * role may already read anything in the bucket, so the listing is not narrowed (a listing without a prefix carries no
 * s3:prefix key, which a StringLike would never match).
 */
function listUnderPrefixes(sid: string, bucketArn: string, prefixes: readonly string[]): PolicyStatement {
  if (prefixes.includes('')) return { Sid: sid, Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucketArn };
  return { Sid: sid, Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucketArn, Condition: { StringLike: { 's3:prefix': [...new Set(prefixes)].map((prefix) => `${prefix}*`) } } };
}

/** The archive-split worker's task role. */
export function archiveSplitTaskPolicyStatements(input: ArchiveSplitTaskPolicyInput): PolicyStatement[] {
  const buckets = [input.sourceBucketArn, ...input.extraBucketArns];
  return [
    ...ownQueueStatements(input),
    {
      Sid: ARCHIVE_SPLIT_STATEMENT_IDS.readArchives, Effect: 'Allow', Action: ['s3:GetObject'],
      Resource: [`${input.sourceBucketArn}/${input.archivePrefix}*`, ...input.extraBucketArns.flatMap((bucket) => input.exportPrefixes.map((prefix) => `${bucket}/${prefix}*`))],
    },
    { Sid: ARCHIVE_SPLIT_STATEMENT_IDS.writeBatches, Effect: 'Allow', Action: [...BATCH_ZIP_ACTIONS], Resource: buckets.map((bucket) => `${bucket}/${input.outputPrefix}*`) },
    listUnderPrefixes(ARCHIVE_SPLIT_STATEMENT_IDS.listSource, input.sourceBucketArn, [input.outputPrefix, input.archivePrefix]),
    ...input.extraBucketArns.map((bucket, index) => listUnderPrefixes(ARCHIVE_SPLIT_STATEMENT_IDS.listBucket(index + 1), bucket, [input.outputPrefix, ...input.exportPrefixes])),
    { Sid: ARCHIVE_SPLIT_STATEMENT_IDS.sendUpdates, Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [...input.callbackQueueArns] },
    ...dataKeyStatements(input.kmsKeyArn),
  ];
}
