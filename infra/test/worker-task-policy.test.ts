import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PolicyStatement, workerTaskPolicyStatements } from '../src/policies/worker-task-policy';

/** The worker task role's statements, as plain data: the same ones the local S3 emulator evaluates. */
const QUEUE = 'arn:aws:sqs:eu-west-1:123456789012:blue-jobs';
const DLQ = 'arn:aws:sqs:eu-west-1:123456789012:blue-jobs-dlq';
const SOURCE = 'arn:aws:s3:::blue-source';
const DEST = 'arn:aws:s3:::blue-destination';
const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd';
const input = { queueArn: QUEUE, deadLetterQueueArn: DLQ, sourceBucketArn: SOURCE, sourcePrefix: 'in/', destBucketArn: DEST, destPrefix: 'out/' };

const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);
const grantsOf = (statements: PolicyStatement[], action: string) => statements.filter((statement) => list(statement.Action).includes(action));
const bySid = (statements: PolicyStatement[], sid: string) => {
  const found = statements.filter((statement) => statement.Sid === sid);
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe('workerTaskPolicyStatements', () => {
  const statements = workerTaskPolicyStatements(input);

  it('lets the worker consume the work queue and re-queue records there', () => {
    expect(bySid(statements, 'ConsumeAndRequeueOnTheWorkQueue')).toEqual({
      Sid: 'ConsumeAndRequeueOnTheWorkQueue', Effect: 'Allow',
      Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage'],
      Resource: QUEUE,
    });
  });

  it('lets the worker only send to the DLQ', () => {
    expect(bySid(statements, 'DeadLetterWithReasons')).toEqual({ Sid: 'DeadLetterWithReasons', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: DLQ });
  });

  it('sends messages to the work queue and the DLQ only', () => {
    expect(grantsOf(statements, 'sqs:SendMessage').flatMap((statement) => list(statement.Resource))).toEqual([QUEUE, DLQ]);
    const sqsResources = statements.filter((statement) => list(statement.Action).some((action) => action.startsWith('sqs:'))).flatMap((s) => list(s.Resource));
    expect(sqsResources).toEqual([QUEUE, DLQ]);
  });

  it('reads objects under the source prefix only', () => {
    expect(bySid(statements, 'ReadSourceObjects')).toEqual({ Sid: 'ReadSourceObjects', Effect: 'Allow', Action: ['s3:GetObject'], Resource: `${SOURCE}/in/*` });
  });

  it('reads and writes objects under the destination prefix only', () => {
    expect(bySid(statements, 'WriteAndCheckOutputs')).toEqual({
      Sid: 'WriteAndCheckOutputs', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], Resource: `${DEST}/out/*`,
    });
    expect(grantsOf(statements, 's3:PutObject')).toHaveLength(1);
  });

  it('may list each bucket, so a missing key answers 404, but only under its own prefix', () => {
    expect(grantsOf(statements, 's3:ListBucket')).toEqual([
      { Sid: 'MissingSourceKeyAnswers404', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: SOURCE, Condition: { StringLike: { 's3:prefix': ['in/*'] } } },
      { Sid: 'MissingOutputAnswers404', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: DEST, Condition: { StringLike: { 's3:prefix': ['out/*'] } } },
    ]);
  });

  it('with an empty prefix, lists the whole bucket without a condition (the role may read every key there anyway)', () => {
    const whole = workerTaskPolicyStatements({ ...input, sourcePrefix: '', destPrefix: '' });
    expect(grantsOf(whole, 's3:ListBucket')).toEqual([
      { Sid: 'MissingSourceKeyAnswers404', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: SOURCE },
      { Sid: 'MissingOutputAnswers404', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: DEST },
    ]);
    expect(bySid(whole, 'ReadSourceObjects').Resource).toBe(`${SOURCE}/*`);
    expect(bySid(whole, 'WriteAndCheckOutputs').Resource).toBe(`${DEST}/*`);
  });

  it('uses the key for decrypting and for data keys only when there is one', () => {
    expect(grantsOf(statements, 'kms:Decrypt')).toEqual([]);
    const encrypted = workerTaskPolicyStatements({ ...input, kmsKeyArn: KEY });
    expect(encrypted.filter((statement) => list(statement.Action).some((action) => action.startsWith('kms:')))).toEqual([
      { Sid: 'UseTheDataKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: KEY },
    ]);
    expect(encrypted.slice(0, -1)).toEqual(statements);
  });

  it('allows only, names every statement with an IAM-legal Sid, and grants no "*" action or resource', () => {
    for (const statement of workerTaskPolicyStatements({ ...input, sourcePrefix: '', destPrefix: '', kmsKeyArn: KEY })) {
      expect(statement.Effect).toBe('Allow');
      expect(statement.Sid).toMatch(/^[A-Za-z0-9]+$/);
      for (const action of list(statement.Action)) expect(action).not.toContain('*');
      expect(list(statement.Resource)).not.toContain('*');
      for (const resource of list(statement.Resource)) expect(resource).not.toMatch(/^arn:aws:s3:::\*/);
    }
    expect(new Set(statements.map((statement) => statement.Sid)).size).toBe(statements.length);
  });

  it('imports nothing, so the local emulator can load it without cdktf', () => {
    const source = readFileSync(join(__dirname, '..', 'src', 'policies', 'worker-task-policy.ts'), 'utf8');
    expect(source).not.toMatch(/^\s*import\s/m);
    expect(source).not.toMatch(/\brequire\(/);
  });
});
