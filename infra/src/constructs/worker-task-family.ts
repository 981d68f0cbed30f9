import { Construct } from '../framework/core';
import { CloudwatchLogGroup, EcsTaskDefinition, IamRole, IamRolePolicy } from '../framework/aws';
import { assumableBy } from '../assume-role-policy';
import { DEFAULT_JOB, type PipelineConfig } from '../pipelines/pipeline-config';
import { batchTaskPolicyStatements } from '../policies/batch-task-policy';
import { fanoutTaskPolicyStatements } from '../policies/fanout-task-policy';
import { pipelineTaskPolicyStatements } from '../policies/worker-task-policy';

export interface WorkerTaskFamilyProps {
  /** The base of the resource names: family `<name>-worker`, log group `/ecs/<name>-worker`, roles `<name>-worker-*`. */
  readonly name: string;
  readonly region: string;
  readonly image: string;
  readonly cpu: number;
  readonly memory: number;
  /** 21-200 GiB of task disk; absent: Fargate's default 20 GiB, and no ephemeral_storage block. */
  readonly ephemeralStorageGiB?: number;
  readonly logRetentionDays: number;
  /** What the tasks do and where: the job, its variables, and the prefixes the task role is scoped to. */
  readonly pipeline: Pick<PipelineConfig, 'job' | 'jobEnvironment' | 'sourcePrefix' | 'sourceSuffixes' | 'destPrefix'>;
  /** Other pipelines read the same source bucket: narrow this role's reads to the pipeline's suffixes too. */
  readonly shareSource: boolean;
  readonly queueArn: string;
  readonly queueUrl: string;
  /** The worker dead-letters with reasons itself, by sending here. */
  readonly deadLetterQueueArn: string;
  readonly deadLetterQueueUrl: string;
  /** The redrive policy's maxReceiveCount: the worker dead-letters on this attempt itself, with its reason. */
  readonly maxReceiveCount: number;
  readonly sourceBucketArn: string;
  readonly sourceBucketName: string;
  readonly destBucketArn: string;
  readonly destBucketName: string;
  readonly visibilityTimeoutSeconds: number;
  /** The ECR repository the execution role may pull from. */
  readonly repositoryArn: string;
  /** The key buckets, queue and registry are encrypted with, when it is a customer-managed one. */
  readonly kmsKeyArn?: string;
  /**
   * The pipeline's part in a manifest fan-out group, when it has one: its task role is then scoped to the group's run
   * keys (fanout-task-policy.ts) instead of a destination prefix of its own, and its worker told where the others are.
   */
  readonly fanout?: FanoutWiring;
  /**
   * A batch pipeline's wiring: its task role reads only the audio its records point at and writes only its results
   * table (batch-task-policy.ts), instead of a source and destination prefix.
   */
  readonly batch?: BatchWiring;
}

/** Where a batch pipeline's worker reads its records' files and writes their results. */
export interface BatchWiring {
  readonly audioBucketArn: string;
  readonly audioBucketName: string;
  /** '' for the whole bucket. */
  readonly audioPrefix: string;
  readonly resultStore: string;
  readonly resultsTableArn: string;
  readonly resultsTableName: string;
}

/** A fan-out group member's wiring: `root` is the group's run root (the fan-out pipeline's destPrefix). */
export type FanoutWiring =
  | { readonly kind: 'fanout'; readonly root: string; readonly families: readonly { readonly name: string; readonly queueArn: string; readonly queueUrl: string }[] }
  | { readonly kind: 'family'; readonly root: string; readonly family: string; readonly aggregatorQueueArn: string; readonly aggregatorQueueUrl: string }
  | { readonly kind: 'aggregator'; readonly root: string };

export interface WorkerTaskFamilyResources {
  readonly taskDefinition: EcsTaskDefinition;
  readonly taskRole: IamRole;
  /** The task role's policy, which the security-policy aspect reads. */
  readonly taskPolicy: IamRolePolicy;
  readonly executionRole: IamRole;
  readonly logGroup: CloudwatchLogGroup;
}

/** The task definition's one container; buildspec.yml edits containerDefinitions[0] and names it in imagedefinitions.json. */
export const CONTAINER_NAME = 'worker';
const TASKS_ASSUME = assumableBy('ecs-tasks.amazonaws.com');
/**
 * Where a job other than resize finds writable disk: the root filesystem stays read-only, and a bind-mount volume (the
 * task's ephemeral storage) is mounted at the temporary directory Node and most programs use. Resize works in memory.
 * Fargate creates an empty volume owned by root; the non-root worker can write it only when the image declares the
 * path a VOLUME, whose contents and mode (/tmp's 1777) Fargate then copies into it.
 */
const SCRATCH = { volume: 'scratch', path: '/tmp' };

/**
 * One pipeline's task family, created in `scope`: its log group, its execution role (pull its image, write its logs),
 * its task role (its queue, its source prefix, its destination prefix), and the task definition. A function and not
 * only a construct because the first pipeline's resources live directly in WorkerService, where they always were, so
 * an existing deployment keeps their addresses; the others live in a WorkerTaskFamily each.
 */
export function defineTaskFamily(scope: Construct, props: WorkerTaskFamilyProps): WorkerTaskFamilyResources {
  const logGroup = new CloudwatchLogGroup(scope, 'logs', { name: `/ecs/${props.name}-worker`, retentionInDays: props.logRetentionDays });

  const executionRole = new IamRole(scope, 'execution-role', { name: `${props.name}-worker-execution`, assumeRolePolicy: TASKS_ASSUME });
  new IamRolePolicy(scope, 'execution-policy', {
    role: executionRole.id,
    policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        // GetAuthorizationToken has no resource-level permissions: AWS requires "*" for this read-only call.
        { Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
        { Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], Resource: props.repositoryArn },
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${logGroup.arn}:*` },
        ...(props.kmsKeyArn !== undefined ? [{ Effect: 'Allow', Action: ['kms:Decrypt'], Resource: props.kmsKeyArn }] : []),
      ],
    }),
  });

  const taskRole = new IamRole(scope, 'task-role', { name: `${props.name}-worker-task`, assumeRolePolicy: TASKS_ASSUME });
  const arns = {
    queueArn: props.queueArn, deadLetterQueueArn: props.deadLetterQueueArn, sourceBucketArn: props.sourceBucketArn, destBucketArn: props.destBucketArn,
    ...(props.kmsKeyArn !== undefined ? { kmsKeyArn: props.kmsKeyArn } : {}),
  };
  const taskPolicy = new IamRolePolicy(scope, 'task-policy', {
    role: taskRole.id,
    policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: props.batch !== undefined
        ? batchTaskPolicyStatements({
          queueArn: props.queueArn, deadLetterQueueArn: props.deadLetterQueueArn,
          audioBucketArn: props.batch.audioBucketArn, audioPrefix: props.batch.audioPrefix, resultsTableArn: props.batch.resultsTableArn,
          ...(props.kmsKeyArn !== undefined ? { kmsKeyArn: props.kmsKeyArn } : {}),
        })
        : props.fanout === undefined
          ? pipelineTaskPolicyStatements(props.pipeline, arns, { shareSource: props.shareSource })
          : fanoutTaskPolicyStatements({ ...arns, sourcePrefix: props.pipeline.sourcePrefix, root: props.fanout.root, role: fanoutRole(props.fanout) }),
    }),
  });

  const scratch = props.pipeline.job !== DEFAULT_JOB;
  const taskDefinition = new EcsTaskDefinition(scope, 'task', {
    family: `${props.name}-worker`,
    requiresCompatibilities: ['FARGATE'],
    networkMode: 'awsvpc',
    cpu: String(props.cpu),
    memory: String(props.memory),
    runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
    ...(props.ephemeralStorageGiB !== undefined ? { ephemeralStorage: { sizeInGib: props.ephemeralStorageGiB } } : {}),
    ...(scratch ? { volume: [{ name: SCRATCH.volume }] } : {}),
    executionRoleArn: executionRole.arn,
    taskRoleArn: taskRole.arn,
    containerDefinitions: JSON.stringify([{
      name: CONTAINER_NAME,
      image: props.image,
      essential: true,
      user: '1000:1000',
      readonlyRootFilesystem: true,
      stopTimeout: 120,
      environment: Object.entries(workerEnvironment(props)).map(([name, value]) => ({ name, value })),
      ...(scratch ? { mountPoints: [{ sourceVolume: SCRATCH.volume, containerPath: SCRATCH.path, readOnly: false }] } : {}),
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': logGroup.name, 'awslogs-region': props.region, 'awslogs-stream-prefix': 'worker' } },
    }]),
  });
  return { taskDefinition, taskRole, taskPolicy, executionRole, logGroup };
}

function fanoutRole(wiring: FanoutWiring): Parameters<typeof fanoutTaskPolicyStatements>[0]['role'] {
  switch (wiring.kind) {
    case 'fanout': return { kind: 'fanout', familyQueueArns: wiring.families.map((family) => family.queueArn) };
    case 'family': return { kind: 'family', family: wiring.family, aggregatorQueueArn: wiring.aggregatorQueueArn };
    default: return { kind: 'aggregator' };
  }
}

/**
 * What a fan-out group member's worker is told. The families' queue URLs go in as one JSON object built here: each
 * URL is a Terraform reference inside the string, and a queue URL holds no character JSON would escape, so the value
 * stays valid JSON once Terraform fills them in (a jsonencode() expression inside the container definitions' own JSON
 * would not be escaped).
 */
function fanoutEnvironment(wiring: FanoutWiring | undefined): Record<string, string> {
  if (wiring === undefined) return {};
  switch (wiring.kind) {
    case 'fanout': return { FANOUT_FAMILIES: JSON.stringify(Object.fromEntries(wiring.families.map((family) => [family.name, family.queueUrl]))) };
    case 'family': return { FANOUT_FAMILY: wiring.family, AGGREGATE_QUEUE_URL: wiring.aggregatorQueueUrl, RUNS_PREFIX: wiring.root };
    default: return { RUNS_PREFIX: wiring.root };
  }
}

/**
 * The worker's variables: its wiring to this pipeline's resources, the job and its own variables, then the task's
 * settings (which a job variable may change). The resize job gets no JOB variable: it is the worker's default, and
 * the task definitions deployed before there were jobs had none.
 */
function workerEnvironment(props: WorkerTaskFamilyProps): Record<string, string> {
  const { pipeline } = props;
  const settings: Record<string, string> = {
    VISIBILITY_TIMEOUT_SECONDS: String(Math.min(60, props.visibilityTimeoutSeconds)),
    SHUTDOWN_GRACE_SECONDS: '100', AWS_REGION: props.region, MALLOC_ARENA_MAX: '2',
    // The worker sizes its memory budget from its cgroup; this is the fallback when it cannot read one.
    TASK_MEMORY_MIB: String(props.memory),
  };
  return {
    QUEUE_URL: props.queueUrl, DLQ_URL: props.deadLetterQueueUrl, MAX_RECEIVE_COUNT: String(props.maxReceiveCount),
    DEST_BUCKET: props.destBucketName, DEST_PREFIX: pipeline.destPrefix, SOURCE_PREFIX: pipeline.sourcePrefix,
    ALLOWED_SOURCE_BUCKETS: props.batch?.audioBucketName ?? props.sourceBucketName,
    ...fanoutEnvironment(props.fanout),
    ...(props.batch !== undefined ? { RESULT_STORE: props.batch.resultStore, RESULTS_TABLE: props.batch.resultsTableName } : {}),
    ...(pipeline.job !== DEFAULT_JOB ? { JOB: pipeline.job } : {}),
    ...pipeline.jobEnvironment,
    ...Object.fromEntries(Object.entries(settings).filter(([name]) => !(name in pipeline.jobEnvironment))),
  };
}

/** A task family of a pipeline other than the first: the same resources as the first's, under a construct of its own. */
export class WorkerTaskFamily extends Construct implements WorkerTaskFamilyResources {
  readonly taskDefinition: EcsTaskDefinition;
  readonly taskRole: IamRole;
  readonly taskPolicy: IamRolePolicy;
  readonly executionRole: IamRole;
  readonly logGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, props: WorkerTaskFamilyProps) {
    super(scope, id);
    ({ taskDefinition: this.taskDefinition, taskRole: this.taskRole, taskPolicy: this.taskPolicy, executionRole: this.executionRole, logGroup: this.logGroup } = defineTaskFamily(this, props));
  }
}
