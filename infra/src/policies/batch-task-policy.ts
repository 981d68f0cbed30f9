/**
 * The roles of a batch pipeline (`job: "batch"`), as plain IAM statements: the batch worker's task role, the
 * discovery task's role, and the role EventBridge runs discovery with. Like worker-task-policy.ts it imports no cdktf,
 * so a local emulator can evaluate the very statements the stack attaches.
 *
 * The worker consumes its own queue, reads the audio files its records point at (one bucket, one prefix), and reads
 * and writes its results table; discovery queries the source table, keeps its watermark in the state table, checks
 * the results table for records already scored, and sends to the batch queue. Nothing else.
 */
import { dataKeyStatements, listUnder, ownQueueStatements, type PolicyStatement } from './worker-task-policy';

export interface BatchTaskPolicyInput {
  readonly queueArn: string;
  readonly deadLetterQueueArn: string;
  /** The bucket the records point at (an ARN). */
  readonly audioBucketArn: string;
  /** '' for the whole bucket. */
  readonly audioPrefix: string;
  readonly resultsTableArn: string;
  readonly kmsKeyArn?: string;
}

/** The statement ids the security-policy aspect finds a batch role's reads by (beside WORKER_STATEMENT_IDS.consume). */
export const BATCH_STATEMENT_IDS = Object.freeze({
  readAudio: 'ReadTheRecordsAudio',
  listAudio: 'MissingAudioAnswers404',
  results: 'FindAndWriteResults',
});

/** The bulk reads and writes of the DynamoDB result store (BatchGetItem by 100, BatchWriteItem puts by 25), and single puts. */
export const RESULT_STORE_ACTIONS = ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'] as const;

/** The batch worker's task role. */
export function batchTaskPolicyStatements(input: BatchTaskPolicyInput): PolicyStatement[] {
  return [
    ...ownQueueStatements(input),
    { Sid: BATCH_STATEMENT_IDS.readAudio, Effect: 'Allow', Action: ['s3:GetObject'], Resource: `${input.audioBucketArn}/${input.audioPrefix}*` },
    // As every worker role: a record pointing at a missing file then answers 404 (a permanent failure), not 403.
    listUnder(BATCH_STATEMENT_IDS.listAudio, input.audioBucketArn, input.audioPrefix),
    { Sid: BATCH_STATEMENT_IDS.results, Effect: 'Allow', Action: [...RESULT_STORE_ACTIONS], Resource: input.resultsTableArn },
    ...dataKeyStatements(input.kmsKeyArn),
  ];
}

export interface DiscoveryTaskPolicyInput {
  readonly sourceTableArn: string;
  readonly stateTableArn: string;
  readonly resultsTableArn: string;
  /** The batch pipeline's queue: discovery sends its record messages there, and nowhere else. */
  readonly queueArn: string;
  readonly kmsKeyArn?: string;
}

export const DISCOVERY_STATEMENT_IDS = Object.freeze({
  querySource: 'QueryTheSourceTableByDate',
  watermark: 'KeepTheDiscoveryWatermark',
  skipScored: 'SkipRecordsAlreadyScored',
  enqueue: 'EnqueueRecordMessages',
});

/** The discovery task's role. */
export function discoveryTaskPolicyStatements(input: DiscoveryTaskPolicyInput): PolicyStatement[] {
  return [
    { Sid: DISCOVERY_STATEMENT_IDS.querySource, Effect: 'Allow', Action: ['dynamodb:Query'], Resource: input.sourceTableArn },
    { Sid: DISCOVERY_STATEMENT_IDS.watermark, Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: input.stateTableArn },
    { Sid: DISCOVERY_STATEMENT_IDS.skipScored, Effect: 'Allow', Action: ['dynamodb:BatchGetItem'], Resource: input.resultsTableArn },
    { Sid: DISCOVERY_STATEMENT_IDS.enqueue, Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: input.queueArn },
    ...dataKeyStatements(input.kmsKeyArn),
  ];
}

export interface DiscoverySchedulePolicyInput {
  /** `arn:…:task-definition/<family>:*`: every revision of the discovery family (each build registers one). */
  readonly taskDefinitionArnPattern: string;
  readonly clusterArn: string;
  /** The discovery task role and execution role: exactly the two RunTask passes. */
  readonly passRoleArns: readonly string[];
}

/** The role EventBridge assumes to start discovery on its schedule: run that one family in that one cluster. */
export function discoverySchedulePolicyStatements(input: DiscoverySchedulePolicyInput): PolicyStatement[] {
  return [
    { Sid: 'RunDiscoveryInTheCluster', Effect: 'Allow', Action: ['ecs:RunTask'], Resource: input.taskDefinitionArnPattern, Condition: { ArnEquals: { 'ecs:cluster': input.clusterArn } } },
    { Sid: 'PassTheDiscoveryRoles', Effect: 'Allow', Action: ['iam:PassRole'], Resource: [...input.passRoleArns], Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } },
  ];
}
