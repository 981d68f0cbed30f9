import { Construct, Fn } from '../framework/core';
import { CloudwatchEventRule, CloudwatchEventTarget, CloudwatchLogGroup, EcsTaskDefinition, IamRole, IamRolePolicy } from '../framework/aws';
import { assumableBy } from '../assume-role-policy';
import { discoverySchedulePolicyStatements, discoveryTaskPolicyStatements } from '../policies/batch-task-policy';

export interface BatchDiscoveryProps {
  /** The batch pipeline's resource base: family `<name>-discovery`, log group `/ecs/<name>-discovery`, roles `<name>-discovery-*`. */
  readonly name: string;
  readonly region: string;
  /** The batch pipeline's image (the worker image, or one derived from it): it holds dist/app/discover.js. */
  readonly image: string;
  /** The ECR repository the execution role may pull from. */
  readonly repositoryArn: string;
  readonly logRetentionDays: number;
  /** As the discovery code is told it (a name, or a table ARN), and the table's ARN for the role. */
  readonly sourceTable: { readonly name: string; readonly arn: string };
  readonly stateTable: { readonly name: string; readonly arn: string };
  readonly resultsTable: { readonly name: string; readonly arn: string };
  /** The batch pipeline's queue. */
  readonly queueArn: string;
  readonly queueUrl: string;
  readonly kmsKeyArn?: string;
  readonly clusterArn: string;
  readonly clusterName: string;
  /** Every revision of the discovery family, `arn:<partition>:ecs:<region>:<account>:task-definition/<name>-discovery:*`. */
  readonly taskDefinitionArnPattern: string;
  /** An EventBridge schedule expression; empty: no schedule, one-off runs only (runTaskCommand). */
  readonly schedule: string;
  /** Where the task runs: the workers' private subnets and security group. */
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
}

/** The discovery task's one container. */
export const DISCOVERY_CONTAINER = 'discovery';
/** The date placeholder in the one-off command: replace it with the date to discover (YYYY-MM-DD). */
export const DISCOVERY_DATE_PLACEHOLDER = 'YYYY-MM-DD';
const TASKS_ASSUME = assumableBy('ecs-tasks.amazonaws.com');

/**
 * Discovery for a batch pipeline: a small Fargate task in the pipeline's image (`node dist/app/discover.js`) that
 * queries the source table for a date (yesterday unless told otherwise) and sends one record message per record not
 * already scored to the batch queue, keeping its watermark in the state table. Run by an EventBridge rule on the
 * schedule, or once with `runTaskCommand`.
 */
export class BatchDiscovery extends Construct {
  readonly taskDefinition: EcsTaskDefinition;
  readonly taskRole: IamRole;
  readonly taskPolicy: IamRolePolicy;
  readonly executionRole: IamRole;
  readonly logGroup: CloudwatchLogGroup;
  /** The role EventBridge runs the task with, when there is a schedule. */
  readonly scheduleRole?: IamRole;
  readonly rule?: CloudwatchEventRule;
  /** `aws ecs run-task ...` for one date: replace DISCOVERY_DATE_PLACEHOLDER with it. */
  readonly runTaskCommand: string;
  /** `<name>-discovery`, as a literal (the build's image list names families literally). */
  readonly family: string;
  /** Every revision of the family (the build tags the ones it registers). */
  readonly taskDefinitionArnPattern: string;

  constructor(scope: Construct, id: string, props: BatchDiscoveryProps) {
    super(scope, id);
    this.taskDefinitionArnPattern = props.taskDefinitionArnPattern;
    const family = `${props.name}-discovery`;
    this.family = family;
    this.logGroup = new CloudwatchLogGroup(this, 'logs', { name: `/ecs/${family}`, retentionInDays: props.logRetentionDays });

    this.executionRole = new IamRole(this, 'execution-role', { name: `${family}-execution`, assumeRolePolicy: TASKS_ASSUME });
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

    this.taskRole = new IamRole(this, 'task-role', { name: `${family}-task`, assumeRolePolicy: TASKS_ASSUME });
    this.taskPolicy = new IamRolePolicy(this, 'task-policy', {
      role: this.taskRole.id,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: discoveryTaskPolicyStatements({
          sourceTableArn: props.sourceTable.arn, stateTableArn: props.stateTable.arn, resultsTableArn: props.resultsTable.arn, queueArn: props.queueArn,
          ...(props.kmsKeyArn !== undefined ? { kmsKeyArn: props.kmsKeyArn } : {}),
        }),
      }),
    });

    const environment: Record<string, string> = {
      SOURCE_TABLE: props.sourceTable.name, RESULTS_TABLE: props.resultsTable.name, DISCOVERY_STATE_TABLE: props.stateTable.name,
      QUEUE_URL: props.queueUrl, DISCOVERY_DATE: 'yesterday', AWS_REGION: props.region,
    };
    this.taskDefinition = new EcsTaskDefinition(this, 'task', {
      family,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      // Discovery queries and enqueues: a quarter vCPU and half a GB are plenty.
      cpu: '256',
      memory: '512',
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
      executionRoleArn: this.executionRole.arn,
      taskRoleArn: this.taskRole.arn,
      containerDefinitions: JSON.stringify([{
        name: DISCOVERY_CONTAINER,
        image: props.image,
        essential: true,
        user: '1000:1000',
        readonlyRootFilesystem: true,
        command: ['node', 'dist/app/discover.js'],
        environment: Object.entries(environment).map(([name, value]) => ({ name, value })),
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': this.logGroup.name, 'awslogs-region': props.region, 'awslogs-stream-prefix': DISCOVERY_CONTAINER } },
      }]),
    });

    if (props.schedule !== '') {
      this.scheduleRole = new IamRole(this, 'schedule-role', { name: `${family}-schedule`, assumeRolePolicy: assumableBy('events.amazonaws.com') });
      new IamRolePolicy(this, 'schedule-policy', {
        role: this.scheduleRole.id,
        policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: discoverySchedulePolicyStatements({
            taskDefinitionArnPattern: props.taskDefinitionArnPattern, clusterArn: props.clusterArn,
            passRoleArns: [this.taskRole.arn, this.executionRole.arn],
          }),
        }),
      });
      this.rule = new CloudwatchEventRule(this, 'schedule', {
        name: `${family}-schedule`, description: `Discovers yesterday's records for ${props.name}`, scheduleExpression: props.schedule,
      });
      new CloudwatchEventTarget(this, 'target', {
        rule: this.rule.name, arn: props.clusterArn, roleArn: this.scheduleRole.arn,
        // Discovery is idempotent (its watermark, and the results table's skip): a retried start sends nothing twice.
        retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
        ecsTarget: {
          // Without a revision: the newest one, which each build registers with its image.
          taskDefinitionArn: this.taskDefinition.arnWithoutRevision,
          launchType: 'FARGATE', platformVersion: 'LATEST', taskCount: 1,
          networkConfiguration: { subnets: [...props.subnetIds], securityGroups: [...props.securityGroupIds], assignPublicIp: false },
        },
      });
    }

    const overrides = JSON.stringify({ containerOverrides: [{ name: DISCOVERY_CONTAINER, environment: [{ name: 'DISCOVERY_DATE', value: DISCOVERY_DATE_PLACEHOLDER }] }] });
    this.runTaskCommand = [
      `aws ecs run-task --region ${props.region} --cluster ${props.clusterName} --task-definition ${family} --launch-type FARGATE`,
      `--network-configuration 'awsvpcConfiguration={subnets=[${Fn.join(',', [...props.subnetIds])}],securityGroups=[${Fn.join(',', [...props.securityGroupIds])}],assignPublicIp=DISABLED}'`,
      `--overrides '${overrides}'`,
    ].join(' ');
  }
}
