import { Construct } from 'constructs';
import { AssetType, TerraformAsset } from 'cdktf';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission';
import { assumableBy } from '../assume-role-policy';

export interface ScalerFunctionProps {
  readonly name: string;
  readonly bundleDir: string;
  readonly logRetentionDays: number;
  readonly queueArn: string;
  readonly queueUrl: string;
  readonly clusterArn: string;
  readonly taskFamily: string;
  readonly taskDefinitionArnPattern: string;
  readonly passRoleArns: readonly string[];
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  readonly maxTasks: number;
  readonly messagesPerTask: number;
}

/** The scheduler: the bundled scaler as a Lambda, run every two minutes, never two at once. */
export class ScalerFunction extends Construct {
  readonly function: LambdaFunction;
  readonly logGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, props: ScalerFunctionProps) {
    super(scope, id);
    const functionName = `${props.name}-scaler`;
    const logGroup = new CloudwatchLogGroup(this, 'logs', { name: `/aws/lambda/${functionName}`, retentionInDays: props.logRetentionDays });
    this.logGroup = logGroup;
    const role = new IamRole(this, 'role', {
      name: functionName,
      assumeRolePolicy: assumableBy('lambda.amazonaws.com'),
    });
    new IamRolePolicy(this, 'policy', {
      role: role.id,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['sqs:GetQueueAttributes'], Resource: props.queueArn },
          { Effect: 'Allow', Action: ['ecs:ListTasks'], Resource: '*', Condition: { ArnEquals: { 'ecs:cluster': props.clusterArn } } },
          { Effect: 'Allow', Action: ['ecs:RunTask', 'ecs:TagResource'], Resource: [props.taskDefinitionArnPattern, `arn:aws:ecs:*:*:task/*`], Condition: { ArnEquals: { 'ecs:cluster': props.clusterArn } } },
          { Effect: 'Allow', Action: ['iam:PassRole'], Resource: [...props.passRoleArns], Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } },
          { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${logGroup.arn}:*` },
        ],
      }),
    });
    const asset = new TerraformAsset(this, 'bundle', { path: props.bundleDir, type: AssetType.ARCHIVE });
    this.function = new LambdaFunction(this, 'function', {
      functionName,
      role: role.arn,
      runtime: 'nodejs22.x',
      handler: 'index.handler',
      filename: asset.path,
      sourceCodeHash: asset.assetHash,
      timeout: 60,
      memorySize: 256,
      // Two overlapping runs would both see the same backlog and launch twice.
      reservedConcurrentExecutions: 1,
      loggingConfig: { logFormat: 'Text', logGroup: logGroup.name },
      environment: {
        variables: {
          QUEUE_URL: props.queueUrl, CLUSTER: props.clusterArn, TASK_FAMILY: props.taskFamily,
          SUBNETS: props.subnetIds.join(','), SECURITY_GROUPS: props.securityGroupIds.join(','),
          MAX_TASKS: String(props.maxTasks), MESSAGES_PER_TASK: String(props.messagesPerTask),
          CAPACITY_PROVIDER_STRATEGY: 'FARGATE_SPOT:4,FARGATE:1', SPOT_FALLBACK: 'true',
        },
      },
      dependsOn: [logGroup],
    });
    const schedule = new CloudwatchEventRule(this, 'schedule', { name: `${functionName}-schedule`, scheduleExpression: 'rate(2 minutes)' });
    new CloudwatchEventTarget(this, 'target', { rule: schedule.name, arn: this.function.arn });
    new LambdaPermission(this, 'invoke', {
      statementId: 'AllowSchedule', action: 'lambda:InvokeFunction', functionName: this.function.functionName, principal: 'events.amazonaws.com', sourceArn: schedule.arn,
    });
  }
}
