import { AssetType, Construct, TerraformAsset } from '../framework/core';
import { CloudwatchEventRule, CloudwatchEventTarget, CloudwatchLogGroup, CloudwatchMetricAlarm, IamRole, IamRolePolicy, LambdaFunction, LambdaFunctionEventInvokeConfig, LambdaPermission } from '../framework/aws';
import { assumableBy } from '../assume-role-policy';

/** What the scaler decides for, per pipeline. */
export interface ScalerPipeline {
  readonly name: string;
  readonly queueArn: string;
  readonly queueUrl: string;
  readonly taskFamily: string;
  /** The family's revisions, which the scaler may run (only in the cluster). */
  readonly taskDefinitionArnPattern: string;
  readonly maxTasks: number;
  readonly messagesPerTask: number;
  /** In the scaler's form, e.g. `FARGATE_SPOT:4,FARGATE:1`. */
  readonly capacityProviderStrategy: string;
  /** The image parameter of the pipeline's image (ImagePointer): nothing launches while it names the bootstrap image. */
  readonly imageParameterArn: string;
  readonly imageParameterName: string;
}

export interface ScalerFunctionProps {
  readonly name: string;
  readonly bundleDir: string;
  readonly logRetentionDays: number;
  /** One or more; the first keeps the names a one-pipeline stack always had. */
  readonly pipelines: readonly ScalerPipeline[];
  readonly clusterArn: string;
  /** The cluster's tasks (`arn:…:task/<cluster name>/*`): the scaler describes them and tags those it creates. */
  readonly taskArnPattern: string;
  /** Every pipeline's task and execution role: exactly what RunTask passes. */
  readonly passRoleArns: readonly string[];
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  readonly bootstrapImage: string;
  /** Reserve one concurrent execution (config scalerReservedConcurrency); off where the account's quota refuses it. */
  readonly reservedConcurrency: boolean;
  /** Where the scaler's EMF metrics go: the crash-loop alarms watch one of them. */
  readonly metrics: { readonly namespace: string; readonly service: string };
  /** Told when a crash-loop alarm fires and clears. */
  readonly alarmTopicArn: string;
}

/** A lone resource as a string, as the one-pipeline policy always had it; several (deduplicated) as a list. */
const oneOrList = (values: readonly string[]): string | string[] => {
  const unique = [...new Set(values)];
  return unique.length === 1 ? unique[0]! : unique;
};

/** EventBridge's schedule; everything below is sized so one run ends before the next starts. */
const SCHEDULE_SECONDS = 120;
/** How late an invocation may still start: Lambda drops a scheduled event older than this instead of running it late. */
export const MAX_EVENT_AGE_SECONDS = 60;
/**
 * The latest a run may end is its event's age limit plus its timeout: 60 + 45 = 105 s, inside the 120 s schedule, so
 * two runs never overlap even without a reserved concurrency. 45 s holds a launch of 500 tasks (20 s at AWS's rates)
 * with room; the handler stops starting launch calls 10 s before its timeout, and a larger MAX_TASKS is completed
 * by the next run.
 */
export const TIMEOUT_SECONDS = 45;
if (MAX_EVENT_AGE_SECONDS + TIMEOUT_SECONDS >= SCHEDULE_SECONDS) throw new Error('a scaler run could overlap the next one');

/**
 * The scheduler: the bundled scaler as a Lambda, run every two minutes, one decision at a time: by a reserved
 * concurrency of 1 where the account allows it, and always by runs that are never retried and always end before the
 * next one starts.
 */
export class ScalerFunction extends Construct {
  readonly function: LambdaFunction;
  readonly logGroup: CloudwatchLogGroup;
  /** One per pipeline, the first pipeline's first. */
  readonly crashLoopAlarms: CloudwatchMetricAlarm[];

  constructor(scope: Construct, id: string, props: ScalerFunctionProps) {
    super(scope, id);
    const { pipelines } = props;
    if (pipelines.length === 0) throw new Error('ScalerFunction: at least one pipeline');
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
          { Effect: 'Allow', Action: ['sqs:GetQueueAttributes'], Resource: oneOrList(pipelines.map((p) => p.queueArn)) },
          { Effect: 'Allow', Action: ['ecs:ListTasks'], Resource: '*', Condition: { ArnEquals: { 'ecs:cluster': props.clusterArn } } },
          { Effect: 'Allow', Action: ['ecs:RunTask'], Resource: oneOrList(pipelines.map((p) => p.taskDefinitionArnPattern)), Condition: { ArnEquals: { 'ecs:cluster': props.clusterArn } } },
          // RunTask propagates the task definition's tags to the tasks it creates; it may tag nothing else, nothing later.
          { Effect: 'Allow', Action: ['ecs:TagResource'], Resource: props.taskArnPattern, Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } } },
          // The crash-loop guard reads how the cluster's recent tasks ended.
          { Effect: 'Allow', Action: ['ecs:DescribeTasks'], Resource: props.taskArnPattern },
          { Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: oneOrList(pipelines.map((p) => p.imageParameterArn)) },
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
      timeout: TIMEOUT_SECONDS,
      memorySize: 256,
      // Two overlapping runs would both see the same backlog and launch twice. A reservation rules that out, but AWS
      // refuses any that would leave under 100 unreserved, so it is opt-in; the timing above rules it out anyway.
      ...(props.reservedConcurrency ? { reservedConcurrentExecutions: 1 } : {}),
      loggingConfig: { logFormat: 'Text', logGroup: logGroup.name },
      environment: { variables: scalerEnvironment(props) },
      dependsOn: [logGroup],
    });
    // A failed or late run is not repeated: a retry could overlap the next scheduled run, which decides afresh anyway.
    new LambdaFunctionEventInvokeConfig(this, 'async', {
      functionName: this.function.functionName, maximumRetryAttempts: 0, maximumEventAgeInSeconds: MAX_EVENT_AGE_SECONDS,
    });
    const schedule = new CloudwatchEventRule(this, 'schedule', { name: `${functionName}-schedule`, scheduleExpression: `rate(${SCHEDULE_SECONDS / 60} minutes)` });
    new CloudwatchEventTarget(this, 'target', {
      rule: schedule.name, arn: this.function.arn,
      retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: MAX_EVENT_AGE_SECONDS },
    });
    new LambdaPermission(this, 'invoke', {
      statementId: 'AllowSchedule', action: 'lambda:InvokeFunction', functionName: this.function.functionName, principal: 'events.amazonaws.com', sourceArn: schedule.arn,
    });
    // The scaler publishes CrashLoopBackoff = 1 on every run that held launches back because recent tasks died at start;
    // with several pipelines each decision publishes it with its pipeline as a dimension, and each has its alarm.
    const several = pipelines.length > 1;
    this.crashLoopAlarms = pipelines.map((pipeline, index) => new CloudwatchMetricAlarm(this, index === 0 ? 'crash-loop' : `crash-loop-${pipeline.name}`, {
      alarmName: index === 0 ? `${functionName}-crash-loop` : `${functionName}-${pipeline.name}-crash-loop`,
      alarmDescription: `The scaler is backing off${several ? ` for pipeline ${pipeline.name}` : ''}: recent worker tasks exited non-zero or failed to start. The reasons are in the scaler's ` +
        '"scaling decision" lines; the tasks\' own in the worker log group and in ECS stopped tasks (stoppedReason, exit code)',
      namespace: props.metrics.namespace, metricName: 'CrashLoopBackoff',
      dimensions: { service: props.metrics.service, ...(several ? { pipeline: pipeline.name } : {}) }, statistic: 'Maximum',
      threshold: 0, comparisonOperator: 'GreaterThanThreshold', period: 300, evaluationPeriods: 1, treatMissingData: 'notBreaching',
      alarmActions: [props.alarmTopicArn], okActions: [props.alarmTopicArn],
    }));
  }
}

/** What the scaler's variables are made of. */
export type ScalerEnvironmentInput = Pick<ScalerFunctionProps, 'pipelines' | 'clusterArn' | 'subnetIds' | 'securityGroupIds' | 'bootstrapImage' | 'metrics'>;

/** Lambda refuses a function whose variables pass 4 KB in all, measured as their JSON (its error shows the string it measured). */
export const LAMBDA_ENVIRONMENT_MAX_BYTES = 4096;

/** The size Lambda measures: the variables as a JSON object, in UTF-8 bytes. */
export function environmentBytes(variables: Readonly<Record<string, string>>): number {
  return Buffer.byteLength(JSON.stringify(variables), 'utf8');
}

/**
 * One pipeline: the variables the scaler always read (QUEUE_URL, TASK_FAMILY, ...), so a one-pipeline stack's
 * function is unchanged. Several: the shared ones and PIPELINES, a JSON list with each pipeline's queue, family,
 * scaling rule, capacity strategy and image parameter: names and URLs only, no secret and no message content. Every
 * pipeline is listed, messages-fed ones included: each scales on its own queue's depth.
 */
export function scalerEnvironment(props: ScalerEnvironmentInput): Record<string, string> {
  const [first] = props.pipelines;
  const shared = { SUBNETS: props.subnetIds.join(','), SECURITY_GROUPS: props.securityGroupIds.join(',') };
  if (props.pipelines.length === 1 && first !== undefined) {
    return {
      QUEUE_URL: first.queueUrl, CLUSTER: props.clusterArn, TASK_FAMILY: first.taskFamily, ...shared,
      MAX_TASKS: String(first.maxTasks), MESSAGES_PER_TASK: String(first.messagesPerTask),
      CAPACITY_PROVIDER_STRATEGY: first.capacityProviderStrategy, SPOT_FALLBACK: 'true',
      IMAGE_PARAMETER: first.imageParameterName, BOOTSTRAP_IMAGE: props.bootstrapImage, METRICS_NAMESPACE: props.metrics.namespace,
    };
  }
  return {
    CLUSTER: props.clusterArn, ...shared, SPOT_FALLBACK: 'true', BOOTSTRAP_IMAGE: props.bootstrapImage, METRICS_NAMESPACE: props.metrics.namespace,
    PIPELINES: JSON.stringify(props.pipelines.map((p) => ({
      name: p.name, queueUrl: p.queueUrl, taskFamily: p.taskFamily, maxTasks: p.maxTasks, messagesPerTask: p.messagesPerTask,
      capacityProviderStrategy: p.capacityProviderStrategy, imageParameter: p.imageParameterName,
    }))),
  };
}
