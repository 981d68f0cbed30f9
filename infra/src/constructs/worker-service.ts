import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { EcsCluster } from '@cdktf/provider-aws/lib/ecs-cluster';
import { EcsClusterCapacityProviders } from '@cdktf/provider-aws/lib/ecs-cluster-capacity-providers';
import { EcsTaskDefinition } from '@cdktf/provider-aws/lib/ecs-task-definition';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { assumableBy } from '../assume-role-policy';
import { workerTaskPolicyStatements } from '../policies/worker-task-policy';

export interface WorkerServiceProps {
  readonly name: string;
  readonly region: string;
  readonly vpcId: string;
  readonly image: string;
  readonly cpu: number;
  readonly memory: number;
  readonly logRetentionDays: number;
  readonly queueArn: string;
  readonly queueUrl: string;
  /** The worker dead-letters with reasons itself, by sending here. */
  readonly deadLetterQueueArn: string;
  readonly deadLetterQueueUrl: string;
  /** The redrive policy's maxReceiveCount: the worker dead-letters on this attempt itself, with its reason. */
  readonly maxReceiveCount: number;
  readonly sourceBucketArn: string;
  readonly sourceBucketName: string;
  readonly sourcePrefix: string;
  readonly destBucketArn: string;
  readonly destBucketName: string;
  readonly destPrefix: string;
  readonly sizes: string;
  readonly visibilityTimeoutSeconds: number;
  /** The ECR repository the execution role may pull from. */
  readonly repositoryArn: string;
  /** The key buckets, queue and registry are encrypted with, when it is a customer-managed one. */
  readonly kmsKeyArn?: string;
}

/** The task definition's one container; buildspec.yml names it too (`imagedefinitions.json`). */
const CONTAINER_NAME = 'worker';
const TASKS_ASSUME = assumableBy('ecs-tasks.amazonaws.com');

/** The ECS cluster (Spot and on-demand), the worker task definition and the two least-privilege roles it runs with. */
export class WorkerService extends Construct {
  readonly cluster: EcsCluster;
  readonly taskDefinition: EcsTaskDefinition;
  readonly taskRole: IamRole;
  readonly executionRole: IamRole;
  readonly securityGroup: SecurityGroup;
  readonly logGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, props: WorkerServiceProps) {
    super(scope, id);
    this.cluster = new EcsCluster(this, 'cluster', { name: props.name, setting: [{ name: 'containerInsights', value: 'enabled' }] });
    new EcsClusterCapacityProviders(this, 'capacity', {
      clusterName: this.cluster.name,
      capacityProviders: ['FARGATE_SPOT', 'FARGATE'],
      defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 4 }, { capacityProvider: 'FARGATE', weight: 1 }],
    });
    this.securityGroup = new SecurityGroup(this, 'tasks', {
      name: `${props.name}-worker`, description: 'Worker tasks: no inbound, HTTPS out', vpcId: props.vpcId,
      egress: [{ protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlocks: ['0.0.0.0/0'], description: 'AWS APIs and S3 over TLS' }],
    });
    this.logGroup = new CloudwatchLogGroup(this, 'logs', { name: `/ecs/${props.name}-worker`, retentionInDays: props.logRetentionDays });

    this.executionRole = new IamRole(this, 'execution-role', { name: `${props.name}-worker-execution`, assumeRolePolicy: TASKS_ASSUME });
    new IamRolePolicy(this, 'execution-policy', {
      role: this.executionRole.id,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          // GetAuthorizationToken has no resource-level permissions: AWS requires "*" for this read-only call.
          { Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
          { Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], Resource: props.repositoryArn },
          { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${this.logGroup.arn}:*` },
          ...(props.kmsKeyArn !== undefined ? [{ Effect: 'Allow', Action: ['kms:Decrypt'], Resource: props.kmsKeyArn }] : []),
        ],
      }),
    });

    this.taskRole = new IamRole(this, 'task-role', { name: `${props.name}-worker-task`, assumeRolePolicy: TASKS_ASSUME });
    new IamRolePolicy(this, 'task-policy', {
      role: this.taskRole.id,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: workerTaskPolicyStatements({
          queueArn: props.queueArn, deadLetterQueueArn: props.deadLetterQueueArn,
          sourceBucketArn: props.sourceBucketArn, sourcePrefix: props.sourcePrefix,
          destBucketArn: props.destBucketArn, destPrefix: props.destPrefix, kmsKeyArn: props.kmsKeyArn,
        }),
      }),
    });

    this.taskDefinition = new EcsTaskDefinition(this, 'task', {
      family: `${props.name}-worker`,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: String(props.cpu),
      memory: String(props.memory),
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
      executionRoleArn: this.executionRole.arn,
      taskRoleArn: this.taskRole.arn,
      containerDefinitions: JSON.stringify([{
        name: CONTAINER_NAME,
        image: props.image,
        essential: true,
        user: '1000:1000',
        readonlyRootFilesystem: true,
        stopTimeout: 120,
        environment: Object.entries({
          QUEUE_URL: props.queueUrl, DLQ_URL: props.deadLetterQueueUrl, MAX_RECEIVE_COUNT: String(props.maxReceiveCount),
          DEST_BUCKET: props.destBucketName, DEST_PREFIX: props.destPrefix, SOURCE_PREFIX: props.sourcePrefix,
          ALLOWED_SOURCE_BUCKETS: props.sourceBucketName, SIZES: props.sizes, VISIBILITY_TIMEOUT_SECONDS: String(Math.min(60, props.visibilityTimeoutSeconds)),
          SHUTDOWN_GRACE_SECONDS: '100', AWS_REGION: props.region, MALLOC_ARENA_MAX: '2',
          // The worker sizes its memory budget from its cgroup; this is the fallback when it cannot read one.
          TASK_MEMORY_MIB: String(props.memory),
        }).map(([name, value]) => ({ name, value })),
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': this.logGroup.name, 'awslogs-region': props.region, 'awslogs-stream-prefix': 'worker' } },
      }]),
    });
  }
}
