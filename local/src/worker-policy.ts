import type { DemoRole } from '../../app/src/job/job-demo';
import { archiveSplitTaskPolicyStatements } from '../../infra/src/policies/archive-split-task-policy';
import { fanoutTaskPolicyStatements } from '../../infra/src/policies/fanout-task-policy';
import { workerTaskPolicyStatements, type PolicyStatement } from '../../infra/src/policies/worker-task-policy';

/** The local queue has no ARN; these stand in for it in the statements (only the S3 ones are evaluated locally). */
const LOCAL_QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:local-queue';
const LOCAL_DEAD_LETTER_QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:local-queue-dlq';

/**
 * The very statements the infra attaches to the Fargate task role, for the local buckets (`arn:aws:s3:::<name>`)
 * and the worker's SOURCE_PREFIX and DEST_PREFIX as loadConfig normalised them: the local worker, behind the strict
 * S3 front, may do exactly what the deployed one may.
 */
export function localWorkerStatements(input: {
  readonly sourceBucket: string;
  readonly sourcePrefix: string;
  readonly destBucket: string;
  readonly destPrefix: string;
}): PolicyStatement[] {
  return workerTaskPolicyStatements({
    queueArn: LOCAL_QUEUE_ARN,
    deadLetterQueueArn: LOCAL_DEAD_LETTER_QUEUE_ARN,
    sourceBucketArn: `arn:aws:s3:::${input.sourceBucket}`,
    sourcePrefix: input.sourcePrefix,
    destBucketArn: `arn:aws:s3:::${input.destBucket}`,
    destPrefix: input.destPrefix,
  });
}

/** A local queue's stand-in ARN, by pipeline name (only the S3 statements are evaluated locally). */
const localQueueArn = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

/**
 * The statements of any task role a local pipeline runs as: an object job's (above), or a fan-out group member's,
 * exactly as infra/src/policies/fanout-task-policy.ts writes them for the stack.
 */
export function localRoleStatements(role: DemoRole, input: {
  readonly pipeline: string;
  readonly sourceBucket: string;
  readonly sourcePrefix: string;
  readonly destBucket: string;
  readonly destPrefix: string;
}): PolicyStatement[] {
  if (role.kind === 'object') return localWorkerStatements(input);
  if (role.kind === 'archive-split') {
    return archiveSplitTaskPolicyStatements({
      queueArn: localQueueArn(input.pipeline),
      deadLetterQueueArn: localQueueArn(`${input.pipeline}-dlq`),
      sourceBucketArn: `arn:aws:s3:::${input.sourceBucket}`,
      archivePrefix: input.sourcePrefix,
      extraBucketArns: [],
      exportPrefixes: [''],
      outputPrefix: role.outputPrefix,
      callbackQueueArns: [localQueueArn(`${input.pipeline}-updates`)],
    });
  }
  return fanoutTaskPolicyStatements({
    role: role.kind === 'fanout' ? { kind: 'fanout', familyQueueArns: role.families.map(localQueueArn) }
      : role.kind === 'family' ? { kind: 'family', family: role.family, aggregatorQueueArn: localQueueArn(role.aggregator) }
      : { kind: 'aggregator' },
    queueArn: localQueueArn(input.pipeline),
    deadLetterQueueArn: localQueueArn(`${input.pipeline}-dlq`),
    sourceBucketArn: `arn:aws:s3:::${input.sourceBucket}`,
    sourcePrefix: input.sourcePrefix,
    destBucketArn: `arn:aws:s3:::${input.destBucket}`,
    root: input.destPrefix,
  });
}
