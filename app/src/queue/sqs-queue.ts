import {
  ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand,
  type MessageAttributeValue, type SQSClient,
} from '@aws-sdk/client-sqs';
import { classifyFailure } from '../../../shared/errors';
import type { BatchFailure, PeekedDeadLetter, Queue, QueueDepth, ReceiveOptions, ReceivedMessage, SendOptions, VisibilityChange } from '../../../shared/ports/queue';
import { realSleep, type Sleep } from '../../../shared/retry';

const SQS_BATCH_LIMIT = 10;
const BATCH_CALL_RETRIES = 3;

/**
 * The queue port over SQS. Batch calls never throw: what could not be done comes back as failures per handle. Sends
 * do throw, so the caller keeps the original message until its replacement is safely queued.
 */
export class SqsQueue implements Queue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly deadLetterQueueUrl: string,
    private readonly sleep: Sleep = realSleep,
  ) {}

  async peekDeadLetters(max: number): Promise<PeekedDeadLetter[]> {
    const seen = new Map<string, PeekedDeadLetter>();
    // SQS samples a few servers per receive: several short receives see more of a small queue than one does.
    for (let round = 0; round < Math.ceil(max / 10) + 2 && seen.size < max; round++) {
      const response = await this.sqs.send(new ReceiveMessageCommand({
        QueueUrl: this.deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 0, MessageAttributeNames: ['All'],
      }));
      const messages = response.Messages ?? [];
      for (const message of messages) seen.set(message.MessageId ?? '', { messageId: message.MessageId ?? '', body: message.Body ?? '', attributes: stringAttributes(message.MessageAttributes) });
      if (messages.length === 0) break;
    }
    return [...seen.values()].slice(0, max);
  }

  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    if (options.signal?.aborted) return [];
    try {
      const response = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: options.maxMessages,
          WaitTimeSeconds: options.waitSeconds,
          VisibilityTimeout: options.visibilityTimeoutSeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: options.signal },
      );
      return (response.Messages ?? []).map((message) => ({
        messageId: message.MessageId ?? '',
        receiptHandle: message.ReceiptHandle ?? '',
        body: message.Body ?? '',
        receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? '1'),
        attributes: stringAttributes(message.MessageAttributes),
      }));
    } catch (error) {
      if (options.signal?.aborted) return [];
      throw error;
    }
  }

  async send(body: string, options: SendOptions = {}): Promise<string> {
    const response = await this.sqs.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: body, DelaySeconds: options.delaySeconds, MessageAttributes: toSqsAttributes(options.attributes) }),
    );
    return response.MessageId ?? '';
  }

  async sendToDeadLetterQueue(body: string, attributes: Readonly<Record<string, string>>): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.deadLetterQueueUrl, MessageBody: body, MessageAttributes: toSqsAttributes(attributes) }));
  }

  deleteMessages(receiptHandles: readonly string[]): Promise<BatchFailure[]> {
    return this.inBatches(receiptHandles.map((receiptHandle) => ({ receiptHandle, timeoutSeconds: 0 })), (entries) =>
      new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries.map((entry, i) => ({ Id: String(i), ReceiptHandle: entry.receiptHandle })) }),
    );
  }

  changeVisibility(changes: readonly VisibilityChange[]): Promise<BatchFailure[]> {
    return this.inBatches(changes, (entries) =>
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: entries.map((entry, i) => ({ Id: String(i), ReceiptHandle: entry.receiptHandle, VisibilityTimeout: entry.timeoutSeconds })),
      }),
    );
  }

  async depth(): Promise<QueueDepth> {
    const response = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    const attributes: Record<string, string | undefined> = response.Attributes ?? {};
    const count = (name: string) => Number(attributes[name] ?? '0');
    return {
      visible: count('ApproximateNumberOfMessages'),
      inFlight: count('ApproximateNumberOfMessagesNotVisible'),
      delayed: count('ApproximateNumberOfMessagesDelayed'),
    };
  }

  async close(): Promise<void> {
    this.sqs.destroy();
  }

  private async inBatches(
    entries: readonly VisibilityChange[],
    command: (chunk: readonly VisibilityChange[]) => DeleteMessageBatchCommand | ChangeMessageVisibilityBatchCommand,
  ): Promise<BatchFailure[]> {
    const failures: BatchFailure[] = [];
    for (let start = 0; start < entries.length; start += SQS_BATCH_LIMIT) {
      const chunk = entries.slice(start, start + SQS_BATCH_LIMIT);
      failures.push(...(await this.sendBatch(chunk, command(chunk))));
    }
    return failures;
  }

  /** The SDK already retries each call; this adds a few backed-off attempts for batch calls, whose loss costs redeliveries. */
  private async sendBatch(
    chunk: readonly VisibilityChange[],
    command: DeleteMessageBatchCommand | ChangeMessageVisibilityBatchCommand,
  ): Promise<BatchFailure[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await this.sqs.send(command as DeleteMessageBatchCommand);
        return (response.Failed ?? []).map((failed) => ({
          receiptHandle: chunk[Number(failed.Id)]?.receiptHandle ?? '',
          reason: `${failed.Code ?? 'Failed'}: ${failed.Message ?? ''}`.trim(),
        }));
      } catch (error) {
        const failure = classifyFailure(error);
        if (failure.kind !== 'transient' || attempt >= BATCH_CALL_RETRIES) {
          return chunk.map((entry) => ({ receiptHandle: entry.receiptHandle, reason: `${failure.reason}: ${failure.message}` }));
        }
        await this.sleep(Math.round(Math.random() * 200 * 2 ** attempt));
      }
    }
  }
}

function stringAttributes(attributes: Record<string, MessageAttributeValue> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(attributes ?? {}).flatMap(([name, value]) => (value.StringValue !== undefined ? [[name, value.StringValue]] : [])),
  );
}

function toSqsAttributes(attributes: Readonly<Record<string, string>> | undefined): Record<string, MessageAttributeValue> | undefined {
  if (attributes === undefined || Object.keys(attributes).length === 0) return undefined;
  return Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]));
}
