import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { GetQueueAttributesCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { LocalQueue } from '../../shared/queue/local-queue';
import { awsRedrive, awsStatus, localRedrive, localStatus, stackOutputsFrom } from '../src/operator-commands';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/blueprint-work';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/blueprint-dlq';
const sqsMock = mockClient(SQSClient);
const ecsMock = mockClient(ECSClient);
let dir: string;

beforeEach(() => {
  sqsMock.reset();
  ecsMock.reset();
  dir = mkdtempSync(join(tmpdir(), 'operator-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A queue file holding `visible` messages, `inFlight` received ones and `dead` dead letters (maxReceiveCount 1). */
async function localQueueWith(counts: { visible: number; inFlight: number; dead: number }): Promise<void> {
  const queue = LocalQueue.open(join(dir, 'queue.db'), { create: { visibilityTimeoutSeconds: 60, maxReceiveCount: 1 } });
  await queue.sendBatch(Array.from({ length: counts.dead }, (_, i) => `dead ${i}`));
  // A message received once and made visible again is dead-lettered on its next receive.
  const first = await queue.receive({ maxMessages: 10, waitSeconds: 0 });
  await queue.changeVisibility(first.map((message) => ({ receiptHandle: message.receiptHandle, timeoutSeconds: 0 })));
  expect(await queue.receive({ maxMessages: 10, waitSeconds: 0 })).toEqual([]);
  await queue.sendBatch(Array.from({ length: counts.inFlight + counts.visible }, (_, i) => `work ${i}`));
  if (counts.inFlight > 0) await queue.receive({ maxMessages: counts.inFlight, waitSeconds: 0 });
  await queue.close();
}

describe('localStatus', () => {
  it('reads the queue file, counts only the recorded workers still alive, and returns the last decisions, not the launch reports', async () => {
    await localQueueWith({ visible: 4, inFlight: 2, dead: 3 });
    const deadPid = 2 ** 22 + 12345;
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ workerPids: [process.pid, deadPid] }));
    for (let i = 1; i <= 7; i++) {
      appendFileSync(join(dir, 'decisions.jsonl'), `${JSON.stringify({ message: 'scaling decision', launch: i })}\n`);
      // The scaler's second line after a launch is not a decision, and must not push decisions out of the list.
      appendFileSync(join(dir, 'decisions.jsonl'), `${JSON.stringify({ message: 'launch report', launch: i, launched: i })}\n`);
    }

    const report = await localStatus(dir, 5);

    expect(report).toMatchObject({ target: 'local', visible: 4, inFlight: 2, delayed: 0, deadLettered: 3, runningTasks: 1 });
    expect(report.lastDecisions.map((decision) => decision.launch)).toEqual([3, 4, 5, 6, 7]);
  });

  it('says to run npm start when there is no local pipeline data', async () => {
    await expect(localStatus(join(dir, 'nothing'))).rejects.toThrow(/npm start/);
  });
});

describe('localRedrive', () => {
  it('moves every dead letter back to the queue', async () => {
    await localQueueWith({ visible: 0, inFlight: 0, dead: 3 });
    expect(await localRedrive(dir)).toBe(3);
    const queue = LocalQueue.open(join(dir, 'queue.db'));
    expect({ dlq: await queue.dlqDepth(), visible: (await queue.depth()).visible }).toEqual({ dlq: 0, visible: 3 });
    await queue.close();
  });
});

describe('awsStatus', () => {
  it('reads both queues with GetQueueAttributes and counts the family’s tasks across ListTasks pages', async () => {
    sqsMock.on(GetQueueAttributesCommand, { QueueUrl: QUEUE_URL }).resolves({
      Attributes: { ApproximateNumberOfMessages: '120', ApproximateNumberOfMessagesNotVisible: '20', ApproximateNumberOfMessagesDelayed: '1' },
    });
    sqsMock.on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL }).resolves({
      Attributes: { ApproximateNumberOfMessages: '4', ApproximateNumberOfMessagesNotVisible: '1', ApproximateNumberOfMessagesDelayed: '0' },
    });
    ecsMock.on(ListTasksCommand).resolvesOnce({ taskArns: ['t1', 't2'], nextToken: 'page-2' }).resolvesOnce({ taskArns: ['t3'] });

    const report = await awsStatus({ queueUrl: QUEUE_URL, dlqUrl: DLQ_URL, cluster: 'blueprint', taskFamily: 'blueprint-worker' }, new SQSClient({}), new ECSClient({}));

    expect(report).toEqual({ target: 'aws', visible: 120, inFlight: 20, delayed: 1, deadLettered: 5, runningTasks: 3, lastDecisions: [] });
    expect(ecsMock).toHaveReceivedCommandWith(ListTasksCommand, { cluster: 'blueprint', family: 'blueprint-worker', desiredStatus: 'RUNNING' });
    expect(ecsMock).toHaveReceivedCommandWith(ListTasksCommand, { nextToken: 'page-2' });
  });
});

describe('awsRedrive', () => {
  beforeEach(() => {
    sqsMock.on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL }).resolves({ Attributes: { QueueArn: 'arn:aws:sqs:eu-west-1:123456789012:blueprint-dlq' } });
    sqsMock.on(GetQueueAttributesCommand, { QueueUrl: QUEUE_URL }).resolves({ Attributes: { QueueArn: 'arn:aws:sqs:eu-west-1:123456789012:blueprint-work' } });
    sqsMock.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'handle-1' });
  });

  it('starts an SQS message move task from the DLQ ARN to the work queue ARN', async () => {
    expect(await awsRedrive(new SQSClient({}), { dlqUrl: DLQ_URL, queueUrl: QUEUE_URL })).toBe('handle-1');
    expect(sqsMock).toHaveReceivedCommandTimes(StartMessageMoveTaskCommand, 1);
    expect(sqsMock).toHaveReceivedCommandWith(StartMessageMoveTaskCommand, {
      SourceArn: 'arn:aws:sqs:eu-west-1:123456789012:blueprint-dlq',
      DestinationArn: 'arn:aws:sqs:eu-west-1:123456789012:blueprint-work',
    });
  });

  it('without the work queue leaves the destination to SQS (each message back to its source queue)', async () => {
    await awsRedrive(new SQSClient({}), { dlqUrl: DLQ_URL });
    const input = sqsMock.commandCalls(StartMessageMoveTaskCommand)[0]!.args[0].input;
    expect(input).toEqual({ SourceArn: 'arn:aws:sqs:eu-west-1:123456789012:blueprint-dlq' });
  });

  it('refuses to start a move when the DLQ ARN cannot be read', async () => {
    sqsMock.on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL }).resolves({ Attributes: {} });
    await expect(awsRedrive(new SQSClient({}), { dlqUrl: DLQ_URL })).rejects.toThrow(/ARN/);
    expect(sqsMock).toHaveReceivedCommandTimes(StartMessageMoveTaskCommand, 0);
  });
});

describe('stackOutputsFrom', () => {
  const output = (value: string) => ({ sensitive: false, type: 'string', value });

  it('takes the queue, DLQ, cluster, family and scaler function from terraform output -json', () => {
    const json = JSON.stringify({
      queue_url: output(QUEUE_URL), dlq_url: output(DLQ_URL), cluster_name: output('blueprint'), task_family: output('blueprint-worker'),
      scaler_function_name: output('blueprint-scaler'), source_bucket: output('src'),
    });
    expect(stackOutputsFrom(json)).toEqual({ queueUrl: QUEUE_URL, dlqUrl: DLQ_URL, cluster: 'blueprint', taskFamily: 'blueprint-worker', scalerFunctionName: 'blueprint-scaler' });
  });

  it('names the output that is missing', () => {
    expect(() => stackOutputsFrom(JSON.stringify({ queue_url: output(QUEUE_URL) }))).toThrow(/"dlq_url"/);
  });
});
