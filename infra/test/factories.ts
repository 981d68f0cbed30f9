import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type App, Testing } from '../src/framework/core';
import { resolveInfraConfig, type InfraConfigOverrides } from '../src/config';
import type { ContainerRegistryProps } from '../src/constructs/container-registry';
import type { DeliveryPipelineProps } from '../src/constructs/delivery-pipeline';
import type { EncryptionKeyProps } from '../src/constructs/encryption-key';
import type { BuildImage, ImageBuildProps } from '../src/constructs/image-build';
import type { ImagePointerProps } from '../src/constructs/image-pointer';
import type { NetworkProps } from '../src/constructs/network';
import type { OperationsDashboardProps } from '../src/constructs/operations-dashboard';
import type { OperationsTopicProps } from '../src/constructs/operations-topic';
import type { QueueAlarmsProps } from '../src/constructs/queue-alarms';
import type { ScalerFunctionProps, ScalerPipeline } from '../src/constructs/scaler-function';
import type { SecureBucketProps } from '../src/constructs/secure-bucket';
import type { WorkQueueProps } from '../src/constructs/work-queue';
import type { WorkerServiceProps } from '../src/constructs/worker-service';
import { BlueprintStack } from '../src/stacks/blueprint-stack';

/**
 * Default props for each construct, as literal values (not references), so a test can assert the exact ARN or name
 * a construct was given ended up where it promises. Override any field per test.
 */
export const ACCOUNT = '123456789012';
export const KEY_ARN = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1111aaaa-2222-bbbb-3333-cccc4444dddd`;
export const TOPIC_ARN = `arn:aws:sns:eu-west-1:${ACCOUNT}:blue-operations`;
export const DAY = 24 * 3600;
export const CONNECTION_ARN = `arn:aws:codeconnections:eu-west-1:${ACCOUNT}:connection/0f3e2f5a-1111-2222-3333-444455556666`;

export function networkProps(overrides: Partial<NetworkProps> = {}): NetworkProps {
  return {
    name: 'blue', region: 'eu-west-1', cidr: '10.40.0.0/16',
    availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
    publicSubnetCidrs: ['10.40.0.0/24', '10.40.1.0/24', '10.40.2.0/24'],
    privateSubnetCidrs: ['10.40.16.0/20', '10.40.32.0/20', '10.40.48.0/20'],
    natPerAz: false, interfaceEndpoints: false,
    ...overrides,
  };
}

export function secureBucketProps(overrides: Partial<SecureBucketProps> = {}): SecureBucketProps {
  return { bucketPrefix: 'blue-source-', forceDestroy: false, ...overrides };
}

export function workQueueProps(overrides: Partial<WorkQueueProps> = {}): WorkQueueProps {
  return {
    name: 'blue-jobs', visibilityTimeoutSeconds: 120, maxReceiveCount: 5, retentionSeconds: 4 * DAY, deadLetterRetentionSeconds: 14 * DAY,
    sourceBucketArn: 'arn:aws:s3:::blue-source', ...overrides,
  };
}

export function workerServiceProps(overrides: Partial<WorkerServiceProps> = {}): WorkerServiceProps {
  return {
    name: 'blue', region: 'eu-west-1', vpcId: 'vpc-0123', image: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/blue-worker:abc123`,
    cpu: 2048, memory: 4096, logRetentionDays: 14,
    queueArn: `arn:aws:sqs:eu-west-1:${ACCOUNT}:blue-jobs`, queueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/blue-jobs`,
    deadLetterQueueArn: `arn:aws:sqs:eu-west-1:${ACCOUNT}:blue-jobs-dlq`, deadLetterQueueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/blue-jobs-dlq`,
    maxReceiveCount: 5,
    pipeline: { job: 'resize', jobEnvironment: { SIZES: '224x224,299x299' }, sourcePrefix: 'in/', sourceSuffixes: ['.jpg', '.png'], destPrefix: 'out/' },
    shareSource: false,
    sourceBucketArn: 'arn:aws:s3:::blue-source', sourceBucketName: 'blue-source',
    destBucketArn: 'arn:aws:s3:::blue-destination', destBucketName: 'blue-destination',
    visibilityTimeoutSeconds: 120,
    repositoryArn: `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/blue-worker`,
    ...overrides,
  };
}

/** A folder holding a stub `index.js`, standing in for the bundled scaler. */
export function scalerBundleDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scaler-bundle-'));
  writeFileSync(join(dir, 'index.js'), 'exports.handler = async () => ({});\n');
  return dir;
}

export function scalerFunctionProps(bundleDir: string, overrides: Partial<ScalerFunctionProps> = {}): ScalerFunctionProps {
  return {
    name: 'blue', bundleDir, logRetentionDays: 14,
    pipelines: [scalerPipeline()],
    clusterArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/blue`,
    taskArnPattern: `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/blue/*`,
    passRoleArns: [`arn:aws:iam::${ACCOUNT}:role/blue-worker-task`, `arn:aws:iam::${ACCOUNT}:role/blue-worker-execution`],
    subnetIds: ['subnet-a', 'subnet-b'], securityGroupIds: ['sg-worker'],
    bootstrapImage: 'public.ecr.aws/docker/library/node:22-slim', reservedConcurrency: false,
    metrics: { namespace: 'S3QueueScaler', service: 's3-queue-scaler' }, alarmTopicArn: TOPIC_ARN,
    ...overrides,
  };
}

/** One pipeline the scaler decides for; `name` also names its queue, family and image parameter. */
export function scalerPipeline(overrides: Partial<ScalerPipeline> = {}): ScalerPipeline {
  const name = overrides.name ?? 'images';
  const base = name === 'images' ? 'blue' : `blue-${name}`;
  return {
    name, queueArn: `arn:aws:sqs:eu-west-1:${ACCOUNT}:${base}-jobs`, queueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/${base}-jobs`,
    taskFamily: `${base}-worker`, taskDefinitionArnPattern: `arn:aws:ecs:eu-west-1:*:task-definition/${base}-worker:*`,
    maxTasks: 10, messagesPerTask: 10, capacityProviderStrategy: 'FARGATE_SPOT:4,FARGATE:1',
    imageParameterArn: `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/blue/worker-image`, imageParameterName: '/blue/worker-image',
    ...overrides,
  };
}

export function encryptionKeyProps(overrides: Partial<EncryptionKeyProps> = {}): EncryptionKeyProps {
  return { name: 'blue', ...overrides };
}

export function containerRegistryProps(overrides: Partial<ContainerRegistryProps> = {}): ContainerRegistryProps {
  return { name: 'blue', keepImages: 20, forceDestroy: false, ...overrides };
}

export function imagePointerProps(overrides: Partial<ImagePointerProps> = {}): ImagePointerProps {
  return { name: 'blue', bootstrapImage: 'public.ecr.aws/docker/library/node:22-slim', ...overrides };
}

export function imageBuildProps(overrides: Partial<ImageBuildProps> = {}): ImageBuildProps {
  return {
    name: 'blue', logRetentionDays: 14, artifactBucketArn: 'arn:aws:s3:::blue-artifacts',
    images: [buildImage()],
    taskDefinitionArnPatterns: [`arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/blue-worker:*`],
    taskRoleArns: [`arn:aws:iam::${ACCOUNT}:role/blue-worker-task`, `arn:aws:iam::${ACCOUNT}:role/blue-worker-execution`],
    revisionTag: { key: 'Blueprint', value: 'blue' },
    ...overrides,
  };
}

/** The base worker image, or with `name` a derived one, with its repository and parameter. */
export function buildImage(overrides: Partial<BuildImage> = {}): BuildImage {
  const name = overrides.name ?? 'worker';
  return {
    name, dockerfile: name === 'worker' ? 'app/Dockerfile' : `app/jobs/${name}/Dockerfile`,
    repositoryArn: `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/blue-${name}`, repositoryUrl: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/blue-${name}`,
    parameterArn: `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/blue/${name}-image`, parameterName: `/blue/${name}-image`,
    families: ['blue-worker'],
    ...overrides,
  };
}

export function deliveryPipelineProps(overrides: Partial<DeliveryPipelineProps> = {}): DeliveryPipelineProps {
  return {
    name: 'blue', repository: 'example-org/s3-queue-fargate', branch: 'main', connectionArn: '', tokenSecretName: '',
    artifactBucketName: 'blue-artifacts', artifactBucketArn: 'arn:aws:s3:::blue-artifacts',
    buildProjectName: 'blue-worker-image', buildProjectArn: `arn:aws:codebuild:eu-west-1:${ACCOUNT}:project/blue-worker-image`,
    topicArn: TOPIC_ARN,
    ...overrides,
  };
}

export function operationsTopicProps(overrides: Partial<OperationsTopicProps> = {}): OperationsTopicProps {
  return { name: 'blue', kmsKeyArn: KEY_ARN, email: '', ...overrides };
}

export function queueAlarmsProps(overrides: Partial<QueueAlarmsProps> = {}): QueueAlarmsProps {
  return {
    name: 'blue', queueName: 'blue-jobs', deadLetterQueueName: 'blue-jobs-dlq', scalerFunctionName: 'blue-scaler',
    oldestMessageSeconds: 900, topicArn: TOPIC_ARN,
    ...overrides,
  };
}

export function operationsDashboardProps(overrides: Partial<OperationsDashboardProps> = {}): OperationsDashboardProps {
  return {
    name: 'blue', region: 'eu-west-1', queueName: 'blue-jobs', deadLetterQueueName: 'blue-jobs-dlq', clusterName: 'blue',
    scalerLogGroupName: '/aws/lambda/blue-scaler',
    workerMetrics: { namespace: 'S3QueueWorker', service: 'worker' },
    scalerMetrics: { namespace: 'S3QueueScaler', service: 's3-queue-scaler' },
    ...overrides,
  };
}

/** The synthesized JSON of a whole stack, as Terraform reads it. */
export interface SynthesizedStack {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  output: Record<string, unknown>;
  data?: Record<string, unknown>;
}

/** Provider settings that let `terraform plan` run with no AWS account; real deploys never set them. */
export const OFFLINE_PROVIDER = {
  accessKey: 'test', secretKey: 'test', skipCredentialsValidation: true, skipRequestingAccountId: true, skipMetadataApiCheck: 'true', skipRegionValidation: true,
};
export const GITHUB = { githubRepository: 'example-org/s3-queue-fargate' };

export const FANOUT_FAMILY_IMAGE = { name: 'audio-families', dockerfile: 'app/jobs/fanout/example/Dockerfile' };
/**
 * The README's manifest fan-out example: a fan-out pipeline, two families and an aggregator beside the images
 * pipeline, which gets prefixes of its own (its defaults, '' and '', would overlap the group's).
 */
export const FANOUT_EXAMPLE: InfraConfigOverrides = {
  sourcePrefix: 'photos/', destPrefix: 'images/',
  pipelines: [
    { name: 'images' },
    {
      name: 'audio', job: 'fanout', sourcePrefix: 'audio/', sourceSuffixes: ['manifest.json'], destPrefix: 'runs/',
      fanout: { families: ['loudness', 'spectrum'], aggregator: 'audio-summary' },
    },
    { name: 'loudness', job: 'command', feed: 'messages', jobEnvironment: { COMMAND: 'node /opt/fanout/loudness.js {input} {outputDir}' }, image: FANOUT_FAMILY_IMAGE },
    { name: 'spectrum', job: 'command', feed: 'messages', jobEnvironment: { COMMAND: 'node /opt/fanout/spectrum.js {input} {outputDir}' }, image: FANOUT_FAMILY_IMAGE },
    { name: 'audio-summary', job: 'aggregate', feed: 'messages' },
  ],
};

/**
 * The batch README's (app/jobs/batch/INFRA.md) example: a batched-inference pipeline beside the images pipeline, fed
 * by its discovery task (the example source table, the audio under `scores/` in the source bucket, discovery nightly),
 * which gets prefixes of its own (its defaults, '' and '', would cover the batch pipeline's audio prefix).
 */
export const BATCH_EXAMPLE: InfraConfigOverrides = {
  sourcePrefix: 'photos/', destPrefix: 'images/',
  pipelines: [
    { name: 'images' },
    {
      name: 'scores', job: 'batch', maxTasks: 5,
      jobEnvironment: { BATCH_SIZE: '64', BATCH_FLUSH_MS: '2000', MAX_CONCURRENCY: '2' },
      batch: { discoverySchedule: 'cron(30 1 * * ? *)' },
    },
  ],
};

/**
 * The archive-split INFRA.md's (app/jobs/archive-split/INFRA.md) example: an archive-split pipeline beside the images
 * pipeline, which gets prefixes of its own (its default '' would cover the batch ZIPs under `batch/`), reading
 * archives uploaded under `archives/` and requests' archives under `exports/` of a bucket of yours, with an updates
 * queue the stack creates.
 */
export const ARCHIVE_SPLIT_EXAMPLE: InfraConfigOverrides = {
  sourcePrefix: 'photos/', destPrefix: 'images/',
  pipelines: [
    { name: 'images' },
    {
      name: 'archives', job: 'archive-split', maxTasks: 4,
      jobEnvironment: { BATCH_SIZE: '2000', MANIFEST_NAME: 'manifest.csv' },
      archiveSplit: { archivePrefix: 'archives/', outputPrefix: 'batch/', buckets: ['example-exports'], exportPrefixes: ['exports/'] },
    },
  ],
};

/** The blueprint stack with the given settings (a GitHub repository and the stub scaler bundle filled in). */
export function synthBlueprint(overrides: InfraConfigOverrides, options: { bundleDir: string; app?: App }): SynthesizedStack {
  const stack = new BlueprintStack(options.app ?? Testing.app(), 'blueprint', {
    config: resolveInfraConfig({ scalerBundleDir: options.bundleDir, ...GITHUB, ...overrides }), providerOverrides: OFFLINE_PROVIDER,
  });
  return JSON.parse(Testing.synth(stack)) as SynthesizedStack;
}

export const resourceCount = (json: SynthesizedStack) => Object.values(json.resource).reduce((total, byName) => total + Object.keys(byName).length, 0);
export const resourcesOf = (json: SynthesizedStack, type: string) => Object.values(json.resource[type] ?? {});
