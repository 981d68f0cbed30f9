import { Construct, Fn } from '../framework/core';
import { KmsAlias, KmsKey, KmsKeyPolicy } from '../framework/aws';
import { arnPart } from '../arn-part';

export interface EncryptionKeyProps {
  readonly name: string;
}

/**
 * The blueprint's customer-managed key, rotated yearly. The alarm topic always uses it: CloudWatch and CodeStar
 * Notifications cannot publish to a topic under the AWS-managed SNS key. Buckets and queues use it when configured.
 */
export class EncryptionKey extends Construct {
  readonly key: KmsKey;
  /**
   * The key policy. A resource that makes a service validate the key at creation (S3 sends a test event to a queue
   * under this key; CodeStar Notifications checks it may publish to a topic under it) must depend on it.
   */
  readonly policy: KmsKeyPolicy;

  constructor(scope: Construct, id: string, props: EncryptionKeyProps) {
    super(scope, id);
    this.key = new KmsKey(this, 'key', { description: `${props.name}: alarm topic, and buckets and queues when kmsEncryption is on`, enableKeyRotation: true, deletionWindowInDays: 30 });
    new KmsAlias(this, 'alias', { name: `alias/${props.name}`, targetKeyId: this.key.keyId });
    // The policy is a separate resource so the account can be read from the key's own ARN.
    const account = arnPart(this.key.arn, 4);
    const serviceUse = (sid: string, service: string) => ({
      Sid: sid, Effect: 'Allow', Principal: { Service: service }, Action: ['kms:GenerateDataKey*', 'kms:Decrypt'], Resource: '*',
      Condition: { StringEquals: { 'aws:SourceAccount': account } },
    });
    this.policy = new KmsKeyPolicy(this, 'policy', {
      keyId: this.key.keyId,
      policy: Fn.jsonencode({
        Version: '2012-10-17',
        Statement: [
          // Key policies must let the account administer the key, or nobody can; IAM policies then grant the use.
          { Sid: 'AccountAdministers', Effect: 'Allow', Principal: { AWS: `arn:${arnPart(this.key.arn, 1)}:iam::${account}:root` }, Action: 'kms:*', Resource: '*' },
          serviceUse('AlarmsPublishToTheTopic', 'cloudwatch.amazonaws.com'),
          serviceUse('PipelineNotificationsPublishToTheTopic', 'codestar-notifications.amazonaws.com'),
          serviceUse('S3EventsToTheEncryptedQueue', 's3.amazonaws.com'),
        ],
      }),
    });
  }
}
