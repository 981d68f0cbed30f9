import { Construct } from 'constructs';
import { Aspects, TerraformOutput, TerraformStack } from 'cdktf';
import { AwsProvider, type AwsProviderConfig } from '@cdktf/provider-aws/lib/provider';
import { S3BucketNotification } from '@cdktf/provider-aws/lib/s3-bucket-notification';
import { arnLocal, arnPart } from '../arn-part';
import { SecurityPolicyChecks } from '../aspects/security-policy';
import type { InfraConfig } from '../config';
import { ContainerRegistry } from '../constructs/container-registry';
import { DeliveryPipeline } from '../constructs/delivery-pipeline';
import { EncryptionKey } from '../constructs/encryption-key';
import { ImageBuild } from '../constructs/image-build';
import { ImagePointer } from '../constructs/image-pointer';
import { Network } from '../constructs/network';
import { OperationsDashboard } from '../constructs/operations-dashboard';
import { OperationsTopic } from '../constructs/operations-topic';
import { QueueAlarms } from '../constructs/queue-alarms';
import { ScalerFunction } from '../constructs/scaler-function';
import { SecureBucket } from '../constructs/secure-bucket';
import { WorkQueue } from '../constructs/work-queue';
import { WorkerService } from '../constructs/worker-service';

export interface BlueprintStackProps {
  readonly config: InfraConfig;
  /** Only for offline tests: skip the provider's credential and account checks. Real deploys never set it. */
  readonly providerOverrides?: Partial<AwsProviderConfig>;
}

/** The names the worker and scaler publish their EMF metrics under (their defaults; see app/ and scaler/ config). */
const WORKER_METRICS = { namespace: 'S3QueueWorker', service: 'worker' };
const SCALER_METRICS = { namespace: 'S3QueueScaler', service: 's3-queue-scaler' };
const BLUEPRINT_TAG = 'Blueprint';

/** Composes the blueprint; every resource lives in a construct. */
export class BlueprintStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: BlueprintStackProps) {
    super(scope, id);
    const { config } = props;
    new AwsProvider(this, 'aws', { region: config.region, defaultTags: [{ tags: { [BLUEPRINT_TAG]: config.name } }], ...props.providerOverrides });
    Aspects.of(this).add(new SecurityPolicyChecks());

    const key = new EncryptionKey(this, 'key', { name: config.name });
    // Spread into every construct that stores data: the blueprint key when kmsEncryption is on, AWS-managed keys otherwise.
    const dataKey = config.kmsEncryption ? { kmsKeyArn: key.key.arn } : {};
    const network = new Network(this, 'network', {
      name: config.name, region: config.region, cidr: config.vpcCidr, availabilityZones: config.availabilityZones,
      publicSubnetCidrs: config.publicSubnetCidrs, privateSubnetCidrs: config.privateSubnetCidrs, natPerAz: config.natPerAz,
      interfaceEndpoints: config.interfaceEndpoints,
    });
    const bucket = (id: string, extra: { expirationDays?: number } = {}) => new SecureBucket(this, id, {
      bucketPrefix: `${config.name}-${id}-`, forceDestroy: config.forceDestroy, versioning: config.bucketVersioning, ...dataKey, ...extra,
    });
    const source = bucket('source', { expirationDays: config.sourceExpirationDays });
    const destination = bucket('destination');
    const work = new WorkQueue(this, 'work', {
      name: `${config.name}-jobs`, visibilityTimeoutSeconds: config.visibilityTimeoutSeconds, maxReceiveCount: config.maxReceiveCount, sourceBucketArn: source.bucket.arn,
      retentionSeconds: config.queueRetentionSeconds, deadLetterRetentionSeconds: config.deadLetterRetentionSeconds,
      ...dataKey,
    });
    new S3BucketNotification(this, 'source-events', {
      bucket: source.bucket.id,
      queue: config.sourceSuffixes.map((suffix) => ({
        queueArn: work.queue.arn, events: ['s3:ObjectCreated:*'], filterSuffix: suffix, ...(config.sourcePrefix !== '' ? { filterPrefix: config.sourcePrefix } : {}),
      })),
      // S3 checks it may send when the notification is created (a test event), so the queue policy must exist first,
      // and with kmsEncryption the key policy that lets S3 encrypt for the queue too.
      dependsOn: [work.policy, ...(config.kmsEncryption ? [key.policy] : [])],
    });

    const registry = new ContainerRegistry(this, 'registry', {
      name: config.name, keepImages: config.ecrKeepImages, forceDestroy: config.forceDestroy, ...dataKey,
    });
    const image = new ImagePointer(this, 'image', { name: config.name, bootstrapImage: config.bootstrapImage });
    const family = `${config.name}-worker`;
    const workers = new WorkerService(this, 'workers', {
      name: config.name, region: config.region, vpcId: network.vpc.id, image: image.image, cpu: config.taskCpu, memory: config.taskMemory,
      logRetentionDays: config.logRetentionDays, queueArn: work.queue.arn, queueUrl: work.queue.url,
      // The count the redrive policy was built with, so the worker's last attempt is the queue's last receive.
      deadLetterQueueArn: work.deadLetterQueue.arn, deadLetterQueueUrl: work.deadLetterQueue.url, maxReceiveCount: work.maxReceiveCount,
      sourceBucketArn: source.bucket.arn, sourceBucketName: source.bucket.bucket, sourcePrefix: config.sourcePrefix,
      destBucketArn: destination.bucket.arn, destBucketName: destination.bucket.bucket, destPrefix: config.destPrefix,
      sizes: config.sizes, visibilityTimeoutSeconds: config.visibilityTimeoutSeconds, repositoryArn: registry.repository.arn,
      ...dataKey,
    });
    const taskRoleArns = [workers.taskRole.arn, workers.executionRole.arn];
    // Every revision of the family, in this partition and account (read from the cluster's ARN): the scaler runs them, the build tags them.
    const taskDefinitionArnPattern = arnLocal(this, 'task_definition_arns',
      `arn:${arnPart(workers.cluster.arn, 1)}:ecs:${config.region}:${arnPart(workers.cluster.arn, 4)}:task-definition/${family}:*`);
    const topic = new OperationsTopic(this, 'operations', { name: config.name, kmsKeyArn: key.key.arn, email: config.alarmEmail });
    const scaler = new ScalerFunction(this, 'scaler', {
      name: config.name, bundleDir: config.scalerBundleDir, logRetentionDays: config.logRetentionDays,
      queueArn: work.queue.arn, queueUrl: work.queue.url, clusterArn: workers.cluster.arn, taskFamily: family,
      taskDefinitionArnPattern,
      taskArnPattern: arnLocal(this, 'cluster_task_arns',
        `arn:${arnPart(workers.cluster.arn, 1)}:ecs:${config.region}:${arnPart(workers.cluster.arn, 4)}:task/${workers.cluster.name}/*`),
      passRoleArns: taskRoleArns,
      subnetIds: network.privateSubnets.map((subnet) => subnet.id), securityGroupIds: [workers.securityGroup.id],
      maxTasks: config.maxTasks, messagesPerTask: config.messagesPerTask,
      imageParameterArn: image.parameter.arn, imageParameterName: image.parameter.name, bootstrapImage: config.bootstrapImage,
      reservedConcurrency: config.scalerReservedConcurrency, metrics: SCALER_METRICS, alarmTopicArn: topic.topic.arn,
    });

    // Build artifacts are disposable, so this bucket always empties on destroy and forgets after 30 days.
    const artifacts = new SecureBucket(this, 'artifacts', { bucketPrefix: `${config.name}-artifacts-`, forceDestroy: true, expirationDays: 30 });
    const build = new ImageBuild(this, 'image-build', {
      name: config.name, logRetentionDays: config.logRetentionDays, artifactBucketArn: artifacts.bucket.arn,
      repositoryArn: registry.repository.arn, repositoryUrl: registry.repository.repositoryUrl, taskFamily: family, taskDefinitionArnPattern, taskRoleArns,
      imageParameterArn: image.parameter.arn, imageParameterName: image.parameter.name, revisionTag: { key: BLUEPRINT_TAG, value: config.name },
      ...dataKey,
    });
    const delivery = new DeliveryPipeline(this, 'delivery', {
      name: config.name, repository: config.githubRepository, branch: config.githubBranch,
      connectionArn: config.githubConnectionArn, tokenSecretName: config.githubTokenSecretName,
      artifactBucketName: artifacts.bucket.bucket, artifactBucketArn: artifacts.bucket.arn,
      buildProjectName: build.project.name, buildProjectArn: build.project.arn, topicArn: topic.topic.arn,
      // CodeStar Notifications checks it may publish to the (encrypted) topic when the rule is created.
      topicDependencies: [topic.policy, key.policy],
    });
    new QueueAlarms(this, 'alarms', {
      name: config.name, queueName: work.queue.name, deadLetterQueueName: work.deadLetterQueue.name, scalerFunctionName: scaler.function.functionName,
      oldestMessageSeconds: config.oldestMessageAlarmSeconds, topicArn: topic.topic.arn,
    });
    const dashboard = new OperationsDashboard(this, 'dashboard', {
      name: config.name, region: config.region, queueName: work.queue.name, deadLetterQueueName: work.deadLetterQueue.name,
      clusterName: workers.cluster.name, scalerLogGroupName: scaler.logGroup.name, workerMetrics: WORKER_METRICS, scalerMetrics: SCALER_METRICS,
    });

    const output = (name: string, value: string) => new TerraformOutput(this, name, { value });
    output('source_bucket', source.bucket.bucket);
    output('destination_bucket', destination.bucket.bucket);
    output('queue_url', work.queue.url);
    output('dlq_url', work.deadLetterQueue.url);
    output('dlq_arn', work.deadLetterQueue.arn);
    output('cluster_name', workers.cluster.name);
    output('task_family', family);
    output('scaler_function_name', scaler.function.functionName);
    output('ecr_repository_url', registry.repository.repositoryUrl);
    output('pipeline_name', delivery.pipeline.name);
    if (delivery.connectionArn !== undefined) output('github_connection_arn', delivery.connectionArn);
    output('operations_topic_arn', topic.topic.arn);
    output('dashboard_url', `https://${config.region}.console.aws.amazon.com/cloudwatch/home?region=${config.region}#dashboards/dashboard/${dashboard.dashboard.dashboardName}`);
    output('upload_command', `aws s3 cp --recursive ./images s3://${source.bucket.bucket}/${config.sourcePrefix}`);
  }
}
