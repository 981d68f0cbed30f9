import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { SqsDepthReader } from '../src/sqs-depth-reader';

const sqsMock = mockClient(SQSClient);
const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs';

beforeEach(() => sqsMock.reset());

describe('SqsDepthReader', () => {
  it('reads visible, in-flight and delayed counts in one call', async () => {
    sqsMock.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '137', ApproximateNumberOfMessagesNotVisible: '20', ApproximateNumberOfMessagesDelayed: '3' },
    });
    const depth = await new SqsDepthReader(new SQSClient({ region: 'eu-west-1' }), queueUrl).depth();

    expect(depth).toEqual({ visible: 137, inFlight: 20, delayed: 3 });
    expect(sqsMock).toHaveReceivedCommandTimes(GetQueueAttributesCommand, 1);
    expect(sqsMock).toHaveReceivedCommandWith(GetQueueAttributesCommand, {
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    });
  });

  it('treats missing attributes as zero', async () => {
    sqsMock.on(GetQueueAttributesCommand).resolves({});
    expect(await new SqsDepthReader(new SQSClient({ region: 'eu-west-1' }), queueUrl).depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });
});
