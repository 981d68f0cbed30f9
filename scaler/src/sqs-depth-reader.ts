import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueDepth, QueueDepthReader } from '../../shared/ports/queue';

const DEPTH_ATTRIBUTES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
] as const;

/** Queue depth from one GetQueueAttributes call: all the scaler needs from SQS, so it needs no receive rights. */
export class SqsDepthReader implements QueueDepthReader {
  constructor(private readonly sqs: SQSClient, private readonly queueUrl: string) {}

  async depth(): Promise<QueueDepth> {
    const { Attributes: attributes = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: [...DEPTH_ATTRIBUTES] }),
    );
    return {
      visible: toCount(attributes.ApproximateNumberOfMessages),
      inFlight: toCount(attributes.ApproximateNumberOfMessagesNotVisible),
      delayed: toCount(attributes.ApproximateNumberOfMessagesDelayed),
    };
  }
}

function toCount(value: string | undefined): number {
  const count = Number(value ?? 0);
  return Number.isFinite(count) && count > 0 ? count : 0;
}
