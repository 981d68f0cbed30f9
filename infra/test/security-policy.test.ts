import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aspects, Fn, TerraformStack, Testing } from '../src/framework/core';
import { AwsProvider, CloudwatchLogGroup, DynamodbTable, type DynamodbTableConfig, IamRole, IamRolePolicy, S3Bucket, SqsQueue, Subnet } from '../src/framework/aws';
import { DataTable } from '../src/constructs/data-table';
import { WorkerTaskFamily } from '../src/constructs/worker-task-family';
import { KEY_ARN, workerServiceProps } from './factories';
import { SecurityPolicyChecks, iamPolicyProblems } from '../src/aspects/security-policy';

type Statement = Parameters<typeof iamPolicyProblems>[0]['Statement'][number];
const problemsOf = (...statements: Statement[]) => iamPolicyProblems({ Statement: statements });
const allow = (Action: string | string[], Resource: string | string[], Condition?: Statement['Condition']): Statement =>
  ({ Effect: 'Allow', Action, Resource, ...(Condition !== undefined ? { Condition } : {}) });
const starResource = (action: string) => `"${action}" on resource "*": name the resources, or (where AWS allows nothing else) add the narrowing condition`;
const PASS_ROLE = 'iam:PassRole must name each role it passes (no wildcard) and the service (iam:PassedToService) it passes them to';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/worker-task';
const TO_ECS_TASKS = { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } };

describe('iamPolicyProblems', () => {
  it('accepts a least-privilege policy: named resources, and "*" only for reads AWS scopes no other way or under the narrowing condition', () => {
    expect(problemsOf(
      allow(['sqs:ReceiveMessage', 'sqs:DeleteMessage'], 'arn:aws:sqs:eu-west-1:123456789012:jobs'),
      allow('s3:GetObject', ['arn:aws:s3:::source/in/*']),
      allow(['ecr:GetAuthorizationToken', 'ecs:DescribeTaskDefinition'], '*'),
      allow('ecs:ListTasks', '*', { ArnEquals: { 'ecs:cluster': 'arn:aws:ecs:eu-west-1:123456789012:cluster/workers' } }),
      allow('ecs:RegisterTaskDefinition', '*', { StringEquals: { 'aws:RequestTag/Blueprint': 's3-queue' } }),
      allow('iam:PassRole', [ROLE_ARN], TO_ECS_TASKS),
    )).toEqual([]);
  });

  it('rejects the "*" action, which grants every service', () => {
    expect(problemsOf(allow('*', 'arn:aws:s3:::source'))).toEqual(['action "*" is a wildcard: list the actions']);
  });

  it('rejects a service wildcard such as s3:*, even on a named resource', () => {
    expect(problemsOf(allow(['s3:GetObject', 's3:*'], 'arn:aws:s3:::source/*'))).toEqual(['action "s3:*" is a wildcard: list the actions']);
  });

  it('rejects any other action on "*", naming each (AWS scopes nearly every action to resources)', () => {
    expect(problemsOf(allow(['s3:GetObject', 's3:PutObject'], '*'))).toEqual([starResource('s3:GetObject'), starResource('s3:PutObject')]);
    expect(problemsOf(allow('sqs:SendMessage', ['arn:aws:sqs:eu-west-1:123456789012:jobs', '*']))).toEqual([starResource('sqs:SendMessage')]);
  });

  it('reports every problem of a statement: "*" on "*" is both a whole-service action and a write on everything', () => {
    expect(problemsOf(allow('*', '*'))).toEqual(['action "*" is a wildcard: list the actions', starResource('*')]);
  });

  it('accepts RegisterTaskDefinition on "*" only under an aws:RequestTag condition', () => {
    expect(problemsOf(allow('ecs:RegisterTaskDefinition', '*'))).toEqual([starResource('ecs:RegisterTaskDefinition')]);
    expect(problemsOf(allow('ecs:RegisterTaskDefinition', '*', { StringEquals: { 'aws:ResourceTag/Blueprint': 's3-queue' } })))
      .toEqual([starResource('ecs:RegisterTaskDefinition')]);
    expect(problemsOf(allow('ecs:RegisterTaskDefinition', '*', { StringEquals: { 'aws:RequestTag/Blueprint': 's3-queue' } }))).toEqual([]);
  });

  it('accepts ListTasks on "*" only when limited to a cluster', () => {
    expect(problemsOf(allow('ecs:ListTasks', '*'))).toEqual([starResource('ecs:ListTasks')]);
    expect(problemsOf(allow('ecs:ListTasks', '*', { ArnEquals: { 'ecs:cluster': 'arn:aws:ecs:eu-west-1:123456789012:cluster/workers' } }))).toEqual([]);
  });

  it('rejects PassRole without iam:PassedToService, even on named roles', () => {
    expect(problemsOf(allow('iam:PassRole', ROLE_ARN))).toEqual([PASS_ROLE]);
    expect(problemsOf(allow('iam:PassRole', ROLE_ARN, { StringLike: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }))).toEqual([PASS_ROLE]);
  });

  it('rejects PassRole on a role pattern: each passed role is named', () => {
    expect(problemsOf(allow('iam:PassRole', [ROLE_ARN, 'arn:aws:iam::123456789012:role/worker-*'], TO_ECS_TASKS))).toEqual([PASS_ROLE]);
  });

  it('rejects PassRole on "*", even to a named service', () => {
    expect(problemsOf(allow('iam:PassRole', '*', TO_ECS_TASKS))).toEqual([starResource('iam:PassRole'), PASS_ROLE]);
  });

  it('rejects partial wildcards, which IAM expands like s3:*', () => {
    expect(problemsOf(allow('s3:Put*', 'arn:aws:s3:::destination/*'))).toEqual(['action "s3:Put*" is a wildcard: list the actions']);
  });

  it('rejects an Allow with NotAction or NotResource, which grants everything it does not list', () => {
    const problem = 'an Allow with NotAction or NotResource grants everything it does not list';
    expect(problemsOf({ Effect: 'Allow', NotAction: 'iam:*', Resource: 'arn:aws:s3:::source' })).toEqual([problem]);
    expect(problemsOf({ Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::secret/*' })).toEqual([problem]);
  });

  it('checks PassRole however its case is written: IAM action names are case-insensitive', () => {
    expect(problemsOf(allow('IAM:passrole', ROLE_ARN))).toEqual([PASS_ROLE]);
  });

  it('judges only what a policy allows: a Deny on everything is no problem', () => {
    expect(problemsOf({ Effect: 'Deny', Action: '*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })).toEqual([]);
  });
});

describe('SecurityPolicyChecks', () => {
  let outdir: string;
  let continueOnErrors: string | undefined;

  beforeEach(() => {
    outdir = mkdtempSync(join(tmpdir(), 'security-policy-'));
    // With this set, cdktf only records error annotations instead of failing the synth: the check would pass silently.
    continueOnErrors = process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS;
    delete process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS;
  });

  afterEach(() => {
    rmSync(outdir, { recursive: true, force: true });
    if (continueOnErrors !== undefined) process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS = continueOnErrors;
  });

  /** An app with one stack under the checks; `define` adds the resources to judge. */
  function checkedApp(define: (stack: TerraformStack) => void) {
    const app = Testing.app({ outdir });
    const stack = new TerraformStack(app, 'checked');
    new AwsProvider(stack, 'aws', { region: 'eu-west-1' });
    Aspects.of(stack).add(new SecurityPolicyChecks());
    define(stack);
    return app;
  }
  const roleWith = (stack: TerraformStack, statements: Statement[]) => {
    const role = new IamRole(stack, 'role', {
      name: 'checked', assumeRolePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    });
    new IamRolePolicy(stack, 'policy', { role: role.id, policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
  };

  it('fails the synth with an error naming each broken rule and where it is broken', () => {
    const app = checkedApp((stack) => {
      roleWith(stack, [allow('s3:GetObject', 'arn:aws:s3:::source/*'), allow('s3:PutObject', '*'), allow('iam:PassRole', ROLE_ARN)]);
      new SqsQueue(stack, 'plain-queue', { name: 'plain' });
      new CloudwatchLogGroup(stack, 'forever-logs', { name: '/forever' });
      new Subnet(stack, 'private-0', { vpcId: 'vpc-0123', cidrBlock: '10.0.16.0/20', mapPublicIpOnLaunch: true });
    });
    let message = '';
    try {
      app.synth();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('Encountered Annotations with level "ERROR"');
    expect(message).toContain(`[checked/policy] security policy: ${starResource('s3:PutObject')}`);
    expect(message).toContain(`[checked/policy] security policy: ${PASS_ROLE}`);
    expect(message).toContain('[checked/plain-queue] security policy: queue without encryption at rest (SSE-SQS or KMS)');
    expect(message).toContain('[checked/forever-logs] security policy: log group without a retention period');
    expect(message).toContain('[checked/private-0] security policy: a private subnet maps public IPs');
    expect(message).not.toContain('s3:GetObject');
  });

  it('fails the synth for a DynamoDB table without KMS encryption or without point-in-time recovery, and passes a DataTable', () => {
    const app = checkedApp((stack) => {
      const table = (id: string, extra: Partial<DynamodbTableConfig>) => new DynamodbTable(stack, id, {
        name: id, billingMode: 'PAY_PER_REQUEST', hashKey: 'id', attribute: [{ name: 'id', type: 'S' }], ...extra,
      });
      table('plain-table', { pointInTimeRecovery: { enabled: true } });
      table('sse-off-table', { serverSideEncryption: { enabled: false }, pointInTimeRecovery: { enabled: true } });
      table('no-pitr-table', { serverSideEncryption: { enabled: true, kmsKeyArn: KEY_ARN } });
      new DataTable(stack, 'compliant', { name: 'compliant', partitionKey: 'id', deletionProtection: true, kmsKeyArn: KEY_ARN });
    });
    let message = '';
    try {
      app.synth();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('[checked/plain-table] security policy: DynamoDB table without KMS encryption at rest');
    expect(message).toContain('[checked/sse-off-table] security policy: DynamoDB table without KMS encryption at rest');
    expect(message).toContain('[checked/no-pitr-table] security policy: DynamoDB table without point-in-time recovery');
    expect(message).not.toContain('no-pitr-table] security policy: DynamoDB table without KMS');
    expect(message).not.toContain('compliant');
  });

  it('refuses a policy it cannot read at synth time, and a log group kept forever (retention 0)', () => {
    const app = checkedApp((stack) => {
      const role = new IamRole(stack, 'role', { name: 'computed', assumeRolePolicy: '{}' });
      new IamRolePolicy(stack, 'computed-policy', { role: role.id, policy: Fn.jsonencode({ Statement: [allow('s3:*', '*')] }) });
      new CloudwatchLogGroup(stack, 'zero-logs', { name: '/zero', retentionInDays: 0 });
    });
    expect(() => app.synth()).toThrow(/\[checked\/computed-policy\] security policy: an IAM policy that is not plain JSON[\s\S]*\[checked\/zero-logs\] security policy: log group without a retention period/);
  });

  it('lets a compliant stack synthesize: named resources, encrypted queues, expiring logs, public IPs only outside private subnets', () => {
    const app = checkedApp((stack) => {
      roleWith(stack, [allow(['sqs:ReceiveMessage'], 'arn:aws:sqs:eu-west-1:123456789012:jobs'), allow('iam:PassRole', [ROLE_ARN], TO_ECS_TASKS)]);
      new SqsQueue(stack, 'sse-queue', { name: 'sse', sqsManagedSseEnabled: true });
      new SqsQueue(stack, 'kms-queue', { name: 'kms', kmsMasterKeyId: KEY_ARN });
      new CloudwatchLogGroup(stack, 'logs', { name: '/expiring', retentionInDays: 30 });
      new Subnet(stack, 'private-0', { vpcId: 'vpc-0123', cidrBlock: '10.0.16.0/20', mapPublicIpOnLaunch: false });
      new Subnet(stack, 'public-0', { vpcId: 'vpc-0123', cidrBlock: '10.0.0.0/24', mapPublicIpOnLaunch: true });
    });
    expect(() => app.synth()).not.toThrow();
    expect(readdirSync(join(outdir, 'stacks', 'checked'))).toContain('cdk.tf.json');
  });
  describe('between the worker roles of several pipelines', () => {
    /** Two task families reading and writing the same real buckets (so their ARNs are tokens, as in the stack). */
    const twoFamilies = (a: { sourcePrefix: string; sourceSuffixes: string[]; destPrefix: string }, b: typeof a, sameQueue = false) => checkedApp((stack) => {
      const source = new S3Bucket(stack, 'source', { bucketPrefix: 'source-' });
      const destination = new S3Bucket(stack, 'destination', { bucketPrefix: 'destination-' });
      for (const [name, pipeline] of [['alpha', a], ['beta', b]] as const) {
        new WorkerTaskFamily(stack, name, workerServiceProps({
          name, shareSource: true, pipeline: { job: 'command', jobEnvironment: {}, ...pipeline },
          sourceBucketArn: source.arn, destBucketArn: destination.arn,
          ...(sameQueue ? { queueArn: 'arn:aws:sqs:eu-west-1:123456789012:shared-jobs' } : { queueArn: `arn:aws:sqs:eu-west-1:123456789012:${name}-jobs` }),
        }));
      }
    });
    const errorsOf = (app: ReturnType<typeof checkedApp>) => {
      try {
        app.synth();
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };

    it('accepts roles whose reads, writes and queues are their own', () => {
      expect(errorsOf(twoFamilies(
        { sourcePrefix: '', sourceSuffixes: ['.jpg'], destPrefix: 'images/' },
        { sourcePrefix: '', sourceSuffixes: ['.geojson'], destPrefix: 'geojson/' },
      ))).toBe('');
    });

    it('refuses two roles that may write the same objects, naming both', () => {
      expect(errorsOf(twoFamilies(
        { sourcePrefix: 'a/', sourceSuffixes: [], destPrefix: 'out/' },
        { sourcePrefix: 'b/', sourceSuffixes: [], destPrefix: 'out/geo/' },
      ))).toMatch(/\[checked\/alpha\/task-policy\] security policy: worker roles checked\/alpha\/task-policy and checked\/beta\/task-policy may write the same objects: \$\{aws_s3_bucket\.destination\.arn\}\/out\/\* and \$\{aws_s3_bucket\.destination\.arn\}\/out\/geo\/\*/);
    });

    it('refuses two roles that may read the same objects, and two that share a queue', () => {
      const message = errorsOf(twoFamilies(
        { sourcePrefix: 'in/', sourceSuffixes: [], destPrefix: 'a/' },
        { sourcePrefix: 'in/geo/', sourceSuffixes: ['.json'], destPrefix: 'b/' },
        true,
      ));
      expect(message).toContain('may read the same objects: ${aws_s3_bucket.source.arn}/in/* and ${aws_s3_bucket.source.arn}/in/geo/*.json');
      expect(message).toContain('share a queue: arn:aws:sqs:eu-west-1:123456789012:shared-jobs');
      expect(message).not.toContain('may write');
    });
  });
});
