import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { SsmWorkerImage } from '../src/ssm-worker-image';
import { WORKER_IMAGE } from './factories';

const ssmMock = mockClient(SSMClient);
const reader = () => new SsmWorkerImage(new SSMClient({ region: 'eu-west-1' }), '/image-worker/worker-image');

beforeEach(() => ssmMock.reset());

describe('SsmWorkerImage', () => {
  it('reads the one image parameter', async () => {
    ssmMock.on(GetParameterCommand).resolves({
      Parameter: {
        Name: '/image-worker/worker-image', Type: 'String', Value: WORKER_IMAGE, Version: 4,
        LastModifiedDate: new Date('2025-06-02T11:50:00Z'), ARN: 'arn:aws:ssm:eu-west-1:123456789012:parameter/image-worker/worker-image', DataType: 'text',
      },
    });
    expect(await reader().currentImage()).toBe(WORKER_IMAGE);
    expect(ssmMock).toHaveReceivedCommandTimes(GetParameterCommand, 1);
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/image-worker/worker-image' });
  });

  it('lets a missing parameter fail the run rather than guess', async () => {
    ssmMock.on(GetParameterCommand).rejects(new ParameterNotFound({ message: '', $metadata: { httpStatusCode: 400 } }));
    await expect(reader().currentImage()).rejects.toThrow(ParameterNotFound);
  });
});
