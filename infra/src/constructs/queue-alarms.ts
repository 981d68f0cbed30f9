import { Construct } from 'constructs';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';

export interface QueueAlarmsProps {
  readonly name: string;
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  readonly scalerFunctionName: string;
  readonly oldestMessageSeconds: number;
  readonly topicArn: string;
}

const FIVE_MINUTES = 300;

/** The three things an operator must hear about: dead letters, work that waits too long, a scaler that fails. */
export class QueueAlarms extends Construct {
  readonly alarms: CloudwatchMetricAlarm[];

  constructor(scope: Construct, id: string, props: QueueAlarmsProps) {
    super(scope, id);
    const notify = { alarmActions: [props.topicArn], okActions: [props.topicArn] };
    this.alarms = [
      new CloudwatchMetricAlarm(this, 'dead-letters', {
        alarmName: `${props.name}-dead-letters`,
        alarmDescription: 'Messages reached the DLQ: their reason is in the worker logs (message "failed"); fix, then npm run redrive -- --aws',
        namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: props.deadLetterQueueName },
        statistic: 'Maximum', period: FIVE_MINUTES, evaluationPeriods: 1, comparisonOperator: 'GreaterThanThreshold', threshold: 0,
        treatMissingData: 'notBreaching', ...notify,
      }),
      new CloudwatchMetricAlarm(this, 'oldest-message', {
        alarmName: `${props.name}-oldest-message`,
        alarmDescription: `A message has waited over ${props.oldestMessageSeconds} s: tasks are not starting (capacity, image, scaler) or MAX_TASKS is too low`,
        namespace: 'AWS/SQS', metricName: 'ApproximateAgeOfOldestMessage', dimensions: { QueueName: props.queueName },
        statistic: 'Maximum', period: FIVE_MINUTES, evaluationPeriods: 1, comparisonOperator: 'GreaterThanThreshold', threshold: props.oldestMessageSeconds,
        treatMissingData: 'notBreaching', ...notify,
      }),
      new CloudwatchMetricAlarm(this, 'scaler-errors', {
        alarmName: `${props.name}-scaler-errors`,
        alarmDescription: 'The scaler Lambda failed: no tasks are launched while it fails; see its log group',
        namespace: 'AWS/Lambda', metricName: 'Errors', dimensions: { FunctionName: props.scalerFunctionName },
        statistic: 'Sum', period: FIVE_MINUTES, evaluationPeriods: 1, comparisonOperator: 'GreaterThanThreshold', threshold: 0,
        treatMissingData: 'notBreaching', ...notify,
      }),
    ];
  }
}
