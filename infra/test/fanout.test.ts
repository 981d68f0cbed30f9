import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from '../src/framework/core';
import { isAllowed, type IamStatement } from '../../local/src/iam-policy-evaluator';
import {
  batchKey, dispatchedKey, familyFilesPrefix, keysKey, ledgerKey, reportKey, resultsKey, runRecordKey, summaryCsvKey, summaryJsonKey, triggerKey, writablePatterns,
} from '../../shared/fanout/run-layout';
import { workerIsolationProblems } from '../src/aspects/security-policy';
import { resolveInfraConfig, type InfraConfigOverrides } from '../src/config';
import { LAMBDA_ENVIRONMENT_MAX_BYTES } from '../src/constructs/scaler-function';
import { FANOUT_STATEMENT_IDS, fanoutTaskPolicyStatements, type FanoutTaskPolicyInput } from '../src/policies/fanout-task-policy';
import { scalerEnvironmentBytes } from '../src/pipelines/scaler-environment-size';
import { FANOUT_EXAMPLE, FANOUT_FAMILY_IMAGE, GITHUB, resourcesOf, scalerBundleDir, synthBlueprint, type SynthesizedStack } from './factories';
import { policyOf, type Statement } from './policy-documents';

/**
 * Manifest fan-out groups from config: a `job: "fanout"` pipeline fed by its manifests, `feed: "messages"` families and
 * one aggregator, each its own queue, DLQ, task family and scaling rule; what the configuration refuses, what each
 * member's worker is told, and what each member's task role may do (evaluated as IAM does, with the local evaluator).
 */
const FAMILY_IMAGE = FANOUT_FAMILY_IMAGE;
const resolve = (overrides: InfraConfigOverrides) => resolveInfraConfig({ ...GITHUB, ...overrides });
const examplePipelines = () => [...FANOUT_EXAMPLE.pipelines!];
/** The example with its pipelines edited: `edit` gets them by name and returns the new list. */
const withPipelines = (edit: (byName: Record<string, Record<string, unknown>>) => unknown[]) =>
  () => resolve({ ...FANOUT_EXAMPLE, pipelines: edit(Object.fromEntries(examplePipelines().map((p) => [p.name, { ...p }]))) as never });

describe('fan-out groups in the pipelines setting', () => {
  it('resolves the example: the fan-out pipeline fed by S3, the families and aggregator by messages, under the group\'s source prefix and run root', () => {
    const byName = Object.fromEntries(resolve(FANOUT_EXAMPLE).pipelines.map((p) => [p.name, p]));
    expect(byName.images).toMatchObject({ feed: 's3', fanout: undefined, sourcePrefix: 'photos/', destPrefix: 'images/' });
    expect(byName.audio).toMatchObject({
      job: 'fanout', feed: 's3', sourcePrefix: 'audio/', sourceSuffixes: ['manifest.json'], destPrefix: 'runs/',
      fanout: { families: ['loudness', 'spectrum'], aggregator: 'audio-summary' },
    });
    for (const name of ['loudness', 'spectrum', 'audio-summary']) {
      expect(byName[name]).toMatchObject({ feed: 'messages', fanout: undefined, sourcePrefix: 'audio/', sourceSuffixes: [], destPrefix: 'runs/' });
    }
    expect(byName.loudness).toMatchObject({ job: 'command', image: FAMILY_IMAGE });
    expect(byName['audio-summary']).toMatchObject({ job: 'aggregate', image: { name: 'worker' } });
  });

  it('scales a messages-fed pipeline on batches, not files: a task per vCPU\'s worth of messages unless told otherwise', () => {
    const byName = Object.fromEntries(resolve(FANOUT_EXAMPLE).pipelines.map((p) => [p.name, p]));
    expect(byName.images!.messagesPerTask).toBe(10);
    // The stack's default task has 2 vCPUs: the command job works on 2 messages at once there.
    expect(byName.loudness!.messagesPerTask).toBe(2);
    const resized = withPipelines((pipelines) => Object.values({
      ...pipelines, loudness: { ...pipelines.loudness, taskCpu: 4096, taskMemory: 8192 }, spectrum: { ...pipelines.spectrum, messagesPerTask: 7 },
    }))();
    const byNameResized = Object.fromEntries(resized.pipelines.map((p) => [p.name, p]));
    expect(byNameResized.loudness!.messagesPerTask).toBe(4);
    expect(byNameResized.spectrum!.messagesPerTask).toBe(7);
  });

  it('ignores messages-fed pipelines in the source and destination overlap checks (they share the group\'s prefixes by design)', () => {
    // Resolved, each family reads audio/* and writes under runs/, which overlap the fan-out pipeline's filter and prefix.
    expect(() => resolve(FANOUT_EXAMPLE)).not.toThrow();
  });

  it('refuses a family or an aggregator that is not a pipeline of the configuration, naming the fan-out pipeline and field', () => {
    expect(withPipelines(({ images, audio, loudness, spectrum }) => [images, { ...audio, fanout: { families: ['loudness', 'spectrum', 'pitch'], aggregator: 'audio-summary' } }, loudness, spectrum, { name: 'audio-summary', job: 'aggregate', feed: 'messages' }]))
      .toThrow('pipelines[1] "audio".fanout.families: "pitch" is not a pipeline of this configuration');
    expect(withPipelines(({ images, audio, loudness, spectrum }) => [images, { ...audio, fanout: { families: ['loudness', 'spectrum'], aggregator: 'summary' } }, loudness, spectrum]))
      .toThrow('pipelines[1] "audio".fanout.aggregator: "summary" is not a pipeline of this configuration');
  });

  it('refuses a family fed by S3 events, and an aggregator not running job aggregate', () => {
    expect(withPipelines((p) => [p.images, p.audio, { ...p.loudness, feed: 's3' }, p.spectrum, p['audio-summary']]))
      .toThrow('pipelines[1] "audio".fanout.families: pipeline "loudness" is fed by S3 events; a family is fed only by the fan-out pipeline\'s batch messages');
    expect(withPipelines((p) => [p.images, p.audio, p.loudness, p.spectrum, { ...p['audio-summary'], job: 'command' }]))
      .toThrow('pipelines[1] "audio".fanout.aggregator: pipeline "audio-summary" runs job "command"; the aggregator runs job "aggregate"');
  });

  it('refuses a family or an aggregator used by two fan-out groups', () => {
    const video = { name: 'video', job: 'fanout', sourcePrefix: 'video/', sourceSuffixes: ['manifest.json'], destPrefix: 'video-runs/' };
    expect(withPipelines((p) => [p.images, p.audio, p.loudness, p.spectrum, p['audio-summary'], { ...video, fanout: { families: ['spectrum'], aggregator: 'video-summary' } }, { name: 'video-summary', job: 'aggregate', feed: 'messages' }]))
      .toThrow('pipeline "spectrum" is used by fan-out pipelines "audio" and "video"; a family or aggregator belongs to one fan-out group');
    expect(withPipelines((p) => [p.images, p.audio, p.loudness, p.spectrum, p['audio-summary'], { ...video, fanout: { families: ['pitch'], aggregator: 'audio-summary' } }, { name: 'pitch', job: 'command', feed: 'messages' }]))
      .toThrow('pipeline "audio-summary" is used by fan-out pipelines "audio" and "video"');
  });

  it('refuses a messages-fed pipeline no fan-out group sends to, and one pipeline as both family and aggregator', () => {
    expect(withPipelines((p) => [...Object.values(p), { name: 'orphan', job: 'command', feed: 'messages' }]))
      .toThrow('pipelines[5] "orphan".feed="messages": no fan-out pipeline sends to it');
    expect(withPipelines((p) => [p.images, { ...p.audio, fanout: { families: ['loudness', 'audio-summary'], aggregator: 'audio-summary' } }, p.loudness, p['audio-summary']]))
      .toThrow('pipelines[1] "audio".fanout: "audio-summary" is both a family and the aggregator');
  });

  it('requires fanout on a job fanout pipeline, and refuses it anywhere else, with 1 to 6 distinct families', () => {
    expect(withPipelines((p) => [p.images, { ...p.audio, fanout: undefined }]))
      .toThrow('pipelines[1] "audio".fanout: required for job "fanout"');
    expect(withPipelines((p) => [{ ...p.images, fanout: { families: ['loudness'], aggregator: 'audio-summary' } }, p.audio, p.loudness, p.spectrum, p['audio-summary']]))
      .toThrow('pipelines[0] "images".fanout: only a pipeline running job "fanout" has families and an aggregator');
    for (const families of [[], ['loudness', 'loudness'], ['a', 'b', 'c', 'd', 'e', 'f', 'g']]) {
      expect(withPipelines((p) => [p.images, { ...p.audio, fanout: { families, aggregator: 'audio-summary' } }, p.loudness, p.spectrum, p['audio-summary']]))
        .toThrow('pipelines[1] "audio".fanout.families: 1 to 6 distinct pipeline names');
    }
    expect(withPipelines((p) => [p.images, { ...p.audio, fanout: { families: ['loudness', 'spectrum'], aggregator: 'audio-summary', batchSize: 5 } }, p.loudness, p.spectrum, p['audio-summary']]))
      .toThrow('pipelines[1] "audio".fanout.batchSize: not a fanout setting');
  });

  it('refuses a source filter, or a destPrefix, on a messages-fed pipeline, an unknown feed, and a messages-fed first pipeline', () => {
    for (const [field, value] of [['sourcePrefix', 'loud/'], ['sourceSuffixes', ['.wav']]] as const) {
      expect(withPipelines((p) => [p.images, p.audio, { ...p.loudness, [field]: value }, p.spectrum, p['audio-summary']]))
        .toThrow(`pipelines[2] "loudness".${field}: a messages-fed pipeline has no S3 notification`);
    }
    expect(withPipelines((p) => [p.images, p.audio, { ...p.loudness, destPrefix: 'loud/' }, p.spectrum, p['audio-summary']]))
      .toThrow('pipelines[2] "loudness".destPrefix: a messages-fed pipeline writes under its fan-out pipeline\'s run root');
    expect(withPipelines((p) => [p.images, p.audio, { ...p.loudness, feed: 'sns' }, p.spectrum, p['audio-summary']]))
      .toThrow('pipelines[2] "loudness".feed="sns": s3 (the source bucket\'s notifications, the default) or messages');
    expect(withPipelines((p) => [p.loudness, p.images, p.audio, p.spectrum, p['audio-summary']]))
      .toThrow('pipelines[0] "loudness".feed: the first pipeline keeps the stack\'s original names and outputs and is fed by S3 events');
  });

  it('refuses a fan-out pipeline fed by messages, and job aggregate fed by S3 events', () => {
    expect(withPipelines((p) => [p.images, { ...p.audio, feed: 'messages', sourcePrefix: undefined, sourceSuffixes: undefined, destPrefix: undefined }, p.loudness, p.spectrum, p['audio-summary']]))
      .toThrow('pipelines[1] "audio".feed="messages": a fan-out pipeline is fed by its manifests\' S3 events');
    expect(() => resolve({ pipelines: [{ name: 'images' }, { name: 'summary', job: 'aggregate', sourcePrefix: 'x/', destPrefix: 'y/' }], destPrefix: 'z/' }))
      .toThrow('pipelines[1] "summary".feed: job "aggregate" runs only as a fan-out group\'s aggregator');
  });

  it('refuses another pipeline\'s filter matching keys under the fan-out source prefix, which its manifests may list', () => {
    // images: "*.jpg" (the stack-wide '' prefix) matches audio/x.jpg, which a manifest may list and the group reads.
    expect(() => resolve({ ...FANOUT_EXAMPLE, sourcePrefix: '' })).toThrow(
      'pipelines "images" and "audio": source filter "*.jpg" matches keys under "audio/", which the manifests of fan-out pipeline "audio" may list',
    );
    // The run root is the fan-out pipeline's destPrefix: checked against the other pipelines' as before.
    expect(() => resolve({ ...FANOUT_EXAMPLE, destPrefix: '' })).toThrow('pipelines "images" and "audio": destPrefix "" and "runs/" overlap');
  });

  it('refuses jobEnvironment variables that would re-wire a group member', () => {
    for (const name of ['FANOUT_FAMILIES', 'FANOUT_FAMILY', 'AGGREGATE_QUEUE_URL', 'RUNS_PREFIX']) {
      expect(withPipelines((p) => [p.images, p.audio, { ...p.loudness, jobEnvironment: { [name]: 'x' } }, p.spectrum, p['audio-summary']]))
        .toThrow(`pipelines[2] "loudness".jobEnvironment.${name}: set by the infra from the pipeline`);
    }
  });
});

const ACCOUNT = '123456789012';
const SOURCE = 'arn:aws:s3:::blue-source';
const DEST = 'arn:aws:s3:::blue-destination';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1111aaaa-2222-bbbb-3333-cccc4444dddd`;
const queueArn = (name: string) => `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`;
const RUN = { root: 'runs/', runId: 'r1' };
const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);

describe('fanoutTaskPolicyStatements', () => {
  const base = { queueArn: queueArn('own'), deadLetterQueueArn: queueArn('own-dlq'), sourceBucketArn: SOURCE, sourcePrefix: 'audio/', destBucketArn: DEST, root: 'runs/' };
  const fanout = fanoutTaskPolicyStatements({ ...base, role: { kind: 'fanout', familyQueueArns: [queueArn('loudness'), queueArn('spectrum')] } });
  const loudness = fanoutTaskPolicyStatements({ ...base, role: { kind: 'family', family: 'loudness', aggregatorQueueArn: queueArn('summary') } });
  const spectrum = fanoutTaskPolicyStatements({ ...base, role: { kind: 'family', family: 'spectrum', aggregatorQueueArn: queueArn('summary') } });
  const aggregator = fanoutTaskPolicyStatements({ ...base, role: { kind: 'aggregator' } });
  const can = (statements: IamStatement[], action: string, resource: string, prefix?: string) => isAllowed(statements, action, resource, prefix !== undefined ? { prefix } : {});
  const object = (bucket: string, key: string) => `${bucket}/${key}`;
  const familyKeys = (family: string) => [resultsKey(RUN, family, 0), `${familyFilesPrefix(RUN, family)}audio/a.wav/loudness.json`, ledgerKey(RUN, family, 0)];

  it('lets the fan-out worker read manifests and the keys they list, list the source prefix, and write only the run record and batches', () => {
    expect(can(fanout, 's3:GetObject', object(SOURCE, 'audio/set-1/manifest.json'))).toBe(true);
    expect(can(fanout, 's3:GetObject', object(SOURCE, 'audio/set-1/a.wav'))).toBe(true);
    expect(can(fanout, 's3:GetObject', object(SOURCE, 'photos/cat.jpg'))).toBe(false);
    expect(can(fanout, 's3:ListBucket', SOURCE, 'audio/set-1/')).toBe(true);
    expect(can(fanout, 's3:ListBucket', SOURCE, 'photos/')).toBe(false);
    expect(can(fanout, 's3:ListBucket', DEST, 'runs/r1/')).toBe(true);
    for (const key of [keysKey(RUN), runRecordKey(RUN), batchKey(RUN, 3), dispatchedKey(RUN)]) {
      expect(can(fanout, 's3:PutObject', object(DEST, key))).toBe(true);
      expect(can(fanout, 's3:GetObject', object(DEST, key))).toBe(true);
    }
    for (const key of [...familyKeys('loudness'), triggerKey(RUN), reportKey(RUN), summaryCsvKey(RUN), 'images/224x224/cat.jpg']) {
      expect(can(fanout, 's3:PutObject', object(DEST, key))).toBe(false);
    }
    expect(can(fanout, 's3:PutObject', object(SOURCE, 'audio/x'))).toBe(false);
  });

  it('lets the fan-out worker send to exactly its families\' queues (and its own queue and DLQ)', () => {
    const sendTo = (arn: string) => can(fanout, 'sqs:SendMessage', arn);
    expect([queueArn('loudness'), queueArn('spectrum'), queueArn('own'), queueArn('own-dlq')].map(sendTo)).toEqual([true, true, true, true]);
    expect([queueArn('summary'), queueArn('images')].map(sendTo)).toEqual([false, false]);
    expect(can(fanout, 'sqs:ReceiveMessage', queueArn('loudness'))).toBe(false);
  });

  it('lets a family read the listed sources and the runs, write its own family\'s keys and the trigger, and tell the aggregator only', () => {
    expect(can(loudness, 's3:GetObject', object(SOURCE, 'audio/set-1/a.wav'))).toBe(true);
    expect(can(loudness, 's3:ListBucket', SOURCE, 'audio/set-1/a.wav')).toBe(true);
    expect(can(loudness, 's3:GetObject', object(DEST, batchKey(RUN, 3)))).toBe(true);
    expect(can(loudness, 's3:ListBucket', DEST, 'runs/r1/ledger/')).toBe(true);
    for (const key of [...familyKeys('loudness'), triggerKey(RUN)]) {
      expect(can(loudness, 's3:PutObject', object(DEST, key))).toBe(true);
      expect(can(loudness, 's3:AbortMultipartUpload', object(DEST, key))).toBe(true);
    }
    for (const key of [runRecordKey(RUN), batchKey(RUN, 3), dispatchedKey(RUN), reportKey(RUN), summaryJsonKey(RUN)]) {
      expect(can(loudness, 's3:PutObject', object(DEST, key))).toBe(false);
    }
    expect(can(loudness, 'sqs:SendMessage', queueArn('summary'))).toBe(true);
    expect(can(loudness, 'sqs:SendMessage', queueArn('spectrum'))).toBe(false);
  });

  it('never lets one family write the other family\'s results, files or ledger', () => {
    for (const key of familyKeys('spectrum')) {
      expect(can(loudness, 's3:PutObject', object(DEST, key))).toBe(false);
      expect(can(loudness, 's3:AbortMultipartUpload', object(DEST, key))).toBe(false);
      expect(can(spectrum, 's3:PutObject', object(DEST, key))).toBe(true);
    }
    for (const key of familyKeys('loudness')) expect(can(spectrum, 's3:PutObject', object(DEST, key))).toBe(false);
  });

  it('lets the aggregator read and list the runs and write only the summaries and the report', () => {
    expect(can(aggregator, 's3:GetObject', object(DEST, resultsKey(RUN, 'loudness', 0)))).toBe(true);
    expect(can(aggregator, 's3:ListBucket', DEST, 'runs/r1/')).toBe(true);
    expect(can(aggregator, 's3:ListBucket', DEST, 'images/')).toBe(false);
    for (const key of [summaryCsvKey(RUN), summaryJsonKey(RUN), reportKey(RUN)]) expect(can(aggregator, 's3:PutObject', object(DEST, key))).toBe(true);
    for (const key of [...familyKeys('loudness'), triggerKey(RUN), runRecordKey(RUN)]) expect(can(aggregator, 's3:PutObject', object(DEST, key))).toBe(false);
    expect(can(aggregator, 's3:GetObject', object(SOURCE, 'audio/set-1/a.wav'))).toBe(false);
    expect(aggregator.filter((s) => list(s.Action).includes('sqs:SendMessage')).flatMap((s) => list(s.Resource))).toEqual([queueArn('own'), queueArn('own-dlq')]);
  });

  it('writes exactly the run layout\'s patterns, from shared/fanout/run-layout.ts', () => {
    const writes = (statements: IamStatement[]) => statements.find((s) => s.Sid === FANOUT_STATEMENT_IDS.writeRuns)!.Resource;
    expect(writes(fanout)).toEqual(writablePatterns.fanout('runs/').map((pattern) => `${DEST}/${pattern}`));
    expect(writes(loudness)).toEqual(writablePatterns.family('runs/', 'loudness').map((pattern) => `${DEST}/${pattern}`));
    expect(writes(aggregator)).toEqual(writablePatterns.aggregator('runs/').map((pattern) => `${DEST}/${pattern}`));
  });

  it('with the customer-managed key, may decrypt and generate data keys (to send to encrypted queues and write encrypted objects)', () => {
    for (const role of [fanout, loudness, aggregator]) expect(role.filter((s) => list(s.Action).some((a) => a.startsWith('kms:')))).toEqual([]);
    const input: FanoutTaskPolicyInput = { ...base, kmsKeyArn: KEY, role: { kind: 'family', family: 'loudness', aggregatorQueueArn: queueArn('summary') } };
    expect(fanoutTaskPolicyStatements(input).filter((s) => list(s.Action).some((a) => a.startsWith('kms:')))).toEqual([
      { Sid: 'UseTheDataKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: KEY },
    ]);
  });

  it('allows only, with IAM-legal unique Sids, no "*" action, nothing on "*" and no write on a whole bucket', () => {
    for (const statements of [fanout, loudness, spectrum, aggregator, fanoutTaskPolicyStatements({ ...base, sourcePrefix: '', root: '', kmsKeyArn: KEY, role: { kind: 'aggregator' } })]) {
      expect(new Set(statements.map((s) => s.Sid)).size).toBe(statements.length);
      for (const statement of statements) {
        expect(statement.Effect).toBe('Allow');
        expect(statement.Sid).toMatch(/^[A-Za-z0-9]+$/);
        for (const action of list(statement.Action)) expect(action).not.toContain('*');
        expect(list(statement.Resource)).not.toContain('*');
        if (list(statement.Action).some((a) => a === 's3:PutObject')) for (const resource of list(statement.Resource)) expect(resource).not.toMatch(/:::[\w-]+\/\*$/);
      }
    }
  });

  it('imports only the run layout and the worker policy helpers (no cdktf), so a local emulator can load it', () => {
    const source = readFileSync(join(__dirname, '..', 'src', 'policies', 'fanout-task-policy.ts'), 'utf8');
    expect(source.match(/^import .* from '([^']+)';$/gm)!.map((line) => line.replace(/^.* from '([^']+)';$/, '$1')).sort())
      .toEqual(['../../../shared/fanout/run-layout', './worker-task-policy']);
  });
});

describe('workerIsolationProblems with a fan-out group', () => {
  const grants = (reads: string[], writes: string[], queue: string) => ({ queues: [queue], reads, writes });
  const fanoutRole = grants([`${SOURCE}/audio/*`, `${DEST}/runs/*`], [`${DEST}/runs/*/batches/*`], queueArn('audio'));
  const familyRole = grants([`${SOURCE}/audio/*`, `${DEST}/runs/*`], [`${DEST}/runs/*/results/loudness/*`], queueArn('loudness'));

  it('lets the members of one group share their runs, but not their queues', () => {
    expect(workerIsolationProblems([{ name: 'audio', grants: fanoutRole, group: 'audio' }, { name: 'loudness', grants: familyRole, group: 'audio' }])).toEqual([]);
    expect(workerIsolationProblems([{ name: 'audio', grants: fanoutRole, group: 'audio' }, { name: 'loudness', grants: { ...familyRole, queues: [queueArn('audio')] }, group: 'audio' }]))
      .toEqual([expect.objectContaining({ problem: expect.stringContaining('share a queue') })]);
  });

  it('still keeps a group apart from other pipelines, and from another group', () => {
    const problems = workerIsolationProblems([{ name: 'audio', grants: fanoutRole, group: 'audio' }, { name: 'loudness', grants: familyRole }]);
    expect(problems.map((p) => p.problem)).toEqual([
      expect.stringContaining('may read the same objects'),
      expect.stringContaining('may write objects the other reads'),
    ]);
    expect(workerIsolationProblems([{ name: 'audio', grants: fanoutRole, group: 'audio' }, { name: 'loudness', grants: familyRole, group: 'video' }])).not.toEqual([]);
  });
});

describe('a stack with a fan-out group', () => {
  let bundleDir: string;
  let json: SynthesizedStack;
  beforeAll(() => {
    bundleDir = scalerBundleDir();
    json = synthBlueprint(FANOUT_EXAMPLE, { bundleDir });
  });
  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

  const byPath = (type: string, path: string) => {
    const entry = Object.entries(json.resource[type] ?? {}).find(([id]) => new RegExp(`^${path}_[0-9A-F]{8}$`).test(id));
    if (entry === undefined) throw new Error(`no ${type} ${path}`);
    return entry[1];
  };
  const ref = (type: string, path: string, attribute: string) => expect.stringMatching(new RegExp(`^\\$\\{${type}\\.${path}_[0-9A-F]{8}\\.${attribute}\\}$`));
  const environmentOf = (pipeline: string, stack = json) => {
    const path = pipeline === 'images' ? 'workers_task' : `${pipeline}-workers_task`;
    const entry = Object.entries(stack.resource.aws_ecs_task_definition!).find(([id]) => new RegExp(`^${path}_[0-9A-F]{8}$`).test(id))![1];
    const [container] = JSON.parse(String(entry.container_definitions)) as { environment: { name: string; value: string }[] }[];
    return Object.fromEntries(container!.environment.map((v) => [v.name, v.value]));
  };
  const roleStatements = (pipeline: string, stack = json): Statement[] => {
    const rolePath = pipeline === 'images' ? 'workers_task-role' : `${pipeline}-workers_task-role`;
    const policy = resourcesOf(stack, 'aws_iam_role_policy').find((p) => new RegExp(`^\\$\\{aws_iam_role\\.${rolePath}_[0-9A-F]{8}\\.id\\}$`).test(String(p.role)));
    return policyOf(policy!.policy).Statement;
  };
  /** The role's statements with each Terraform reference replaced by the ARN it stands for, for the IAM evaluator. */
  const evaluable = (pipeline: string, stack = json): IamStatement[] => JSON.parse(JSON.stringify(roleStatements(pipeline, stack))
    .replace(/\$\{aws_s3_bucket\.source_bucket_[0-9A-F]{8}\.arn\}/g, SOURCE)
    .replace(/\$\{aws_s3_bucket\.destination_bucket_[0-9A-F]{8}\.arn\}/g, DEST)
    .replace(/\$\{aws_sqs_queue\.([\w-]+)_[0-9A-F]{8}\.arn\}/g, (_match, path: string) => queueArn(path))
    .replace(/\$\{aws_kms_key\.key_[0-9A-F]{8}\.arn\}/g, KEY)) as IamStatement[];
  const S3 = (stack = json) => resourcesOf(stack, 'aws_s3_bucket_notification')[0]!;

  it('sends S3 events to the images and audio queues only: no notification rule, and no S3 grant in the queue policy, for the families and the aggregator', () => {
    const rules = (S3().queue as { queue_arn: string; filter_prefix?: string; filter_suffix?: string }[]).map((rule) => [rule.queue_arn, rule.filter_prefix, rule.filter_suffix]);
    const images = ref('aws_sqs_queue', 'work_queue', 'arn');
    expect(rules).toEqual([
      ...['.jpg', '.jpeg', '.JPG', '.JPEG', '.png', '.PNG'].map((suffix) => [images, 'photos/', suffix]),
      [ref('aws_sqs_queue', 'audio-work_queue', 'arn'), 'audio/', 'manifest.json'],
    ]);
    expect(S3().depends_on).toEqual([expect.stringMatching(/^aws_sqs_queue_policy\.work_policy_/), expect.stringMatching(/^aws_sqs_queue_policy\.audio-work_policy_/)]);
    for (const pipeline of ['loudness', 'spectrum', 'audio-summary']) {
      expect(policyOf(byPath('aws_sqs_queue_policy', `${pipeline}-work_policy`).policy).Statement).toEqual([
        expect.objectContaining({ Sid: 'DenyInsecureTransport', Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]);
    }
    expect(policyOf(byPath('aws_sqs_queue_policy', 'audio-work_policy').policy).Statement.map((s) => s.Sid)).toEqual(['S3EventsFromTheSourceBucketOnly', 'DenyInsecureTransport']);
  });

  it('gives every member its own queue, DLQ and task family, the families their image', () => {
    expect(resourcesOf(json, 'aws_sqs_queue').map((queue) => queue.name).sort()).toEqual([
      's3-queue-audio-jobs', 's3-queue-audio-jobs-dlq', 's3-queue-audio-summary-jobs', 's3-queue-audio-summary-jobs-dlq', 's3-queue-jobs', 's3-queue-jobs-dlq',
      's3-queue-loudness-jobs', 's3-queue-loudness-jobs-dlq', 's3-queue-spectrum-jobs', 's3-queue-spectrum-jobs-dlq',
    ]);
    expect(resourcesOf(json, 'aws_ecs_task_definition').map((task) => task.family).sort()).toEqual([
      's3-queue-audio-summary-worker', 's3-queue-audio-worker', 's3-queue-loudness-worker', 's3-queue-spectrum-worker', 's3-queue-worker',
    ]);
    expect(resourcesOf(json, 'aws_ecr_repository').map((repository) => repository.name).sort()).toEqual(['s3-queue-audio-families', 's3-queue-worker']);
  });

  it('tells the fan-out worker its families\' queue URLs as a JSON object (FANOUT_FAMILIES) and its run root as DEST_PREFIX', () => {
    const environment = environmentOf('audio');
    expect(environment).toMatchObject({ JOB: 'fanout', DEST_PREFIX: 'runs/', SOURCE_PREFIX: 'audio/', QUEUE_URL: ref('aws_sqs_queue', 'audio-work_queue', 'url') });
    expect(JSON.parse(environment.FANOUT_FAMILIES!)).toEqual({
      loudness: ref('aws_sqs_queue', 'loudness-work_queue', 'url'), spectrum: ref('aws_sqs_queue', 'spectrum-work_queue', 'url'),
    });
    expect(environment).not.toHaveProperty('RUNS_PREFIX');
    expect(environment).not.toHaveProperty('FANOUT_FAMILY');
  });

  it('tells each family its name, the aggregator\'s queue URL and the run root; the aggregator its run root', () => {
    for (const family of ['loudness', 'spectrum']) {
      expect(environmentOf(family)).toMatchObject({
        JOB: 'command', FANOUT_FAMILY: family, AGGREGATE_QUEUE_URL: ref('aws_sqs_queue', 'audio-summary-work_queue', 'url'), RUNS_PREFIX: 'runs/',
        QUEUE_URL: ref('aws_sqs_queue', `${family}-work_queue`, 'url'), COMMAND: `node /opt/fanout/${family}.js {input} {outputDir}`,
      });
      expect(environmentOf(family)).not.toHaveProperty('FANOUT_FAMILIES');
    }
    expect(environmentOf('audio-summary')).toMatchObject({ JOB: 'aggregate', RUNS_PREFIX: 'runs/', QUEUE_URL: ref('aws_sqs_queue', 'audio-summary-work_queue', 'url') });
    expect(Object.keys(environmentOf('audio-summary')).filter((name) => name.startsWith('FANOUT_') || name === 'AGGREGATE_QUEUE_URL')).toEqual([]);
    expect(Object.keys(environmentOf('images')).filter((name) => name.startsWith('FANOUT_') || name.endsWith('QUEUE_URL') && name !== 'QUEUE_URL' || name === 'RUNS_PREFIX')).toEqual([]);
  });

  it('scopes the fan-out role: its manifests and listed sources, the runs, its own run keys, its families\' queues', () => {
    const resources = (sid: string) => roleStatements('audio').find((s) => s.Sid === sid)!;
    const SOURCE_REF = '${aws_s3_bucket.source_bucket_B5285E68.arn}';
    const DEST_REF = '${aws_s3_bucket.destination_bucket_34A366D0.arn}';
    expect(roleStatements('audio').map((s) => s.Sid)).toEqual([
      'ConsumeAndRequeueOnTheWorkQueue', 'DeadLetterWithReasons', 'ReadManifestListedSources', 'ListSourcesUnderThePrefix', 'ReadTheGroupsRuns', 'ListTheGroupsRuns',
      'WriteOwnRunKeys', 'SendBatchesToTheFamilies',
    ]);
    expect(resources('ReadManifestListedSources')).toMatchObject({ Action: ['s3:GetObject'], Resource: `${SOURCE_REF}/audio/*` });
    expect(resources('ListSourcesUnderThePrefix')).toMatchObject({ Action: ['s3:ListBucket'], Resource: SOURCE_REF, Condition: { StringLike: { 's3:prefix': ['audio/*'] } } });
    expect(resources('ReadTheGroupsRuns')).toMatchObject({ Action: ['s3:GetObject'], Resource: `${DEST_REF}/runs/*` });
    expect(resources('ListTheGroupsRuns')).toMatchObject({ Action: ['s3:ListBucket'], Resource: DEST_REF, Condition: { StringLike: { 's3:prefix': ['runs/*'] } } });
    expect(resources('WriteOwnRunKeys')).toMatchObject({ Action: ['s3:PutObject'], Resource: writablePatterns.fanout('runs/').map((p) => `${DEST_REF}/${p}`) });
    expect(resources('SendBatchesToTheFamilies')).toMatchObject({ Action: ['sqs:SendMessage'], Resource: [ref('aws_sqs_queue', 'loudness-work_queue', 'arn'), ref('aws_sqs_queue', 'spectrum-work_queue', 'arn')] });
  });

  it('scopes each family role to its own run keys and the aggregator\'s queue: it cannot write the other family\'s keys', () => {
    const loudness = evaluable('loudness');
    const spectrum = evaluable('spectrum');
    const write = (statements: IamStatement[], key: string) => isAllowed(statements, 's3:PutObject', `${DEST}/${key}`);
    for (const [own, other, ownName, otherName] of [[loudness, spectrum, 'loudness', 'spectrum'], [spectrum, loudness, 'spectrum', 'loudness']] as const) {
      const keysOf = (name: string) => [resultsKey(RUN, name, 7), `${familyFilesPrefix(RUN, name)}audio/a.wav/out.json`, ledgerKey(RUN, name, 7)];
      for (const key of keysOf(ownName)) expect(write(own, key)).toBe(true);
      for (const key of keysOf(otherName)) expect([key, write(own, key)]).toEqual([key, false]);
      expect(write(other, keysOf(otherName)[0]!)).toBe(true);
      expect(write(own, triggerKey(RUN))).toBe(true);
      expect(write(own, batchKey(RUN, 7))).toBe(false);
      expect(write(own, 'images/224x224/cat.jpg')).toBe(false);
      expect(isAllowed(own, 's3:GetObject', `${SOURCE}/audio/set-1/a.wav`)).toBe(true);
      expect(isAllowed(own, 's3:GetObject', `${SOURCE}/photos/cat.jpg`)).toBe(false);
      expect(isAllowed(own, 's3:GetObject', `${DEST}/${batchKey(RUN, 7)}`)).toBe(true);
      expect(isAllowed(own, 's3:ListBucket', DEST, { prefix: 'runs/r1/' })).toBe(true);
      expect(isAllowed(own, 'sqs:SendMessage', queueArn('audio-summary-work_queue'))).toBe(true);
      expect(isAllowed(own, 'sqs:SendMessage', queueArn(`${otherName}-work_queue`))).toBe(false);
      expect(isAllowed(own, 'sqs:SendMessage', queueArn('audio-work_queue'))).toBe(false);
      expect(isAllowed(own, 's3:AbortMultipartUpload', `${DEST}/${resultsKey(RUN, ownName, 7)}`)).toBe(true);
      expect(isAllowed(own, 's3:AbortMultipartUpload', `${DEST}/${resultsKey(RUN, otherName, 7)}`)).toBe(false);
    }
  });

  it('scopes the aggregator role to reading the runs and writing the summaries and report', () => {
    const aggregator = evaluable('audio-summary');
    expect(isAllowed(aggregator, 's3:GetObject', `${DEST}/${resultsKey(RUN, 'spectrum', 0)}`)).toBe(true);
    expect(isAllowed(aggregator, 's3:ListBucket', DEST, { prefix: 'runs/r1/ledger/' })).toBe(true);
    for (const key of [summaryCsvKey(RUN), summaryJsonKey(RUN), reportKey(RUN)]) expect(isAllowed(aggregator, 's3:PutObject', `${DEST}/${key}`)).toBe(true);
    for (const key of [triggerKey(RUN), ledgerKey(RUN, 'loudness', 0), runRecordKey(RUN)]) expect(isAllowed(aggregator, 's3:PutObject', `${DEST}/${key}`)).toBe(false);
    expect(isAllowed(aggregator, 's3:GetObject', `${SOURCE}/audio/set-1/a.wav`)).toBe(false);
    expect(isAllowed(aggregator, 'sqs:SendMessage', queueArn('loudness-work_queue'))).toBe(false);
  });

  it('with kmsEncryption, lets every member use the key: sending to encrypted queues needs GenerateDataKey and Decrypt', () => {
    const encrypted = synthBlueprint({ ...FANOUT_EXAMPLE, kmsEncryption: true }, { bundleDir });
    for (const pipeline of ['audio', 'loudness', 'spectrum', 'audio-summary']) {
      const statements = evaluable(pipeline, encrypted);
      expect(isAllowed(statements, 'kms:GenerateDataKey', KEY)).toBe(true);
      expect(isAllowed(statements, 'kms:Decrypt', KEY)).toBe(true);
    }
    expect(resourcesOf(encrypted, 'aws_sqs_queue').every((queue) => typeof queue.kms_master_key_id === 'string')).toBe(true);
  });

  it('has the scaler decide for all five pipelines, messages-fed ones included, within Lambda\'s 4 KB of variables', () => {
    const variables = (resourcesOf(json, 'aws_lambda_function')[0]!.environment as { variables: Record<string, string> }).variables;
    expect((JSON.parse(variables.PIPELINES!) as { name: string; queueUrl: string }[]).map((p) => [p.name, p.queueUrl])).toEqual([
      ['images', ref('aws_sqs_queue', 'work_queue', 'url')], ['audio', ref('aws_sqs_queue', 'audio-work_queue', 'url')],
      ['loudness', ref('aws_sqs_queue', 'loudness-work_queue', 'url')], ['spectrum', ref('aws_sqs_queue', 'spectrum-work_queue', 'url')],
      ['audio-summary', ref('aws_sqs_queue', 'audio-summary-work_queue', 'url')],
    ]);
    const metrics = { namespace: 'S3QueueScaler', service: 's3-queue-scaler' };
    expect(scalerEnvironmentBytes(resolve(FANOUT_EXAMPLE), metrics)).toBeLessThan(2048);
    // Six: the example and one more S3-fed pipeline.
    const six = { ...FANOUT_EXAMPLE, pipelines: [...examplePipelines(), { name: 'geojson', job: 'command', sourceSuffixes: ['.geojson'] }] };
    expect(scalerEnvironmentBytes(resolve(six), metrics)).toBeLessThan(LAMBDA_ENVIRONMENT_MAX_BYTES * 0.6);
    expect(() => synthBlueprint(six, { bundleDir })).not.toThrow();
  });

  it('refuses to synthesize a scaler whose variables Lambda would refuse', () => {
    const many = {
      bootstrapImage: `public.ecr.aws/example/${'x'.repeat(2000)}:latest`,
      pipelines: Array.from({ length: 8 }, (_, i) => ({ name: `pipeline-number-${i}`, sourcePrefix: `p${i}/`, destPrefix: `p${i}/` })),
    };
    expect(() => synthBlueprint(many, { bundleDir })).toThrow(/the scaler's variables would take \d+ bytes for these 8 pipelines, over Lambda's 4096/);
  });

  it('passes the security-policy aspect when synthesized for real (the group shares its runs, and no other pipeline\'s keys)', () => {
    const continueOnErrors = process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS;
    delete process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS;
    const outdir = mkdtempSync(join(tmpdir(), 'fanout-synth-'));
    try {
      const app = new App({ outdir });
      synthBlueprint({ ...FANOUT_EXAMPLE, kmsEncryption: true }, { bundleDir, app });
      expect(() => app.synth()).not.toThrow();
    } finally {
      rmSync(outdir, { recursive: true, force: true });
      if (continueOnErrors !== undefined) process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS = continueOnErrors;
    }
  });

  it('lists each member in the pipelines output, the messages-fed ones by where their messages come from', () => {
    const value = (json.output.pipelines as { value: Record<string, { source: string; destination: string }> }).value;
    expect(Object.keys(value).sort()).toEqual(['audio', 'audio-summary', 'images', 'loudness', 'spectrum']);
    expect(value.loudness).toMatchObject({ source: 'messages from fan-out pipeline audio', destination: expect.stringMatching(/\/runs\/$/) });
    expect(value.audio!.source).toMatch(/\/audio\/$/);
  });
});
