import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { TransientError } from '../../../shared/errors';
import type { Queue } from '../../../shared/ports/queue';
import type { MessageSender } from '../ports/message-sender';

const SQS_BATCH_LIMIT = 10;

/** SendMessageBatch, ten at a time; entries SQS refuses in a batch answer are a transient failure of the call. */
export class SqsMessageSender implements MessageSender {
  constructor(private readonly sqs: SQSClient) {}

  async sendAll(queueUrl: string, bodies: readonly string[]): Promise<void> {
    for (let start = 0; start < bodies.length; start += SQS_BATCH_LIMIT) {
      const chunk = bodies.slice(start, start + SQS_BATCH_LIMIT);
      const response = await this.sqs.send(new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((body, index) => ({ Id: String(index), MessageBody: body })),
      }));
      const failed = response.Failed ?? [];
      if (failed.length > 0) {
        throw new TransientError('send-failed', `${failed.length} of ${chunk.length} messages were not accepted by ${queueUrl}: ${failed[0]?.Code ?? ''} ${failed[0]?.Message ?? ''}`.trim());
      }
    }
  }

  async close(): Promise<void> {
    this.sqs.destroy();
  }
}

/** The local pipeline's queues are files: each opened once and kept for the worker's life. */
export class LocalMessageSender implements MessageSender {
  private readonly queues = new Map<string, Promise<Queue>>();

  constructor(private readonly open: (path: string) => Promise<Queue>) {}

  async sendAll(queueUrl: string, bodies: readonly string[]): Promise<void> {
    let queue = this.queues.get(queueUrl);
    if (queue === undefined) {
      queue = this.open(queueUrl);
      this.queues.set(queueUrl, queue);
    }
    const opened = await queue;
    for (const body of bodies) await opened.send(body);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map(async (queue) => (await queue).close()));
  }
}

/** Routes by URL form like QUEUE_URL does: http(s) is SQS, anything else a local queue file. */
export class RoutingMessageSender implements MessageSender {
  constructor(private readonly sqs: () => MessageSender, private readonly local: () => MessageSender) {}
  private sqsSender?: MessageSender;
  private localSender?: MessageSender;

  sendAll(queueUrl: string, bodies: readonly string[]): Promise<void> {
    if (/^https?:\/\//i.test(queueUrl)) return (this.sqsSender ??= this.sqs()).sendAll(queueUrl, bodies);
    return (this.localSender ??= this.local()).sendAll(queueUrl, bodies);
  }

  async close(): Promise<void> {
    await Promise.all([this.sqsSender?.close(), this.localSender?.close()]);
  }
}
