import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Aspects, TerraformStack, Testing } from '../src/framework/core';
import { AwsProvider, IamRole, IamRolePolicy, S3Bucket, S3BucketLifecycleConfiguration, S3BucketNotification, SqsQueue, SqsQueuePolicy } from '../src/framework/aws';
import { SecurityPolicyChecks, iamPolicyProblems } from '../src/aspects/security-policy';
import { resolveInfraConfig, type InfraConfigOverrides } from '../src/config';
import { UpdatesQueue } from '../src/constructs/updates-queue';
import {
  ARCHIVE_SPLIT_JOB, ARCHIVE_SUFFIXES, DEFAULT_ARCHIVE_EPHEMERAL_STORAGE_GIB, archiveSplitEnvironment, diskBudgetMib, queueUrlOfArn, resolveArchiveSplitSettings,
} from '../src/pipelines/archive-split-settings';
import { WIRING_VARIABLES } from '../src/pipelines/job-environment';
import { archiveSplitTaskPolicyStatements } from '../src/policies/archive-split-task-policy';
import { workerTaskPolicyStatements } from '../src/policies/worker-task-policy';
import { BlueprintStack } from '../src/stacks/blueprint-stack';
import { ACCOUNT, ARCHIVE_SPLIT_EXAMPLE, GITHUB, KEY_ARN, OFFLINE_PROVIDER, resourcesOf, scalerBundleDir, synthBlueprint, type SynthesizedStack } from './factories';
import { policyOf, type Statement } from './policy-documents';

/**
 * Archive-split pipelines (`job: "archive-split"`): the configuration and its refusals, the notification rules, the
 * task role (exact actions, resources and list conditions), the updates queue, the task's disk, memory and variables,
 * the source bucket's multipart clean-up, and the security aspect. The offline plan of the example is in
 * terraform-plan.test.ts, its wildcards in policy-wildcards.test.ts.
 */
const resolve = (overrides: InfraConfigOverrides) => resolveInfraConfig({ ...GITHUB, ...overrides });
const EXAMPLE_PIPELINE = ARCHIVE_SPLIT_EXAMPLE.pipelines![1]!;
/** The example with the archive pipeline's fields changed (a field set to undefined is left out). */
const archives = (extra: Record<string, unknown>, others: InfraConfigOverrides['pipelines'] = [{ name: 'images' }]) =>
  ({ ...ARCHIVE_SPLIT_EXAMPLE, pipelines: [...others!, JSON.parse(JSON.stringify({ ...EXAMPLE_PIPELINE, ...extra }))] }) as InfraConfigOverrides;
const archivesPipeline = (overrides: InfraConfigOverrides) => resolve(overrides).pipelines.find((p) => p.job === ARCHIVE_SPLIT_JOB)!;
const CALLBACK_ARN = `arn:aws:sqs:eu-west-1:${ACCOUNT}:exports-updates`;
const OTHER_CALLBACK_ARN = `arn:aws:sqs:eu-west-1:${ACCOUNT}:audit-updates.fifo`;

describe('an archive-split pipeline in the pipelines setting', () => {
  it('resolves the example: S3-fed under its archive prefix with the archive suffixes, a 0.5 vCPU / 1 GiB task with 50 GiB of disk, one archive per task', () => {
    const pipeline = archivesPipeline(ARCHIVE_SPLIT_EXAMPLE);
    expect(pipeline).toMatchObject({
      job: 'archive-split', feed: 's3', sourcePrefix: 'archives/', sourceSuffixes: ['.zip', '.tar.gz', '.tgz'],
      taskCpu: 512, taskMemory: 1024, ephemeralStorageGiB: 50, messagesPerTask: 1, maxTasks: 4,
      visibilityTimeoutSeconds: 120, maxReceiveCount: 5,
      // Six hours of active work per archive, not the worker's default 300 s.
      jobEnvironment: { BATCH_SIZE: '2000', MANIFEST_NAME: 'manifest.csv', DISK_BUDGET_MIB: '40960', MESSAGE_DEADLINE_SECONDS: '21600' },
      archiveSplit: { archivePrefix: 'archives/', outputPrefix: 'batch/', buckets: ['example-exports'], exportPrefixes: ['exports/'], callbackQueues: [] },
    });
    expect(ARCHIVE_SUFFIXES).toEqual(['.zip', '.tar.gz', '.tgz']);
    expect(DEFAULT_ARCHIVE_EPHEMERAL_STORAGE_GIB).toBe(50);
  });

  it('fills every archiveSplit field with its default when the block is left out', () => {
    const pipeline = archivesPipeline(archives({ archiveSplit: undefined }));
    expect(pipeline.archiveSplit).toEqual({ archivePrefix: 'archives/', outputPrefix: 'batch/', buckets: [], exportPrefixes: [''], callbackQueues: [] });
    expect(pipeline.sourcePrefix).toBe('archives/');
    expect(resolveArchiveSplitSettings(undefined)).toEqual(pipeline.archiveSplit);
  });

  it('takes the disk, its budget, the task size, the suffixes and messagesPerTask from the pipeline when it gives them', () => {
    expect(archivesPipeline(archives({ ephemeralStorageGiB: 100 }))).toMatchObject({ ephemeralStorageGiB: 100, jobEnvironment: { DISK_BUDGET_MIB: '81920' } });
    expect(archivesPipeline(archives({ ephemeralStorageGiB: 21 })).jobEnvironment.DISK_BUDGET_MIB).toBe(String(diskBudgetMib(21)));
    expect(archivesPipeline(archives({ jobEnvironment: { DISK_BUDGET_MIB: '10000' } })).jobEnvironment.DISK_BUDGET_MIB).toBe('10000');
    // A CPU needing more than 1 GiB gets the least it allows; both given are kept.
    expect(archivesPipeline(archives({ taskCpu: 1024 }))).toMatchObject({ taskCpu: 1024, taskMemory: 2048 });
    expect(archivesPipeline(archives({ taskCpu: 512, taskMemory: 2048 }))).toMatchObject({ taskCpu: 512, taskMemory: 2048 });
    expect(archivesPipeline(archives({ sourceSuffixes: ['.zip'], messagesPerTask: 2 }))).toMatchObject({ sourceSuffixes: ['.zip'], messagesPerTask: 2 });
    // The stack-wide sizes apply to the other pipelines as before.
    expect(resolve(ARCHIVE_SPLIT_EXAMPLE).pipelines[0]).toMatchObject({ taskCpu: 2048, taskMemory: 4096, ephemeralStorageGiB: undefined, messagesPerTask: 10 });
  });

  it('may be the first pipeline: its own prefix and suffixes, not the stack-wide ones', () => {
    const [pipeline] = resolve({ pipelines: [{ name: 'archives', job: 'archive-split' }] }).pipelines;
    expect(pipeline).toMatchObject({ sourcePrefix: 'archives/', sourceSuffixes: ['.zip', '.tar.gz', '.tgz'], taskCpu: 512, taskMemory: 1024 });
  });

  const label = 'pipelines[1] "archives"';
  it.each([
    [{ archiveSplit: 'archives/' }, `${label}.archiveSplit: an object such as`],
    [{ archiveSplit: { prefix: 'a/' } }, `${label}.archiveSplit.prefix: not an archive-split setting (known: archivePrefix, outputPrefix, buckets, exportPrefixes, callbackQueues)`],
    [{ archiveSplit: { archivePrefix: 'a*/' } }, `${label}.archiveSplit.archivePrefix="a*/": a folder such as archives/ (ending with "/", without a leading slash, empty, "." or ".." segments, *, ? or \${)`],
    [{ archiveSplit: { archivePrefix: '/archives/' } }, `${label}.archiveSplit.archivePrefix="/archives/": a folder such as archives/`],
    // The worker reads ARCHIVE_PREFIX "archives" as the folder archives/, while S3's filter would also match archives2/.
    [{ archiveSplit: { archivePrefix: 'archives' } }, `${label}.archiveSplit.archivePrefix="archives": a folder such as archives/`],
    [{ archiveSplit: { archivePrefix: 'a//b/' } }, `${label}.archiveSplit.archivePrefix="a//b/": a folder`],
    [{ archiveSplit: { archivePrefix: 7 } }, `${label}.archiveSplit.archivePrefix="7": a folder`],
    [{ archiveSplit: { archivePrefix: '' } }, `${label}.archiveSplit.archivePrefix: empty would send every upload to the source bucket to this pipeline`],
    [{ archiveSplit: { outputPrefix: 'out/${x}/' } }, `${label}.archiveSplit.outputPrefix="out/\${x}/": a folder such as batch/`],
    [{ archiveSplit: { outputPrefix: 'batch/../' } }, `${label}.archiveSplit.outputPrefix="batch/../": a folder such as batch/`],
    [{ archiveSplit: { outputPrefix: '' } }, `${label}.archiveSplit.outputPrefix: empty would let the role write anywhere in every allowed bucket`],
    [{ archiveSplit: { buckets: ['Not_A_Bucket'] } }, `${label}.archiveSplit.buckets=["Not_A_Bucket"]: up to 10 distinct S3 bucket names`],
    [{ archiveSplit: { buckets: ['my-exports', 'my-exports'] } }, `${label}.archiveSplit.buckets=["my-exports","my-exports"]: up to 10 distinct S3 bucket names`],
    [{ archiveSplit: { buckets: ['192.168.1.1'] } }, `${label}.archiveSplit.buckets=["192.168.1.1"]: up to 10 distinct S3 bucket names`],
    [{ archiveSplit: { buckets: 'my-exports' } }, `${label}.archiveSplit.buckets="my-exports": up to 10 distinct S3 bucket names`],
    [{ archiveSplit: { buckets: ['my-exports'], exportPrefixes: [] } }, `${label}.archiveSplit.exportPrefixes=[]: distinct key prefixes such as ["exports/"]`],
    [{ archiveSplit: { buckets: ['my-exports'], exportPrefixes: ['ex*'] } }, `${label}.archiveSplit.exportPrefixes=["ex*"]: distinct key prefixes`],
    [{ archiveSplit: { exportPrefixes: ['exports/'] } }, `${label}.archiveSplit.exportPrefixes: applies to archiveSplit.buckets, which is empty`],
    [{ archiveSplit: { callbackQueues: ['https://sqs.eu-west-1.amazonaws.com/123456789012/updates'] } }, `${label}.archiveSplit.callbackQueues=["https://sqs.eu-west-1.amazonaws.com/123456789012/updates"]: up to 10 distinct SQS queue ARNs`],
    [{ archiveSplit: { callbackQueues: [`arn:aws:sns:eu-west-1:${ACCOUNT}:updates`] } }, `${label}.archiveSplit.callbackQueues=["arn:aws:sns:eu-west-1:${ACCOUNT}:updates"]: up to 10 distinct SQS queue ARNs`],
    [{ feed: 'messages' }, `${label}.feed="messages": an archive-split pipeline is fed by the source bucket's events under archiveSplit.archivePrefix and by requests sent to its queue`],
    [{ sourcePrefix: 'zips/' }, `${label}.sourcePrefix: an archive-split pipeline's events come from archiveSplit.archivePrefix; leave sourcePrefix out`],
    [{ destPrefix: 'out/' }, `${label}.destPrefix: an archive-split pipeline writes its batch ZIPs into the archive's own bucket under archiveSplit.outputPrefix; leave destPrefix out`],
    [{ jobEnvironment: { BATCH_SIZE: '0' } }, `${label}.jobEnvironment.BATCH_SIZE="0": an integer from 1 to 100000`],
    [{ jobEnvironment: { BATCH_SIZE: '100001' } }, `${label}.jobEnvironment.BATCH_SIZE="100001": an integer from 1 to 100000`],
    [{ jobEnvironment: { BATCH_SIZE: '2k' } }, `${label}.jobEnvironment.BATCH_SIZE="2k": an integer from 1 to 100000`],
    [{ jobEnvironment: { DISK_BUDGET_MIB: '60000' } }, `${label}.jobEnvironment.DISK_BUDGET_MIB="60000": an integer from 1 to 51200, the task's ephemeral storage (50 GiB)`],
    [{ jobEnvironment: { MAX_MANIFEST_BYTES: '100' } }, `${label}.jobEnvironment.MAX_MANIFEST_BYTES="100": an integer from 1024 to 1073741824`],
    [{ jobEnvironment: { MANIFEST_NAME: '' } }, `${label}.jobEnvironment.MANIFEST_NAME="": a file name such as manifest.csv`],
    [{ jobEnvironment: { MANIFEST_NAME: 'meta/manifest.csv' } }, `${label}.jobEnvironment.MANIFEST_NAME="meta/manifest.csv": a file name such as manifest.csv`],
    [{ jobEnvironment: { IMAGE_COLUMN: 'image\n' } }, `${label}.jobEnvironment.IMAGE_COLUMN="image\n": a column name of 1 to 256 characters, without control characters`],
    [{ ephemeralStorageGiB: 300 }, `${label}.ephemeralStorageGiB=300: 21..200`],
  ])('refuses %j, naming the pipeline and field', (change, message) => {
    expect(() => resolve(archives(change))).toThrow(message);
  });

  it.each(['ALLOWED_BUCKETS', 'ALLOWED_CALLBACK_QUEUES', 'CALLBACK_QUEUE_URL', 'ARCHIVE_PREFIX', 'OUTPUT_PREFIX'])(
    'refuses %s in a jobEnvironment (of any pipeline): the infra sets it to what the role is scoped to',
    (name) => {
      expect(WIRING_VARIABLES).toContain(name);
      expect(() => resolve(archives({ jobEnvironment: { [name]: 'x' } }))).toThrow(`${label}.jobEnvironment.${name}: set by the infra from the pipeline`);
      expect(() => resolve({ pipelines: [{ name: 'images', jobEnvironment: { [name]: 'x' } }] })).toThrow(`pipelines[0] "images".jobEnvironment.${name}: set by the infra`);
    },
  );

  it('refuses archiveSplit settings on another job', () => {
    expect(() => resolve({ pipelines: [{ name: 'images', archiveSplit: {} }] })).toThrow('pipelines[0] "images".archiveSplit: only a pipeline running job "archive-split" has archive-split settings');
  });
});

describe('the prefixes of an archive-split pipeline and the others', () => {
  it('refuses an output prefix under any pipeline\'s source prefix in the source bucket: the batch ZIPs would trigger it', () => {
    // The images pipeline's default prefix '' covers batch/.
    expect(() => resolve({ pipelines: [{ name: 'images' }, EXAMPLE_PIPELINE] })).toThrow(
      'pipelines "archives" and "images": archiveSplit.outputPrefix "batch/" of "archives" overlaps "" in the source bucket, where "images" reads: ' +
      'the batch ZIPs written there would trigger "images"',
    );
    expect(() => resolve(archives({}, [{ name: 'images', sourcePrefix: 'batch/zips/', destPrefix: 'images/' }]))).toThrow(
      'pipelines "archives" and "images": archiveSplit.outputPrefix "batch/" of "archives" overlaps "batch/zips/" in the source bucket',
    );
    // Whatever the suffixes: a ZIP could be given any name a pipeline's filter ends with.
    expect(() => resolve(archives({}, [{ name: 'images', sourcePrefix: 'batch/', sourceSuffixes: ['.jpg'], destPrefix: 'images/' }]))).toThrow('overlaps "batch/" in the source bucket');
  });

  it('refuses an output prefix under its own archive prefix: its batch ZIPs would be split again', () => {
    expect(() => resolve(archives({ archiveSplit: { archivePrefix: 'archives/', outputPrefix: 'archives/batch/' } }))).toThrow(
      'pipeline "archives": archiveSplit.outputPrefix "archives/batch/" and archiveSplit.archivePrefix "archives/" overlap in the source bucket: its batch ZIPs would be split again as archives',
    );
  });

  it('refuses two archive-split pipelines writing under one prefix, or reading the same archives in a bucket of yours', () => {
    const second = { name: 'more-archives', job: 'archive-split', archiveSplit: { archivePrefix: 'more/', outputPrefix: 'batch/more/' } };
    expect(() => resolve({ ...ARCHIVE_SPLIT_EXAMPLE, pipelines: [...ARCHIVE_SPLIT_EXAMPLE.pipelines!, second] })).toThrow(
      'pipelines "archives" and "more-archives": archiveSplit.outputPrefix "batch/" and "batch/more/" overlap in the source bucket; each archive-split pipeline writes under a prefix of its own',
    );
    const reader = { name: 'more-archives', job: 'archive-split', archiveSplit: { archivePrefix: 'more/', outputPrefix: 'zips/', buckets: ['example-exports'] } };
    expect(() => resolve({ ...ARCHIVE_SPLIT_EXAMPLE, pipelines: [...ARCHIVE_SPLIT_EXAMPLE.pipelines!, reader] })).toThrow(
      'pipelines "archives" and "more-archives": "archives" reads archives under "exports/" and "more-archives" reads under "" in bucket "example-exports"',
    );
    const apart = { ...reader, archiveSplit: { ...reader.archiveSplit, exportPrefixes: ['other/'] } };
    expect(() => resolve({ ...ARCHIVE_SPLIT_EXAMPLE, pipelines: [...ARCHIVE_SPLIT_EXAMPLE.pipelines!, apart] })).not.toThrow();
  });

  it('refuses an archive prefix another S3-fed pipeline reads under, even when their suffixes keep the notifications apart', () => {
    expect(() => resolve(archives({}, [{ name: 'images', sourcePrefix: 'archives/photos/', destPrefix: 'images/' }]))).toThrow(
      'pipelines "archives" and "images": "archives" reads archives under "archives/" and "images" reads under "archives/photos/" in the source bucket',
    );
  });

  it('refuses batch ZIPs where a batch pipeline reads its audio in a bucket of yours', () => {
    const scores = { name: 'scores', job: 'batch', batch: { audioBucket: 'example-exports', audioPrefix: 'batch/' } };
    expect(() => resolve(archives({}, [{ name: 'images' }, scores]))).toThrow(
      'pipelines "archives" and "scores": archiveSplit.outputPrefix "batch/" of "archives" overlaps "batch/" in bucket "example-exports", where "scores" reads: the batch ZIPs written there would be read by "scores"',
    );
  });

  it('leaves the destination prefixes of the others alone: an archive-split pipeline writes nothing to the destination bucket', () => {
    // Its default destPrefix "archives/" (or the first pipeline's "") is never written.
    expect(() => resolve(archives({}, [{ name: 'images', destPrefix: '' }]))).not.toThrow();
    expect(() => resolve({ pipelines: [{ name: 'archives', job: 'archive-split' }, { name: 'geo', job: 'command', sourceSuffixes: ['.geojson'], destPrefix: 'geo/' }] })).not.toThrow();
  });
});

describe('the helpers', () => {
  it('turns a queue ARN into the URL SQS answers with, in every partition', () => {
    expect(queueUrlOfArn(CALLBACK_ARN)).toBe(`https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/exports-updates`);
    expect(queueUrlOfArn(OTHER_CALLBACK_ARN)).toBe(`https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/audit-updates.fifo`);
    expect(queueUrlOfArn(`arn:aws-cn:sqs:cn-north-1:${ACCOUNT}:updates`)).toBe(`https://sqs.cn-north-1.amazonaws.com.cn/${ACCOUNT}/updates`);
    expect(() => queueUrlOfArn('updates')).toThrow('not an SQS queue ARN: updates');
  });

  it('gives DISK_BUDGET_MIB 80% of the ephemeral storage', () => {
    expect([21, 50, 200].map(diskBudgetMib)).toEqual([17203, 40960, 163840]);
  });

  it('lists the source bucket and the buckets of yours, and every callback queue, the first for the S3 events', () => {
    expect(archiveSplitEnvironment(resolveArchiveSplitSettings({ buckets: ['a-exports', 'b-exports'] }), { sourceBucketName: 'source', callbackQueueUrls: ['https://q/1', 'https://q/2'] })).toEqual({
      ARCHIVE_PREFIX: 'archives/', OUTPUT_PREFIX: 'batch/', CALLBACK_QUEUE_URL: 'https://q/1', ALLOWED_CALLBACK_QUEUES: 'https://q/1,https://q/2', ALLOWED_BUCKETS: 'source,a-exports,b-exports',
    });
  });
});

let bundleDir: string;
let example: SynthesizedStack;
let exampleText: string;
/** The stack as Testing.synth writes it (for toHaveResourceWithProperties) and as JSON. */
function synthesize(overrides: InfraConfigOverrides): { text: string; json: SynthesizedStack } {
  const stack = new BlueprintStack(Testing.app(), 'blueprint', {
    config: resolveInfraConfig({ scalerBundleDir: bundleDir, ...GITHUB, ...overrides }), providerOverrides: OFFLINE_PROVIDER,
  });
  const text = Testing.synth(stack);
  return { text, json: JSON.parse(text) as SynthesizedStack };
}
beforeAll(() => {
  bundleDir = scalerBundleDir();
  ({ text: exampleText, json: example } = synthesize(ARCHIVE_SPLIT_EXAMPLE));
});
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

const byPath = (json: SynthesizedStack, type: string, path: string) => {
  const entry = Object.entries(json.resource[type] ?? {}).find(([id]) => new RegExp(`^${path.replace(/[-]/g, '\\-')}_[0-9A-F]{8}$`).test(id));
  if (entry === undefined) throw new Error(`no ${type} ${path}`);
  return entry[1];
};
function statementsOf(json: SynthesizedStack, rolePath: string): Statement[] {
  const policies = resourcesOf(json, 'aws_iam_role_policy').filter((policy) => new RegExp(`^\\$\\{aws_iam_role\\.${rolePath.replace(/[-]/g, '\\-')}_[0-9A-F]{8}\\.id\\}$`).test(String(policy.role)));
  expect(policies).toHaveLength(1);
  return policyOf(policies[0]!.policy).Statement;
}
const REF = (type: string, path: string, attribute: string) => expect.stringMatching(new RegExp(`^\\$\\{${type}\\.${path.replace(/[-]/g, '\\-')}_[0-9A-F]{8}\\.${attribute}\\}$`));
const SOURCE = '${aws_s3_bucket.source_bucket_B5285E68.arn}';
const environmentOf = (json: SynthesizedStack, path: string) =>
  Object.fromEntries((JSON.parse(String(byPath(json, 'aws_ecs_task_definition', path).container_definitions)) as { environment: { name: string; value: string }[] }[])[0]!
    .environment.map(({ name, value }) => [name, value]));
const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);
const allActions = (statements: Statement[]) => statements.flatMap((s) => list(s.Action));
const allResources = (statements: Statement[]) => statements.flatMap((s) => list(s.Resource));

describe('the stack with an archive-split pipeline', () => {
  it('notifies the pipeline\'s queue of every object created under the archive prefix with an archive suffix', () => {
    for (const suffix of ['.zip', '.tar.gz', '.tgz']) {
      expect(exampleText).toHaveResourceWithProperties(S3BucketNotification, {
        queue: expect.arrayContaining([{ events: ['s3:ObjectCreated:*'], filter_prefix: 'archives/', filter_suffix: suffix, queue_arn: REF('aws_sqs_queue', 'archives-work_queue', 'arn') }]),
      });
    }
    const rules = (resourcesOf(example, 'aws_s3_bucket_notification')[0]!.queue as { filter_prefix: string; filter_suffix: string; queue_arn: string }[])
      .filter((rule) => rule.queue_arn.includes('archives-work_queue'));
    expect(rules.map((rule) => `${rule.filter_prefix}*${rule.filter_suffix}`)).toEqual(['archives/*.zip', 'archives/*.tar.gz', 'archives/*.tgz']);
    // With sourceSuffixes given, one rule per suffix given.
    const zipsOnly = synthesize(archives({ sourceSuffixes: ['.zip'] })).json;
    expect((resourcesOf(zipsOnly, 'aws_s3_bucket_notification')[0]!.queue as { filter_prefix: string; filter_suffix: string }[]).filter((rule) => rule.filter_prefix === 'archives/'))
      .toEqual([expect.objectContaining({ filter_suffix: '.zip' })]);
  });

  it('grants the task role exactly: its queue, its archives, its batch ZIPs, listing under those prefixes, and sending to the updates queue', () => {
    const bucket = '${local.archives_archive_bucket_1_arn}';
    expect(statementsOf(example, 'archives-workers_task-role')).toEqual([
      { Sid: 'ConsumeAndRequeueOnTheWorkQueue', Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage'], Resource: REF('aws_sqs_queue', 'archives-work_queue', 'arn') },
      { Sid: 'DeadLetterWithReasons', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: REF('aws_sqs_queue', 'archives-work_dlq', 'arn') },
      { Sid: 'ReadTheArchives', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`${SOURCE}/archives/*`, `${bucket}/exports/*`] },
      { Sid: 'WriteAndCheckBatchZips', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], Resource: [`${SOURCE}/batch/*`, `${bucket}/batch/*`] },
      { Sid: 'MissingKeysAnswer404InTheSourceBucket', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: SOURCE, Condition: { StringLike: { 's3:prefix': ['batch/*', 'archives/*'] } } },
      { Sid: 'MissingKeysAnswer404InBucket1', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucket, Condition: { StringLike: { 's3:prefix': ['batch/*', 'exports/*'] } } },
      { Sid: 'SendCallbacksToTheUpdatesQueues', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [REF('aws_sqs_queue', 'archives-updates_queue', 'arn')] },
    ]);
    // The bucket of yours in the stack's partition, read from the source bucket's ARN at apply time.
    expect((example as unknown as { locals: Record<string, string> }).locals.archives_archive_bucket_1_arn)
      .toMatch(/^arn:\$\{element\(split\(":", aws_s3_bucket\.source_bucket_[0-9A-F]{8}\.arn\), 1\)\}:s3:::example-exports$/);
  });

  it('never grants a `*` action or a write on `*`, and passes the blueprint\'s least-privilege rules with and without KMS', () => {
    const kms = synthesize({ ...ARCHIVE_SPLIT_EXAMPLE, kmsEncryption: true }).json;
    for (const json of [example, kms]) {
      const statements = statementsOf(json, 'archives-workers_task-role');
      expect(allActions(statements).filter((action) => action.includes('*'))).toEqual([]);
      expect(allResources(statements).filter((resource) => resource === '*')).toEqual([]);
      // Writes only under the output prefix.
      const writes = statements.filter((s) => allActions([s]).some((action) => action === 's3:PutObject' || action === 's3:AbortMultipartUpload'));
      expect(allResources(writes).every((resource) => resource.endsWith('/batch/*'))).toBe(true);
      expect(iamPolicyProblems(policyOf(resourcesOf(json, 'aws_iam_role_policy').find((p) => String(p.role).includes('aws_iam_role.archives-workers_task-role_'))!.policy) as never)).toEqual([]);
    }
    // Under kmsEncryption: the stack's key, and only it, for the encrypted bucket and queues (updates included).
    expect(statementsOf(kms, 'archives-workers_task-role').at(-1)).toEqual({ Sid: 'UseTheDataKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: REF('aws_kms_key', 'key', 'arn') });
    expect(statementsOf(example, 'archives-workers_task-role').map((s) => s.Sid)).not.toContain('UseTheDataKey');
    expect(byPath(kms, 'aws_sqs_queue', 'archives-updates_queue')).toMatchObject({ kms_master_key_id: REF('aws_kms_key', 'key', 'arn'), kms_data_key_reuse_period_seconds: 300 });
  });

  it('sends only to the configured callback queues, creating none, and tells the worker their URLs', () => {
    const { text, json } = synthesize(archives({ archiveSplit: { ...EXAMPLE_PIPELINE.archiveSplit, callbackQueues: [CALLBACK_ARN, OTHER_CALLBACK_ARN] } }));
    const send = statementsOf(json, 'archives-workers_task-role').filter((s) => allActions([s]).includes('sqs:SendMessage'));
    expect(send).toEqual([
      expect.objectContaining({ Sid: 'ConsumeAndRequeueOnTheWorkQueue' }),
      expect.objectContaining({ Sid: 'DeadLetterWithReasons' }),
      { Sid: 'SendCallbacksToTheUpdatesQueues', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [CALLBACK_ARN, OTHER_CALLBACK_ARN] },
    ]);
    expect(text).not.toHaveResourceWithProperties(SqsQueue, { name: 's3-queue-archives-updates' });
    expect(json.output).not.toHaveProperty('updates_queue_url_archives');
    expect(environmentOf(json, 'archives-workers_task')).toMatchObject({
      CALLBACK_QUEUE_URL: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/exports-updates`,
      ALLOWED_CALLBACK_QUEUES: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/exports-updates,https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/audit-updates.fifo`,
    });
  });

  it('lists a bucket of yours unconditioned only when requests may read anywhere in it (exportPrefixes [""])', () => {
    const json = synthesize(archives({ archiveSplit: { buckets: ['example-exports', 'other-exports'] } })).json;
    const statements = statementsOf(json, 'archives-workers_task-role');
    const [first, second] = ['${local.archives_archive_bucket_1_arn}', '${local.archives_archive_bucket_2_arn}'];
    expect(statements.find((s) => s.Sid === 'ReadTheArchives')!.Resource).toEqual([`${SOURCE}/archives/*`, `${first}/*`, `${second}/*`]);
    expect(statements.find((s) => s.Sid === 'WriteAndCheckBatchZips')!.Resource).toEqual([`${SOURCE}/batch/*`, `${first}/batch/*`, `${second}/batch/*`]);
    expect(statements.filter((s) => s.Sid?.startsWith('MissingKeysAnswer404InBucket'))).toEqual([
      { Sid: 'MissingKeysAnswer404InBucket1', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: first },
      { Sid: 'MissingKeysAnswer404InBucket2', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: second },
    ]);
    // The source bucket stays listed only under the archive and output prefixes.
    expect(statements.find((s) => s.Sid === 'MissingKeysAnswer404InTheSourceBucket')!.Condition).toEqual({ StringLike: { 's3:prefix': ['batch/*', 'archives/*'] } });
    expect(environmentOf(json, 'archives-workers_task').ALLOWED_BUCKETS).toBe('${aws_s3_bucket.source_bucket_B5285E68.bucket},example-exports,other-exports');
  });

  it('creates an encrypted, TLS-only updates queue when no callback queue is named, and outputs its URL', () => {
    expect(exampleText).toHaveResourceWithProperties(SqsQueue, { name: 's3-queue-archives-updates', sqs_managed_sse_enabled: true, receive_wait_time_seconds: 20, message_retention_seconds: 4 * 24 * 3600 });
    const policy = JSON.parse(String(byPath(example, 'aws_sqs_queue_policy', 'archives-updates_policy').policy)) as { Statement: Statement[] };
    expect(policy.Statement).toEqual([{
      Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'sqs:*', Resource: REF('aws_sqs_queue', 'archives-updates_queue', 'arn'),
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    }]);
    expect(example.output.updates_queue_url_archives).toEqual({ value: REF('aws_sqs_queue', 'archives-updates_queue', 'url') });
  });

  it('gives the task 50 GiB of ephemeral storage, 0.5 vCPU / 1 GiB, stopTimeout 120, a writable /tmp, and DISK_BUDGET_MIB at 80% of the disk', () => {
    const task = byPath(example, 'aws_ecs_task_definition', 'archives-workers_task');
    expect(task).toMatchObject({ family: 's3-queue-archives-worker', cpu: '512', memory: '1024', ephemeral_storage: { size_in_gib: 50 }, volume: [{ name: 'scratch' }] });
    const [container] = JSON.parse(String(task.container_definitions)) as Record<string, unknown>[];
    expect(container).toMatchObject({ stopTimeout: 120, readonlyRootFilesystem: true, mountPoints: [{ sourceVolume: 'scratch', containerPath: '/tmp', readOnly: false }] });
    expect(environmentOf(example, 'archives-workers_task').DISK_BUDGET_MIB).toBe('40960');
    const larger = synthesize(archives({ ephemeralStorageGiB: 200 })).json;
    expect(byPath(larger, 'aws_ecs_task_definition', 'archives-workers_task').ephemeral_storage).toEqual({ size_in_gib: 200 });
    expect(environmentOf(larger, 'archives-workers_task').DISK_BUDGET_MIB).toBe('163840');
    const told = synthesize(archives({ jobEnvironment: { DISK_BUDGET_MIB: '30000' } })).json;
    expect(environmentOf(told, 'archives-workers_task').DISK_BUDGET_MIB).toBe('30000');
  });

  it('tells the worker its job, prefixes, buckets and callback queue, after the job\'s own variables', () => {
    expect(environmentOf(example, 'archives-workers_task')).toMatchObject({
      JOB: 'archive-split', QUEUE_URL: REF('aws_sqs_queue', 'archives-work_queue', 'url'), SOURCE_PREFIX: 'archives/',
      ARCHIVE_PREFIX: 'archives/', OUTPUT_PREFIX: 'batch/',
      CALLBACK_QUEUE_URL: REF('aws_sqs_queue', 'archives-updates_queue', 'url'), ALLOWED_CALLBACK_QUEUES: REF('aws_sqs_queue', 'archives-updates_queue', 'url'),
      ALLOWED_BUCKETS: '${aws_s3_bucket.source_bucket_B5285E68.bucket},example-exports',
      BATCH_SIZE: '2000', MANIFEST_NAME: 'manifest.csv', DISK_BUDGET_MIB: '40960', TASK_MEMORY_MIB: '1024', VISIBILITY_TIMEOUT_SECONDS: '60',
    });
  });

  it('has the scaler start one task per visible archive', () => {
    const scaler = resourcesOf(example, 'aws_lambda_function')[0]!;
    const variables = (scaler.environment as { variables: Record<string, string> }).variables;
    expect((JSON.parse(variables.PIPELINES!) as { name: string; messagesPerTask: number }[]).find((p) => p.name === 'archives')).toMatchObject({ messagesPerTask: 1 });
  });

  it('aborts incomplete multipart uploads in the source bucket after 7 days (a task killed mid-upload leaves parts)', () => {
    expect(exampleText).toHaveResourceWithProperties(S3BucketLifecycleConfiguration, {
      bucket: REF('aws_s3_bucket', 'source_bucket', 'id'),
      rule: expect.arrayContaining([expect.objectContaining({ id: 'abort-incomplete-uploads', status: 'Enabled', filter: [{ prefix: '' }], abort_incomplete_multipart_upload: [{ days_after_initiation: 7 }] })]),
    });
  });

  it('may be the only pipeline, keeping the first pipeline\'s names', () => {
    const { json } = synthesize({ pipelines: [{ name: 'archives', job: 'archive-split' }] });
    expect(statementsOf(json, 'workers_task-role').map((s) => s.Sid)).toEqual([
      'ConsumeAndRequeueOnTheWorkQueue', 'DeadLetterWithReasons', 'ReadTheArchives', 'WriteAndCheckBatchZips', 'MissingKeysAnswer404InTheSourceBucket', 'SendCallbacksToTheUpdatesQueues',
    ]);
    expect(json.output.updates_queue_url_archives).toEqual({ value: REF('aws_sqs_queue', 'updates_queue', 'url') });
    expect(byPath(json, 'aws_ecs_task_definition', 'workers_task')).toMatchObject({ family: 's3-queue-worker', cpu: '512', memory: '1024', ephemeral_storage: { size_in_gib: 50 } });
  });

  it('describes the pipeline in the pipelines output by where its batch ZIPs go', () => {
    const value = (example.output.pipelines as { value: Record<string, { source: string; destination: string }> }).value;
    expect(value.archives).toMatchObject({ source: expect.stringMatching(/\/archives\/$/), destination: 'batch ZIPs under batch/ in the archive\'s bucket' });
  });

  it('passes the security-policy aspect when synthesized for real, with and without KMS', () => {
    const continueOnErrors = process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS;
    delete process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS;
    const outdir = mkdtempSync(join(tmpdir(), 'archive-split-synth-'));
    try {
      for (const [index, config] of [ARCHIVE_SPLIT_EXAMPLE, { ...ARCHIVE_SPLIT_EXAMPLE, kmsEncryption: true }].entries()) {
        const app = new App({ outdir: join(outdir, String(index)) });
        synthBlueprint(config, { bundleDir, app });
        expect(() => app.synth()).not.toThrow();
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true });
      if (continueOnErrors !== undefined) process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS = continueOnErrors;
    }
  });

  it('keeps the INFRA.md example in step with the one the tests plan', () => {
    const markdown = readFileSync(join(__dirname, '..', '..', 'app', 'jobs', 'archive-split', 'INFRA.md'), 'utf8');
    const snippet = /```json\n([\s\S]*?)\n```/.exec(markdown)![1]!;
    expect(JSON.parse(snippet)).toEqual(JSON.parse(JSON.stringify(ARCHIVE_SPLIT_EXAMPLE)));
  });
});

describe('UpdatesQueue', () => {
  it('is SSE-SQS encrypted, or with the key given, long-polled, and refuses plain HTTP', () => {
    const plain = Testing.synthScope((scope) => new UpdatesQueue(scope, 'updates', { name: 'blue-updates', retentionSeconds: 3600 }));
    expect(plain).toHaveResourceWithProperties(SqsQueue, { name: 'blue-updates', sqs_managed_sse_enabled: true, receive_wait_time_seconds: 20, message_retention_seconds: 3600 });
    expect(plain).toHaveResourceWithProperties(SqsQueuePolicy, { policy: expect.stringContaining('"aws:SecureTransport":"false"') });
    const keyed = Testing.synthScope((scope) => new UpdatesQueue(scope, 'updates', { name: 'blue-updates', retentionSeconds: 3600, kmsKeyArn: KEY_ARN }));
    expect(keyed).toHaveResourceWithProperties(SqsQueue, { kms_master_key_id: KEY_ARN, kms_data_key_reuse_period_seconds: 300 });
    expect(keyed).not.toHaveResourceWithProperties(SqsQueue, { sqs_managed_sse_enabled: true });
  });
});

describe('the security aspect and an archive-split role', () => {
  it('counts its archives as reads and its batch ZIPs as writes: another role reading where it writes is refused', () => {
    const continueOnErrors = process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS;
    delete process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS;
    const outdir = mkdtempSync(join(tmpdir(), 'archive-split-aspect-'));
    try {
      const app = Testing.app({ outdir });
      const stack = new TerraformStack(app, 'checked');
      new AwsProvider(stack, 'aws', { region: 'eu-west-1' });
      Aspects.of(stack).add(new SecurityPolicyChecks());
      const source = new S3Bucket(stack, 'source', { bucketPrefix: 'source-' });
      const destination = new S3Bucket(stack, 'destination', { bucketPrefix: 'destination-' });
      const role = (id: string, statements: unknown[]) => {
        const r = new IamRole(stack, `${id}-role`, { name: id, assumeRolePolicy: '{}' });
        new IamRolePolicy(stack, `${id}-policy`, { role: r.id, policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
      };
      const queue = (name: string) => `arn:aws:sqs:eu-west-1:${ACCOUNT}:${name}`;
      role('archives', archiveSplitTaskPolicyStatements({
        queueArn: queue('archives'), deadLetterQueueArn: queue('archives-dlq'), sourceBucketArn: source.arn, archivePrefix: 'archives/',
        extraBucketArns: [], exportPrefixes: [''], outputPrefix: 'batch/', callbackQueueArns: [queue('updates')],
      }));
      role('images', workerTaskPolicyStatements({
        queueArn: queue('images'), deadLetterQueueArn: queue('images-dlq'), sourceBucketArn: source.arn, sourcePrefix: 'batch/', destBucketArn: destination.arn, destPrefix: 'images/',
      }));
      let message = '';
      try {
        app.synth();
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain('security policy: worker roles checked/archives-policy and checked/images-policy may write objects the other reads: ${aws_s3_bucket.source.arn}/batch/* and ${aws_s3_bucket.source.arn}/batch/*');
      expect(message).not.toContain('may read the same objects');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
      if (continueOnErrors !== undefined) process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS = continueOnErrors;
    }
  });
});
