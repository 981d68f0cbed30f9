/**
 * The task roles of a manifest fan-out group, as plain IAM statements: the fan-out (manifest) worker, each family's
 * worker and the aggregator. Like worker-task-policy.ts it needs no cdktf (the run layout it imports is pure), so a
 * local emulator can evaluate the very statements the stack attaches.
 *
 * Each role keeps its own queue and DLQ; in the destination bucket it reads and lists the group's run root and writes
 * only the run keys that are its own (run-layout.ts `writablePatterns`). Manifests list source keys under the
 * fan-out pipeline's source prefix, and nowhere else: that prefix is all the fan-out and family roles may read from
 * the source bucket.
 */
import { writablePatterns } from '../../../shared/fanout/run-layout';
import { dataKeyStatements, listUnder, ownQueueStatements, type PolicyStatement } from './worker-task-policy';

/** A group member's part, with what its role is scoped to beyond its own queue. */
export type FanoutRole =
  /** The manifest worker: sends each batch to these families' queues. */
  | { readonly kind: 'fanout'; readonly familyQueueArns: readonly string[] }
  /** A family's worker: writes only its own family's run keys, and tells the aggregator's queue. */
  | { readonly kind: 'family'; readonly family: string; readonly aggregatorQueueArn: string }
  | { readonly kind: 'aggregator' };

export interface FanoutTaskPolicyInput {
  readonly role: FanoutRole;
  readonly queueArn: string;
  readonly deadLetterQueueArn: string;
  readonly sourceBucketArn: string;
  /** The fan-out pipeline's source prefix: its manifests, and every key they may list ('' for the whole bucket). */
  readonly sourcePrefix: string;
  readonly destBucketArn: string;
  /** The group's run root in the destination bucket: the fan-out pipeline's destPrefix, e.g. `runs/`. */
  readonly root: string;
  readonly kmsKeyArn?: string;
}

/** The statement ids the security-policy aspect finds a group role's reads and writes by (beside WORKER_STATEMENT_IDS). */
export const FANOUT_STATEMENT_IDS = Object.freeze({
  readSources: 'ReadManifestListedSources',
  listSources: 'ListSourcesUnderThePrefix',
  readRuns: 'ReadTheGroupsRuns',
  listRuns: 'ListTheGroupsRuns',
  writeRuns: 'WriteOwnRunKeys',
  sendBatches: 'SendBatchesToTheFamilies',
  triggerAggregator: 'TriggerTheAggregator',
  peekDeadLetters: 'ReconcileOwnDeadLetters',
});

/** The role's statements: its queue and DLQ, its reads and lists, its own run keys, the queues it sends to, the key. */
export function fanoutTaskPolicyStatements(input: FanoutTaskPolicyInput): PolicyStatement[] {
  const { role } = input;
  const runs = `${input.destBucketArn}/${input.root}*`;
  const inDest = (patterns: readonly string[]) => patterns.map((pattern) => `${input.destBucketArn}/${pattern}`);
  // The fan-out worker reads manifests and lists a prefix a manifest names; a family reads the keys its batch lists,
  // and lists them so a missing one answers 404 (failed in the summary) rather than 403.
  const sources: PolicyStatement[] = role.kind === 'aggregator' ? [] : [
    { Sid: FANOUT_STATEMENT_IDS.readSources, Effect: 'Allow', Action: ['s3:GetObject'], Resource: `${input.sourceBucketArn}/${input.sourcePrefix}*` },
    listUnder(FANOUT_STATEMENT_IDS.listSources, input.sourceBucketArn, input.sourcePrefix),
  ];
  // Every member reads the run's records (run, batches, results, ledger) and lists them: the ledger is read by listing.
  const readRuns: PolicyStatement[] = [
    { Sid: FANOUT_STATEMENT_IDS.readRuns, Effect: 'Allow', Action: ['s3:GetObject'], Resource: runs },
    listUnder(FANOUT_STATEMENT_IDS.listRuns, input.destBucketArn, input.root),
  ];
  const writes: PolicyStatement[] = role.kind === 'fanout'
    ? [
      { Sid: FANOUT_STATEMENT_IDS.writeRuns, Effect: 'Allow', Action: ['s3:PutObject'], Resource: inDest(writablePatterns.fanout(input.root)) },
      { Sid: FANOUT_STATEMENT_IDS.sendBatches, Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [...role.familyQueueArns] },
    ]
    // Families and the aggregator may write large outputs, which go multipart: a failed one is aborted, not billed for
    // a week. The family's trigger goes to the aggregator's queue only.
    : role.kind === 'family'
      ? [
        { Sid: FANOUT_STATEMENT_IDS.writeRuns, Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: inDest(writablePatterns.family(input.root, role.family)) },
        { Sid: FANOUT_STATEMENT_IDS.triggerAggregator, Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: role.aggregatorQueueArn },
        // A family looks at its own DLQ as it exits (a receive with visibility 0: nothing is taken), so a batch SQS
        // dead-lettered when its task died is settled failed and its run still ends (reconcile-dead-letters.ts).
        { Sid: FANOUT_STATEMENT_IDS.peekDeadLetters, Effect: 'Allow', Action: ['sqs:ReceiveMessage'], Resource: input.deadLetterQueueArn },
      ]
      : [{ Sid: FANOUT_STATEMENT_IDS.writeRuns, Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: inDest(writablePatterns.aggregator(input.root)) }];
  return [...ownQueueStatements(input), ...sources, ...readRuns, ...writes, ...dataKeyStatements(input.kmsKeyArn)];
}
