import { rmSync } from 'node:fs';
import { DEFAULT_INFRA_CONFIG, resolveInfraConfig, type InfraConfigOverrides } from '../src/config';
import { GITHUB, resourcesOf, scalerBundleDir, synthBlueprint, type SynthesizedStack } from './factories';
import { policyOf, type Statement } from './policy-documents';

/**
 * Several pipelines in one stack: what the configuration accepts and refuses, and what a two-pipeline stack gets per
 * pipeline (queue and DLQ, notification rules, task family, image, IAM scoped to its own keys, scaler entry).
 */
const COMMAND = '["node","/opt/app/geojson-stats.js","{input}","{outputDir}"]';
const TWO_PIPELINES: InfraConfigOverrides = {
  pipelines: [
    { name: 'images', sourcePrefix: 'photos/', destPrefix: 'images/' },
    {
      name: 'geojson', job: 'command', jobEnvironment: { COMMAND }, sourcePrefix: 'geo/', sourceSuffixes: ['.geojson', '.json'], destPrefix: 'geojson/',
      image: { name: 'geojson', dockerfile: 'app/jobs/command/example/Dockerfile' }, ephemeralStorageGiB: 50, taskCpu: 1024, taskMemory: 2048,
      maxTasks: 5, messagesPerTask: 2, maxReceiveCount: 3, visibilityTimeoutSeconds: 600, spotWeight: 1, onDemandWeight: 1, onDemandBase: 1,
    },
  ],
};
const resolve = (overrides: InfraConfigOverrides) => resolveInfraConfig({ ...GITHUB, ...overrides });

describe('the pipelines setting', () => {
  it('without pipelines, is one "images" resize pipeline made of the top-level fields, as the stack always was', () => {
    expect(DEFAULT_INFRA_CONFIG.pipelines).toEqual([{
      name: 'images', job: 'resize', jobEnvironment: { SIZES: '224x224,299x299' }, feed: 's3', fanout: undefined, sourcePrefix: '', sourceSuffixes: ['.jpg', '.jpeg', '.JPG', '.JPEG', '.png', '.PNG'],
      destPrefix: '', image: { name: 'worker', dockerfile: 'app/Dockerfile' }, taskCpu: 2048, taskMemory: 4096, ephemeralStorageGiB: undefined,
      spotWeight: 4, onDemandWeight: 1, onDemandBase: 0, maxTasks: 10, messagesPerTask: 10, maxReceiveCount: 5, visibilityTimeoutSeconds: 120,
    }]);
    const [pipeline] = resolve({ sourcePrefix: 'in/', sizes: '128x128', maxTasks: 40, taskCpu: 1024, taskMemory: 3072 }).pipelines;
    expect(pipeline).toMatchObject({ sourcePrefix: 'in/', jobEnvironment: { SIZES: '128x128' }, maxTasks: 40, taskCpu: 1024, taskMemory: 3072 });
  });

  it('fills the first pipeline from the top-level fields, and the others with their own prefixes and the stack-wide sizing', () => {
    const [images, geo] = resolve({ sourcePrefix: 'photos/', destPrefix: 'images/', maxTasks: 20, pipelines: [{ name: 'images' }, { name: 'geo', job: 'command' }] }).pipelines;
    expect(images).toMatchObject({ sourcePrefix: 'photos/', destPrefix: 'images/', maxTasks: 20, job: 'resize' });
    expect(geo).toMatchObject({ sourcePrefix: 'geo/', sourceSuffixes: [], destPrefix: 'geo/', maxTasks: 20, job: 'command', jobEnvironment: {}, image: { name: 'worker' } });
  });

  it('refuses filters that could match the same key, naming both pipelines and both filters', () => {
    expect(() => resolve({ pipelines: [{ name: 'images' }, { name: 'geo', sourcePrefix: 'geo/' }] })).toThrow(
      'pipelines "images" and "geo": source filters "*.jpg" and "geo/*" overlap',
    );
    expect(() => resolve({ pipelines: [{ name: 'a', sourcePrefix: 'in/', sourceSuffixes: ['.json'], destPrefix: 'a/' }, { name: 'b', sourcePrefix: 'in/x/', sourceSuffixes: ['.txt', '.geo.json'] }] }))
      .toThrow('pipelines "a" and "b": source filters "in/*.json" and "in/x/*.geo.json" overlap');
    // ".geojson" does not end with ".json": these two can share a prefix.
    expect(() => resolve({ pipelines: [{ name: 'a', sourcePrefix: 'in/', sourceSuffixes: ['.json'], destPrefix: 'a/' }, { name: 'b', sourcePrefix: 'in/', sourceSuffixes: ['.geojson'] }] }))
      .not.toThrow();
    // Same prefix, suffixes that cannot end one key (and S3's filters are case-sensitive): no overlap.
    expect(() => resolve({ pipelines: [{ name: 'a', sourceSuffixes: ['.jpg'] }, { name: 'b', sourcePrefix: '', sourceSuffixes: ['.JPG', '.geojson'], destPrefix: 'b/' }], destPrefix: 'a/' })).not.toThrow();
    expect(() => resolve({ sourceSuffixes: ['.jpg', 'g'] })).toThrow('pipeline "images": its filters "*.jpg" and "*g" overlap');
  });

  it('refuses destination prefixes that overlap, naming both', () => {
    expect(() => resolve({ pipelines: [{ name: 'images', sourceSuffixes: ['.jpg'] }, { name: 'geo', sourceSuffixes: ['.geojson'], destPrefix: 'geo/' }] })).toThrow(
      'pipelines "images" and "geo": destPrefix "" and "geo/" overlap',
    );
    expect(() => resolve({ pipelines: [{ name: 'a', destPrefix: 'out/' }, { name: 'b', destPrefix: 'out/b/' }] })).toThrow('destPrefix "out/" and "out/b/" overlap');
  });

  it('refuses a duplicate name, a bad name, an unknown field and too many pipelines', () => {
    expect(() => resolve({ pipelines: [{ name: 'a', sourcePrefix: 'x/', destPrefix: 'x/' }, { name: 'a', sourcePrefix: 'y/', destPrefix: 'y/' }] })).toThrow('the name "a" is used twice');
    expect(() => resolve({ pipelines: [{ name: 'Images_1' }] })).toThrow('pipelines[0] "Images_1".name: 1-20 lower-case letters');
    expect(() => resolve({ pipelines: [{ name: 'images', maxTask: 3 } as never] })).toThrow('pipelines[0] "images".maxTask: not a pipeline setting');
    expect(() => resolve({ pipelines: Array.from({ length: 9 }, (_, i) => ({ name: `p${i}` })) })).toThrow('pipelines: a list of 1 to 8 pipelines');
    expect(() => resolve({ pipelines: [] })).toThrow('pipelines: a list of 1 to 8 pipelines');
  });

  it('refuses ephemeral storage outside 21..200 GiB and an invalid size or spot mix, naming the pipeline', () => {
    for (const ephemeralStorageGiB of [20, 201, 50.5]) {
      expect(() => resolve({ pipelines: [{ name: 'images', ephemeralStorageGiB }] })).toThrow(`pipelines[0] "images".ephemeralStorageGiB=${ephemeralStorageGiB}: 21..200`);
    }
    expect(() => resolve({ pipelines: [{ name: 'images', ephemeralStorageGiB: 200 }] })).not.toThrow();
    expect(() => resolve({ pipelines: [{ name: 'images', taskCpu: 512, taskMemory: 8192 }] })).toThrow('pipelines[0] "images".taskMemory=8192: 1024..4096 MiB for taskCpu 512');
    expect(() => resolve({ pipelines: [{ name: 'images', spotWeight: 0, onDemandWeight: 0 }] })).toThrow('spotWeight=0, onDemandWeight=0: 0..1000 each, at least one above 0');
  });

  it('refuses job variables that look like secrets or re-wire the worker, and keys that would widen IAM grants', () => {
    const withEnvironment = (jobEnvironment: Record<string, string>) => () => resolve({ pipelines: [{ name: 'images', jobEnvironment }] });
    for (const name of ['API_TOKEN', 'DB_PASSWORD', 'client_secret', 'LICENSE_KEY']) {
      expect(withEnvironment({ [name]: 'x' })).toThrow(`pipelines[0] "images".jobEnvironment.${name}: looks like a secret`);
    }
    for (const name of ['QUEUE_URL', 'DLQ_URL', 'DEST_BUCKET', 'DEST_PREFIX', 'SOURCE_PREFIX', 'JOB']) {
      expect(withEnvironment({ [name]: 'x' })).toThrow(`pipelines[0] "images".jobEnvironment.${name}: set by the infra from the pipeline`);
    }
    expect(withEnvironment({ AWS_ACCESS_KEY_ID: 'x' })).toThrow('AWS SDK settings come from the task role');
    expect(withEnvironment({ KEYBOARD_LAYOUT: 'us', CONCURRENCY: '4', SIZES: '64x64' })).not.toThrow();
    expect(() => resolve({ pipelines: [{ name: 'images', destPrefix: 'out/*' }] })).toThrow('destPrefix="out/*": a key prefix');
    expect(() => resolve({ pipelines: [{ name: 'images', sourceSuffixes: ['.jp?'] }] })).toThrow('sourceSuffixes: distinct non-empty suffixes');
  });

  it('refuses a derived image without a Dockerfile, one image from two Dockerfiles, and a base image from another', () => {
    expect(() => resolve({ pipelines: [{ name: 'images', image: { name: 'geo' } }] })).toThrow('image.dockerfile="": the derived image\'s Dockerfile');
    expect(() => resolve({ pipelines: [{ name: 'images', image: { name: 'geo', dockerfile: '../Dockerfile' } }] })).toThrow('image.dockerfile="../Dockerfile"');
    expect(() => resolve({
      destPrefix: 'a/', sourcePrefix: 'a/',
      pipelines: [{ name: 'a', image: { name: 'geo', dockerfile: 'x/Dockerfile' } }, { name: 'b', image: { name: 'geo', dockerfile: 'y/Dockerfile' } }],
    })).toThrow('pipelines "a" and "b": image "geo" is built from x/Dockerfile and from y/Dockerfile');
    expect(() => resolve({ pipelines: [{ name: 'images', image: { name: 'worker', dockerfile: 'other/Dockerfile' } }] })).toThrow('"worker" is the base image');
  });
});

describe('a stack with two pipelines', () => {
  let bundleDir: string;
  let json: SynthesizedStack;
  beforeAll(() => {
    bundleDir = scalerBundleDir();
    json = synthBlueprint(TWO_PIPELINES, { bundleDir });
  });
  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

  const byPath = (type: string, path: string) => {
    const entry = Object.entries(json.resource[type] ?? {}).find(([id]) => new RegExp(`^${path}_[0-9A-F]{8}$`).test(id));
    if (entry === undefined) throw new Error(`no ${type} ${path}`);
    return entry[1];
  };
  const ref = (type: string, path: string, attribute: string) => expect.stringMatching(new RegExp(`^\\$\\{${type}\\.${path}_[0-9A-F]{8}\\.${attribute}\\}$`));
  const containerOf = (path: string) => (JSON.parse(String(byPath('aws_ecs_task_definition', path).container_definitions)) as Record<string, unknown>[])[0]!;
  const environmentOf = (path: string) => Object.fromEntries((containerOf(path).environment as { name: string; value: string }[]).map((v) => [v.name, v.value]));
  const roleStatements = (rolePath: string): Statement[] => {
    const policy = resourcesOf(json, 'aws_iam_role_policy').find((p) => new RegExp(`^\\$\\{aws_iam_role\\.${rolePath}_[0-9A-F]{8}\\.id\\}$`).test(String(p.role)));
    return policyOf(policy!.policy).Statement;
  };
  const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);

  /** Whether an Allow of the role's policy grants `action` on `resource`, matching IAM's `*` and `?` as IAM does. */
  const allows = (rolePath: string, action: string, resource: string) => roleStatements(rolePath)
    .filter((s) => s.Effect === 'Allow' && list(s.Action).includes(action))
    .some((s) => list(s.Resource).some((pattern) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(resource)));
  const SOURCE = '${aws_s3_bucket.source_bucket_B5285E68.arn}';
  const DEST = '${aws_s3_bucket.destination_bucket_34A366D0.arn}';

  it('gives each pipeline its own queue and DLQ with the redrive, encryption and retention of the first', () => {
    const queues = resourcesOf(json, 'aws_sqs_queue');
    expect(queues.map((queue) => queue.name).sort()).toEqual(['s3-queue-geojson-jobs', 's3-queue-geojson-jobs-dlq', 's3-queue-jobs', 's3-queue-jobs-dlq']);
    expect(queues.every((queue) => queue.sqs_managed_sse_enabled === true)).toBe(true);
    const geo = byPath('aws_sqs_queue', 'geojson-work_queue');
    expect(geo).toMatchObject({ visibility_timeout_seconds: 600, receive_wait_time_seconds: 20, message_retention_seconds: 4 * 24 * 3600 });
    expect(JSON.parse(String(geo.redrive_policy))).toEqual({ deadLetterTargetArn: ref('aws_sqs_queue', 'geojson-work_dlq', 'arn'), maxReceiveCount: 5 });
    expect(byPath('aws_sqs_queue', 'geojson-work_dlq')).toMatchObject({ message_retention_seconds: 14 * 24 * 3600 });
    const tlsOnly = resourcesOf(json, 'aws_sqs_queue_policy').map((policy) => policyOf(policy.policy).Statement.find((s) => s.Effect === 'Deny'));
    expect(tlsOnly).toEqual(Array(4).fill(expect.objectContaining({ Condition: { Bool: { 'aws:SecureTransport': 'false' } } })));
  });

  it('sends each pipeline its own keys: one notification resource with every pipeline\'s rules, after every queue policy', () => {
    const [notification, ...others] = resourcesOf(json, 'aws_s3_bucket_notification');
    expect(others).toEqual([]);
    const rules = (notification!.queue as { queue_arn: string; filter_prefix?: string; filter_suffix?: string }[]).map((rule) => [rule.queue_arn, rule.filter_prefix, rule.filter_suffix]);
    const images = ref('aws_sqs_queue', 'work_queue', 'arn');
    const geo = ref('aws_sqs_queue', 'geojson-work_queue', 'arn');
    expect(rules).toEqual([
      ...['.jpg', '.jpeg', '.JPG', '.JPEG', '.png', '.PNG'].map((suffix) => [images, 'photos/', suffix]),
      [geo, 'geo/', '.geojson'], [geo, 'geo/', '.json'],
    ]);
    expect(notification!.depends_on).toEqual([expect.stringMatching(/^aws_sqs_queue_policy\.work_policy_/), expect.stringMatching(/^aws_sqs_queue_policy\.geojson-work_policy_/)]);
  });

  it('runs the command pipeline as its own family: its image, size, 50 GiB of disk, JOB=command with its COMMAND, writable /tmp', () => {
    expect(byPath('aws_ecs_task_definition', 'geojson-workers_task')).toMatchObject({
      family: 's3-queue-geojson-worker', cpu: '1024', memory: '2048', ephemeral_storage: { size_in_gib: 50 }, volume: [{ name: 'scratch' }],
      task_role_arn: ref('aws_iam_role', 'geojson-workers_task-role', 'arn'), execution_role_arn: ref('aws_iam_role', 'geojson-workers_execution-role', 'arn'),
    });
    const container = containerOf('geojson-workers_task');
    expect(container).toMatchObject({
      image: ref('aws_ssm_parameter', 'geojson-image_parameter', 'insecure_value'), readonlyRootFilesystem: true, user: '1000:1000',
      mountPoints: [{ sourceVolume: 'scratch', containerPath: '/tmp', readOnly: false }],
      logConfiguration: { options: expect.objectContaining({ 'awslogs-group': ref('aws_cloudwatch_log_group', 'geojson-workers_logs', 'name') }) },
    });
    expect(environmentOf('geojson-workers_task')).toMatchObject({
      JOB: 'command', COMMAND, QUEUE_URL: ref('aws_sqs_queue', 'geojson-work_queue', 'url'), DLQ_URL: ref('aws_sqs_queue', 'geojson-work_dlq', 'url'),
      MAX_RECEIVE_COUNT: '3', SOURCE_PREFIX: 'geo/', DEST_PREFIX: 'geojson/', TASK_MEMORY_MIB: '2048',
    });
    expect(environmentOf('geojson-workers_task')).not.toHaveProperty('SIZES');
    // The resize pipeline stays as it was: no JOB, no disk, no volume, the base image.
    expect(byPath('aws_ecs_task_definition', 'workers_task')).not.toHaveProperty('ephemeral_storage');
    expect(byPath('aws_ecs_task_definition', 'workers_task')).not.toHaveProperty('volume');
    expect(environmentOf('workers_task')).not.toHaveProperty('JOB');
    expect(containerOf('workers_task').image).toEqual(ref('aws_ssm_parameter', 'image_parameter', 'insecure_value'));
  });

  it('lets each task role read only its own source keys and write only its own destination prefix', () => {
    const images = 'workers_task-role';
    const geo = 'geojson-workers_task-role';
    expect(allows(images, 's3:GetObject', `${SOURCE}/photos/cat.jpg`)).toBe(true);
    expect(allows(images, 's3:GetObject', `${SOURCE}/geo/city.geojson`)).toBe(false);
    expect(allows(images, 's3:GetObject', `${SOURCE}/photos/notes.geojson`)).toBe(false);
    expect(allows(geo, 's3:GetObject', `${SOURCE}/geo/city.geojson`)).toBe(true);
    expect(allows(geo, 's3:GetObject', `${SOURCE}/photos/cat.jpg`)).toBe(false);
    expect(allows(images, 's3:PutObject', `${DEST}/images/224x224/cat.jpg`)).toBe(true);
    expect(allows(images, 's3:PutObject', `${DEST}/geojson/city.geojson/stats.json`)).toBe(false);
    expect(allows(geo, 's3:PutObject', `${DEST}/geojson/city.geojson/stats.json`)).toBe(true);
    expect(allows(geo, 's3:PutObject', `${DEST}/images/224x224/cat.jpg`)).toBe(false);
    expect(allows(geo, 'sqs:ReceiveMessage', '${aws_sqs_queue.work_queue_C6302F81.arn}')).toBe(false);
    expect(allows(images, 'sqs:ReceiveMessage', '${aws_sqs_queue.work_queue_C6302F81.arn}')).toBe(true);
  });

  it('lets each execution role pull only its own image', () => {
    const pulls = (rolePath: string) => roleStatements(rolePath).filter((s) => list(s.Action).includes('ecr:BatchGetImage')).flatMap((s) => list(s.Resource));
    expect(pulls('workers_execution-role')).toEqual([ref('aws_ecr_repository', 'registry_repository', 'arn')]);
    expect(pulls('geojson-workers_execution-role')).toEqual([ref('aws_ecr_repository', 'geojson-registry_repository', 'arn')]);
    expect(byPath('aws_ecr_repository', 'geojson-registry_repository')).toMatchObject({ name: 's3-queue-geojson', image_tag_mutability: 'IMMUTABLE' });
    expect(byPath('aws_ssm_parameter', 'geojson-image_parameter')).toMatchObject({ name: '/s3-queue/geojson-image', lifecycle: { ignore_changes: ['insecure_value'] } });
  });

  it('passes exactly the four task and execution roles, from the scaler and from the build', () => {
    const passed = ['workers_task-role', 'workers_execution-role', 'geojson-workers_task-role', 'geojson-workers_execution-role'].map((path) => ref('aws_iam_role', path, 'arn'));
    for (const rolePath of ['scaler_role', 'image-build_role']) {
      const statements = roleStatements(rolePath).filter((s) => list(s.Action).includes('iam:PassRole'));
      expect(statements).toEqual([expect.objectContaining({ Resource: passed, Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } })]);
    }
  });

  it('has one scaler decide for both: each queue, family, rule, strategy and image parameter in PIPELINES, and its grants on each', () => {
    const variables = (resourcesOf(json, 'aws_lambda_function')[0]!.environment as { variables: Record<string, string> }).variables;
    expect(Object.keys(variables).sort()).toEqual(['BOOTSTRAP_IMAGE', 'CLUSTER', 'METRICS_NAMESPACE', 'PIPELINES', 'SECURITY_GROUPS', 'SPOT_FALLBACK', 'SUBNETS']);
    expect(JSON.parse(variables.PIPELINES!)).toEqual([
      {
        name: 'images', queueUrl: ref('aws_sqs_queue', 'work_queue', 'url'), taskFamily: 's3-queue-worker', maxTasks: 10, messagesPerTask: 10,
        capacityProviderStrategy: 'FARGATE_SPOT:4,FARGATE:1', imageParameter: ref('aws_ssm_parameter', 'image_parameter', 'name'),
      },
      {
        name: 'geojson', queueUrl: ref('aws_sqs_queue', 'geojson-work_queue', 'url'), taskFamily: 's3-queue-geojson-worker', maxTasks: 5, messagesPerTask: 2,
        capacityProviderStrategy: 'FARGATE_SPOT:1,FARGATE:1:1', imageParameter: ref('aws_ssm_parameter', 'geojson-image_parameter', 'name'),
      },
    ]);
    const statements = roleStatements('scaler_role');
    const resourcesFor = (action: string) => statements.filter((s) => list(s.Action).includes(action)).flatMap((s) => list(s.Resource));
    expect(resourcesFor('sqs:GetQueueAttributes')).toEqual([ref('aws_sqs_queue', 'work_queue', 'arn'), ref('aws_sqs_queue', 'geojson-work_queue', 'arn')]);
    expect(resourcesFor('ssm:GetParameter')).toEqual([ref('aws_ssm_parameter', 'image_parameter', 'arn'), ref('aws_ssm_parameter', 'geojson-image_parameter', 'arn')]);
    expect(resourcesFor('ecs:RunTask')).toEqual(['${local.task_definition_arns}', '${local.geojson_task_definition_arns}']);
    expect((json as unknown as { locals: Record<string, string> }).locals.geojson_task_definition_arns).toMatch(/:task-definition\/s3-queue-geojson-worker:\*$/);
  });

  it('builds both images, the base first, each rolled out to its own family', () => {
    const project = resourcesOf(json, 'aws_codebuild_project')[0]!;
    const variables = Object.fromEntries(((project.environment as { environment_variable: { name: string; value: string }[] }).environment_variable).map((v) => [v.name, v.value]));
    expect(Object.keys(variables).sort()).toEqual(['IMAGES', 'REVISION_TAG_KEY', 'REVISION_TAG_VALUE']);
    expect(JSON.parse(variables.IMAGES!)).toEqual([
      {
        name: 'worker', dockerfile: 'app/Dockerfile', repository: ref('aws_ecr_repository', 'registry_repository', 'repository_url'),
        parameter: ref('aws_ssm_parameter', 'image_parameter', 'name'), families: ['s3-queue-worker'],
      },
      {
        name: 'geojson', dockerfile: 'app/jobs/command/example/Dockerfile', repository: ref('aws_ecr_repository', 'geojson-registry_repository', 'repository_url'),
        parameter: ref('aws_ssm_parameter', 'geojson-image_parameter', 'name'), families: ['s3-queue-geojson-worker'],
      },
    ]);
    const statements = roleStatements('image-build_role');
    const resourcesFor = (action: string) => statements.filter((s) => list(s.Action).includes(action)).flatMap((s) => list(s.Resource));
    expect(resourcesFor('ecr:PutImage')).toEqual([ref('aws_ecr_repository', 'registry_repository', 'arn'), ref('aws_ecr_repository', 'geojson-registry_repository', 'arn')]);
    expect(resourcesFor('ssm:PutParameter')).toEqual([ref('aws_ssm_parameter', 'image_parameter', 'arn'), ref('aws_ssm_parameter', 'geojson-image_parameter', 'arn')]);
    expect(resourcesFor('ecs:TagResource')).toEqual(['${local.task_definition_arns}', '${local.geojson_task_definition_arns}']);
  });

  it('alarms per pipeline (dead letters, oldest message, crash loop) and shows both on the one dashboard', () => {
    const alarms = resourcesOf(json, 'aws_cloudwatch_metric_alarm').map((alarm) => [alarm.alarm_name, alarm.dimensions]);
    expect(alarms).toEqual(expect.arrayContaining([
      ['s3-queue-geojson-dead-letters', { QueueName: ref('aws_sqs_queue', 'geojson-work_dlq', 'name') }],
      ['s3-queue-geojson-oldest-message', { QueueName: ref('aws_sqs_queue', 'geojson-work_queue', 'name') }],
      ['s3-queue-scaler-crash-loop', { service: 's3-queue-scaler', pipeline: 'images' }],
      ['s3-queue-scaler-geojson-crash-loop', { service: 's3-queue-scaler', pipeline: 'geojson' }],
    ]));
    expect(alarms.filter(([name]) => String(name).endsWith('scaler-errors'))).toHaveLength(1);
    expect(resourcesOf(json, 'aws_cloudwatch_dashboard')).toHaveLength(1);
    const body = String(resourcesOf(json, 'aws_cloudwatch_dashboard')[0]!.dashboard_body);
    expect(body).toContain('"geojson visible"');
    expect(body).toContain('"pipeline","geojson"');
    expect(Object.keys(json.output)).toContain('pipelines');
  });
});
