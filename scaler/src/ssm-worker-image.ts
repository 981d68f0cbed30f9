import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { WorkerImageSource } from './ports/worker-image';

/**
 * The worker image from the SSM parameter CodeBuild writes before registering a revision. Reading it needs
 * ssm:GetParameter on that one parameter; asking ECS instead (DescribeTaskDefinition) is only allowed on "*".
 */
export class SsmWorkerImage implements WorkerImageSource {
  constructor(private readonly ssm: SSMClient, private readonly parameterName: string) {}

  async currentImage(): Promise<string> {
    const { Parameter: parameter } = await this.ssm.send(new GetParameterCommand({ Name: this.parameterName }));
    return parameter?.Value ?? '';
  }
}
