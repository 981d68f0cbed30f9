import { rmSync } from 'node:fs';
import { writablePatterns } from '../../shared/fanout/run-layout';
import { ARCHIVE_SPLIT_EXAMPLE, BATCH_EXAMPLE, CONNECTION_ARN, FANOUT_EXAMPLE, resourcesOf, scalerBundleDir, synthBlueprint, type SynthesizedStack } from './factories';
import { policyOf } from './policy-documents';

/**
 * Every `*` in a Resource of every policy in the stack (IAM role policies, and the bucket, queue, topic and key
 * policies), with the reason it is there. The list is exact: a new wildcard, or one that goes away, fails until this
 * table (and the README's list, which is this table) says why. References are shown without their hash suffix;
 * `<partition>` and `<account>` are read from the ARN of the resource named after them at apply time.
 */
const WILDCARD_RESOURCES: Record<string, string> = {
  // No resource-level permissions exist for these: "*" is the only resource AWS accepts.
  'role workers_execution-role allows ecr:GetAuthorizationToken on *':
    'no resource-level permission exists for it (a registry login token, read-only)',
  'role image-build_role allows ecr:GetAuthorizationToken, ecs:DescribeTaskDefinition on *':
    'no resource-level permission exists for either (login token; reading the current revision), both read-only',
  'role image-build_role allows ecs:RegisterTaskDefinition on *':
    'no resource-level permission exists for it; the condition aws:RequestTag/Blueprint=<name> narrows it to revisions carrying the blueprint tag',
  'role scaler_role allows ecs:ListTasks on *':
    'no resource-level permission exists for it; the condition ecs:cluster narrows it to the blueprint cluster',
  // A suffix wildcard: the names below it are chosen at run time.
  'role workers_execution-role allows logs:CreateLogStream, logs:PutLogEvents on ${aws_cloudwatch_log_group.workers_logs.arn}:*':
    'the log streams of the worker log group (one per task, named by the awslogs driver)',
  'role scaler_role allows logs:CreateLogStream, logs:PutLogEvents on ${aws_cloudwatch_log_group.scaler_logs.arn}:*':
    'the log streams of the scaler log group (one per Lambda instance)',
  'role image-build_role allows logs:CreateLogStream, logs:PutLogEvents on ${aws_cloudwatch_log_group.image-build_logs.arn}:*':
    'the log streams of the build log group (one per build)',
  'role workers_task-role allows s3:GetObject on ${aws_s3_bucket.source_bucket.arn}/*':
    'the objects under sourcePrefix (here empty: the whole source bucket); uploaders choose the keys',
  'role workers_task-role allows s3:GetObject, s3:PutObject, s3:AbortMultipartUpload on ${aws_s3_bucket.destination_bucket.arn}/*':
    'the objects under destPrefix (here empty: the whole destination bucket); output keys follow the source keys',
  'role image-build_role allows s3:GetObject, s3:GetObjectVersion, s3:PutObject on ${aws_s3_bucket.artifacts_bucket.arn}/*':
    'the pipeline artifacts, whose keys CodePipeline chooses; the bucket holds nothing else',
  'role delivery_role allows s3:GetObject, s3:GetObjectVersion, s3:PutObject on ${aws_s3_bucket.artifacts_bucket.arn}/*':
    'the pipeline artifacts, whose keys CodePipeline chooses; the bucket holds nothing else',
  'role scaler_role allows ecs:RunTask on arn:<partition of aws_ecs_cluster.workers_cluster>:ecs:us-east-1:<account of aws_ecs_cluster.workers_cluster>:task-definition/s3-queue-worker:*':
    'every revision of the worker family (each build registers one); the scaler runs the newest, and the condition ecs:cluster keeps it to the blueprint cluster',
  'role image-build_role allows ecs:TagResource on arn:<partition of aws_ecs_cluster.workers_cluster>:ecs:us-east-1:<account of aws_ecs_cluster.workers_cluster>:task-definition/s3-queue-worker:*':
    'the revision the build registers, tagged as it is created (condition ecs:CreateAction=RegisterTaskDefinition)',
  'role scaler_role allows ecs:TagResource on arn:<partition of aws_ecs_cluster.workers_cluster>:ecs:us-east-1:<account of aws_ecs_cluster.workers_cluster>:task/${aws_ecs_cluster.workers_cluster.name}/*':
    'the blueprint cluster\'s tasks, whose ids exist only once started; only as RunTask creates them (condition ecs:CreateAction=RunTask), for propagateTags',
  'role scaler_role allows ecs:DescribeTasks on arn:<partition of aws_ecs_cluster.workers_cluster>:ecs:us-east-1:<account of aws_ecs_cluster.workers_cluster>:task/${aws_ecs_cluster.workers_cluster.name}/*':
    'the blueprint cluster\'s tasks, read-only: the crash-loop guard reads how recent tasks stopped (exit code, stop code)',
  // Resource policies.
  'bucket policy of aws_s3_bucket.source_bucket denies s3:* on ${aws_s3_bucket.source_bucket.arn}/*':
    'a Deny: every object of the bucket refuses requests without TLS',
  'bucket policy of aws_s3_bucket.destination_bucket denies s3:* on ${aws_s3_bucket.destination_bucket.arn}/*':
    'a Deny: every object of the bucket refuses requests without TLS',
  'bucket policy of aws_s3_bucket.artifacts_bucket denies s3:* on ${aws_s3_bucket.artifacts_bucket.arn}/*':
    'a Deny: every object of the bucket refuses requests without TLS',
  'key policy of aws_kms_key.key allows kms:* on *':
    'in a key policy "*" is the key itself; the account administers its key (IAM policies then grant its use)',
  'key policy of aws_kms_key.key allows kms:GenerateDataKey*, kms:Decrypt on *':
    'in a key policy "*" is the key itself; CloudWatch, CodeStar Notifications and S3 use it for this account only (aws:SourceAccount)',
};

const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);

/** A reference without its hash, arnPart expressions as `<partition of …>` / `<account of …>`, locals resolved. */
function readable(text: string, locals: Record<string, string>): string {
  return text
    .replace(/\$\{local\.(\w+)\}/g, (_match, name: string) => readable(locals[name] ?? `<no local ${name}>`, locals))
    .replace(/\$\{element\(split\(":", (aws_\w+)\.([\w-]+)_[0-9A-F]{8}\.arn\), ([14])\)\}/g, (_match, type: string, path: string, index: string) =>
      `<${index === '1' ? 'partition' : 'account'} of ${type}.${path}>`)
    .replace(/(aws_\w+)\.([\w-]+)_[0-9A-F]{8}/g, '$1.$2');
}

/** The owner of a policy resource, from the reference it is attached by. */
function ownerOf(type: string, policy: Record<string, unknown>, locals: Record<string, string>): string {
  const target = (attribute: string) => readable(String(policy[attribute]), locals).replace(/^\$\{(.*)\.\w+\}$/, '$1');
  switch (type) {
    case 'aws_iam_role_policy': return `role ${target('role').replace(/^aws_iam_role\./, '')}`;
    case 'aws_s3_bucket_policy': return `bucket policy of ${target('bucket')}`;
    case 'aws_sqs_queue_policy': return `queue policy of ${target('queue_url')}`;
    case 'aws_sns_topic_policy': return `topic policy of ${target('arn')}`;
    default: return `key policy of ${target('key_id')}`;
  }
}

const POLICY_TYPES = ['aws_iam_role_policy', 'aws_s3_bucket_policy', 'aws_sqs_queue_policy', 'aws_sns_topic_policy', 'aws_kms_key_policy'];

/** "<owner> allows|denies <actions> on <resource>" for every Resource with a `*`. */
function wildcardResources(json: SynthesizedStack): string[] {
  const locals = ((json as unknown as { locals?: Record<string, string> }).locals) ?? {};
  return POLICY_TYPES.flatMap((type) => resourcesOf(json, type).flatMap((policy) => {
    const owner = ownerOf(type, policy, locals);
    return policyOf(policy.policy).Statement.flatMap((statement) => list(statement.Resource)
      .map((resource) => readable(resource, locals))
      .filter((resource) => resource.includes('*'))
      .map((resource) => `${owner} ${statement.Effect === 'Allow' ? 'allows' : 'denies'} ${list(statement.Action).join(', ')} on ${resource}`));
  }));
}

let bundleDir: string;
beforeAll(() => { bundleDir = scalerBundleDir(); });
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

it('names "*" in a policy Resource exactly where the table says, and says why each time', () => {
  const everyOption = synthBlueprint({ kmsEncryption: true, bucketVersioning: true, interfaceEndpoints: true, githubConnectionArn: CONNECTION_ARN }, { bundleDir });
  for (const json of [synthBlueprint({}, { bundleDir }), everyOption]) {
    expect([...new Set(wildcardResources(json))].sort()).toEqual(Object.keys(WILDCARD_RESOURCES).sort());
  }
});

it('narrows the object wildcards to the prefixes when they are set', () => {
  const found = wildcardResources(synthBlueprint({ sourcePrefix: 'in/', destPrefix: 'out/' }, { bundleDir })).filter((entry) => entry.startsWith('role workers_task-role'));
  expect(found).toEqual([
    'role workers_task-role allows s3:GetObject on ${aws_s3_bucket.source_bucket.arn}/in/*',
    'role workers_task-role allows s3:GetObject, s3:PutObject, s3:AbortMultipartUpload on ${aws_s3_bucket.destination_bucket.arn}/out/*',
  ]);
});


it('with two pipelines, adds only each further pipeline\'s own wildcards, and narrows every worker\'s reads to its filters', () => {
  const json = synthBlueprint({
    sourcePrefix: 'photos/', sourceSuffixes: ['.jpg', '.png'], destPrefix: 'images/',
    pipelines: [
      { name: 'images' },
      { name: 'geojson', job: 'command', jobEnvironment: { COMMAND: '["true"]' }, sourceSuffixes: ['.geojson'], image: { name: 'geojson', dockerfile: 'app/jobs/command/example/Dockerfile' } },
    ],
  }, { bundleDir });
  const found = new Set(wildcardResources(json));
  const cluster = 'arn:<partition of aws_ecs_cluster.workers_cluster>:ecs:us-east-1:<account of aws_ecs_cluster.workers_cluster>';
  const added = [...found].filter((entry) => !(entry in WILDCARD_RESOURCES)).sort();
  expect(added).toEqual([
    'role geojson-workers_execution-role allows ecr:GetAuthorizationToken on *',
    'role geojson-workers_execution-role allows logs:CreateLogStream, logs:PutLogEvents on ${aws_cloudwatch_log_group.geojson-workers_logs.arn}:*',
    'role geojson-workers_task-role allows s3:GetObject on ${aws_s3_bucket.source_bucket.arn}/geojson/*.geojson',
    'role geojson-workers_task-role allows s3:GetObject, s3:PutObject, s3:AbortMultipartUpload on ${aws_s3_bucket.destination_bucket.arn}/geojson/*',
    `role image-build_role allows ecs:TagResource on ${cluster}:task-definition/s3-queue-geojson-worker:*`,
    `role scaler_role allows ecs:RunTask on ${cluster}:task-definition/s3-queue-geojson-worker:*`,
    'role workers_task-role allows s3:GetObject on ${aws_s3_bucket.source_bucket.arn}/photos/*.jpg',
    'role workers_task-role allows s3:GetObject on ${aws_s3_bucket.source_bucket.arn}/photos/*.png',
    'role workers_task-role allows s3:GetObject, s3:PutObject, s3:AbortMultipartUpload on ${aws_s3_bucket.destination_bucket.arn}/images/*',
  ]);
  // The whole-bucket grants of the one-pipeline default are gone, not kept beside the narrower ones.
  expect([...found].filter((entry) => entry.endsWith('_bucket.arn}/*') && entry.includes('workers_task-role'))).toEqual([]);
});

it('with a fan-out group, adds only its members\' own wildcards: the group\'s source prefix, its run root, and each member\'s own run keys', () => {
  const found = new Set(wildcardResources(synthBlueprint(FANOUT_EXAMPLE, { bundleDir })));
  const added = [...found].filter((entry) => !(entry in WILDCARD_RESOURCES) && /^role (audio|loudness|spectrum|audio-summary)-workers_task-role /.test(entry)).sort();
  const DEST = '${aws_s3_bucket.destination_bucket.arn}';
  const write = (role: string, actions: string, patterns: readonly string[]) => patterns.map((pattern) => `role ${role}-workers_task-role allows ${actions} on ${DEST}/${pattern}`);
  const reads = (role: string, source: boolean) => [
    ...(source ? [`role ${role}-workers_task-role allows s3:GetObject on \${aws_s3_bucket.source_bucket.arn}/audio/*`] : []),
    `role ${role}-workers_task-role allows s3:GetObject on ${DEST}/runs/*`,
  ];
  expect(added).toEqual([
    ...reads('audio', true), ...write('audio', 's3:PutObject', writablePatterns.fanout('runs/')),
    ...reads('audio-summary', false), ...write('audio-summary', 's3:PutObject, s3:AbortMultipartUpload', writablePatterns.aggregator('runs/')),
    ...reads('loudness', true), ...write('loudness', 's3:PutObject, s3:AbortMultipartUpload', writablePatterns.family('runs/', 'loudness')),
    ...reads('spectrum', true), ...write('spectrum', 's3:PutObject, s3:AbortMultipartUpload', writablePatterns.family('runs/', 'spectrum')),
  ].sort());
  // Nothing on a whole bucket: every object wildcard is under the group's source prefix or run root.
  expect(added.filter((entry) => entry.endsWith('_bucket.arn}/*'))).toEqual([]);
});

it('with a batch pipeline, adds only its own wildcards: its audio prefix, its and discovery\'s log streams, and the discovery family\'s revisions', () => {
  const found = new Set(wildcardResources(synthBlueprint(BATCH_EXAMPLE, { bundleDir })));
  const cluster = 'arn:<partition of aws_ecs_cluster.workers_cluster>:ecs:us-east-1:<account of aws_ecs_cluster.workers_cluster>';
  const added = [...found].filter((entry) => !(entry in WILDCARD_RESOURCES) && /scores/.test(entry)).sort();
  expect(added).toEqual([
    `role image-build_role allows ecs:TagResource on ${cluster}:task-definition/s3-queue-scores-discovery:*`,
    `role image-build_role allows ecs:TagResource on ${cluster}:task-definition/s3-queue-scores-worker:*`,
    `role scaler_role allows ecs:RunTask on ${cluster}:task-definition/s3-queue-scores-worker:*`,
    'role scores-discovery_execution-role allows ecr:GetAuthorizationToken on *',
    'role scores-discovery_execution-role allows logs:CreateLogStream, logs:PutLogEvents on ${aws_cloudwatch_log_group.scores-discovery_logs.arn}:*',
    `role scores-discovery_schedule-role allows ecs:RunTask on ${cluster}:task-definition/s3-queue-scores-discovery:*`,
    'role scores-workers_execution-role allows ecr:GetAuthorizationToken on *',
    'role scores-workers_execution-role allows logs:CreateLogStream, logs:PutLogEvents on ${aws_cloudwatch_log_group.scores-workers_logs.arn}:*',
    'role scores-workers_task-role allows s3:GetObject on ${aws_s3_bucket.source_bucket.arn}/scores/*',
  ]);
  // The discovery task role has no wildcard at all: three tables and one queue, each named.
  expect([...found].filter((entry) => entry.startsWith('role scores-discovery_task-role'))).toEqual([]);
});

it('with an archive-split pipeline, adds only its own wildcards: its archives, its batch ZIPs in each allowed bucket, its log streams and revisions', () => {
  const found = new Set(wildcardResources(synthBlueprint(ARCHIVE_SPLIT_EXAMPLE, { bundleDir })));
  const cluster = 'arn:<partition of aws_ecs_cluster.workers_cluster>:ecs:us-east-1:<account of aws_ecs_cluster.workers_cluster>';
  const exports = 'arn:<partition of aws_s3_bucket.source_bucket>:s3:::example-exports';
  const added = [...found].filter((entry) => !(entry in WILDCARD_RESOURCES) && /archives/.test(entry)).sort();
  expect(added).toEqual([
    'role archives-workers_execution-role allows ecr:GetAuthorizationToken on *',
    'role archives-workers_execution-role allows logs:CreateLogStream, logs:PutLogEvents on ${aws_cloudwatch_log_group.archives-workers_logs.arn}:*',
    'role archives-workers_task-role allows s3:GetObject on ${aws_s3_bucket.source_bucket.arn}/archives/*',
    `role archives-workers_task-role allows s3:GetObject on ${exports}/exports/*`,
    'role archives-workers_task-role allows s3:GetObject, s3:PutObject, s3:AbortMultipartUpload on ${aws_s3_bucket.source_bucket.arn}/batch/*',
    `role archives-workers_task-role allows s3:GetObject, s3:PutObject, s3:AbortMultipartUpload on ${exports}/batch/*`,
    `role image-build_role allows ecs:TagResource on ${cluster}:task-definition/s3-queue-archives-worker:*`,
    `role scaler_role allows ecs:RunTask on ${cluster}:task-definition/s3-queue-archives-worker:*`,
  ].sort());
  // Nothing on a whole bucket, and the updates queue's policy names its queue.
  expect(added.filter((entry) => entry.endsWith('_bucket.arn}/*') || entry.endsWith('example-exports/*'))).toEqual([]);
  expect([...found].filter((entry) => entry.includes('updates'))).toEqual([]);
});
