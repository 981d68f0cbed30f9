import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Construct, TerraformStack, Testing } from '../src/framework/core';
import { CloudwatchEventRule, CloudwatchEventTarget, DynamodbResourcePolicy, DynamodbTable, EcsTaskDefinition, IamRole } from '../src/framework/aws';
import { iamPolicyProblems } from '../src/aspects/security-policy';
import { resolveInfraConfig, type InfraConfigOverrides } from '../src/config';
import { BatchDiscovery, type BatchDiscoveryProps } from '../src/constructs/batch-discovery';
import { DataTable } from '../src/constructs/data-table';
import { DEFAULT_BATCH_MESSAGES_PER_TASK, DEFAULT_DISCOVERY_SCHEDULE } from '../src/pipelines/batch-settings';
import { ACCOUNT, BATCH_EXAMPLE, GITHUB, KEY_ARN, resourcesOf, scalerBundleDir, synthBlueprint, type SynthesizedStack } from './factories';
import { policyOf, type Statement } from './policy-documents';

/**
 * Batched-inference pipelines (`job: "batch"`): the configuration, the tables, the batch worker's and discovery's
 * roles, the discovery schedule and its one-off command, the dashboard. The offline plan of the example is in
 * terraform-plan.test.ts, its wildcards in policy-wildcards.test.ts.
 */
const resolve = (overrides: InfraConfigOverrides) => resolveInfraConfig({ ...GITHUB, ...overrides });
const scores = (extra: Record<string, unknown>) => ({ ...BATCH_EXAMPLE, pipelines: [{ name: 'images' }, { ...BATCH_EXAMPLE.pipelines![1]!, ...extra }] }) as InfraConfigOverrides;
const scoresPipeline = (overrides: InfraConfigOverrides) => resolve(overrides).pipelines.find((p) => p.name === 'scores')!;

describe('a batch pipeline in the pipelines setting', () => {
  it('resolves the example: fed by messages, the batch defaults, the audio under its own prefix of the source bucket, a backlog of 1000 per task', () => {
    const pipeline = scoresPipeline(BATCH_EXAMPLE);
    expect(pipeline).toMatchObject({
      job: 'batch', feed: 'messages', sourcePrefix: 'scores/', sourceSuffixes: [], messagesPerTask: DEFAULT_BATCH_MESSAGES_PER_TASK, maxTasks: 5,
      batch: { sourceTableName: '', audioBucket: '', audioPrefix: 'scores/', discoverySchedule: DEFAULT_DISCOVERY_SCHEDULE, resultStore: 'dynamodb' },
    });
    expect(DEFAULT_BATCH_MESSAGES_PER_TASK).toBe(1000);
    expect(scoresPipeline(scores({ messagesPerTask: 300 })).messagesPerTask).toBe(300);
    // In a bucket of yours the records may point anywhere in it.
    expect(scoresPipeline(scores({ batch: { audioBucket: 'my-recordings' } })).batch).toMatchObject({ audioBucket: 'my-recordings', audioPrefix: '' });
  });

  it.each([
    [{ batch: { sourceTableName: 'x' } }, 'pipelines[1] "scores".batch.sourceTableName="x": a DynamoDB table name'],
    [{ batch: { audioBucket: 'Not_A_Bucket' } }, 'pipelines[1] "scores".batch.audioBucket="Not_A_Bucket": an S3 bucket name'],
    [{ batch: { audioPrefix: 'a*' } }, 'pipelines[1] "scores".batch.audioPrefix="a*": a key prefix'],
    [{ batch: { audioPrefix: '' } }, 'pipelines[1] "scores".batch.audioPrefix: empty would let the batch role read the whole source bucket'],
    [{ batch: { discoverySchedule: 'every night' } }, 'pipelines[1] "scores".batch.discoverySchedule="every night": an EventBridge expression'],
    [{ batch: { resultStore: 'mongodb' } }, 'pipelines[1] "scores".batch.resultStore="mongodb": dynamodb'],
    [{ batch: { table: 'x' } }, 'pipelines[1] "scores".batch.table: not a batch setting'],
    [{ batch: 'records' }, 'pipelines[1] "scores".batch: an object'],
    [{ feed: 's3' }, 'pipelines[1] "scores".feed="s3": a batch pipeline is fed by its discovery task'],
    [{ sourcePrefix: 'audio/' }, 'pipelines[1] "scores".sourcePrefix: a batch pipeline has no S3 notification; the files its records point at are set by batch.audioBucket and batch.audioPrefix'],
    [{ destPrefix: 'out/' }, 'pipelines[1] "scores".destPrefix: a batch pipeline writes its results to its results table'],
    [{ jobEnvironment: { BATCH_SIZE: 'many' } }, 'pipelines[1] "scores".jobEnvironment.BATCH_SIZE="many": an integer from 1 to 1000'],
    [{ jobEnvironment: { WRITE_CHUNK_SIZE: '10001' } }, 'pipelines[1] "scores".jobEnvironment.WRITE_CHUNK_SIZE="10001": an integer from 1 to 10000'],
    [{ jobEnvironment: { RESULTS_TABLE: 'other' } }, 'pipelines[1] "scores".jobEnvironment.RESULTS_TABLE: set by the infra from the pipeline'],
  ])('refuses %j, naming the pipeline and field', (change, message) => {
    expect(() => resolve(scores(change))).toThrow(message);
  });

  it('refuses batch settings on another job, and a batch pipeline whose audio prefix an S3-fed pipeline\'s filter covers', () => {
    expect(() => resolve({ pipelines: [{ name: 'images', batch: {} } as never] })).toThrow('pipelines[0] "images".batch: only a pipeline running job "batch" has batch settings');
    // The images pipeline's default prefix '' covers every key, scores/ included.
    expect(() => resolve({ pipelines: [{ name: 'images' }, BATCH_EXAMPLE.pipelines![1]!] }))
      .toThrow('pipelines "images" and "scores": source filter of "images" matches keys under "scores/", the audio prefix batch pipeline "scores" reads');
    // A batch pipeline fed by messages needs no fan-out group.
    expect(() => resolve(BATCH_EXAMPLE)).not.toThrow();
  });
});

let bundleDir: string;
let example: SynthesizedStack;
beforeAll(() => {
  bundleDir = scalerBundleDir();
  example = synthBlueprint(BATCH_EXAMPLE, { bundleDir });
});
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

const byPath = (json: SynthesizedStack, type: string, path: string) => {
  const entry = Object.entries(json.resource[type] ?? {}).find(([id]) => new RegExp(`^${path.replace(/[-]/g, '\\-')}_[0-9A-F]{8}$`).test(id));
  if (entry === undefined) throw new Error(`no ${type} ${path}`);
  return entry[1];
};
/** The statements of the inline policy of the role at `rolePath` (e.g. 'scores-workers_task-role'). */
function statementsOf(json: SynthesizedStack, rolePath: string): Statement[] {
  const policies = resourcesOf(json, 'aws_iam_role_policy').filter((policy) => new RegExp(`^\\$\\{aws_iam_role\\.${rolePath.replace(/[-]/g, '\\-')}_[0-9A-F]{8}\\.id\\}$`).test(String(policy.role)));
  expect(policies).toHaveLength(1);
  return policyOf(policies[0]!.policy).Statement;
}
const REF = (type: string, path: string, attribute: string) => expect.stringMatching(new RegExp(`^\\$\\{${type}\\.${path.replace(/[-]/g, '\\-')}_[0-9A-F]{8}\\.${attribute}\\}$`));
const environmentOf = (json: SynthesizedStack, path: string) =>
  Object.fromEntries((JSON.parse(String(byPath(json, 'aws_ecs_task_definition', path).container_definitions)) as { environment: { name: string; value: string }[] }[])[0]!
    .environment.map(({ name, value }) => [name, value]));
const allActions = (statements: Statement[]) => statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
const allResources = (statements: Statement[]) => statements.flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]));

describe('the stack with a batch pipeline', () => {
  it('creates the results, discovery-state and example source tables: on demand, KMS-encrypted, point-in-time recovery, deletion protection', () => {
    const tables = resourcesOf(example, 'aws_dynamodb_table');
    expect(tables.map((t) => [t.name, t.hash_key, t.range_key ?? null]).sort()).toEqual([
      ['s3-queue-scores-discovery-state', 'name', null], ['s3-queue-scores-records', 'date', 'id'], ['s3-queue-scores-results', 'id', null],
    ]);
    for (const table of tables) {
      expect(table).toMatchObject({ billing_mode: 'PAY_PER_REQUEST', server_side_encryption: { enabled: true }, point_in_time_recovery: { enabled: true }, deletion_protection_enabled: true });
    }
  });

  it('encrypts every DynamoDB table and gives each point-in-time recovery, with every option (the blueprint key under kmsEncryption; forceDestroy drops the protection)', () => {
    const configs: InfraConfigOverrides[] = [
      BATCH_EXAMPLE, { ...BATCH_EXAMPLE, kmsEncryption: true, forceDestroy: true }, scores({ batch: { sourceTableName: 'recordings', audioBucket: 'my-recordings' } }),
    ];
    for (const [index, config] of configs.entries()) {
      const json = index === 0 ? example : synthBlueprint(config, { bundleDir });
      const tables = resourcesOf(json, 'aws_dynamodb_table');
      expect(tables.length).toBeGreaterThanOrEqual(2);
      for (const table of tables) {
        expect(table.server_side_encryption).toEqual(config.kmsEncryption === true ? { enabled: true, kms_key_arn: REF('aws_kms_key', 'key', 'arn') } : { enabled: true });
        expect(table.point_in_time_recovery).toEqual({ enabled: true });
        expect(table.deletion_protection_enabled).toBe(config.forceDestroy !== true);
      }
    }
  });

  it('grants the batch worker exactly its queue, its DLQ, the audio prefix it reads and its results table', () => {
    const statements = statementsOf(example, 'scores-workers_task-role');
    const source = '${aws_s3_bucket.source_bucket_B5285E68.arn}';
    expect(statements).toEqual([
      { Sid: 'ConsumeAndRequeueOnTheWorkQueue', Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage'], Resource: REF('aws_sqs_queue', 'scores-work_queue', 'arn') },
      { Sid: 'DeadLetterWithReasons', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: REF('aws_sqs_queue', 'scores-work_dlq', 'arn') },
      { Sid: 'ReadTheRecordsAudio', Effect: 'Allow', Action: ['s3:GetObject'], Resource: `${source}/scores/*` },
      { Sid: 'MissingAudioAnswers404', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: source, Condition: { StringLike: { 's3:prefix': ['scores/*'] } } },
      { Sid: 'FindAndWriteResults', Effect: 'Allow', Action: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'], Resource: REF('aws_dynamodb_table', 'scores-results_table', 'arn') },
    ]);
    // No write to any bucket, no `*`.
    expect(allActions(statements).filter((action) => action.includes('*') || action === 's3:PutObject')).toEqual([]);
    expect(allResources(statements).filter((resource) => resource === '*')).toEqual([]);
  });

  it('grants discovery exactly: query the source table, keep its watermark, check the results, send to the batch queue', () => {
    const statements = statementsOf(example, 'scores-discovery_task-role');
    expect(statements).toEqual([
      { Sid: 'QueryTheSourceTableByDate', Effect: 'Allow', Action: ['dynamodb:Query'], Resource: REF('aws_dynamodb_table', 'scores-records_table', 'arn') },
      { Sid: 'KeepTheDiscoveryWatermark', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: REF('aws_dynamodb_table', 'scores-discovery-state_table', 'arn') },
      { Sid: 'SkipRecordsAlreadyScored', Effect: 'Allow', Action: ['dynamodb:BatchGetItem'], Resource: REF('aws_dynamodb_table', 'scores-results_table', 'arn') },
      { Sid: 'EnqueueRecordMessages', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: REF('aws_sqs_queue', 'scores-work_queue', 'arn') },
    ]);
    expect(allResources(statements)).not.toContain('*');
  });

  it('lets the schedule run only the discovery family in the cluster and pass exactly its two roles to ECS tasks', () => {
    const statements = statementsOf(example, 'scores-discovery_schedule-role');
    expect(statements).toEqual([
      {
        Sid: 'RunDiscoveryInTheCluster', Effect: 'Allow', Action: ['ecs:RunTask'], Resource: '${local.scores_discovery_task_definition_arns}',
        Condition: { ArnEquals: { 'ecs:cluster': REF('aws_ecs_cluster', 'workers_cluster', 'arn') } },
      },
      {
        Sid: 'PassTheDiscoveryRoles', Effect: 'Allow', Action: ['iam:PassRole'],
        Resource: [REF('aws_iam_role', 'scores-discovery_task-role', 'arn'), REF('aws_iam_role', 'scores-discovery_execution-role', 'arn')],
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      },
    ]);
    const locals = (example as unknown as { locals: Record<string, string> }).locals;
    expect(locals.scores_discovery_task_definition_arns).toMatch(/^arn:\$\{element\(split\(":", aws_ecs_cluster\.workers_cluster_[0-9A-F]{8}\.arn\), 1\)\}:ecs:us-east-1:\$\{element\(split\(":", aws_ecs_cluster\.workers_cluster_[0-9A-F]{8}\.arn\), 4\)\}:task-definition\/s3-queue-scores-discovery:\*$/);
    expect(byPath(example, 'aws_iam_role', 'scores-discovery_schedule-role').assume_role_policy).toContain('events.amazonaws.com');
  });

  it('passes every batch and discovery policy through the blueprint\'s least-privilege rules, with and without KMS', () => {
    const kms = synthBlueprint({ ...BATCH_EXAMPLE, kmsEncryption: true }, { bundleDir });
    for (const json of [example, kms]) {
      for (const role of ['scores-workers_task-role', 'scores-discovery_task-role', 'scores-discovery_schedule-role', 'scores-discovery_execution-role']) {
        expect(iamPolicyProblems(policyOf(resourcesOf(json, 'aws_iam_role_policy').find((p) => String(p.role).includes(`aws_iam_role.${role}_`))!.policy) as never)).toEqual([]);
      }
    }
    // Under kmsEncryption both task roles use the key for the encrypted queue, bucket and tables, and only it.
    for (const role of ['scores-workers_task-role', 'scores-discovery_task-role']) {
      expect(statementsOf(kms, role).at(-1)).toEqual({ Sid: 'UseTheDataKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: REF('aws_kms_key', 'key', 'arn') });
    }
  });

  it('scopes the roles to a source table and audio bucket of yours: the table by name in this account and region, or by ARN', () => {
    const json = synthBlueprint(scores({ batch: { sourceTableName: 'recordings', audioBucket: 'my-recordings', audioPrefix: 'wav/' } }), { bundleDir });
    expect(resourcesOf(json, 'aws_dynamodb_table').map((t) => t.name).sort()).toEqual(['s3-queue-scores-discovery-state', 's3-queue-scores-results']);
    const locals = (json as unknown as { locals: Record<string, string> }).locals;
    expect(locals.scores_source_table_arn).toMatch(/^arn:\$\{element\(split\(":", aws_dynamodb_table\.scores-results_table_[0-9A-F]{8}\.arn\), 1\)\}:dynamodb:us-east-1:\$\{element\(split\(":", aws_dynamodb_table\.scores-results_table_[0-9A-F]{8}\.arn\), 4\)\}:table\/recordings$/);
    expect(locals.scores_audio_bucket_arn).toMatch(/^arn:\$\{element\(split\(":", aws_dynamodb_table\.scores-results_table_[0-9A-F]{8}\.arn\), 1\)\}:s3:::my-recordings$/);
    expect(statementsOf(json, 'scores-discovery_task-role')[0]).toMatchObject({ Action: ['dynamodb:Query'], Resource: '${local.scores_source_table_arn}' });
    expect(statementsOf(json, 'scores-workers_task-role').filter((s) => s.Sid === 'ReadTheRecordsAudio' || s.Sid === 'MissingAudioAnswers404')).toEqual([
      { Sid: 'ReadTheRecordsAudio', Effect: 'Allow', Action: ['s3:GetObject'], Resource: '${local.scores_audio_bucket_arn}/wav/*' },
      { Sid: 'MissingAudioAnswers404', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: '${local.scores_audio_bucket_arn}', Condition: { StringLike: { 's3:prefix': ['wav/*'] } } },
    ]);
    expect(environmentOf(json, 'scores-discovery_task').SOURCE_TABLE).toBe('recordings');
    expect(environmentOf(json, 'scores-workers_task').ALLOWED_SOURCE_BUCKETS).toBe('my-recordings');
    const arn = `arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/recordings`;
    const byArn = synthBlueprint(scores({ batch: { sourceTableName: arn } }), { bundleDir });
    expect(statementsOf(byArn, 'scores-discovery_task-role')[0]).toMatchObject({ Resource: arn });
  });

  it('tells the batch worker its job, store, table and audio bucket, and passes the job\'s sizing knobs through', () => {
    expect(environmentOf(example, 'scores-workers_task')).toMatchObject({
      JOB: 'batch', RESULT_STORE: 'dynamodb', RESULTS_TABLE: REF('aws_dynamodb_table', 'scores-results_table', 'name'),
      ALLOWED_SOURCE_BUCKETS: REF('aws_s3_bucket', 'source_bucket', 'bucket'), SOURCE_PREFIX: 'scores/',
      QUEUE_URL: REF('aws_sqs_queue', 'scores-work_queue', 'url'), BATCH_SIZE: '64', BATCH_FLUSH_MS: '2000', MAX_CONCURRENCY: '2',
    });
    expect(environmentOf(example, 'scores-workers_task')).not.toHaveProperty('INFERENCE_TIMEOUT_MS');
  });

  it('defines discovery as a small Fargate task in the pipeline\'s image, told its tables, the batch queue and "yesterday"', () => {
    const task = byPath(example, 'aws_ecs_task_definition', 'scores-discovery_task');
    expect(task).toMatchObject({
      family: 's3-queue-scores-discovery', cpu: '256', memory: '512', requires_compatibilities: ['FARGATE'], network_mode: 'awsvpc',
      task_role_arn: REF('aws_iam_role', 'scores-discovery_task-role', 'arn'), execution_role_arn: REF('aws_iam_role', 'scores-discovery_execution-role', 'arn'),
    });
    const [container] = JSON.parse(String(task.container_definitions)) as Record<string, unknown>[];
    expect(container).toMatchObject({
      name: 'discovery', image: REF('aws_ssm_parameter', 'image_parameter', 'insecure_value'), command: ['node', 'dist/app/discover.js'], user: '1000:1000', readonlyRootFilesystem: true,
    });
    expect(environmentOf(example, 'scores-discovery_task')).toEqual({
      SOURCE_TABLE: REF('aws_dynamodb_table', 'scores-records_table', 'name'), RESULTS_TABLE: REF('aws_dynamodb_table', 'scores-results_table', 'name'),
      DISCOVERY_STATE_TABLE: REF('aws_dynamodb_table', 'scores-discovery-state_table', 'name'), QUEUE_URL: REF('aws_sqs_queue', 'scores-work_queue', 'url'),
      DISCOVERY_DATE: 'yesterday', AWS_REGION: 'us-east-1',
    });
  });

  it('schedules discovery with an EventBridge rule on the workers\' network, and outputs the one-off run-task command for a date', () => {
    expect(byPath(example, 'aws_cloudwatch_event_rule', 'scores-discovery_schedule')).toMatchObject({ name: 's3-queue-scores-discovery-schedule', schedule_expression: 'cron(30 1 * * ? *)' });
    expect(byPath(example, 'aws_cloudwatch_event_target', 'scores-discovery_target')).toMatchObject({
      arn: REF('aws_ecs_cluster', 'workers_cluster', 'arn'), role_arn: REF('aws_iam_role', 'scores-discovery_schedule-role', 'arn'),
      ecs_target: {
        task_definition_arn: REF('aws_ecs_task_definition', 'scores-discovery_task', 'arn_without_revision'), launch_type: 'FARGATE', task_count: 1,
        network_configuration: { assign_public_ip: false, security_groups: [REF('aws_security_group', 'workers_tasks', 'id')], subnets: [REF('aws_subnet', 'network_private-0', 'id'), REF('aws_subnet', 'network_private-1', 'id')] },
      },
    });
    const command = String((example.output.discovery_command_scores as { value: string }).value);
    expect(command).toMatch(/^aws ecs run-task --region us-east-1 --cluster \$\{aws_ecs_cluster\.workers_cluster_[0-9A-F]{8}\.name\} --task-definition s3-queue-scores-discovery --launch-type FARGATE /);
    expect(command).toContain("assignPublicIp=DISABLED}'");
    const overrides = /--overrides '([^']+)'$/.exec(command)![1]!;
    expect(JSON.parse(overrides)).toEqual({ containerOverrides: [{ name: 'discovery', environment: [{ name: 'DISCOVERY_DATE', value: 'YYYY-MM-DD' }] }] });
  });

  it('creates no schedule (nor its role) when discoverySchedule is empty: one-off runs only', () => {
    const json = synthBlueprint(scores({ batch: { discoverySchedule: '' } }), { bundleDir });
    expect(resourcesOf(json, 'aws_cloudwatch_event_rule').map((rule) => rule.name)).toEqual(['s3-queue-scaler-schedule']);
    expect(resourcesOf(json, 'aws_iam_role').map((role) => role.name)).not.toContain('s3-queue-scores-discovery-schedule');
    expect(json.output.discovery_command_scores).toBeDefined();
  });

  it('has the build register discovery revisions with the pipeline\'s image, passing exactly the discovery roles too', () => {
    const project = resourcesOf(example, 'aws_codebuild_project')[0]!;
    const variables = (project.environment as { environment_variable: { name: string; value: string }[] }).environment_variable;
    const images = JSON.parse(variables.find((v) => v.name === 'IMAGES')!.value) as { name: string; families: string[] }[];
    expect(images).toEqual([expect.objectContaining({ name: 'worker', families: ['s3-queue-worker', 's3-queue-scores-worker', 's3-queue-scores-discovery'] })]);
    const passRole = statementsOf(example, 'image-build_role').find((s) => allActions([s]).includes('iam:PassRole'))!;
    expect(passRole.Resource).toEqual(expect.arrayContaining([REF('aws_iam_role', 'scores-discovery_task-role', 'arn'), REF('aws_iam_role', 'scores-discovery_execution-role', 'arn')]));
    expect(passRole.Resource).toHaveLength(6);
    // The scaler never starts discovery: it passes only the worker roles.
    expect(allResources(statementsOf(example, 'scaler_role').filter((s) => allActions([s]).includes('iam:PassRole')))).toHaveLength(4);
  });

  it('adds the batch job\'s widgets to the dashboard only when a batch pipeline runs', () => {
    const widgetsOf = (json: SynthesizedStack) => (JSON.parse(String(resourcesOf(json, 'aws_cloudwatch_dashboard')[0]!.dashboard_body)) as { widgets: { properties: { title: string; metrics?: unknown[][] } }[] }).widgets;
    const batch = widgetsOf(example).filter((w) => /batch|Batches/.test(w.properties.title));
    expect(batch.map((w) => w.properties.title)).toEqual(['Records per minute (batch)', 'Batches: size and inference latency']);
    expect(batch[0]!.properties.metrics).toEqual(['RecordsScored', 'RecordsSkipped', 'RecordsFailed'].map((metric) => ['S3QueueWorker', metric, 'service', 'worker', expect.objectContaining({ stat: 'Sum' })]));
    expect(batch[1]!.properties.metrics!.map((m) => [m[1], (m[4] as { stat: string }).stat])).toEqual([['BatchSize', 'Average'], ['InferenceLatency', 'p50'], ['InferenceLatency', 'p99']]);
    expect(widgetsOf(synthBlueprint({}, { bundleDir })).map((w) => w.properties.title).filter((title) => /batch|Batches/.test(title))).toEqual([]);
  });

  it('keeps the INFRA.md example in step with the one the tests plan', () => {
    const markdown = readFileSync(join(__dirname, '..', '..', 'app', 'jobs', 'batch', 'INFRA.md'), 'utf8');
    const snippet = /```json\n([\s\S]*?)\n```/.exec(markdown)![1]!;
    expect(JSON.parse(snippet)).toEqual(JSON.parse(JSON.stringify(BATCH_EXAMPLE)));
  });
});

/** The construct on its own, as a test constructs it (literal ARNs). */
function discoveryProps(overrides: Partial<BatchDiscoveryProps> = {}): BatchDiscoveryProps {
  const table = (name: string) => ({ name: `blue-scores-${name}`, arn: `arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/blue-scores-${name}` });
  return {
    name: 'blue-scores', region: 'eu-west-1', image: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/blue-worker:abc123`,
    repositoryArn: `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/blue-worker`, logRetentionDays: 14,
    sourceTable: table('records'), stateTable: table('discovery-state'), resultsTable: table('results'),
    queueArn: `arn:aws:sqs:eu-west-1:${ACCOUNT}:blue-scores-jobs`, queueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/blue-scores-jobs`,
    clusterArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/blue`, clusterName: 'blue',
    taskDefinitionArnPattern: `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/blue-scores-discovery:*`,
    schedule: 'rate(1 day)', subnetIds: ['subnet-a', 'subnet-b'], securityGroupIds: ['sg-worker'],
    ...overrides,
  };
}

describe('DataTable', () => {
  const synth = (define: (scope: Construct) => void) => Testing.synthScope(define);

  it('is on demand, KMS-encrypted (AWS-managed key, or the one given), with point-in-time recovery, deletion protection as told, and TLS only', () => {
    const plain = synth((scope) => new DataTable(scope, 'results', { name: 'blue-results', partitionKey: 'id', deletionProtection: true }));
    expect(plain).toHaveResourceWithProperties(DynamodbTable, {
      name: 'blue-results', billing_mode: 'PAY_PER_REQUEST', hash_key: 'id', attribute: [{ name: 'id', type: 'S' }],
      server_side_encryption: { enabled: true }, point_in_time_recovery: { enabled: true }, deletion_protection_enabled: true,
    });
    expect(plain).toHaveResourceWithProperties(DynamodbResourcePolicy, { resource_arn: expect.stringMatching(/^\$\{aws_dynamodb_table\.results_table_[0-9A-F]{8}\.arn\}$/) });
    const tlsOnly = JSON.parse(String(Object.values((JSON.parse(plain) as { resource: Record<string, Record<string, { policy: string }>> }).resource.aws_dynamodb_resource_policy!)[0]!.policy));
    expect(tlsOnly.Statement).toEqual([{
      Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'dynamodb:*', Resource: expect.stringMatching(/aws_dynamodb_table\.results_table_[0-9A-F]{8}\.arn/),
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    }]);
    const keyed = synth((scope) => new DataTable(scope, 'records', { name: 'blue-records', partitionKey: 'date', sortKey: 'id', kmsKeyArn: KEY_ARN, deletionProtection: false }));
    expect(keyed).toHaveResourceWithProperties(DynamodbTable, {
      hash_key: 'date', range_key: 'id', attribute: [{ name: 'date', type: 'S' }, { name: 'id', type: 'S' }],
      server_side_encryption: { enabled: true, kms_key_arn: KEY_ARN }, deletion_protection_enabled: false,
    });
  });
});

describe('BatchDiscovery', () => {
  const synth = (props: BatchDiscoveryProps) => Testing.synthScope((scope) => new BatchDiscovery(scope, 'd', props));

  it('defines the small task, its roles and the scheduled rule targeting the newest revision', () => {
    const synthesized = synth(discoveryProps());
    expect(synthesized).toHaveResourceWithProperties(EcsTaskDefinition, { family: 'blue-scores-discovery', cpu: '256', memory: '512', requires_compatibilities: ['FARGATE'] });
    expect(synthesized).toHaveResourceWithProperties(IamRole, { name: 'blue-scores-discovery-task' });
    expect(synthesized).toHaveResourceWithProperties(IamRole, { name: 'blue-scores-discovery-execution' });
    expect(synthesized).toHaveResourceWithProperties(IamRole, { name: 'blue-scores-discovery-schedule' });
    expect(synthesized).toHaveResourceWithProperties(CloudwatchEventRule, { schedule_expression: 'rate(1 day)' });
    expect(synthesized).toHaveResourceWithProperties(CloudwatchEventTarget, {
      arn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/blue`,
      ecs_target: expect.objectContaining({ launch_type: 'FARGATE', task_count: 1, network_configuration: { subnets: ['subnet-a', 'subnet-b'], security_groups: ['sg-worker'], assign_public_ip: false } }),
    });
  });

  it('creates no rule and no schedule role without a schedule', () => {
    const synthesized = synth(discoveryProps({ schedule: '' }));
    expect(synthesized).not.toHaveResource(CloudwatchEventRule);
    expect(synthesized).not.toHaveResource(CloudwatchEventTarget);
    expect(synthesized).not.toHaveResourceWithProperties(IamRole, { name: 'blue-scores-discovery-schedule' });
  });

  it('builds the one-off command from the cluster, family, subnets and security group', () => {
    const discovery = new BatchDiscovery(new TerraformStack(Testing.app(), 'stack'), 'd', discoveryProps());
    expect(discovery.runTaskCommand).toContain('--cluster blue --task-definition blue-scores-discovery --launch-type FARGATE');
  });
});
