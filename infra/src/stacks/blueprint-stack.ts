import { Construct } from 'constructs';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { AwsProvider, type AwsProviderConfig } from '@cdktf/provider-aws/lib/provider';
import { S3BucketNotification } from '@cdktf/provider-aws/lib/s3-bucket-notification';
import type { InfraConfig } from '../config';
import { Network } from '../constructs/network';
import { ScalerFunction } from '../constructs/scaler-function';
import { SecureBucket } from '../constructs/secure-bucket';
import { WorkQueue } from '../constructs/work-queue';
import { WorkerService } from '../constructs/worker-service';

export interface BlueprintStackProps {
  readonly config: InfraConfig;
  /** Only for offline tests: skip the provider's credential and account checks. Real deploys never set it. */
  readonly providerOverrides?: Partial<AwsProviderConfig>;
}

/** Composes the blueprint; every resource lives in a construct. */
export class BlueprintStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: BlueprintStackProps) {
    super(scope, id);
    const { config } = props;
    new AwsProvider(this, 'aws', { region: config.region, defaultTags: [{ tags: { Blueprint: config.name } }], ...props.providerOverrides });

    const network = new Network(this, 'network', {
      name: config.name, region: config.region, cidr: config.vpcCidr, availabilityZones: config.availabilityZones,
      publicSubnetCidrs: config.publicSubnetCidrs, privateSubnetCidrs: config.privateSubnetCidrs, natPerAz: config.natPerAz,
    });
    const source = new SecureBucket(this, 'source', { bucketPrefix: `${config.name}-source-`, forceDestroy: config.forceDestroy });
    const destination = new SecureBucket(this, 'destination', { bucketPrefix: `${config.name}-destination-`, forceDestroy: config.forceDestroy });
    const work = new WorkQueue(this, 'work', {
      name: `${config.name}-jobs`, visibilityTimeoutSeconds: config.visibilityTimeoutSeconds, maxReceiveCount: config.maxReceiveCount, sourceBucketArn: source.bucket.arn,
    });
    new S3BucketNotification(this, 'source-events', {
      bucket: source.bucket.id,
      queue: config.sourceSuffixes.map((suffix) => ({
        queueArn: work.queue.arn, events: ['s3:ObjectCreated:*'], filterSuffix: suffix, ...(config.sourcePrefix !== '' ? { filterPrefix: config.sourcePrefix } : {}),
      })),
      // S3 checks it may send when the notification is created, so the queue policy must exist first.
      dependsOn: [work.policy],
    });
    const workers = new WorkerService(this, 'workers', {
      name: config.name, region: config.region, vpcId: network.vpc.id, image: config.bootstrapImage, cpu: config.taskCpu, memory: config.taskMemory,
      logRetentionDays: config.logRetentionDays, queueArn: work.queue.arn, queueUrl: work.queue.url,
      sourceBucketArn: source.bucket.arn, sourceBucketName: source.bucket.bucket, sourcePrefix: config.sourcePrefix,
      destBucketArn: destination.bucket.arn, destBucketName: destination.bucket.bucket, destPrefix: config.destPrefix,
      sizes: config.sizes, visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
    });
    const family = `${config.name}-worker`;
    const scaler = new ScalerFunction(this, 'scaler', {
      name: config.name, bundleDir: config.scalerBundleDir, logRetentionDays: config.logRetentionDays,
      queueArn: work.queue.arn, queueUrl: work.queue.url, clusterArn: workers.cluster.arn, taskFamily: family,
      taskDefinitionArnPattern: `arn:aws:ecs:${config.region}:*:task-definition/${family}:*`,
      passRoleArns: [workers.taskRole.arn, workers.executionRole.arn],
      subnetIds: network.privateSubnets.map((subnet) => subnet.id), securityGroupIds: [workers.securityGroup.id],
      maxTasks: config.maxTasks, messagesPerTask: config.messagesPerTask,
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
    output('upload_command', `aws s3 cp --recursive ./images s3://${source.bucket.bucket}/${config.sourcePrefix}`);
  }
}
