import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { StackOutputs } from '../operator-commands';

/**
 * The worker's EMF namespace and Powertools service name (its `service` dimension): app/src/config.ts's
 * METRICS_NAMESPACE default and app/src/worker-process.ts's SERVICE, which the stack leaves as they are and charts
 * under infra/src/stacks/blueprint-stack.ts's WORKER_METRICS.
 */
export const WORKER_METRICS = { namespace: 'S3QueueWorker', service: 'worker' } as const;

export const PERIOD_SECONDS = 60;
export const WINDOW_MINUTES = 60;
const MINUTE_MS = PERIOD_SECONDS * 1000;

/** The three series, by their GetMetricData query ids (a lower-case letter first, as CloudWatch requires). */
export type SeriesId = 'processed' | 'oldestAge' | 'deadLetters';

export interface MetricSeriesSpec {
  readonly id: SeriesId;
  /** What the chart line is called. */
  readonly label: string;
  /** What one value counts, e.g. `images/min`, `s`, `messages`. */
  readonly unit: string;
  /** Where the numbers come from, said in the output so nobody mistakes one metric for another. */
  readonly source: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly stat: 'Sum' | 'Maximum';
}

/** The hour the report covers: whole minutes only, so the last column is a finished minute, not a partial one. */
export interface MetricWindow {
  readonly start: Date;
  readonly end: Date;
}

export function metricWindow(nowMs: number): MetricWindow {
  const end = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
  return { start: new Date(end - WINDOW_MINUTES * MINUTE_MS), end: new Date(end) };
}

/** SQS's `QueueName` dimension is the queue URL's last path segment. */
export function queueNameFromUrl(queueUrl: string): string {
  let path: string;
  try {
    path = new URL(queueUrl).pathname;
  } catch {
    throw new Error(`queue URL "${queueUrl}" is not a URL: expected https://sqs.<region>.amazonaws.com/<account>/<queue name>`);
  }
  const name = path.split('/').filter(Boolean).pop();
  if (name === undefined) throw new Error(`queue URL "${queueUrl}" has no queue name: expected https://sqs.<region>.amazonaws.com/<account>/<queue name>`);
  return decodeURIComponent(name);
}

/**
 * Completed work per minute, in the job's own unit. The object jobs (resize, command) count each finished object in
 * the worker's `ImagesProcessed` whatever the object is; the batch job counts records in `RecordsScored`. The others
 * publish nothing per unit of work, so the work queue's acknowledged messages stand in.
 */
export function processedSeriesFor(job: string, queueName: string): MetricSeriesSpec {
  const worker = (metricName: string, unit: string, what: string): MetricSeriesSpec => ({
    id: 'processed', label: 'processed', unit, namespace: WORKER_METRICS.namespace, metricName,
    dimensions: { service: WORKER_METRICS.service }, stat: 'Sum',
    source: `${what}: the worker's ${WORKER_METRICS.namespace}/${metricName}, summed over all tasks`,
  });
  if (job === 'resize') return worker('ImagesProcessed', 'images/min', 'images resized');
  if (job === 'command') return worker('ImagesProcessed', 'files/min', 'files the command finished');
  if (job === 'batch') return worker('RecordsScored', 'records/min', 'records scored');
  return {
    id: 'processed', label: 'processed', unit: 'messages/min', namespace: 'AWS/SQS', metricName: 'NumberOfMessagesDeleted',
    dimensions: { QueueName: queueName }, stat: 'Sum',
    source: `messages acknowledged: AWS/SQS NumberOfMessagesDeleted on ${queueName} (done, skipped or dead-lettered by the worker)`,
  };
}

/** The series `npm run status -- --aws` charts, for the stack's (first) pipeline. */
export function metricSeriesFor(outputs: Pick<StackOutputs, 'queueUrl' | 'dlqUrl'>, job: string): MetricSeriesSpec[] {
  const queueName = queueNameFromUrl(outputs.queueUrl);
  const deadLetterQueueName = queueNameFromUrl(outputs.dlqUrl);
  return [
    processedSeriesFor(job, queueName),
    {
      id: 'oldestAge', label: 'oldest message', unit: 's', namespace: 'AWS/SQS', metricName: 'ApproximateAgeOfOldestMessage',
      dimensions: { QueueName: queueName }, stat: 'Maximum', source: `AWS/SQS ApproximateAgeOfOldestMessage on ${queueName}`,
    },
    {
      id: 'deadLetters', label: 'DLQ', unit: 'messages', namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: deadLetterQueueName }, stat: 'Maximum', source: `AWS/SQS ApproximateNumberOfMessagesVisible on ${deadLetterQueueName}`,
    },
  ];
}

/** One GetMetricData query per series, all at one-minute resolution. */
export function metricDataQueries(series: readonly MetricSeriesSpec[]): MetricDataQuery[] {
  return series.map((spec) => ({
    Id: spec.id,
    MetricStat: {
      Metric: {
        Namespace: spec.namespace,
        MetricName: spec.metricName,
        Dimensions: Object.entries(spec.dimensions).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: PERIOD_SECONDS,
      Stat: spec.stat,
    },
    ReturnData: true,
  }));
}
