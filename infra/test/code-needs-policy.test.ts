import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourcesOf, scalerBundleDir, synthBlueprint, type SynthesizedStack } from './factories';
import { policyOf } from './policy-documents';
import { type CommandUse, iamActionOf, sdkCommandUses } from './sdk-actions';

/**
 * Least privilege, checked against the code that uses the roles: a role whose code is this repository's (the worker
 * task role: app/src, the scaler's role: scaler/src) is granted exactly the IAM actions of the AWS SDK commands that
 * code can send, plus the allowances below, each with its reason and the condition under which it applies. A grant
 * nothing sends fails, and so does a command the role is not granted. The other roles run AWS's code (CodeBuild,
 * CodePipeline, the ECS agent with the execution role) and are checked by the construct tests instead.
 */
const ROOT = join(__dirname, '..', '..');

interface Allowance {
  readonly action: string;
  /** Whether the allowance applies, given the actions the code sends and its command uses. */
  readonly appliesWhen: (sent: ReadonlySet<string>, uses: readonly CommandUse[]) => boolean;
  readonly reason: string;
}

const sendsAny = (prefix: string) => (sent: ReadonlySet<string>) => [...sent].some((action) => action.startsWith(prefix));

const WORKER_ALLOWANCES: Allowance[] = [
  {
    action: 's3:ListBucket', appliesWhen: (sent) => sent.has('s3:GetObject'),
    reason: 'S3 answers a GET or HEAD of a missing key with 404 only when the caller may list the bucket, 403 otherwise: the worker tells "gone" from "forbidden" by it',
  },
  {
    action: 'kms:Decrypt', appliesWhen: (sent) => sendsAny('sqs:')(sent) || sendsAny('s3:')(sent),
    reason: 'kmsEncryption: receiving from a queue and reading objects encrypted with the blueprint key',
  },
  {
    action: 'kms:GenerateDataKey', appliesWhen: (sent) => sent.has('sqs:SendMessage') || sent.has('s3:PutObject'),
    reason: 'kmsEncryption: sending to a queue and writing objects encrypted with the blueprint key',
  },
];

const runTaskTags = (uses: readonly CommandUse[]) =>
  uses.some((use) => use.reached && use.command === 'RunTaskCommand' && use.inputProperties.some((property) => property === 'tags' || property === 'propagateTags'));

const SCALER_ALLOWANCES: Allowance[] = [
  { action: 'iam:PassRole', appliesWhen: (sent) => sent.has('ecs:RunTask'), reason: 'RunTask passes the task definition\'s task and execution roles' },
  {
    action: 'ecs:TagResource', appliesWhen: (_sent, uses) => runTaskTags(uses),
    reason: 'RunTask with tags or propagateTags tags the tasks it creates, which ECS authorizes as ecs:TagResource',
  },
  { action: 'logs:CreateLogStream', appliesWhen: () => true, reason: 'the Lambda runtime writes the function\'s own log group with the function\'s role' },
  { action: 'logs:PutLogEvents', appliesWhen: () => true, reason: 'the Lambda runtime writes the function\'s own log group with the function\'s role' },
];

const ROLES = [
  { role: 'the worker task role', entry: 'app/src/main.ts', rolePath: 'workers_task-role', allowances: WORKER_ALLOWANCES },
  { role: 'the scaler\'s role', entry: 'scaler/src/handler.ts', rolePath: 'scaler_role', allowances: SCALER_ALLOWANCES },
];

let bundleDir: string;
let stacks: { name: string; json: SynthesizedStack }[];

beforeAll(() => {
  bundleDir = scalerBundleDir();
  stacks = [
    { name: 'default settings', json: synthBlueprint({}, { bundleDir }) },
    { name: 'kmsEncryption', json: synthBlueprint({ kmsEncryption: true, sourcePrefix: 'in/', destPrefix: 'out/' }, { bundleDir }) },
    {
      name: 'two pipelines',
      json: synthBlueprint({
        sourcePrefix: 'photos/', destPrefix: 'images/',
        pipelines: [{ name: 'images' }, { name: 'geojson', job: 'command', jobEnvironment: { COMMAND: '["true"]' }, image: { name: 'geojson', dockerfile: 'app/jobs/command/example/Dockerfile' } }],
      }, { bundleDir }),
    },
    // An archive-split role (the first pipeline's, so its rolePath is the one checked): archives, batch ZIPs, callbacks.
    { name: 'an archive-split pipeline', json: synthBlueprint({ pipelines: [{ name: 'archives', job: 'archive-split' }] }, { bundleDir }) },
  ];
});

afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

/** The actions the role's inline policies allow. */
function grantedActions(json: SynthesizedStack, rolePath: string): Set<string> {
  const roleId = new RegExp(`^\\$\\{aws_iam_role\\.${rolePath.replace(/[-]/g, '\\-')}_[0-9A-F]{8}\\.id\\}$`);
  const policies = resourcesOf(json, 'aws_iam_role_policy').filter((policy) => roleId.test(String(policy.role)));
  expect(policies).toHaveLength(1);
  return new Set(policyOf(policies[0]!.policy).Statement.filter((statement) => statement.Effect === 'Allow')
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action])));
}

describe.each(ROLES)('$role', ({ entry, rolePath, allowances }) => {
  const uses = () => sdkCommandUses(join(ROOT, entry), ROOT);
  const sentActions = () => new Set(uses().filter((use) => use.reached).map(iamActionOf));

  it('is granted every action its code sends', () => {
    for (const { name, json } of stacks) {
      const granted = grantedActions(json, rolePath);
      const missing = uses().filter((use) => use.reached && !granted.has(iamActionOf(use)))
        .map((use) => `${name}: ${use.file} ${use.within ?? '(top level)'} sends ${use.command}, but the role lacks ${iamActionOf(use)}`);
      expect(missing).toEqual([]);
    }
  });

  it('is granted no action that no code path sends, beyond the documented allowances', () => {
    const sent = sentActions();
    const commandUses = uses();
    for (const { name, json } of stacks) {
      const unused = [...grantedActions(json, rolePath)].filter((action) => !sent.has(action))
        .filter((action) => !allowances.some((allowance) => allowance.action === action && allowance.appliesWhen(sent, commandUses)))
        .map((action) => `${name}: ${action} is granted, but no reachable code sends it and no allowance covers it`);
      expect(unused).toEqual([]);
    }
  });
});

describe('the scan of the sources', () => {
  it('sees the worker build GetQueueAttributes only in the SQS adapter\'s depth(), which no worker code calls', () => {
    const depth = sdkCommandUses(join(ROOT, 'app/src/main.ts'), ROOT).filter((use) => use.command === 'GetQueueAttributesCommand');
    expect(depth).toEqual([expect.objectContaining({ file: 'app/src/queue/sqs-queue.ts', within: 'depth', reached: false })]);
  });

  it('maps commands to actions: batch calls to their single action, HEAD to GetObject, and refuses an unlisted S3 command', () => {
    expect(iamActionOf({ service: 'sqs', command: 'DeleteMessageBatchCommand' })).toBe('sqs:DeleteMessage');
    expect(iamActionOf({ service: 'sqs', command: 'ChangeMessageVisibilityBatchCommand' })).toBe('sqs:ChangeMessageVisibility');
    expect(iamActionOf({ service: 'ecs', command: 'RunTaskCommand' })).toBe('ecs:RunTask');
    expect(iamActionOf({ service: 's3', command: 'HeadObjectCommand' })).toBe('s3:GetObject');
    expect(() => iamActionOf({ service: 's3', command: 'CopyObjectCommand' })).toThrow(/no IAM action listed for s3 CopyObjectCommand/);
  });

  it('follows static, re-exported and dynamic imports, and counts a method only when reached code calls or passes it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdk-scan-'));
    try {
      mkdirSync(join(dir, 'lib'));
      writeFileSync(join(dir, 'entry.ts'), [
        "import { Store } from './lib';",
        'export const handler = async () => { await new Store().read(); };',
        "void import('./later').then((later) => later.start());",
      ].join('\n'));
      writeFileSync(join(dir, 'lib', 'index.ts'), "export { Store } from './store';\n");
      writeFileSync(join(dir, 'lib', 'store.ts'), [
        "import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';",
        'const s3 = new S3Client({});',
        'export class Store {',
        "  async read() { return s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' })); }",
        "  async write() { return s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k' })); }",
        '}',
      ].join('\n'));
      writeFileSync(join(dir, 'later.ts'), [
        "import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';",
        'const retry = (call: () => Promise<unknown>) => call();',
        "const send = () => new SQSClient({}).send(new SendMessageCommand({ QueueUrl: 'q', MessageBody: 'm' }));",
        'export function start() { return retry(send); }',
      ].join('\n'));
      const found = sdkCommandUses(join(dir, 'entry.ts'), dir).map((use) => [use.file, use.within, use.command, use.reached]);
      expect(found.sort()).toEqual([
        ['later.ts', 'send', 'SendMessageCommand', true],
        [join('lib', 'store.ts'), 'read', 'GetObjectCommand', true],
        [join('lib', 'store.ts'), 'write', 'PutObjectCommand', false],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
