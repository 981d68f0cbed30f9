import type { InfraConfig } from '../config';
import { environmentBytes, scalerEnvironment } from '../constructs/scaler-function';
import { BASE_IMAGE, capacityProviderStrategy } from './pipeline-config';
import { imageNames, pipelineNames } from './pipeline-names';

/** An account id has 12 digits; subnet and security group ids are at most these long. */
const ACCOUNT = '123456789012';
const SUBNET_ID = 'subnet-0123456789abcdef0';
const SECURITY_GROUP_ID = 'sg-0123456789abcdef0';

/**
 * The size, as Lambda measures it, of the scaler's variables for this configuration, with each value Terraform fills
 * in at apply time (queue URLs, the cluster ARN, subnet and security group ids) at its real form and longest length.
 * The stack refuses to synthesize a scaler Lambda would refuse to create (LAMBDA_ENVIRONMENT_MAX_BYTES). Pure.
 */
export function scalerEnvironmentBytes(config: InfraConfig, metrics: { readonly namespace: string; readonly service: string }): number {
  const partition = config.region.startsWith('cn-') ? 'aws-cn' : config.region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  const domain = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return environmentBytes(scalerEnvironment({
    pipelines: config.pipelines.map((pipeline, index) => {
      const names = pipelineNames(config.name, pipeline.name, index);
      return {
        name: pipeline.name, queueArn: '', queueUrl: `https://sqs.${config.region}.${domain}/${ACCOUNT}/${names.queueName}`, taskFamily: names.taskFamily,
        taskDefinitionArnPattern: '', maxTasks: pipeline.maxTasks, messagesPerTask: pipeline.messagesPerTask, capacityProviderStrategy: capacityProviderStrategy(pipeline),
        imageParameterArn: '', imageParameterName: imageNames(config.name, pipeline.image.name, pipeline.image.name === BASE_IMAGE.name).parameterName,
      };
    }),
    clusterArn: `arn:${partition}:ecs:${config.region}:${ACCOUNT}:cluster/${config.name}`,
    subnetIds: config.privateSubnetCidrs.map(() => SUBNET_ID), securityGroupIds: [SECURITY_GROUP_ID],
    bootstrapImage: config.bootstrapImage, metrics,
  }));
}
