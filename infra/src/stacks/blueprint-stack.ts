import { Aspects, Construct, TerraformOutput, TerraformStack } from '../framework/core';
import { AwsProvider, type AwsProviderConfig, S3BucketNotification } from '../framework/aws';
import { arnLocal, arnPart } from '../arn-part';
import { useS3StateBackend } from '../state-backend';
import { SecurityPolicyChecks } from '../aspects/security-policy';
import type { InfraConfig } from '../config';
import { BASE_IMAGE, capacityProviderStrategy, type PipelineConfig } from '../pipelines/pipeline-config';
import { fanoutGroups, fanoutParts } from '../pipelines/fanout-groups';
import { BATCH_JOB } from '../pipelines/batch-settings';
import { archiveSplitEnvironment, queueUrlOfArn } from '../pipelines/archive-split-settings';
import { filterRanges } from '../pipelines/key-ranges';
import { imageNames, pipelineNames } from '../pipelines/pipeline-names';
import { scalerEnvironmentBytes } from '../pipelines/scaler-environment-size';
import { BatchDiscovery } from '../constructs/batch-discovery';
import { ContainerRegistry } from '../constructs/container-registry';
import { DataTable } from '../constructs/data-table';
import { DeliveryPipeline } from '../constructs/delivery-pipeline';
import { EncryptionKey } from '../constructs/encryption-key';
import { ImageBuild } from '../constructs/image-build';
import { ImagePointer } from '../constructs/image-pointer';
import { Network } from '../constructs/network';
import { OperationsDashboard } from '../constructs/operations-dashboard';
import { OperationsTopic } from '../constructs/operations-topic';
import { QueueAlarms } from '../constructs/queue-alarms';
import { LAMBDA_ENVIRONMENT_MAX_BYTES, ScalerFunction } from '../constructs/scaler-function';
import { SecureBucket } from '../constructs/secure-bucket';
import { WorkQueue } from '../constructs/work-queue';
import { WorkerService } from '../constructs/worker-service';
import { UpdatesQueue } from '../constructs/updates-queue';
import { archiveSplitTaskPolicyStatements } from '../policies/archive-split-task-policy';
import { WorkerTaskFamily, type BatchWiring, type FanoutWiring, type WorkerTaskFamilyProps, type WorkerTaskFamilyResources } from '../constructs/worker-task-family';

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
    if (config.stateBackend !== undefined) useS3StateBackend(this, config.stateBackend);
    const scalerBytes = scalerEnvironmentBytes(config, SCALER_METRICS);
    if (scalerBytes > LAMBDA_ENVIRONMENT_MAX_BYTES) {
      throw new Error(`the scaler's variables would take ${scalerBytes} bytes for these ${config.pipelines.length} pipelines, over Lambda's ${LAMBDA_ENVIRONMENT_MAX_BYTES}: ` +
        'use fewer pipelines or shorter pipeline, image or stack names');
    }

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
    const pipelines = config.pipelines.map((pipeline, index) => ({ pipeline, names: pipelineNames(config.name, pipeline.name, index) }));
    const fedByS3 = (pipeline: PipelineConfig) => pipeline.feed === 's3';
    const queues = pipelines.map(({ pipeline, names }) => new WorkQueue(this, `${names.idPrefix}work`, {
      name: names.queueName, visibilityTimeoutSeconds: pipeline.visibilityTimeoutSeconds, maxReceiveCount: pipeline.maxReceiveCount,
      // A messages-fed queue (a fan-out family or aggregator) accepts no S3 event.
      ...(fedByS3(pipeline) ? { sourceBucketArn: source.bucket.arn } : {}),
      retentionSeconds: config.queueRetentionSeconds, deadLetterRetentionSeconds: config.deadLetterRetentionSeconds,
      ...dataKey,
    }));
    const notified = pipelines.map((entry, index) => ({ ...entry, work: queues[index]! })).filter(({ pipeline }) => fedByS3(pipeline));
    // One notification resource per bucket holds every S3-fed pipeline's rules (a second would replace the first's).
    new S3BucketNotification(this, 'source-events', {
      bucket: source.bucket.id,
      queue: notified.flatMap(({ pipeline, work }) => filterRanges(pipeline.sourcePrefix, pipeline.sourceSuffixes).map((range) => ({
        queueArn: work.queue.arn, events: ['s3:ObjectCreated:*'],
        ...(range.suffix !== '' ? { filterSuffix: range.suffix } : {}), ...(range.prefix !== '' ? { filterPrefix: range.prefix } : {}),
      }))),
      // S3 checks it may send when the notification is created (a test event), so the queue policies must exist first,
      // and with kmsEncryption the key policy that lets S3 encrypt for the queues too.
      dependsOn: [...notified.map(({ work }) => work.policy), ...(config.kmsEncryption ? [key.policy] : [])],
    });
    // Each fan-out group member's part: where its group's runs are and which queues it sends to.
    const groups = fanoutGroups(config.pipelines);
    const parts = fanoutParts(groups);
    const queueOf = (name: string) => queues[config.pipelines.findIndex((p) => p.name === name)]!.queue;
    const fanoutWiring = (pipeline: PipelineConfig): FanoutWiring | undefined => {
      const part = parts.get(pipeline.name);
      if (part === undefined) return undefined;
      switch (part.kind) {
        case 'fanout': return {
          kind: 'fanout', root: part.group.root,
          families: part.group.families.map(({ name }) => ({ name, queueArn: queueOf(name).arn, queueUrl: queueOf(name).url })),
        };
        case 'family': return {
          kind: 'family', root: part.group.root, family: part.family,
          aggregatorQueueArn: queueOf(part.group.aggregator.name).arn, aggregatorQueueUrl: queueOf(part.group.aggregator.name).url,
        };
        default: return { kind: 'aggregator', root: part.group.root };
      }
    };

    // Every image the pipelines name, the base worker image first: derived images are built on top of it.
    const imageConfigs = [BASE_IMAGE, ...uniqueBy(config.pipelines.map((p) => p.image).filter((image) => image.name !== BASE_IMAGE.name), (image) => image.name)];
    const images = new Map(imageConfigs.map((image, index) => {
      const names = imageNames(config.name, image.name, index === 0);
      const registry = new ContainerRegistry(this, `${names.idPrefix}registry`, {
        name: config.name, ...(index === 0 ? {} : { imageName: image.name }), keepImages: config.ecrKeepImages, forceDestroy: config.forceDestroy, ...dataKey,
      });
      const pointer = new ImagePointer(this, `${names.idPrefix}image`, {
        name: config.name, ...(index === 0 ? {} : { imageName: image.name }), bootstrapImage: config.bootstrapImage,
      });
      return [image.name, { config: image, registry, pointer }] as const;
    }));
    const imageOf = (pipeline: PipelineConfig) => images.get(pipeline.image.name)!;

    // Each batch pipeline's tables: its results, its discovery watermark, and an example source table unless it names one.
    const tableIdsOf = (idPrefix: string) => idPrefix.replace(/-/g, '_');
    const batchStores = new Map(pipelines.filter(({ pipeline }) => pipeline.job === BATCH_JOB && pipeline.batch !== undefined).map(({ pipeline, names }) => {
      const settings = pipeline.batch!;
      const table = (id: string, name: string, partitionKey: string, sortKey?: string) => new DataTable(this, `${names.idPrefix}${id}`, {
        name: `${names.resourceBase}-${name}`, partitionKey, ...(sortKey !== undefined ? { sortKey } : {}), deletionProtection: !config.forceDestroy, ...dataKey,
      }).table;
      const results = table('results', 'results', 'id');
      const state = table('discovery-state', 'discovery-state', 'name');
      const example = settings.sourceTableName === '' ? table('records', 'records', 'date', 'id') : undefined;
      // A table of yours: by ARN as given, or by name in this account and region (read from the results table's ARN).
      const sourceTable = example !== undefined
        ? { name: example.name, arn: example.arn }
        : {
          name: settings.sourceTableName,
          arn: settings.sourceTableName.startsWith('arn:') ? settings.sourceTableName
            : arnLocal(this, `${tableIdsOf(names.idPrefix)}source_table_arn`, `arn:${arnPart(results.arn, 1)}:dynamodb:${config.region}:${arnPart(results.arn, 4)}:table/${settings.sourceTableName}`),
        };
      const audio = settings.audioBucket === ''
        ? { arn: source.bucket.arn, name: source.bucket.bucket }
        : { arn: arnLocal(this, `${tableIdsOf(names.idPrefix)}audio_bucket_arn`, `arn:${arnPart(results.arn, 1)}:s3:::${settings.audioBucket}`), name: settings.audioBucket };
      const wiring: BatchWiring = {
        audioBucketArn: audio.arn, audioBucketName: audio.name, audioPrefix: settings.audioPrefix, resultStore: settings.resultStore,
        resultsTableArn: results.arn, resultsTableName: results.name,
      };
      return [pipeline.name, { settings, results, state, sourceTable, wiring }] as const;
    }));

    // Each archive-split pipeline's callback queues (an "updates" queue of its own unless it names yours) and the other
    // buckets its requests may name, in this partition (read from the source bucket's ARN).
    const archiveSplits = new Map(pipelines.filter(({ pipeline }) => pipeline.archiveSplit !== undefined).map(({ pipeline, names }) => {
      const settings = pipeline.archiveSplit!;
      const updates = settings.callbackQueues.length === 0
        ? new UpdatesQueue(this, `${names.idPrefix}updates`, { name: `${names.resourceBase}-updates`, retentionSeconds: config.queueRetentionSeconds, ...dataKey })
        : undefined;
      const callbackQueues = updates !== undefined ? [{ arn: updates.queue.arn, url: updates.queue.url }] : settings.callbackQueues.map((arn) => ({ arn, url: queueUrlOfArn(arn) }));
      const extraBucketArns = settings.buckets.map((bucketName, index) =>
        arnLocal(this, `${tableIdsOf(names.idPrefix)}archive_bucket_${index + 1}_arn`, `arn:${arnPart(source.bucket.arn, 1)}:s3:::${bucketName}`));
      const environment = archiveSplitEnvironment(settings, { sourceBucketName: source.bucket.bucket, callbackQueueUrls: callbackQueues.map(({ url }) => url) });
      return [pipeline.name, { settings, updates, callbackQueues, extraBucketArns, environment }] as const;
    }));

    const familyProps = ({ pipeline, names }: (typeof pipelines)[number], index: number): WorkerTaskFamilyProps => {
      const work = queues[index]!;
      const wiring = fanoutWiring(pipeline);
      const archiveSplit = archiveSplits.get(pipeline.name);
      return {
        name: names.resourceBase, region: config.region, image: imageOf(pipeline).pointer.image, cpu: pipeline.taskCpu, memory: pipeline.taskMemory,
        ...(pipeline.ephemeralStorageGiB !== undefined ? { ephemeralStorageGiB: pipeline.ephemeralStorageGiB } : {}),
        logRetentionDays: config.logRetentionDays, shareSource: pipelines.length > 1,
        // An archive-split worker is told its prefixes, buckets and callback queues after its own variables, which may not name them.
        pipeline: archiveSplit !== undefined ? { ...pipeline, jobEnvironment: { ...pipeline.jobEnvironment, ...archiveSplit.environment } } : pipeline,
        queueArn: work.queue.arn, queueUrl: work.queue.url,
        // The count the redrive policy was built with, so the worker's last attempt is the queue's last receive.
        deadLetterQueueArn: work.deadLetterQueue.arn, deadLetterQueueUrl: work.deadLetterQueue.url, maxReceiveCount: work.maxReceiveCount,
        sourceBucketArn: source.bucket.arn, sourceBucketName: source.bucket.bucket,
        destBucketArn: destination.bucket.arn, destBucketName: destination.bucket.bucket,
        visibilityTimeoutSeconds: pipeline.visibilityTimeoutSeconds, repositoryArn: imageOf(pipeline).registry.repository.arn,
        ...dataKey,
        ...(wiring !== undefined ? { fanout: wiring } : {}),
        ...(batchStores.has(pipeline.name) ? { batch: batchStores.get(pipeline.name)!.wiring } : {}),
      };
    };
    const workers = new WorkerService(this, 'workers', { vpcId: network.vpc.id, ...familyProps(pipelines[0]!, 0) });
    const families: WorkerTaskFamilyResources[] = [
      workers,
      ...pipelines.slice(1).map((entry, index) => new WorkerTaskFamily(this, `${entry.names.idPrefix}workers`, familyProps(entry, index + 1))),
    ];
    // An archive-split task role reads its archives, writes its batch ZIPs and sends its callbacks, instead of the
    // source-prefix reads and destination-prefix writes the family gives a worker role.
    pipelines.forEach(({ pipeline }, index) => {
      const archiveSplit = archiveSplits.get(pipeline.name);
      if (archiveSplit === undefined) return;
      families[index]!.taskPolicy.policy = JSON.stringify({
        Version: '2012-10-17',
        Statement: archiveSplitTaskPolicyStatements({
          queueArn: queues[index]!.queue.arn, deadLetterQueueArn: queues[index]!.deadLetterQueue.arn,
          sourceBucketArn: source.bucket.arn, archivePrefix: archiveSplit.settings.archivePrefix,
          extraBucketArns: archiveSplit.extraBucketArns, exportPrefixes: archiveSplit.settings.exportPrefixes, outputPrefix: archiveSplit.settings.outputPrefix,
          callbackQueueArns: archiveSplit.callbackQueues.map(({ arn }) => arn),
          ...dataKey,
        }),
      });
    });
    const taskRoleArns = families.flatMap((family) => [family.taskRole.arn, family.executionRole.arn]);
    const subnetIds = network.privateSubnets.map((subnet) => subnet.id);
    // The least-privilege checks, told which task roles share a fan-out group's runs by design.
    Aspects.of(this).add(new SecurityPolicyChecks({
      fanoutGroups: Object.fromEntries(groups.map((group) => [group.fanout.name, config.pipelines
        .map((pipeline, index) => ({ pipeline, index })).filter(({ pipeline }) => parts.get(pipeline.name)?.group === group).map(({ index }) => families[index]!.taskPolicy)])),
    }));
    // Every revision of each family, in this partition and account (read from the cluster's ARN): the scaler runs them, the build tags them.
    const arnPrefix = `arn:${arnPart(workers.cluster.arn, 1)}:ecs:${config.region}:${arnPart(workers.cluster.arn, 4)}`;
    const taskDefinitionArnPatterns = pipelines.map(({ names }) =>
      arnLocal(this, `${names.idPrefix.replace(/-/g, '_')}task_definition_arns`, `${arnPrefix}:task-definition/${names.taskFamily}:*`));
    // Each batch pipeline's discovery task, in its pipeline's image, on its schedule (or run once with its command).
    const discoveries = pipelines.filter(({ pipeline }) => batchStores.has(pipeline.name)).map(({ pipeline, names }) => {
      const store = batchStores.get(pipeline.name)!;
      const work = queues[config.pipelines.indexOf(pipeline)]!;
      const discovery = new BatchDiscovery(this, `${names.idPrefix}discovery`, {
        name: names.resourceBase, region: config.region, image: imageOf(pipeline).pointer.image, repositoryArn: imageOf(pipeline).registry.repository.arn,
        logRetentionDays: config.logRetentionDays,
        sourceTable: store.sourceTable, stateTable: { name: store.state.name, arn: store.state.arn }, resultsTable: { name: store.results.name, arn: store.results.arn },
        queueArn: work.queue.arn, queueUrl: work.queue.url, ...dataKey,
        clusterArn: workers.cluster.arn, clusterName: workers.cluster.name,
        taskDefinitionArnPattern: arnLocal(this, `${tableIdsOf(names.idPrefix)}discovery_task_definition_arns`, `${arnPrefix}:task-definition/${names.resourceBase}-discovery:*`),
        schedule: store.settings.discoverySchedule, subnetIds, securityGroupIds: [workers.securityGroup.id],
      });
      return { pipeline, names, discovery };
    });
    const topic = new OperationsTopic(this, 'operations', { name: config.name, kmsKeyArn: key.key.arn, email: config.alarmEmail });
    const scaler = new ScalerFunction(this, 'scaler', {
      name: config.name, bundleDir: config.scalerBundleDir, logRetentionDays: config.logRetentionDays,
      pipelines: pipelines.map(({ pipeline, names }, index) => ({
        name: pipeline.name, queueArn: queues[index]!.queue.arn, queueUrl: queues[index]!.queue.url, taskFamily: names.taskFamily,
        taskDefinitionArnPattern: taskDefinitionArnPatterns[index]!, maxTasks: pipeline.maxTasks, messagesPerTask: pipeline.messagesPerTask,
        capacityProviderStrategy: capacityProviderStrategy(pipeline),
        imageParameterArn: imageOf(pipeline).pointer.parameter.arn, imageParameterName: imageOf(pipeline).pointer.parameter.name,
      })),
      clusterArn: workers.cluster.arn,
      taskArnPattern: arnLocal(this, 'cluster_task_arns', `${arnPrefix}:task/${workers.cluster.name}/*`),
      passRoleArns: taskRoleArns,
      subnetIds, securityGroupIds: [workers.securityGroup.id],
      bootstrapImage: config.bootstrapImage,
      reservedConcurrency: config.scalerReservedConcurrency, metrics: SCALER_METRICS, alarmTopicArn: topic.topic.arn,
    });

    // Build artifacts are disposable, so this bucket always empties on destroy and forgets after 30 days.
    const artifacts = new SecureBucket(this, 'artifacts', { bucketPrefix: `${config.name}-artifacts-`, forceDestroy: true, expirationDays: 30 });
    const build = new ImageBuild(this, 'image-build', {
      name: config.name, logRetentionDays: config.logRetentionDays, artifactBucketArn: artifacts.bucket.arn,
      images: [...images.values()].map(({ config: image, registry, pointer }) => ({
        name: image.name, dockerfile: image.dockerfile, repositoryArn: registry.repository.arn, repositoryUrl: registry.repository.repositoryUrl,
        parameterArn: pointer.parameter.arn, parameterName: pointer.parameter.name,
        // A discovery family runs its batch pipeline's image: each build registers its revision too.
        families: [
          ...pipelines.filter(({ pipeline }) => pipeline.image.name === image.name).map(({ names }) => names.taskFamily),
          ...discoveries.filter(({ pipeline }) => pipeline.image.name === image.name).map(({ discovery }) => discovery.family),
        ],
      })),
      taskDefinitionArnPatterns: [...taskDefinitionArnPatterns, ...discoveries.map(({ discovery }) => discovery.taskDefinitionArnPattern)],
      taskRoleArns: [...taskRoleArns, ...discoveries.flatMap(({ discovery }) => [discovery.taskRole.arn, discovery.executionRole.arn])],
      revisionTag: { key: BLUEPRINT_TAG, value: config.name },
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
    pipelines.forEach(({ names }, index) => {
      new QueueAlarms(this, `${names.idPrefix}alarms`, {
        name: names.resourceBase, queueName: queues[index]!.queue.name, deadLetterQueueName: queues[index]!.deadLetterQueue.name,
        ...(index === 0 ? { scalerFunctionName: scaler.function.functionName } : {}),
        oldestMessageSeconds: config.oldestMessageAlarmSeconds, topicArn: topic.topic.arn,
      });
    });
    const work = queues[0]!;
    const dashboard = new OperationsDashboard(this, 'dashboard', {
      name: config.name, region: config.region, queueName: work.queue.name, deadLetterQueueName: work.deadLetterQueue.name,
      clusterName: workers.cluster.name, scalerLogGroupName: scaler.logGroup.name, workerMetrics: WORKER_METRICS, scalerMetrics: SCALER_METRICS,
      ...(pipelines.length > 1
        ? { pipelines: pipelines.map(({ pipeline }, index) => ({ name: pipeline.name, queueName: queues[index]!.queue.name, deadLetterQueueName: queues[index]!.deadLetterQueue.name })) }
        : {}),
      // The batch job's own metrics, only where a batch pipeline publishes them.
      batchMetrics: batchStores.size > 0,
    });

    const output = (name: string, value: string) => new TerraformOutput(this, name, { value });
    output('source_bucket', source.bucket.bucket);
    output('destination_bucket', destination.bucket.bucket);
    output('queue_url', work.queue.url);
    output('dlq_url', work.deadLetterQueue.url);
    output('dlq_arn', work.deadLetterQueue.arn);
    output('cluster_name', workers.cluster.name);
    output('task_family', pipelines[0]!.names.taskFamily);
    output('scaler_function_name', scaler.function.functionName);
    output('ecr_repository_url', images.get(BASE_IMAGE.name)!.registry.repository.repositoryUrl);
    output('pipeline_name', delivery.pipeline.name);
    if (delivery.connectionArn !== undefined) output('github_connection_arn', delivery.connectionArn);
    output('operations_topic_arn', topic.topic.arn);
    output('dashboard_url', `https://${config.region}.console.aws.amazon.com/cloudwatch/home?region=${config.region}#dashboards/dashboard/${dashboard.dashboard.dashboardName}`);
    output('upload_command', `aws s3 cp --recursive ./images s3://${source.bucket.bucket}/${config.pipelines[0]!.sourcePrefix}`);
    // One discovery run for a given date: replace the placeholder (YYYY-MM-DD) and paste.
    for (const { pipeline, discovery } of discoveries) output(`discovery_command_${pipeline.name.replace(/-/g, '_')}`, discovery.runTaskCommand);
    // Where an archive-split pipeline's callbacks arrive, when the stack created the queue.
    for (const [name, { updates }] of archiveSplits) if (updates !== undefined) output(`updates_queue_url_${name.replace(/-/g, '_')}`, updates.queue.url);
    // With several pipelines, where each one's work goes and comes out; the outputs above are the first pipeline's.
    if (pipelines.length > 1) {
      new TerraformOutput(this, 'pipelines', {
        value: Object.fromEntries(pipelines.map(({ pipeline, names }, index) => [pipeline.name, {
          queue_url: queues[index]!.queue.url, dlq_url: queues[index]!.deadLetterQueue.url, task_family: names.taskFamily,
          source: fedByS3(pipeline) ? `s3://${source.bucket.bucket}/${pipeline.sourcePrefix}`
            : batchStores.has(pipeline.name) ? `records discovered in ${batchStores.get(pipeline.name)!.sourceTable.name}, files in s3://${batchStores.get(pipeline.name)!.wiring.audioBucketName}/${pipeline.sourcePrefix}`
              : `messages from fan-out pipeline ${parts.get(pipeline.name)?.group.fanout.name ?? '(none)'}`,
          suffixes: pipeline.sourceSuffixes.join(' '),
          destination: batchStores.has(pipeline.name) ? `dynamodb table ${batchStores.get(pipeline.name)!.results.name}`
            : archiveSplits.has(pipeline.name) ? `batch ZIPs under ${pipeline.archiveSplit!.outputPrefix} in the archive's bucket`
              : `s3://${destination.bucket.bucket}/${pipeline.destPrefix}`,
        }])),
      });
    }
  }
}

function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(key(item)) && seen.add(key(item)));
}
