import { rmSync } from 'node:fs';
import { resolveInfraConfig, type InfraConfig } from '../src/config';
import { DAY, GITHUB, resourcesOf, scalerBundleDir, synthBlueprint, type SynthesizedStack } from './factories';

/**
 * The whole synthesized stack: the security policy over every statement and resource, and the wiring between
 * constructs. `npm run chaos` runs this file too. The offline terraform plan is in terraform-plan.test.ts.
 */
let bundleDir: string;
let synthesized: SynthesizedStack;

beforeAll(() => {
  bundleDir = scalerBundleDir();
  synthesized = synthBlueprint({}, { bundleDir });
});

afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

const synthStack = (overrides: Partial<InfraConfig>) => ({ json: synthBlueprint(overrides, { bundleDir }) });
const resources = (type: string) => resourcesOf(synthesized, type);
const statementsOf = (json: SynthesizedStack) =>
  [...resourcesOf(json, 'aws_iam_role_policy'), ...resourcesOf(json, 'aws_s3_bucket_policy')].flatMap((policy) => {
    const document = JSON.parse(String(policy.policy)) as { Statement: { Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: Record<string, Record<string, unknown>> }[] };
    return document.Statement;
  });
const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);
const roleRef = (name: string) => expect.stringMatching(new RegExp(`aws_iam_role\\.${name}_\\w+\\.arn`));

describe('the blueprint stack', () => {
  it('makes every bucket (source, destination, artifacts) private, owner-enforced, encrypted, TLS-only and cleans stale uploads', () => {
    const buckets = resources('aws_s3_bucket');
    expect(buckets).toHaveLength(3);
    expect(resources('aws_s3_bucket_public_access_block')).toEqual(
      Array(3).fill(expect.objectContaining({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true })),
    );
    expect(resources('aws_s3_bucket_ownership_controls').map((c) => c.rule)).toEqual(Array(3).fill({ object_ownership: 'BucketOwnerEnforced' }));
    expect(resources('aws_s3_bucket_server_side_encryption_configuration')).toHaveLength(3);
    const tlsDenies = resources('aws_s3_bucket_policy').map((policy) => JSON.parse(String(policy.policy)).Statement[0]);
    expect(tlsDenies).toEqual(Array(3).fill(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })));
    // Only the disposable build artifacts are force-destroyed by default.
    expect(buckets.filter((bucket) => bucket.force_destroy === true).map((bucket) => bucket.bucket_prefix)).toEqual(['s3-queue-artifacts-']);
    const lifecycleRules = resources('aws_s3_bucket_lifecycle_configuration').map((config) => (config.rule as { id: string }[]).map((rule) => rule.id));
    expect(lifecycleRules).toEqual(Array(3).fill(expect.arrayContaining(['abort-incomplete-uploads'])));
  });

  it('sends ObjectCreated:* (multipart included) per suffix, after the queue policy exists', () => {
    const [notification] = resources('aws_s3_bucket_notification');
    const rules = notification!.queue as { events: string[]; filter_suffix: string }[];
    expect(rules.map((rule) => rule.filter_suffix)).toEqual(['.jpg', '.jpeg', '.JPG', '.JPEG', '.png', '.PNG']);
    expect(rules.every((rule) => rule.events.join() === 's3:ObjectCreated:*')).toBe(true);
    expect(notification!.depends_on).toEqual([expect.stringContaining('aws_sqs_queue_policy')]);
  });

  it('encrypts the queue and DLQ, long-polls, keeps 4 days in the queue and 14 in the DLQ, and redrives after 5 receives', () => {
    const queues = resources('aws_sqs_queue');
    expect(queues.every((queue) => queue.sqs_managed_sse_enabled === true)).toBe(true);
    const main = queues.find((queue) => queue.redrive_policy !== undefined)!;
    const dlq = queues.find((queue) => queue !== main)!;
    expect(main).toMatchObject({ receive_wait_time_seconds: 20, visibility_timeout_seconds: 120, message_retention_seconds: 4 * DAY });
    expect(dlq).toMatchObject({ message_retention_seconds: 14 * DAY });
    expect(JSON.parse(String(main.redrive_policy))).toMatchObject({ maxReceiveCount: 7 });
    expect(resources('aws_sqs_queue_redrive_allow_policy')).toHaveLength(1);
  });

  it('tells the worker the DLQ and its maxReceiveCount, two below the redrive policy\'s, and lets it send only to the two queues', () => {
    const { json } = synthStack({ maxReceiveCount: 3, taskCpu: 1024, taskMemory: 3072, queueRetentionSeconds: 2 * DAY, deadLetterRetentionSeconds: 7 * DAY });
    const main = resourcesOf(json, 'aws_sqs_queue').find((queue) => queue.redrive_policy !== undefined)!;
    expect(main.message_retention_seconds).toBe(2 * DAY);
    expect(resourcesOf(json, 'aws_sqs_queue').find((queue) => queue !== main)!.message_retention_seconds).toBe(7 * DAY);
    const [task] = resourcesOf(json, 'aws_ecs_task_definition');
    const [container] = JSON.parse(String(task!.container_definitions)) as { environment: { name: string; value: string }[] }[];
    const environment = Object.fromEntries(container!.environment.map((v) => [v.name, v.value]));
    // SQS's redrive is a backstop two receives beyond the worker's own last attempt.
    expect(JSON.parse(String(main.redrive_policy)).maxReceiveCount).toBe(5);
    expect(environment).toMatchObject({
      MAX_RECEIVE_COUNT: '3', TASK_MEMORY_MIB: '3072',
      QUEUE_URL: expect.stringMatching(/^\$\{aws_sqs_queue\.work_queue_\w+\.url\}$/), DLQ_URL: expect.stringMatching(/^\$\{aws_sqs_queue\.work_dlq_\w+\.url\}$/),
    });
    const sends = statementsOf(json).filter((s) => list(s.Action).includes('sqs:SendMessage')).flatMap((s) => list(s.Resource));
    expect(sends).toEqual([expect.stringMatching(/aws_sqs_queue\.work_queue_\w+\.arn/), expect.stringMatching(/aws_sqs_queue\.work_dlq_\w+\.arn/)]);
  });

  it('runs the image the pipeline last pushed: the task definition reads the image parameter, whose value Terraform never resets', () => {
    const [task] = resources('aws_ecs_task_definition');
    const [container] = JSON.parse(String(task!.container_definitions));
    expect(container).toMatchObject({ user: '1000:1000', readonlyRootFilesystem: true, stopTimeout: 120, logConfiguration: { logDriver: 'awslogs' } });
    expect(container.image).toMatch(/aws_ssm_parameter\.image_parameter.*\.insecure_value/);
    expect(task).toMatchObject({ runtime_platform: { cpu_architecture: 'X86_64' } });
    expect(task!.lifecycle).toBeUndefined();
    expect(resources('aws_ssm_parameter')[0]).toMatchObject({ insecure_value: 'public.ecr.aws/docker/library/node:22-slim', lifecycle: { ignore_changes: ['insecure_value'] } });
    expect(resources('aws_ecs_cluster_capacity_providers')[0]).toMatchObject({ capacity_providers: ['FARGATE_SPOT', 'FARGATE'] });
  });

  it('wires the build to the registry, the family and the image parameter it updates', () => {
    const [project] = resources('aws_codebuild_project');
    const variables = Object.fromEntries(((project!.environment as { environment_variable: { name: string; value: string }[] }).environment_variable).map((v) => [v.name, v.value]));
    expect(variables).toMatchObject({ TASK_FAMILY: 's3-queue-worker', REVISION_TAG_KEY: 'Blueprint', REVISION_TAG_VALUE: 's3-queue' });
    expect(variables.ECR_REPOSITORY_URL).toMatch(/aws_ecr_repository\.registry_repository.*\.repository_url/);
    expect(variables.IMAGE_PARAMETER).toMatch(/aws_ssm_parameter\.image_parameter.*\.name/);
    const execution = statementsOf(synthesized).find((s) => list(s.Action).includes('ecr:BatchGetImage') && !list(s.Action).includes('ecr:PutImage'));
    expect(execution!.Resource).toMatch(/aws_ecr_repository\.registry_repository.*\.arn/);
  });

  it('schedules the scaler every two minutes on nodejs22.x, reserving concurrency only when scalerReservedConcurrency is on', () => {
    expect(resources('aws_lambda_function')[0]).toMatchObject({ runtime: 'nodejs22.x', handler: 'index.handler' });
    expect(resources('aws_lambda_function')[0]).not.toHaveProperty('reserved_concurrent_executions');
    expect(resourcesOf(synthBlueprint({ scalerReservedConcurrency: true }, { bundleDir }), 'aws_lambda_function')[0]).toMatchObject({ reserved_concurrent_executions: 1 });
    expect(resources('aws_cloudwatch_event_rule')[0]).toMatchObject({ schedule_expression: 'rate(2 minutes)' });
  });

  it('grants least privilege: no "*" action, writes on "*" only where AWS allows nothing narrower and a condition narrows them', () => {
    for (const statement of statementsOf(synthesized).filter((s) => s.Effect === 'Allow')) {
      const actions = list(statement.Action);
      expect(actions).not.toContain('*');
      expect(actions.filter((action) => action.endsWith(':*'))).toEqual([]);
      if (!list(statement.Resource).includes('*')) continue;
      for (const action of actions) {
        expect(['ecr:GetAuthorizationToken', 'ecs:ListTasks', 'ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition']).toContain(action);
      }
      if (actions.includes('ecs:RegisterTaskDefinition')) expect(statement.Condition).toEqual({ StringEquals: { 'aws:RequestTag/Blueprint': 's3-queue' } });
    }
  });

  it('passes only the two task roles, only to ECS tasks (the scaler to run them, the build to register revisions)', () => {
    const passRole = statementsOf(synthesized).filter((s) => list(s.Action).includes('iam:PassRole'));
    expect(passRole).toHaveLength(2);
    for (const statement of passRole) {
      expect(list(statement.Resource)).toEqual([roleRef('workers_task-role'), roleRef('workers_execution-role')]);
      expect(statement.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    }
  });

  it('gives no public IPs to task subnets and sets a retention on every log group', () => {
    expect(resources('aws_subnet').filter((subnet) => String(subnet.tags && (subnet.tags as Record<string, string>).Name).includes('private')).every((subnet) => subnet.map_public_ip_on_launch === false)).toBe(true);
    expect(resources('aws_cloudwatch_log_group')).toHaveLength(3);
    expect(resources('aws_cloudwatch_log_group').every((group) => typeof group.retention_in_days === 'number')).toBe(true);
    const scalerEnv = (resources('aws_lambda_function')[0]!.environment as { variables: Record<string, string> }).variables;
    expect(scalerEnv.SUBNETS).toMatch(/aws_subnet\.network_private-0.*aws_subnet\.network_private-1/);
  });

  it('alarms on dead letters, old messages, scaler errors and a scaler crash-loop back-off to the encrypted operations topic, which also hears the pipeline', () => {
    const alarms = resources('aws_cloudwatch_metric_alarm');
    expect(alarms.map((alarm) => alarm.metric_name).sort()).toEqual(['ApproximateAgeOfOldestMessage', 'ApproximateNumberOfMessagesVisible', 'CrashLoopBackoff', 'Errors']);
    expect(alarms.every((alarm) => String(alarm.alarm_actions).includes('aws_sns_topic.operations_topic'))).toBe(true);
    expect(String(resources('aws_sns_topic')[0]!.kms_master_key_id)).toMatch(/aws_kms_key\.key_\w+\.arn/);
    expect(JSON.stringify(resources('aws_codestarnotifications_notification_rule')[0]!.target)).toContain('aws_sns_topic.operations_topic');
  });

  it('exposes the outputs operators need', () => {
    expect(Object.keys(synthesized.output).sort()).toEqual([
      'cluster_name', 'dashboard_url', 'destination_bucket', 'dlq_arn', 'dlq_url', 'ecr_repository_url', 'github_connection_arn', 'operations_topic_arn',
      'pipeline_name', 'queue_url', 'scaler_function_name', 'source_bucket', 'task_family', 'upload_command',
    ]);
  });

  it('with kmsEncryption, encrypts buckets, queues and the registry with the blueprint key and lets the workers use it', () => {
    const { json } = synthStack({ kmsEncryption: true, bucketVersioning: true, interfaceEndpoints: true });
    const keyRef = /aws_kms_key\.key_\w+\.arn/;
    const bucketDefaults = resourcesOf(json, 'aws_s3_bucket_server_side_encryption_configuration')
      .map((config) => (config.rule as { apply_server_side_encryption_by_default: { sse_algorithm: string; kms_master_key_id?: string } }[])[0]!.apply_server_side_encryption_by_default);
    // Source and destination; the build artifacts keep SSE-S3 (CodePipeline encrypts them with its own key).
    expect(bucketDefaults.filter((d) => d.sse_algorithm === 'aws:kms' && keyRef.test(String(d.kms_master_key_id)))).toHaveLength(2);
    expect((resourcesOf(json, 'aws_ecr_repository')[0]!.encryption_configuration as { encryption_type: string }[])[0]!.encryption_type).toBe('KMS');
    expect(resourcesOf(json, 'aws_sqs_queue').every((queue) => keyRef.test(String(queue.kms_master_key_id)) && queue.sqs_managed_sse_enabled === undefined)).toBe(true);
    expect(statementsOf(json).some((s) => list(s.Action).includes('kms:GenerateDataKey') && keyRef.test(String(s.Resource)))).toBe(true);
    expect(resourcesOf(json, 'aws_s3_bucket_versioning')).toHaveLength(2);
    expect(resourcesOf(json, 'aws_vpc_endpoint').filter((endpoint) => endpoint.vpc_endpoint_type === 'Interface')).toHaveLength(5);
  });

  it('with kmsEncryption, creates the bucket notification after the queue and key policies (S3 sends a test event under the key)', () => {
    const dependencies = (json: SynthesizedStack) => resourcesOf(json, 'aws_s3_bucket_notification')[0]!.depends_on;
    expect(dependencies(synthStack({ kmsEncryption: true }).json)).toEqual([
      expect.stringMatching(/^aws_sqs_queue_policy\.work_policy_\w+$/), expect.stringMatching(/^aws_kms_key_policy\.key_policy_\w+$/),
    ]);
    expect(dependencies(synthesized)).toEqual([expect.stringMatching(/^aws_sqs_queue_policy\.work_policy_\w+$/)]);
  });

  it('creates the pipeline notification rule after the topic policy and the policy of the topic\'s key (CodeStar checks at creation)', () => {
    for (const json of [synthesized, synthStack({ kmsEncryption: true }).json]) {
      expect(resourcesOf(json, 'aws_codestarnotifications_notification_rule')[0]!.depends_on).toEqual([
        expect.stringMatching(/^aws_sns_topic_policy\.operations_policy_\w+$/), expect.stringMatching(/^aws_kms_key_policy\.key_policy_\w+$/),
      ]);
    }
  });

  it('keeps data on destroy by default; forceDestroy lets destroy empty the source and destination buckets and the ECR repository', () => {
    const forced = (json: SynthesizedStack) => ({
      buckets: resourcesOf(json, 'aws_s3_bucket').filter((bucket) => bucket.force_destroy === true).map((bucket) => bucket.bucket_prefix).sort(),
      repository: resourcesOf(json, 'aws_ecr_repository')[0]!.force_delete,
    });
    expect(forced(synthesized)).toEqual({ buckets: ['s3-queue-artifacts-'], repository: false });
    expect(forced(synthStack({ forceDestroy: true }).json)).toEqual({
      buckets: ['s3-queue-artifacts-', 's3-queue-destination-', 's3-queue-source-'], repository: true,
    });
  });

  it('builds on a V2 pipeline in SUPERSEDED mode', () => {
    expect(resources('aws_codepipeline')[0]).toMatchObject({ pipeline_type: 'V2', execution_mode: 'SUPERSEDED' });
  });

  it('with a token secret instead of a connection, reads the token from Secrets Manager and creates no connection', () => {
    const { json } = synthStack({ githubTokenSecretName: 'github/token' });
    expect(json.resource.aws_codestarconnections_connection).toBeUndefined();
    expect(JSON.stringify(json.data)).toContain('"secret_id":"github/token"');
    const [pipeline] = resourcesOf(json, 'aws_codepipeline');
    const [source] = (pipeline!.stage as { action: { provider: string; configuration: Record<string, string> }[] }[])[0]!.action;
    expect(source).toMatchObject({ provider: 'GitHub', configuration: { Owner: 'example-org', Repo: 's3-queue-fargate', Branch: 'main' } });
    expect(source!.configuration.OAuthToken).toMatch(/data\.aws_secretsmanager_secret_version/);
  });

  it('rejects invalid configuration naming each field', () => {
    expect(() => resolveInfraConfig({ taskCpu: 3000, availabilityZones: ['a'], ...GITHUB })).toThrow(/availabilityZones: at least two[\s\S]*taskCpu=3000/);
    expect(() => resolveInfraConfig({})).toThrow(/githubRepository="": owner\/repo/);
    expect(() => resolveInfraConfig({ ...GITHUB, githubConnectionArn: 'arn:aws:codeconnections:us-east-1:123456789012:connection/x', githubTokenSecretName: 't' })).toThrow(/set at most one/);
    expect(() => resolveInfraConfig({ ...GITHUB, sizes: '224' } as Partial<InfraConfig>)).toThrow(/sizes="224"/);
    expect(() => resolveInfraConfig({ ...GITHUB, maxTask: 3 } as Partial<InfraConfig>)).toThrow(/maxTask: not a setting/);
    expect(() => resolveInfraConfig({ ...GITHUB, queueRetentionSeconds: 30, deadLetterRetentionSeconds: 15 * DAY })).toThrow(
      /queueRetentionSeconds=30: 60\.\.1209600[\s\S]*deadLetterRetentionSeconds=1296000: 60\.\.1209600/,
    );
  });

  it('fails the synth when the DLQ would not keep messages longer than the queue, naming both settings', () => {
    for (const deadLetterRetentionSeconds of [4 * DAY, 2 * DAY]) {
      expect(() => synthStack({ deadLetterRetentionSeconds })).toThrow(
        new RegExp(`deadLetterRetentionSeconds=${deadLetterRetentionSeconds} must be longer than queueRetentionSeconds=${4 * DAY}`),
      );
    }
    expect(() => synthStack({ queueRetentionSeconds: 14 * DAY })).toThrow(/deadLetterRetentionSeconds=1209600 must be longer than queueRetentionSeconds=1209600/);
  });

});
