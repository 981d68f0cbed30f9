import {
  ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { SqsQueue } from '../../src/queue/sqs-queue';

const URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs-dlq';
const sqs = mockClient(SQSClient);
const sleeps: number[] = [];
const queue = () => new SqsQueue(new SQSClient({ region: 'eu-west-1' }), URL, DLQ_URL, async (ms) => void sleeps.push(ms));
const handles = (n: number) => Array.from({ length: n }, (_, i) => `h${i}`);

beforeEach(() => {
  sqs.reset();
  sleeps.length = 0;
});

describe('SqsQueue', () => {
  it('long-polls with the receive count attribute and the requested visibility', async () => {
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [{
        MessageId: 'm1', ReceiptHandle: 'r1', Body: '{}', Attributes: { ApproximateReceiveCount: '3' },
        MessageAttributes: { attempts: { DataType: 'String', StringValue: '2' }, blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1]) } },
      }],
    });
    await expect(queue().receive({ maxMessages: 7, waitSeconds: 20, visibilityTimeoutSeconds: 60 })).resolves.toEqual([
      { messageId: 'm1', receiptHandle: 'r1', body: '{}', receiveCount: 3, attributes: { attempts: '2' } },
    ]);
    expect(sqs).toHaveReceivedCommandWith(ReceiveMessageCommand, {
      QueueUrl: URL, MaxNumberOfMessages: 7, WaitTimeSeconds: 20, VisibilityTimeout: 60, MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      MessageAttributeNames: ['All'],
    });
  });

  it('sends to the work queue with a delay and attributes, and dead letters to the DLQ', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'new' });
    await expect(queue().send('body', { delaySeconds: 30, attributes: { attempts: '2' } })).resolves.toBe('new');
    await queue().sendToDeadLetterQueue('dead', { 'failure-reasons': 'corrupt-image' });
    expect(sqs).toHaveReceivedNthCommandWith(1, SendMessageCommand, {
      QueueUrl: URL, MessageBody: 'body', DelaySeconds: 30, MessageAttributes: { attempts: { DataType: 'String', StringValue: '2' } },
    });
    expect(sqs).toHaveReceivedNthCommandWith(2, SendMessageCommand, {
      QueueUrl: DLQ_URL, MessageBody: 'dead', MessageAttributes: { 'failure-reasons': { DataType: 'String', StringValue: 'corrupt-image' } },
    });
  });

  it('lets a failed send throw, so the caller keeps the original message', async () => {
    sqs.on(SendMessageCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    await expect(queue().sendToDeadLetterQueue('dead', {})).rejects.toThrow('denied');
  });

  it('returns no messages when the poll is aborted', async () => {
    const abort = new AbortController();
    sqs.on(ReceiveMessageCommand).callsFake(async () => {
      abort.abort();
      throw Object.assign(new Error('aborted'), { name: 'AbortError' });
    });
    await expect(queue().receive({ maxMessages: 10, waitSeconds: 20, signal: abort.signal })).resolves.toEqual([]);
  });

  it('deletes 23 handles in batches of 10, 10 and 3 and maps Failed entries back to their handles', async () => {
    sqs.on(DeleteMessageBatchCommand).callsFake(async (input: { Entries: { Id: string; ReceiptHandle: string }[] }) => {
      const stale = input.Entries.find((entry) => entry.ReceiptHandle === 'h22');
      return stale === undefined ? {} : { Failed: [{ Id: stale.Id, Code: 'ReceiptHandleIsInvalid', Message: 'stale', SenderFault: true }] };
    });
    const failures = await queue().deleteMessages(handles(23));
    expect(sqs.commandCalls(DeleteMessageBatchCommand).map((call) => call.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    expect(failures).toEqual([{ receiptHandle: 'h22', reason: 'ReceiptHandleIsInvalid: stale' }]);
  });

  it('changes visibility in batches with unique ids per batch', async () => {
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({});
    await queue().changeVisibility(handles(12).map((receiptHandle) => ({ receiptHandle, timeoutSeconds: 0 })));
    const batches = sqs.commandCalls(ChangeMessageVisibilityBatchCommand).map((call) => call.args[0].input.Entries ?? []);
    expect(batches.map((entries) => entries.length)).toEqual([10, 2]);
    for (const entries of batches) expect(new Set(entries.map((entry) => entry.Id)).size).toBe(entries.length);
    expect(batches[1]).toEqual([{ Id: '0', ReceiptHandle: 'h10', VisibilityTimeout: 0 }, { Id: '1', ReceiptHandle: 'h11', VisibilityTimeout: 0 }]);
  });

  it('retries a throttled batch call with backoff, then reports every entry of it as failed rather than throwing', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    sqs.on(DeleteMessageBatchCommand).rejects(throttled);
    const failures = await queue().deleteMessages(handles(2));
    expect(sqs.commandCalls(DeleteMessageBatchCommand)).toHaveLength(4);
    expect(sleeps).toHaveLength(3);
    expect(failures.map((failure) => failure.receiptHandle)).toEqual(['h0', 'h1']);
    expect(failures[0]?.reason).toMatch(/^throttled/);
  });

  it('succeeds when a retry of a throttled batch goes through', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    sqs.on(DeleteMessageBatchCommand).rejectsOnce(throttled).resolves({});
    await expect(queue().deleteMessages(handles(1))).resolves.toEqual([]);
  });

  it('maps the three approximate counts', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '12', ApproximateNumberOfMessagesNotVisible: '3', ApproximateNumberOfMessagesDelayed: '1' },
    });
    await expect(queue().depth()).resolves.toEqual({ visible: 12, inFlight: 3, delayed: 1 });
  });
});
