import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from '../src/framework/core';
import { ARCHIVE_SPLIT_EXAMPLE, BATCH_EXAMPLE, CONNECTION_ARN, FANOUT_EXAMPLE, resourceCount, resourcesOf, scalerBundleDir, synthBlueprint } from './factories';
import { findProviderMirror, planOffline } from './provider-mirror';

/**
 * `terraform validate` and `terraform plan` of the synthesized stacks, offline: the provider comes from the machine's
 * filesystem mirror when it has one (TF_PROVIDER_MIRROR, else found), credentials are dummies and the plan refreshes
 * nothing, so no AWS account is needed.
 */
let dir: string;
let bundleDir: string;
let mirror: string | undefined;

beforeAll(() => {
  mirror = findProviderMirror();
  dir = mkdtempSync(join(tmpdir(), 'terraform-plan-'));
  bundleDir = scalerBundleDir();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(bundleDir, { recursive: true, force: true });
});

/** Every resource of the default configuration; a change here is a change to what `cdktf deploy` creates. */
const EXPECTED_RESOURCES = 79;

/** Synthesizes to disk as `cdktf synth` does, plans, and returns the synthesized resource count and the planned creates. */
function synthAndPlan(name: string, overrides: Parameters<typeof synthBlueprint>[0]) {
  const outdir = join(dir, name);
  const app = new App({ outdir });
  const json = synthBlueprint(overrides, { bundleDir, app });
  app.synth();
  const changes = planOffline(join(outdir, 'stacks', 'blueprint'), mirror);
  const creates = changes.filter((change) => change.change.actions.includes('create')).length;
  const planned = (type: string) => changes.filter((change) => change.type === type).map((change) => change.change.after);
  return { json, synthesized: resourceCount(json), creates, planned };
}

it('validates and plans the default stack offline, creating every synthesized resource', () => {
  const { synthesized, creates, planned } = synthAndPlan('default', {});
  expect(synthesized).toBe(EXPECTED_RESOURCES);
  expect(creates).toBe(synthesized);
  // The provider accepts the chosen pipeline type and execution mode (validate checks both values).
  expect(planned('aws_codepipeline')).toEqual([expect.objectContaining({ pipeline_type: 'V2', execution_mode: 'SUPERSEDED' })]);
}, 120_000);

it('plans every option at once: KMS, versioning, expiry, interface endpoints, per-AZ NAT, e-mail, an existing connection', () => {
  const { json, synthesized, creates } = synthAndPlan('options', {
    kmsEncryption: true, bucketVersioning: true, sourceExpirationDays: 30, interfaceEndpoints: true, natPerAz: true, alarmEmail: 'ops@example.com',
    githubConnectionArn: CONNECTION_ARN,
  });
  expect(json.resource.aws_codestarconnections_connection).toBeUndefined();
  expect(resourcesOf(json, 'aws_sns_topic_subscription')).toEqual([expect.objectContaining({ protocol: 'email', endpoint: 'ops@example.com' })]);
  expect(synthesized).toBeGreaterThan(EXPECTED_RESOURCES);
  expect(creates).toBe(synthesized);
}, 120_000);

it('plans a stack of two pipelines, each with its own queue, family, image and alarms, creating every synthesized resource', () => {
  const { synthesized, creates, planned } = synthAndPlan('two-pipelines', {
    sourcePrefix: 'photos/', destPrefix: 'images/',
    pipelines: [
      { name: 'images' },
      {
        name: 'geojson', job: 'command', jobEnvironment: { COMMAND: '["node","/opt/app/geojson-stats.js","{input}","{outputDir}"]' },
        sourcePrefix: 'geo/', sourceSuffixes: ['.geojson'], destPrefix: 'geojson/', ephemeralStorageGiB: 50,
        image: { name: 'geojson', dockerfile: 'app/jobs/command/example/Dockerfile' },
      },
    ],
  });
  // The second pipeline's queue + DLQ (5), task family (6), alarms (3), and its image's repository, lifecycle and parameter (3).
  expect(synthesized).toBe(EXPECTED_RESOURCES + 17);
  expect(creates).toBe(synthesized);
  // The provider accepts the ephemeral storage block and the scratch volume.
  expect(planned('aws_ecs_task_definition').map((task) => [task.family, task.ephemeral_storage])).toEqual([
    ['s3-queue-worker', []], ['s3-queue-geojson-worker', [{ size_in_gib: 50 }]],
  ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)));
}, 180_000);

it('plans a manifest fan-out group (fan-out pipeline, two families on their own image, an aggregator), creating every synthesized resource', () => {
  const { json, synthesized, creates, planned } = synthAndPlan('fanout', FANOUT_EXAMPLE);
  // Four pipelines beside images, each queue + DLQ (5), task family (6), alarms (3); the families' image (3).
  expect(synthesized).toBe(EXPECTED_RESOURCES + 4 * 14 + 3);
  expect(creates).toBe(synthesized);
  expect(planned('aws_ecs_task_definition').map((task) => task.family).sort()).toEqual([
    's3-queue-audio-summary-worker', 's3-queue-audio-worker', 's3-queue-loudness-worker', 's3-queue-spectrum-worker', 's3-queue-worker',
  ]);
  // Only the S3-fed pipelines have notification rules: the six image suffixes and the manifests.
  const [notification] = planned('aws_s3_bucket_notification');
  expect((notification!.queue as { filter_prefix: string; filter_suffix: string }[]).map((rule) => `${rule.filter_prefix}*${rule.filter_suffix}`).sort())
    .toEqual(['audio/*manifest.json', 'photos/*.JPEG', 'photos/*.JPG', 'photos/*.PNG', 'photos/*.jpeg', 'photos/*.jpg', 'photos/*.png']);
  expect(resourcesOf(json, 'aws_iam_role_policy').filter((policy) => String(policy.role).includes('task-role'))).toHaveLength(5);
}, 180_000);

it('plans a batch pipeline (its tables, discovery task and schedule) with kmsEncryption, creating every synthesized resource', () => {
  const { json, synthesized, creates, planned } = synthAndPlan('batch', { ...BATCH_EXAMPLE, kmsEncryption: true });
  // The batch pipeline's queue + DLQ (5), task family (6), alarms (3); its three tables and their TLS-only policies;
  // discovery's log group, two roles and policies and task definition (6); the schedule's role, policy, rule and target (4).
  expect(synthesized).toBe(resourceCount(synthBlueprint({ kmsEncryption: true, sourcePrefix: 'photos/', destPrefix: 'images/' }, { bundleDir })) + 14 + 3 * 2 + 6 + 4);
  expect(creates).toBe(synthesized);
  // The provider accepts the tables' encryption, recovery and protection blocks as synthesized.
  expect(planned('aws_dynamodb_table').map((table) => [table.name, table.billing_mode, table.point_in_time_recovery, table.deletion_protection_enabled]).sort()).toEqual([
    ['s3-queue-scores-discovery-state', 'PAY_PER_REQUEST', [expect.objectContaining({ enabled: true })], true],
    ['s3-queue-scores-records', 'PAY_PER_REQUEST', [expect.objectContaining({ enabled: true })], true],
    ['s3-queue-scores-results', 'PAY_PER_REQUEST', [expect.objectContaining({ enabled: true })], true],
  ]);
  expect(planned('aws_cloudwatch_event_target').map((target) => (target.ecs_target as { launch_type: string; task_count: number }[] | undefined)?.[0])).toContainEqual(
    expect.objectContaining({ launch_type: 'FARGATE', task_count: 1 }),
  );
  expect(planned('aws_ecs_task_definition').map((task) => task.family).sort()).toEqual(['s3-queue-scores-discovery', 's3-queue-scores-worker', 's3-queue-worker']);
  expect(Object.keys(json.output)).toContain('discovery_command_scores');
}, 180_000);

it('plans an archive-split pipeline (its notification rules, 50 GiB task, updates queue) with kmsEncryption, creating every synthesized resource', () => {
  const { json, synthesized, creates, planned } = synthAndPlan('archive-split', { ...ARCHIVE_SPLIT_EXAMPLE, kmsEncryption: true });
  // The archive pipeline's queue + DLQ (5), task family (6), alarms (3); the updates queue and its TLS-only policy (2).
  expect(synthesized).toBe(resourceCount(synthBlueprint({ kmsEncryption: true, sourcePrefix: 'photos/', destPrefix: 'images/' }, { bundleDir })) + 14 + 2);
  expect(creates).toBe(synthesized);
  // The provider accepts the task's size and disk, and the KMS-encrypted updates queue.
  expect(planned('aws_ecs_task_definition').filter((task) => task.family === 's3-queue-archives-worker').map((task) => [task.cpu, task.memory, task.ephemeral_storage]))
    .toEqual([['512', '1024', [{ size_in_gib: 50 }]]]);
  expect(planned('aws_sqs_queue').filter((queue) => queue.name === 's3-queue-archives-updates')).toEqual([expect.objectContaining({ receive_wait_time_seconds: 20, kms_data_key_reuse_period_seconds: 300 })]);
  const [notification] = planned('aws_s3_bucket_notification');
  expect((notification!.queue as { filter_prefix: string; filter_suffix: string }[]).map((rule) => `${rule.filter_prefix}*${rule.filter_suffix}`).filter((rule) => rule.startsWith('archives/')).sort())
    .toEqual(['archives/*.tar.gz', 'archives/*.tgz', 'archives/*.zip']);
  expect(Object.keys(json.output)).toContain('updates_queue_url_archives');
}, 180_000);
