import { Construct } from '../framework/core';
import { CloudwatchMetricAlarm } from '../framework/aws';

export interface QueueAlarmsProps {
  readonly name: string;
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  /** The scaler's errors alarm is the stack's, not a pipeline's: given to the first pipeline's alarms only. */
  readonly scalerFunctionName?: string;
  readonly oldestMessageSeconds: number;
  readonly topicArn: string;
}

const FIVE_MINUTES = 300;

/** The three things an operator must hear about: dead letters, work that waits too long (per pipeline), a scaler that fails. */
export class QueueAlarms extends Construct {
  readonly alarms: CloudwatchMetricAlarm[];

  constructor(scope: Construct, id: string, props: QueueAlarmsProps) {
    super(scope, id);
    // Every alarm: above a threshold in one five-minute window, quiet when there is no data, both edges notified.
    const alarm = (id: string, description: string, metric: { namespace: string; metricName: string; dimensions: Record<string, string>; statistic: string; threshold: number }) =>
      new CloudwatchMetricAlarm(this, id, {
        alarmName: `${props.name}-${id}`, alarmDescription: description, ...metric,
        period: FIVE_MINUTES, evaluationPeriods: 1, comparisonOperator: 'GreaterThanThreshold', treatMissingData: 'notBreaching',
        alarmActions: [props.topicArn], okActions: [props.topicArn],
      });
    this.alarms = [
      alarm('dead-letters', 'Messages reached the DLQ: their reason is in the worker logs (message "failed"); fix, then npm run redrive -- --aws', {
        namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: props.deadLetterQueueName }, statistic: 'Maximum', threshold: 0,
      }),
      alarm('oldest-message', `A message has waited over ${props.oldestMessageSeconds} s: tasks are not starting (capacity, image, scaler) or MAX_TASKS is too low`, {
        namespace: 'AWS/SQS', metricName: 'ApproximateAgeOfOldestMessage', dimensions: { QueueName: props.queueName }, statistic: 'Maximum', threshold: props.oldestMessageSeconds,
      }),
      ...(props.scalerFunctionName !== undefined
        ? [alarm('scaler-errors', 'The scaler Lambda failed: no tasks are launched while it fails; see its log group', {
          namespace: 'AWS/Lambda', metricName: 'Errors', dimensions: { FunctionName: props.scalerFunctionName }, statistic: 'Sum', threshold: 0,
        })]
        : []),
    ];
  }
}
