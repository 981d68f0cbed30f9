import { rmSync } from 'node:fs';
import { type Construct, TerraformOutput, Testing } from '../src/framework/core';
import { CloudwatchDashboard, CloudwatchEventRule, CloudwatchEventTarget, CloudwatchLogGroup, CloudwatchMetricAlarm, CodebuildProject, Codepipeline, CodestarconnectionsConnection, CodestarnotificationsNotificationRule, DataAwsSecretsmanagerSecretVersion, EcrLifecyclePolicy, EcrRepository, EcsCluster, EcsClusterCapacityProviders, EcsTaskDefinition, Eip, IamRole, IamRolePolicy, KmsAlias, KmsKey, KmsKeyPolicy, LambdaFunction, LambdaFunctionEventInvokeConfig, LambdaPermission, NatGateway, RouteTable, S3Bucket, S3BucketLifecycleConfiguration, S3BucketOwnershipControls, S3BucketPolicy, S3BucketPublicAccessBlock, S3BucketServerSideEncryptionConfigurationA, S3BucketVersioningA, SecurityGroup, SnsTopic, SnsTopicPolicy, SnsTopicSubscription, SqsQueue, SqsQueuePolicy, SqsQueueRedriveAllowPolicy, SsmParameter, Subnet, Vpc, VpcEndpoint } from '../src/framework/aws';
import { iamPolicyProblems } from '../src/aspects/security-policy';
import { ContainerRegistry } from '../src/constructs/container-registry';
import { DeliveryPipeline } from '../src/constructs/delivery-pipeline';
import { EncryptionKey } from '../src/constructs/encryption-key';
import { ImageBuild } from '../src/constructs/image-build';
import { ImagePointer } from '../src/constructs/image-pointer';
import { Network } from '../src/constructs/network';
import { OperationsDashboard } from '../src/constructs/operations-dashboard';
import { OperationsTopic } from '../src/constructs/operations-topic';
import { QueueAlarms } from '../src/constructs/queue-alarms';
import { ScalerFunction } from '../src/constructs/scaler-function';
import { SecureBucket } from '../src/constructs/secure-bucket';
import { REDRIVE_MARGIN, WorkQueue } from '../src/constructs/work-queue';
import { WorkerService } from '../src/constructs/worker-service';
import { workerTaskPolicyStatements } from '../src/policies/worker-task-policy';
import {
  ACCOUNT, CONNECTION_ARN, DAY, KEY_ARN, TOPIC_ARN, containerRegistryProps, deliveryPipelineProps, encryptionKeyProps, imageBuildProps, imagePointerProps,
  networkProps, operationsDashboardProps, operationsTopicProps, queueAlarmsProps, scalerBundleDir, scalerFunctionProps, scalerPipeline, secureBucketProps,
  workQueueProps, workerServiceProps,
} from './factories';
import { type Statement, policyOf } from './policy-documents';

/**
 * One construct at a time, synthesized alone (`Testing.synthScope`), checked against what its doc comment promises.
 * cdktf's jest matchers compare the synthesized JSON, so property names are Terraform's snake_case.
 */

type Json = Record<string, unknown>;
interface TerraformType { readonly tfResourceType: string }

const synth = (define: (scope: Construct) => void): string => Testing.synthScope(define);

/** The synthesized resources (or data sources) of one type, by logical id. */
function byId(synthesized: string, type: TerraformType, kind: 'resource' | 'data' = 'resource'): Record<string, Json> {
  const json = JSON.parse(synthesized) as Record<string, Record<string, Record<string, Json>> | undefined>;
  return json[kind]?.[type.tfResourceType] ?? {};
}
const all = (synthesized: string, type: TerraformType) => Object.values(byId(synthesized, type));
function only(synthesized: string, type: TerraformType): Json {
  const found = all(synthesized, type);
  expect(found).toHaveLength(1);
  return found[0]!;
}
/** The resource whose logical id is `<path>_<hash>`, e.g. named(routes, 'n_private-0-routes'). */
function named(resources: Record<string, Json>, path: string): Json {
  const key = Object.keys(resources).find((id) => new RegExp(`^${escape(path)}_[0-9A-F]{8}$`).test(id));
  if (key === undefined) throw new Error(`no resource ${path} among ${Object.keys(resources).join(', ')}`);
  return resources[key]!;
}
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A Terraform reference to one attribute of the resource at `path`, e.g. ref('aws_nat_gateway', 'n_nat-0', 'id'). */
const ref = (type: string, path: string, attribute: string) => expect.stringMatching(new RegExp(`^\\$\\{${type}\\.${escape(path)}_[0-9A-F]{8}\\.${attribute}\\}$`));
/** The account, taken from the ARN of the resource at `path`, as the policies that avoid a caller-identity lookup do. */
const accountOf = (type: string, path: string) =>
  expect.stringMatching(new RegExp(`^\\$\\{element\\(split\\(":", ${type}\\.${escape(path)}_[0-9A-F]{8}\\.arn\\), 4\\)\\}$`));

const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);
/** The statements of the inline policy attached to the role at `rolePath` (e.g. 'w_task-role'). */
function roleStatements(synthesized: string, rolePath: string): Statement[] {
  const policies = all(synthesized, IamRolePolicy).filter((policy) => new RegExp(`^\\$\\{aws_iam_role\\.${escape(rolePath)}_[0-9A-F]{8}\\.id\\}$`).test(String(policy.role)));
  expect(policies).toHaveLength(1);
  return policyOf(policies[0]!.policy).Statement;
}
const grantsOf = (statements: Statement[], action: string) => statements.filter((statement) => list(statement.Action).includes(action));

describe('Network', () => {
  const network = (overrides: Parameters<typeof networkProps>[0] = {}) => synth((scope) => { new Network(scope, 'n', networkProps(overrides)); });

  it('enables DNS support and hostnames on the VPC (private DNS of interface endpoints needs both)', () => {
    expect(network()).toHaveResourceWithProperties(Vpc, { cidr_block: '10.40.0.0/16', enable_dns_support: true, enable_dns_hostnames: true });
  });

  it('puts one private subnet in each AZ, none of which hands out public IPs', () => {
    const subnets = byId(network(), Subnet);
    const azs = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
    const cidrs = ['10.40.16.0/20', '10.40.32.0/20', '10.40.48.0/20'];
    azs.forEach((az, i) => {
      expect(named(subnets, `n_private-${i}`)).toMatchObject({ availability_zone: az, cidr_block: cidrs[i], map_public_ip_on_launch: false });
    });
    expect(Object.keys(subnets).filter((id) => id.startsWith('n_private-'))).toHaveLength(3);
  });

  it('routes every private subnet through a single NAT gateway by default', () => {
    const synthesized = network();
    expect(all(synthesized, NatGateway)).toHaveLength(1);
    expect(all(synthesized, Eip)).toEqual([{ domain: 'vpc' }]);
    const routes = byId(synthesized, RouteTable);
    for (const i of [0, 1, 2]) {
      expect(named(routes, `n_private-${i}-routes`).route).toEqual([
        expect.objectContaining({ cidr_block: '0.0.0.0/0', nat_gateway_id: ref('aws_nat_gateway', 'n_nat-0', 'id'), gateway_id: null }),
      ]);
    }
  });

  it('with natPerAz, gives each AZ its own NAT gateway (in its public subnet) and routes its private subnet through it', () => {
    const synthesized = network({ natPerAz: true });
    expect(all(synthesized, Eip)).toHaveLength(3);
    const nats = byId(synthesized, NatGateway);
    const routes = byId(synthesized, RouteTable);
    expect(Object.keys(nats)).toHaveLength(3);
    for (const i of [0, 1, 2]) {
      expect(named(nats, `n_nat-${i}`)).toEqual({ subnet_id: ref('aws_subnet', `n_public-${i}`, 'id'), allocation_id: ref('aws_eip', `n_nat-${i}-ip`, 'id') });
      expect(named(routes, `n_private-${i}-routes`).route).toEqual([expect.objectContaining({ nat_gateway_id: ref('aws_nat_gateway', `n_nat-${i}`, 'id') })]);
    }
  });

  it('sends S3 traffic from every private route table through the free gateway endpoint, and adds no interface endpoint by default', () => {
    const synthesized = network();
    expect(all(synthesized, VpcEndpoint)).toEqual([{
      vpc_id: ref('aws_vpc', 'n_vpc', 'id'), service_name: 'com.amazonaws.eu-west-1.s3', vpc_endpoint_type: 'Gateway',
      route_table_ids: [0, 1, 2].map((i) => ref('aws_route_table', `n_private-${i}-routes`, 'id')),
    }]);
    expect(synthesized).not.toHaveResource(SecurityGroup);
  });

  it('with interfaceEndpoints, adds private-DNS endpoints for SQS, ECR, Logs and Monitoring in the private subnets, reachable on 443 from the VPC only', () => {
    const synthesized = network({ interfaceEndpoints: true });
    const interfaces = all(synthesized, VpcEndpoint).filter((endpoint) => endpoint.vpc_endpoint_type === 'Interface');
    expect(interfaces.map((endpoint) => endpoint.service_name).sort()).toEqual(
      ['ecr.api', 'ecr.dkr', 'logs', 'monitoring', 'sqs'].map((service) => `com.amazonaws.eu-west-1.${service}`),
    );
    for (const endpoint of interfaces) {
      expect(endpoint).toMatchObject({
        private_dns_enabled: true, security_group_ids: [ref('aws_security_group', 'n_endpoints', 'id')],
        subnet_ids: [0, 1, 2].map((i) => ref('aws_subnet', `n_private-${i}`, 'id')),
      });
    }
    const group = only(synthesized, SecurityGroup);
    expect(group.ingress).toEqual([expect.objectContaining({ protocol: 'tcp', from_port: 443, to_port: 443, cidr_blocks: ['10.40.0.0/16'], security_groups: null, self: null })]);
  });
});

describe('SecureBucket', () => {
  const bucket = (overrides: Parameters<typeof secureBucketProps>[0] = {}) => synth((scope) => { new SecureBucket(scope, 'b', secureBucketProps(overrides)); });
  const lifecycleRules = (synthesized: string) => only(synthesized, S3BucketLifecycleConfiguration).rule as Json[];
  const ABORT_RULE = { id: 'abort-incomplete-uploads', status: 'Enabled', filter: [{ prefix: '' }], abort_incomplete_multipart_upload: [{ days_after_initiation: 7 }] };

  it('blocks every kind of public access and enforces bucket-owner object ownership (no ACLs)', () => {
    const synthesized = bucket();
    expect(synthesized).toHaveResourceWithProperties(S3BucketPublicAccessBlock, {
      bucket: ref('aws_s3_bucket', 'b_bucket', 'id'), block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true,
    });
    expect(synthesized).toHaveResourceWithProperties(S3BucketOwnershipControls, { rule: { object_ownership: 'BucketOwnerEnforced' } });
  });

  it('names the bucket from the prefix and destroys its objects only when asked', () => {
    expect(bucket()).toHaveResourceWithProperties(S3Bucket, { bucket_prefix: 'blue-source-', force_destroy: false });
    expect(bucket({ forceDestroy: true })).toHaveResourceWithProperties(S3Bucket, { force_destroy: true });
  });

  it('encrypts with SSE-S3 by default, and with SSE-KMS and the given key when one is given, always with a bucket key', () => {
    expect(bucket()).toHaveResourceWithProperties(S3BucketServerSideEncryptionConfigurationA, {
      rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: 'AES256' }, bucket_key_enabled: true }],
    });
    expect(bucket({ kmsKeyArn: KEY_ARN })).toHaveResourceWithProperties(S3BucketServerSideEncryptionConfigurationA, {
      rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: 'aws:kms', kms_master_key_id: KEY_ARN }, bucket_key_enabled: true }],
    });
  });

  it('denies every request that does not use TLS, on the bucket and its objects', () => {
    expect(policyOf(only(bucket(), S3BucketPolicy).policy).Statement).toEqual([{
      Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 's3:*',
      Resource: [ref('aws_s3_bucket', 'b_bucket', 'arn'), expect.stringMatching(/^\$\{aws_s3_bucket\.b_bucket_[0-9A-F]{8}\.arn\}\/\*$/)],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    }]);
  });

  it('always aborts incomplete multipart uploads, and by default neither expires objects nor keeps versions', () => {
    const synthesized = bucket();
    expect(lifecycleRules(synthesized)).toEqual([ABORT_RULE]);
    expect(lifecycleRules(bucket({ expirationDays: 0 }))).toEqual([ABORT_RULE]);
    expect(synthesized).not.toHaveResource(S3BucketVersioningA);
  });

  it('expires objects after expirationDays when it is above 0', () => {
    expect(lifecycleRules(bucket({ expirationDays: 30 }))).toEqual([
      ABORT_RULE, { id: 'expire-objects', status: 'Enabled', filter: [{ prefix: '' }], expiration: [{ days: 30 }] },
    ]);
  });

  it('with versioning, enables it and expires noncurrent versions after 30 days, once versioning exists', () => {
    const synthesized = bucket({ versioning: true });
    expect(synthesized).toHaveResourceWithProperties(S3BucketVersioningA, { bucket: ref('aws_s3_bucket', 'b_bucket', 'id'), versioning_configuration: { status: 'Enabled' } });
    expect(lifecycleRules(synthesized)).toEqual([
      ABORT_RULE, { id: 'expire-old-versions', status: 'Enabled', filter: [{ prefix: '' }], noncurrent_version_expiration: [{ noncurrent_days: 30 }] },
    ]);
    expect(only(synthesized, S3BucketLifecycleConfiguration).depends_on).toEqual([expect.stringMatching(/^aws_s3_bucket_versioning\.b_versioning_[0-9A-F]{8}$/)]);
  });
});

describe('WorkQueue', () => {
  const work = (overrides: Parameters<typeof workQueueProps>[0] = {}) => synth((scope) => { new WorkQueue(scope, 'w', workQueueProps(overrides)); });

  it('encrypts the queue and its DLQ with SSE-SQS by default', () => {
    const queues = byId(work(), SqsQueue);
    for (const path of ['w_queue', 'w_dlq']) {
      expect(named(queues, path)).toMatchObject({ sqs_managed_sse_enabled: true });
      expect(named(queues, path).kms_master_key_id).toBeUndefined();
    }
  });

  it('with a key, encrypts both queues with it and reuses data keys for 5 minutes', () => {
    const queues = byId(work({ kmsKeyArn: KEY_ARN }), SqsQueue);
    for (const path of ['w_queue', 'w_dlq']) {
      expect(named(queues, path)).toMatchObject({ kms_master_key_id: KEY_ARN, kms_data_key_reuse_period_seconds: 300 });
      expect(named(queues, path).sqs_managed_sse_enabled).toBeUndefined();
    }
  });

  it('long-polls, tells the worker its maxReceiveCount, and moves a message to the DLQ a margin of receives later', () => {
    let construct: WorkQueue | undefined;
    const queues = byId(synth((scope) => { construct = new WorkQueue(scope, 'w', workQueueProps({ maxReceiveCount: 3, visibilityTimeoutSeconds: 90 })); }), SqsQueue);
    const queue = named(queues, 'w_queue');
    expect(queue).toMatchObject({ name: 'blue-jobs', receive_wait_time_seconds: 20, visibility_timeout_seconds: 90 });
    expect(named(queues, 'w_dlq')).toMatchObject({ name: 'blue-jobs-dlq' });
    expect(JSON.parse(String(queue.redrive_policy))).toEqual({ deadLetterTargetArn: ref('aws_sqs_queue', 'w_dlq', 'arn'), maxReceiveCount: 3 + REDRIVE_MARGIN });
    expect(construct!.maxReceiveCount).toBe(3);
  });

  it('keeps messages in the DLQ longer than in the queue (a redriven message keeps its original enqueue time)', () => {
    const queues = byId(work({ retentionSeconds: 2 * DAY, deadLetterRetentionSeconds: 10 * DAY }), SqsQueue);
    expect(named(queues, 'w_queue').message_retention_seconds).toBe(2 * DAY);
    expect(named(queues, 'w_dlq').message_retention_seconds).toBe(10 * DAY);
  });

  it('refuses a DLQ retention that is not longer than the queue\'s, naming both', () => {
    for (const deadLetterRetentionSeconds of [4 * DAY, 3 * DAY]) {
      expect(() => work({ retentionSeconds: 4 * DAY, deadLetterRetentionSeconds })).toThrow(
        new RegExp(`deadLetterRetentionSeconds \\(${deadLetterRetentionSeconds}\\) must be longer than retentionSeconds \\(${4 * DAY}\\)`),
      );
    }
  });

  it('lets only the work queue redrive into the DLQ (and so redrive back out of it)', () => {
    const allow = only(work(), SqsQueueRedriveAllowPolicy);
    expect(allow.queue_url).toEqual(ref('aws_sqs_queue', 'w_dlq', 'url'));
    expect(JSON.parse(String(allow.redrive_allow_policy))).toEqual({ redrivePermission: 'byQueue', sourceQueueArns: [ref('aws_sqs_queue', 'w_queue', 'arn')] });
  });

  it('accepts messages only from S3, for the source bucket of this account, and only over TLS; the DLQ only over TLS', () => {
    const policies = all(work(), SqsQueuePolicy);
    expect(policies).toHaveLength(2);
    const dlqPolicy = policies.find((candidate) => /aws_sqs_queue\.w_dlq_/.test(String(candidate.queue_url)))!;
    expect(dlqPolicy.queue_url).toEqual(ref('aws_sqs_queue', 'w_dlq', 'url'));
    expect(policyOf(dlqPolicy.policy).Statement).toEqual([{
      Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'sqs:*', Resource: ref('aws_sqs_queue', 'w_dlq', 'arn'),
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    }]);
    const policy = policies.find((candidate) => candidate !== dlqPolicy)!;
    expect(policy.queue_url).toEqual(ref('aws_sqs_queue', 'w_queue', 'url'));
    expect(policyOf(policy.policy).Statement).toEqual([
      {
        Sid: 'S3EventsFromTheSourceBucketOnly', Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'sqs:SendMessage',
        Resource: ref('aws_sqs_queue', 'w_queue', 'arn'),
        Condition: { ArnEquals: { 'aws:SourceArn': 'arn:aws:s3:::blue-source' }, StringEquals: { 'aws:SourceAccount': accountOf('aws_sqs_queue', 'w_queue') } },
      },
      {
        Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'sqs:*', Resource: ref('aws_sqs_queue', 'w_queue', 'arn'),
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
  });
});

describe('WorkerService', () => {
  const service = (overrides: Parameters<typeof workerServiceProps>[0] = {}) => synth((scope) => { new WorkerService(scope, 'w', workerServiceProps(overrides)); });
  const containerOf = (synthesized: string) => {
    const definitions = JSON.parse(String(only(synthesized, EcsTaskDefinition).container_definitions)) as Json[];
    expect(definitions).toHaveLength(1);
    return definitions[0]!;
  };
  const environmentOf = (container: Json) => Object.fromEntries((container.environment as { name: string; value: string }[]).map((v) => [v.name, v.value]));

  it('runs on Fargate Spot first and on-demand Fargate second, with Container Insights', () => {
    const synthesized = service();
    expect(synthesized).toHaveResourceWithProperties(EcsCluster, { name: 'blue', setting: [{ name: 'containerInsights', value: 'enabled' }] });
    expect(synthesized).toHaveResourceWithProperties(EcsClusterCapacityProviders, {
      cluster_name: ref('aws_ecs_cluster', 'w_cluster', 'name'),
      capacity_providers: ['FARGATE_SPOT', 'FARGATE'],
      default_capacity_provider_strategy: [{ capacity_provider: 'FARGATE_SPOT', weight: 4 }, { capacity_provider: 'FARGATE', weight: 1 }],
    });
  });

  it('gives tasks a security group with no inbound rule and only HTTPS out', () => {
    const group = only(service(), SecurityGroup);
    expect(group).toMatchObject({ vpc_id: 'vpc-0123', egress: [expect.objectContaining({ protocol: 'tcp', from_port: 443, to_port: 443, cidr_blocks: ['0.0.0.0/0'] })] });
    expect(group.ingress).toBeUndefined();
  });

  it('defines an x86_64 Fargate task (Spot has no ARM) with the given size, its execution role and its task role', () => {
    expect(service({ cpu: 1024, memory: 3072 })).toHaveResourceWithProperties(EcsTaskDefinition, {
      family: 'blue-worker', requires_compatibilities: ['FARGATE'], network_mode: 'awsvpc', cpu: '1024', memory: '3072',
      runtime_platform: { operating_system_family: 'LINUX', cpu_architecture: 'X86_64' },
      execution_role_arn: ref('aws_iam_role', 'w_execution-role', 'arn'), task_role_arn: ref('aws_iam_role', 'w_task-role', 'arn'),
    });
  });

  it('runs the container as non-root on a read-only root filesystem, with the full two-minute Spot warning to stop, logging to its group', () => {
    const container = containerOf(service());
    expect(container).toMatchObject({
      name: 'worker', image: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/blue-worker:abc123`, essential: true,
      user: '1000:1000', readonlyRootFilesystem: true, stopTimeout: 120,
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': ref('aws_cloudwatch_log_group', 'w_logs', 'name'), 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'worker' } },
    });
    expect(only(service({ logRetentionDays: 7 }), CloudwatchLogGroup)).toEqual({ name: '/ecs/blue-worker', retention_in_days: 7 });
  });

  it('configures the worker through its environment, extending visibility in steps of at most 60 s', () => {
    expect(environmentOf(containerOf(service()))).toEqual({
      QUEUE_URL: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/blue-jobs`, DLQ_URL: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/blue-jobs-dlq`,
      MAX_RECEIVE_COUNT: '5', DEST_BUCKET: 'blue-destination', DEST_PREFIX: 'out/', SOURCE_PREFIX: 'in/',
      ALLOWED_SOURCE_BUCKETS: 'blue-source', SIZES: '224x224,299x299', VISIBILITY_TIMEOUT_SECONDS: '60', SHUTDOWN_GRACE_SECONDS: '100',
      AWS_REGION: 'eu-west-1', MALLOC_ARENA_MAX: '2', TASK_MEMORY_MIB: '4096',
    });
    expect(environmentOf(containerOf(service({ visibilityTimeoutSeconds: 45 }))).VISIBILITY_TIMEOUT_SECONDS).toBe('45');
  });

  it('tells the worker the DLQ, the redrive policy\'s maxReceiveCount and the task memory it was given', () => {
    const environment = environmentOf(containerOf(service({
      deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/other-dlq', maxReceiveCount: 3, cpu: 1024, memory: 3072,
    })));
    expect(environment).toMatchObject({ DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/other-dlq', MAX_RECEIVE_COUNT: '3', TASK_MEMORY_MIB: '3072' });
  });

  it('lets tasks consume and re-queue on the queue, dead-letter, read and list the source prefix, write and list the destination prefix, and nothing else', () => {
    const statements = roleStatements(service(), 'w_task-role');
    expect(statements).toEqual(workerTaskPolicyStatements({
      queueArn: `arn:aws:sqs:eu-west-1:${ACCOUNT}:blue-jobs`, deadLetterQueueArn: `arn:aws:sqs:eu-west-1:${ACCOUNT}:blue-jobs-dlq`,
      sourceBucketArn: 'arn:aws:s3:::blue-source', sourcePrefix: 'in/', destBucketArn: 'arn:aws:s3:::blue-destination', destPrefix: 'out/',
    }));
    expect(grantsOf(statements, 'sqs:SendMessage').map((statement) => statement.Resource)).toEqual([
      `arn:aws:sqs:eu-west-1:${ACCOUNT}:blue-jobs`, `arn:aws:sqs:eu-west-1:${ACCOUNT}:blue-jobs-dlq`,
    ]);
    expect(grantsOf(statements, 's3:ListBucket')).toEqual([
      expect.objectContaining({ Resource: 'arn:aws:s3:::blue-source', Condition: { StringLike: { 's3:prefix': ['in/*'] } } }),
      expect.objectContaining({ Resource: 'arn:aws:s3:::blue-destination', Condition: { StringLike: { 's3:prefix': ['out/*'] } } }),
    ]);
  });

  it('lets the execution role pull from the one repository and write to the one log group', () => {
    expect(roleStatements(service(), 'w_execution-role')).toEqual([
      { Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
      { Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], Resource: `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/blue-worker` },
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.w_logs_[0-9A-F]{8}\.arn\}:\*$/) },
    ]);
  });

  it('with a customer-managed key, lets tasks encrypt and decrypt with it and the execution role decrypt', () => {
    const synthesized = service({ kmsKeyArn: KEY_ARN });
    expect(grantsOf(roleStatements(synthesized, 'w_task-role'), 'kms:GenerateDataKey')).toEqual([
      expect.objectContaining({ Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: KEY_ARN }),
    ]);
    expect(roleStatements(synthesized, 'w_execution-role')).toContainEqual({ Effect: 'Allow', Action: ['kms:Decrypt'], Resource: KEY_ARN });
  });

  it('lets only ECS tasks assume either role, and passes the IAM policy rules', () => {
    const synthesized = service({ kmsKeyArn: KEY_ARN });
    for (const role of all(synthesized, IamRole)) {
      expect(JSON.parse(String(role.assume_role_policy)).Statement).toEqual([{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }]);
    }
    for (const policy of all(synthesized, IamRolePolicy)) expect(iamPolicyProblems(policyOf(policy.policy))).toEqual([]);
  });
});

describe('ScalerFunction', () => {
  let bundleDir: string;
  beforeAll(() => { bundleDir = scalerBundleDir(); });
  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));
  const scaler = (overrides: Parameters<typeof scalerFunctionProps>[1] = {}) => synth((scope) => { new ScalerFunction(scope, 's', scalerFunctionProps(bundleDir, overrides)); });
  const TASKS = `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/blue/*`;

  it('runs the bundle on nodejs22.x for at most 45 s, with no reserved concurrency unless asked for', () => {
    expect(scaler()).toHaveResourceWithProperties(LambdaFunction, {
      function_name: 'blue-scaler', runtime: 'nodejs22.x', handler: 'index.handler', timeout: 45,
      role: ref('aws_iam_role', 's_role', 'arn'),
      logging_config: { log_format: 'Text', log_group: ref('aws_cloudwatch_log_group', 's_logs', 'name') },
    });
    expect(only(scaler(), LambdaFunction)).not.toHaveProperty('reserved_concurrent_executions');
    expect(only(scaler({ reservedConcurrency: true }), LambdaFunction)).toMatchObject({ reserved_concurrent_executions: 1 });
  });

  it('never retries a run and drops one that could not start in time, so a run always ends before the next begins', () => {
    const synthesized = scaler();
    const target = only(synthesized, CloudwatchEventTarget) as { retry_policy: { maximum_retry_attempts: number; maximum_event_age_in_seconds: number } };
    const asyncConfig = only(synthesized, LambdaFunctionEventInvokeConfig) as { maximum_retry_attempts: number; maximum_event_age_in_seconds: number };
    const lambda = only(synthesized, LambdaFunction) as { timeout: number };
    expect(target.retry_policy).toEqual({ maximum_retry_attempts: 0, maximum_event_age_in_seconds: 60 });
    expect(asyncConfig).toEqual({ function_name: ref('aws_lambda_function', 's_function', 'function_name'), maximum_retry_attempts: 0, maximum_event_age_in_seconds: 60 });
    // The latest a run can end: started as late as its event may be, then run to its timeout; the schedule is 120 s.
    expect(Math.max(target.retry_policy.maximum_event_age_in_seconds, asyncConfig.maximum_event_age_in_seconds) + lambda.timeout).toBeLessThan(120);
  });

  it('tells the scaler what to launch, where, how many at most, and where to read the worker image', () => {
    const lambda = only(scaler({ pipelines: [scalerPipeline({ maxTasks: 25, messagesPerTask: 50 })] }), LambdaFunction);
    expect((lambda.environment as { variables: Json }).variables).toEqual({
      QUEUE_URL: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/blue-jobs`, CLUSTER: `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/blue`, TASK_FAMILY: 'blue-worker',
      SUBNETS: 'subnet-a,subnet-b', SECURITY_GROUPS: 'sg-worker', MAX_TASKS: '25', MESSAGES_PER_TASK: '50',
      CAPACITY_PROVIDER_STRATEGY: 'FARGATE_SPOT:4,FARGATE:1', SPOT_FALLBACK: 'true',
      IMAGE_PARAMETER: '/blue/worker-image', BOOTSTRAP_IMAGE: 'public.ecr.aws/docker/library/node:22-slim', METRICS_NAMESPACE: 'S3QueueScaler',
    });
  });

  it('is invoked every two minutes by EventBridge, which alone may invoke it', () => {
    const synthesized = scaler();
    expect(synthesized).toHaveResourceWithProperties(CloudwatchEventRule, { schedule_expression: 'rate(2 minutes)' });
    expect(synthesized).toHaveResourceWithProperties(CloudwatchEventTarget, { rule: ref('aws_cloudwatch_event_rule', 's_schedule', 'name'), arn: ref('aws_lambda_function', 's_function', 'arn') });
    expect(only(synthesized, LambdaPermission)).toEqual({
      statement_id: 'AllowSchedule', action: 'lambda:InvokeFunction', function_name: ref('aws_lambda_function', 's_function', 'function_name'),
      principal: 'events.amazonaws.com', source_arn: ref('aws_cloudwatch_event_rule', 's_schedule', 'arn'),
    });
  });

  it('alarms to the topic whenever a run backs off from a crash loop, and when that clears', () => {
    expect(only(scaler(), CloudwatchMetricAlarm)).toEqual({
      alarm_name: 'blue-scaler-crash-loop', alarm_description: expect.stringMatching(/^The scaler is backing off: recent worker tasks exited non-zero or failed to start/),
      namespace: 'S3QueueScaler', metric_name: 'CrashLoopBackoff', dimensions: { service: 's3-queue-scaler' }, statistic: 'Maximum',
      threshold: 0, comparison_operator: 'GreaterThanThreshold', period: 300, evaluation_periods: 1, treat_missing_data: 'notBreaching',
      alarm_actions: [TOPIC_ARN], ok_actions: [TOPIC_ARN],
    });
  });

  it('passes only the given roles, and only to ECS tasks', () => {
    const roles = [`arn:aws:iam::${ACCOUNT}:role/one`, `arn:aws:iam::${ACCOUNT}:role/two`];
    expect(grantsOf(roleStatements(scaler({ passRoleArns: roles }), 's_role'), 'iam:PassRole')).toEqual([
      { Effect: 'Allow', Action: ['iam:PassRole'], Resource: roles, Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } },
    ]);
  });

  it('lists and runs tasks only in the given cluster, runs only the given family, tags only the tasks RunTask creates, and passes the IAM policy rules', () => {
    const statements = roleStatements(scaler(), 's_role');
    const inCluster = { ArnEquals: { 'ecs:cluster': `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/blue` } };
    expect(grantsOf(statements, 'ecs:ListTasks')).toEqual([{ Effect: 'Allow', Action: ['ecs:ListTasks'], Resource: '*', Condition: inCluster }]);
    expect(grantsOf(statements, 'ecs:RunTask')).toEqual([
      { Effect: 'Allow', Action: ['ecs:RunTask'], Resource: 'arn:aws:ecs:eu-west-1:*:task-definition/blue-worker:*', Condition: inCluster },
    ]);
    expect(grantsOf(statements, 'ecs:TagResource')).toEqual([
      { Effect: 'Allow', Action: ['ecs:TagResource'], Resource: TASKS, Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } } },
    ]);
    expect(grantsOf(statements, 'sqs:GetQueueAttributes')).toEqual([expect.objectContaining({ Resource: `arn:aws:sqs:eu-west-1:${ACCOUNT}:blue-jobs` })]);
    expect(iamPolicyProblems({ Statement: statements })).toEqual([]);
  });

  it('reads only the worker-image parameter and only the cluster\'s tasks, for the start guards', () => {
    const statements = roleStatements(scaler(), 's_role');
    expect(grantsOf(statements, 'ssm:GetParameter')).toEqual([
      { Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/blue/worker-image` },
    ]);
    expect(grantsOf(statements, 'ecs:DescribeTasks')).toEqual([{ Effect: 'Allow', Action: ['ecs:DescribeTasks'], Resource: TASKS }]);
    expect(statements.flatMap((statement) => list(statement.Action)).sort()).toEqual([
      'ecs:DescribeTasks', 'ecs:ListTasks', 'ecs:RunTask', 'ecs:TagResource', 'iam:PassRole', 'logs:CreateLogStream', 'logs:PutLogEvents',
      'sqs:GetQueueAttributes', 'ssm:GetParameter',
    ]);
  });

  it('logs to its own group, which expires', () => {
    expect(only(scaler({ logRetentionDays: 90 }), CloudwatchLogGroup)).toEqual({ name: '/aws/lambda/blue-scaler', retention_in_days: 90 });
  });
});

describe('EncryptionKey', () => {
  const key = () => synth((scope) => { new EncryptionKey(scope, 'k', encryptionKeyProps()); });

  it('rotates the key yearly and names it with an alias', () => {
    const synthesized = key();
    expect(synthesized).toHaveResourceWithProperties(KmsKey, { enable_key_rotation: true, deletion_window_in_days: 30 });
    expect(synthesized).toHaveResourceWithProperties(KmsAlias, { name: 'alias/blue', target_key_id: ref('aws_kms_key', 'k_key', 'key_id') });
  });

  it('lets the account administer the key, and CloudWatch, CodeStar Notifications and S3 use it for this account only', () => {
    const policy = only(key(), KmsKeyPolicy);
    expect(policy.key_id).toEqual(ref('aws_kms_key', 'k_key', 'key_id'));
    const forThisAccount = { StringEquals: { 'aws:SourceAccount': accountOf('aws_kms_key', 'k_key') } };
    const use = (Sid: string, service: string) => ({ Sid, Effect: 'Allow', Principal: { Service: service }, Action: ['kms:GenerateDataKey*', 'kms:Decrypt'], Resource: '*', Condition: forThisAccount });
    expect(policyOf(policy.policy).Statement).toEqual([
      {
        Sid: 'AccountAdministers', Effect: 'Allow', Action: 'kms:*', Resource: '*',
        Principal: { AWS: expect.stringMatching(/^arn:\$\{element\(split\(":", aws_kms_key\.k_key_[0-9A-F]{8}\.arn\), 1\)\}:iam::\$\{element\(split\(":", aws_kms_key\.k_key_[0-9A-F]{8}\.arn\), 4\)\}:root$/) },
      },
      use('AlarmsPublishToTheTopic', 'cloudwatch.amazonaws.com'),
      use('PipelineNotificationsPublishToTheTopic', 'codestar-notifications.amazonaws.com'),
      use('S3EventsToTheEncryptedQueue', 's3.amazonaws.com'),
    ]);
  });
});

describe('ContainerRegistry', () => {
  const registry = (overrides: Parameters<typeof containerRegistryProps>[0] = {}) => synth((scope) => { new ContainerRegistry(scope, 'r', containerRegistryProps(overrides)); });

  it('makes tags immutable, scans on push and encrypts with AES-256 by default', () => {
    expect(registry()).toHaveResourceWithProperties(EcrRepository, {
      name: 'blue-worker', image_tag_mutability: 'IMMUTABLE', image_scanning_configuration: { scan_on_push: true },
      encryption_configuration: [{ encryption_type: 'AES256' }], force_delete: false,
    });
  });

  it('encrypts with the given key when there is one', () => {
    expect(registry({ kmsKeyArn: KEY_ARN, forceDestroy: true })).toHaveResourceWithProperties(EcrRepository, {
      encryption_configuration: [{ encryption_type: 'KMS', kms_key: KEY_ARN }], force_delete: true,
    });
  });

  it('expires every image beyond the newest keepImages', () => {
    const lifecycle = only(registry({ keepImages: 7 }), EcrLifecyclePolicy);
    expect(lifecycle.repository).toEqual(ref('aws_ecr_repository', 'r_repository', 'name'));
    expect(JSON.parse(String(lifecycle.policy)).rules).toEqual([expect.objectContaining({
      rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 7 }, action: { type: 'expire' },
    })]);
  });
});

describe('ImagePointer', () => {
  it('creates a String parameter holding the bootstrap image, whose later values (written by CodeBuild) Terraform ignores', () => {
    expect(only(synth((scope) => { new ImagePointer(scope, 'p', imagePointerProps({ bootstrapImage: 'example/bootstrap:1' })); }), SsmParameter)).toMatchObject({
      name: '/blue/worker-image', type: 'String', insecure_value: 'example/bootstrap:1', lifecycle: { ignore_changes: ['insecure_value'] },
    });
  });

  it('hands out the parameter\'s current value as the image, not the bootstrap image', () => {
    const synthesized = synth((scope) => {
      const pointer = new ImagePointer(scope, 'p', imagePointerProps());
      new TerraformOutput(scope, 'image', { value: pointer.image });
    });
    expect((JSON.parse(synthesized) as { output: Record<string, { value: string }> }).output.image!.value).toEqual(ref('aws_ssm_parameter', 'p_parameter', 'insecure_value'));
  });
});

describe('ImageBuild', () => {
  const build = (overrides: Parameters<typeof imageBuildProps>[0] = {}) => synth((scope) => { new ImageBuild(scope, 'i', imageBuildProps(overrides)); });

  it('runs buildspec.yml from the pipeline\'s source in a privileged standard:7.0 container (Docker in Docker), logging to its group', () => {
    const synthesized = build();
    expect(synthesized).toHaveResourceWithProperties(CodebuildProject, {
      name: 'blue-worker-image', service_role: ref('aws_iam_role', 'i_role', 'arn'),
      source: { type: 'CODEPIPELINE', buildspec: 'buildspec.yml' }, artifacts: { type: 'CODEPIPELINE' },
      environment: expect.objectContaining({ image: 'aws/codebuild/standard:7.0', type: 'LINUX_CONTAINER', privileged_mode: true }),
      logs_config: { cloudwatch_logs: { group_name: ref('aws_cloudwatch_log_group', 'i_logs', 'name'), status: 'ENABLED' } },
    });
    expect(only(synthesized, CodebuildProject).encryption_key).toBeUndefined();
    expect(only(build({ logRetentionDays: 3 }), CloudwatchLogGroup)).toEqual({ name: '/aws/codebuild/blue-worker-image', retention_in_days: 3 });
  });

  it('tells the buildspec the repository, the family, the image parameter and the revision tag', () => {
    const environment = only(build(), CodebuildProject).environment as { environment_variable: Json[] };
    expect(environment.environment_variable).toEqual([
      { name: 'ECR_REPOSITORY_URL', value: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/blue-worker`, type: 'PLAINTEXT' },
      { name: 'TASK_FAMILY', value: 'blue-worker', type: 'PLAINTEXT' },
      { name: 'IMAGE_PARAMETER', value: '/blue/worker-image', type: 'PLAINTEXT' },
      { name: 'REVISION_TAG_KEY', value: 'Blueprint', type: 'PLAINTEXT' },
      { name: 'REVISION_TAG_VALUE', value: 'blue', type: 'PLAINTEXT' },
    ]);
  });

  it('may register a task definition only when the request carries the revision tag', () => {
    expect(grantsOf(roleStatements(build({ revisionTag: { key: 'Team', value: 'imaging' } }), 'i_role'), 'ecs:RegisterTaskDefinition')).toEqual([
      { Effect: 'Allow', Action: ['ecs:RegisterTaskDefinition'], Resource: '*', Condition: { StringEquals: { 'aws:RequestTag/Team': 'imaging' } } },
    ]);
  });

  it('may write only the image parameter, push only to the repository and pass only the task roles to ECS tasks', () => {
    const statements = roleStatements(build(), 'i_role');
    expect(grantsOf(statements, 'ssm:PutParameter')).toEqual([
      { Effect: 'Allow', Action: ['ssm:PutParameter'], Resource: `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/blue/worker-image` },
    ]);
    expect(grantsOf(statements, 'ecr:PutImage')).toEqual([expect.objectContaining({ Resource: `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/blue-worker` })]);
    expect(grantsOf(statements, 'iam:PassRole')).toEqual([{
      Effect: 'Allow', Action: ['iam:PassRole'], Resource: [`arn:aws:iam::${ACCOUNT}:role/blue-worker-task`, `arn:aws:iam::${ACCOUNT}:role/blue-worker-execution`],
      Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }]);
    expect(grantsOf(statements, 'ecs:TagResource')).toEqual([expect.objectContaining({
      Resource: `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/blue-worker:*`, Condition: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
    })]);
    expect(iamPolicyProblems({ Statement: statements })).toEqual([]);
  });

  it('with a key, encrypts its artifacts with it and may use it', () => {
    const synthesized = build({ kmsKeyArn: KEY_ARN });
    expect(synthesized).toHaveResourceWithProperties(CodebuildProject, { encryption_key: KEY_ARN });
    expect(roleStatements(synthesized, 'i_role')).toContainEqual({ Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: KEY_ARN });
    expect(roleStatements(build(), 'i_role').flatMap((statement) => list(statement.Action)).filter((action) => action.startsWith('kms:'))).toEqual([]);
  });
});

describe('DeliveryPipeline', () => {
  const delivery = (overrides: Parameters<typeof deliveryPipelineProps>[0] = {}) => synth((scope) => { new DeliveryPipeline(scope, 'd', deliveryPipelineProps(overrides)); });
  type Action = Json & { configuration: Record<string, string> };
  const stages = (synthesized: string) => only(synthesized, Codepipeline).stage as { name: string; action: Action[] }[];
  const sourceAction = (synthesized: string) => stages(synthesized)[0]!.action[0]!;
  const useConnection = (synthesized: string) => roleStatements(synthesized, 'd_role').filter((statement) => list(statement.Action).some((action) => action.endsWith(':UseConnection')));

  it('without a connection ARN or token secret, creates a GitHub connection and reads the branch through it', () => {
    const synthesized = delivery();
    expect(synthesized).toHaveResourceWithProperties(CodestarconnectionsConnection, { name: 'blue-github', provider_type: 'GitHub' });
    expect(sourceAction(synthesized)).toMatchObject({
      category: 'Source', owner: 'AWS', provider: 'CodeStarSourceConnection', output_artifacts: ['source'],
      configuration: {
        ConnectionArn: ref('aws_codestarconnections_connection', 'd_github', 'arn'), FullRepositoryId: 'example-org/s3-queue-fargate', BranchName: 'main', DetectChanges: 'true',
      },
    });
  });

  it('keeps a created connection\'s name within the 32 characters AWS allows', () => {
    const name = (only(delivery({ name: 'a-rather-long-blueprint-deployment-name' }), CodestarconnectionsConnection).name as string);
    expect(name).toBe('a-rather-long-blueprint-deployme');
  });

  it('with a connection ARN, uses it and creates no connection', () => {
    const synthesized = delivery({ connectionArn: CONNECTION_ARN, branch: 'release' });
    expect(synthesized).not.toHaveResource(CodestarconnectionsConnection);
    expect(sourceAction(synthesized).configuration).toMatchObject({ ConnectionArn: CONNECTION_ARN, BranchName: 'release' });
    expect(useConnection(synthesized)).toEqual([{ Effect: 'Allow', Action: ['codestar-connections:UseConnection', 'codeconnections:UseConnection'], Resource: CONNECTION_ARN }]);
  });

  it('lets the pipeline role use only the connection it reads from', () => {
    expect(useConnection(delivery())).toEqual([expect.objectContaining({ Resource: ref('aws_codestarconnections_connection', 'd_github', 'arn') })]);
  });

  it('with a token secret, reads the token from Secrets Manager into a GitHub (v1) source, with no connection to use', () => {
    const synthesized = delivery({ tokenSecretName: 'github/token' });
    expect(synthesized).not.toHaveResource(CodestarconnectionsConnection);
    expect(synthesized).toHaveDataSourceWithProperties(DataAwsSecretsmanagerSecretVersion, { secret_id: 'github/token' });
    expect(sourceAction(synthesized)).toMatchObject({
      category: 'Source', owner: 'ThirdParty', provider: 'GitHub',
      configuration: {
        Owner: 'example-org', Repo: 's3-queue-fargate', Branch: 'main', PollForSourceChanges: 'true',
        OAuthToken: expect.stringMatching(/^\$\{data\.aws_secretsmanager_secret_version\.d_github-token_[0-9A-F]{8}\.secret_string\}$/),
      },
    });
    expect(useConnection(synthesized)).toEqual([]);
  });

  it('builds with the project, passing it the commit the source stage read', () => {
    for (const synthesized of [delivery(), delivery({ tokenSecretName: 'github/token' })]) {
      const [source, build] = stages(synthesized);
      // The variable resolves only if the source action publishes under the namespace it names.
      expect(source!.action[0]!.namespace).toBe('SourceVariables');
      expect(build!.action).toEqual([expect.objectContaining({ category: 'Build', provider: 'CodeBuild', input_artifacts: ['source'] })]);
      expect(build!.action[0]!.configuration.ProjectName).toBe('blue-worker-image');
      expect(JSON.parse(build!.action[0]!.configuration.EnvironmentVariables!)).toEqual([{ name: 'COMMIT_ID', value: '#{SourceVariables.CommitId}', type: 'PLAINTEXT' }]);
    }
  });

  it('stores artifacts in the given bucket, which (with the build project) is all the role may touch besides the connection', () => {
    const synthesized = delivery({ connectionArn: CONNECTION_ARN });
    expect(only(synthesized, Codepipeline)).toMatchObject({ artifact_store: [{ location: 'blue-artifacts', type: 'S3' }], role_arn: ref('aws_iam_role', 'd_role', 'arn') });
    const resources = roleStatements(synthesized, 'd_role').flatMap((statement) => list(statement.Resource)).sort();
    expect(resources).toEqual(['arn:aws:s3:::blue-artifacts', 'arn:aws:s3:::blue-artifacts/*', `arn:aws:codebuild:eu-west-1:${ACCOUNT}:project/blue-worker-image`, CONNECTION_ARN].sort());
    expect(JSON.parse(String(only(synthesized, IamRole).assume_role_policy)).Statement).toEqual([
      { Effect: 'Allow', Principal: { Service: 'codepipeline.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ]);
  });

  it('is a V2 pipeline (chosen, not AWS\'s V1 default) in SUPERSEDED mode, with either source', () => {
    for (const synthesized of [delivery(), delivery({ connectionArn: CONNECTION_ARN }), delivery({ tokenSecretName: 'github/token' })]) {
      expect(only(synthesized, Codepipeline)).toMatchObject({ pipeline_type: 'V2', execution_mode: 'SUPERSEDED' });
    }
  });

  it('creates the notification rule after what the topic needs to accept it, when told what that is', () => {
    const synthesized = synth((scope) => {
      const topicPolicy = new SnsTopicPolicy(scope, 'topic-policy', { arn: TOPIC_ARN, policy: '{}' });
      new DeliveryPipeline(scope, 'd', deliveryPipelineProps({ topicDependencies: [topicPolicy] }));
    });
    expect(only(synthesized, CodestarnotificationsNotificationRule).depends_on).toEqual(['aws_sns_topic_policy.topic-policy']);
    expect(only(delivery(), CodestarnotificationsNotificationRule).depends_on).toBeUndefined();
  });

  it('notifies the topic of every failed and succeeded run', () => {
    expect(delivery()).toHaveResourceWithProperties(CodestarnotificationsNotificationRule, {
      resource: ref('aws_codepipeline', 'd_pipeline', 'arn'), detail_type: 'BASIC',
      event_type_ids: ['codepipeline-pipeline-pipeline-execution-failed', 'codepipeline-pipeline-pipeline-execution-succeeded'],
      target: [{ address: TOPIC_ARN }],
    });
  });
});

describe('OperationsTopic', () => {
  const topic = (overrides: Parameters<typeof operationsTopicProps>[0] = {}) => synth((scope) => { new OperationsTopic(scope, 'o', operationsTopicProps(overrides)); });

  it('encrypts the topic with the given customer-managed key', () => {
    expect(topic()).toHaveResourceWithProperties(SnsTopic, { name: 'blue-operations', kms_master_key_id: KEY_ARN });
  });

  it('lets only this account\'s CloudWatch alarms and CodeStar notification rules publish, over TLS', () => {
    const policy = only(topic(), SnsTopicPolicy);
    expect(policy.arn).toEqual(ref('aws_sns_topic', 'o_topic', 'arn'));
    const topicArn = ref('aws_sns_topic', 'o_topic', 'arn');
    const publish = (Sid: string, service: string) => ({
      Sid, Effect: 'Allow', Principal: { Service: service }, Action: 'sns:Publish', Resource: topicArn,
      Condition: { StringEquals: { 'aws:SourceAccount': accountOf('aws_sns_topic', 'o_topic') } },
    });
    expect(policyOf(policy.policy).Statement).toEqual([
      publish('AlarmsPublish', 'cloudwatch.amazonaws.com'),
      publish('PipelineNotificationsPublish', 'codestar-notifications.amazonaws.com'),
      { Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: topicArn, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    ]);
  });

  it('subscribes the e-mail address only when one is set', () => {
    expect(topic()).not.toHaveResource(SnsTopicSubscription);
    expect(only(topic({ email: 'ops@example.com' }), SnsTopicSubscription)).toEqual({ topic_arn: ref('aws_sns_topic', 'o_topic', 'arn'), protocol: 'email', endpoint: 'ops@example.com' });
  });
});

describe('QueueAlarms', () => {
  const alarms = () => byId(synth((scope) => { new QueueAlarms(scope, 'a', queueAlarmsProps({ oldestMessageSeconds: 600 })); }), CloudwatchMetricAlarm);
  const common = { period: 300, evaluation_periods: 1, comparison_operator: 'GreaterThanThreshold', treat_missing_data: 'notBreaching', alarm_actions: [TOPIC_ARN], ok_actions: [TOPIC_ARN] };

  it('raises exactly three alarms, each telling the topic when it fires and when it clears', () => {
    const found = alarms();
    expect(Object.keys(found)).toHaveLength(3);
    for (const alarm of Object.values(found)) expect(alarm).toMatchObject(common);
  });

  it('fires on any dead letter', () => {
    expect(named(alarms(), 'a_dead-letters')).toMatchObject({
      alarm_name: 'blue-dead-letters', namespace: 'AWS/SQS', metric_name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: 'blue-jobs-dlq' },
      statistic: 'Maximum', threshold: 0,
    });
  });

  it('fires when the oldest message has waited longer than oldestMessageSeconds', () => {
    expect(named(alarms(), 'a_oldest-message')).toMatchObject({
      alarm_name: 'blue-oldest-message', namespace: 'AWS/SQS', metric_name: 'ApproximateAgeOfOldestMessage', dimensions: { QueueName: 'blue-jobs' },
      statistic: 'Maximum', threshold: 600,
    });
  });

  it('fires on any scaler error', () => {
    expect(named(alarms(), 'a_scaler-errors')).toMatchObject({
      alarm_name: 'blue-scaler-errors', namespace: 'AWS/Lambda', metric_name: 'Errors', dimensions: { FunctionName: 'blue-scaler' }, statistic: 'Sum', threshold: 0,
    });
  });
});

describe('OperationsDashboard', () => {
  interface Widget { type: string; properties: { title: string; region: string; metrics?: unknown[][]; query?: string } }
  const widgets = () => {
    const dashboard = only(synth((scope) => { new OperationsDashboard(scope, 'o', operationsDashboardProps()); }), CloudwatchDashboard);
    expect(dashboard.dashboard_name).toBe('blue');
    return (JSON.parse(String(dashboard.dashboard_body)) as { widgets: Widget[] }).widgets;
  };
  const widget = (title: string) => {
    const found = widgets().find((candidate) => candidate.properties.title === title);
    if (found === undefined) throw new Error(`no widget "${title}"`);
    expect(found.properties.region).toBe('eu-west-1');
    return found;
  };
  const series = (title: string) => widget(title).properties.metrics!.map((metric) => metric.slice(0, 4));

  it('graphs the queue depth: visible and in-flight on the queue, visible on the DLQ', () => {
    expect(series('Queue depth')).toEqual([
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', 'blue-jobs'],
      ['AWS/SQS', 'ApproximateNumberOfMessagesNotVisible', 'QueueName', 'blue-jobs'],
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', 'blue-jobs-dlq'],
    ]);
  });

  it('graphs the age of the oldest message', () => {
    expect(series('Age of the oldest message (s)')).toEqual([['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', 'blue-jobs']]);
  });

  it('graphs images per minute from the worker\'s metrics, summed', () => {
    const images = widget('Images per minute');
    expect(images.properties.metrics!.map((metric) => metric.slice(0, 4))).toEqual(
      ['ImagesProcessed', 'ImagesSkipped', 'Failures'].map((name) => ['S3QueueWorker', name, 'service', 'worker']),
    );
    expect(images.properties).toMatchObject({ stat: 'Sum', period: 60 });
  });

  it('graphs the tasks, as the cluster and as the scaler see them', () => {
    expect(series('Tasks')).toEqual([
      ['ECS/ContainerInsights', 'TaskCount', 'ClusterName', 'blue'],
      ...['RunningTasks', 'TasksLaunched', 'LaunchFailures'].map((name) => ['S3QueueScaler', name, 'service', 's3-queue-scaler']),
    ]);
  });

  it('lists the latest scaling decisions from the scaler\'s log group', () => {
    const log = widgets().find((candidate) => candidate.type === 'log');
    expect(log?.properties.query).toMatch(/^SOURCE '\/aws\/lambda\/blue-scaler' \|.*\| filter message = "scaling decision" \|.*sort @timestamp desc/);
  });
});
