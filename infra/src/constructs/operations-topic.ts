import { Construct, Fn } from '../framework/core';
import { SnsTopic, SnsTopicPolicy, SnsTopicSubscription } from '../framework/aws';
import { arnPart } from '../arn-part';

export interface OperationsTopicProps {
  readonly name: string;
  /** A customer-managed key whose policy lets CloudWatch and CodeStar Notifications use it. */
  readonly kmsKeyArn: string;
  /** Subscribed when set. */
  readonly email: string;
}

/** Where alarms and pipeline notifications go: encrypted, publishable only by this account's alarms and pipeline rules. */
export class OperationsTopic extends Construct {
  readonly topic: SnsTopic;
  /** Who may publish: a notification rule targeting the topic must be created after it (the service checks at creation). */
  readonly policy: SnsTopicPolicy;

  constructor(scope: Construct, id: string, props: OperationsTopicProps) {
    super(scope, id);
    this.topic = new SnsTopic(this, 'topic', { name: `${props.name}-operations`, kmsMasterKeyId: props.kmsKeyArn });
    const account = arnPart(this.topic.arn, 4);
    const publish = (sid: string, service: string) => ({
      Sid: sid, Effect: 'Allow', Principal: { Service: service }, Action: 'sns:Publish', Resource: this.topic.arn,
      Condition: { StringEquals: { 'aws:SourceAccount': account } },
    });
    this.policy = new SnsTopicPolicy(this, 'policy', {
      arn: this.topic.arn,
      policy: Fn.jsonencode({
        Version: '2012-10-17',
        Statement: [
          publish('AlarmsPublish', 'cloudwatch.amazonaws.com'),
          publish('PipelineNotificationsPublish', 'codestar-notifications.amazonaws.com'),
          {
            Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: this.topic.arn,
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      }),
    });
    if (props.email !== '') new SnsTopicSubscription(this, 'email', { topicArn: this.topic.arn, protocol: 'email', endpoint: props.email });
  }
}
