import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type S3rver from 's3rver';
import type { MetricDataResult } from '@aws-sdk/client-cloudwatch';
import type { MinuteSlot } from '../src/cloudwatch-status/minute-series';

/** A raw s3rver event record, as s3rver emits it: the key unencoded, multipart completions named Post. */
export function s3rverEvent(eventName: string, key: string, options: { bucket?: string; eTag?: string } = {}): S3rver.S3rverEvent {
  return {
    Records: [
      {
        eventName,
        eventTime: '2026-11-23T00:00:00.000Z',
        s3: { bucket: { name: options.bucket ?? 'source' }, object: { key, size: 5, ...(eventName === 'ObjectCreated:Copy' ? {} : { eTag: options.eTag ?? 'abc' }) } },
      },
    ],
  };
}

/**
 * A stand-in for the worker entry point that starts in milliseconds: it logs a JSON line, lives FAKE_LIFETIME_MS
 * (exit code FAKE_EXIT_CODE), and on SIGTERM logs and exits 0 as the real worker does after handing work back.
 */
export function writeFakeWorker(dir: string): string {
  const path = join(dir, 'fake-worker.js');
  writeFileSync(
    path,
    // The handler before the first line, so a test that waits for 'worker started' knows SIGTERM is handled.
    `process.on('SIGTERM', () => { console.log(JSON.stringify({ message: 'stopping on SIGTERM' })); process.exit(0); });
console.log(JSON.stringify({ message: 'worker started', queue: process.env.QUEUE_URL }));
console.error(JSON.stringify({ message: 'to stderr' }));
setTimeout(() => process.exit(Number(process.env.FAKE_EXIT_CODE ?? 0)), Number(process.env.FAKE_LIFETIME_MS ?? 100));
`,
  );
  return path;
}

/** A GetMetricData result for one query id, its datapoints newest first as CloudWatch sends them. */
export function metricDataResult(id: string, points: readonly (readonly [Date, number])[], extra: Partial<MetricDataResult> = {}): MetricDataResult {
  const newestFirst = [...points].sort(([a], [b]) => b.getTime() - a.getTime());
  return { Id: id, Label: id, Timestamps: newestFirst.map(([at]) => at), Values: newestFirst.map(([, value]) => value), StatusCode: 'Complete', ...extra };
}

/** The minute `minutesAfter` after `start` (09:00 UTC on 2026-12-03 unless given). */
export function minuteAt(minutesAfter: number, start = Date.parse('2026-12-03T09:00:00Z')): Date {
  return new Date(start + minutesAfter * 60_000);
}

/** A window's minute slots, one per value from 09:00 UTC (null = no datapoint). */
export function minuteSlots(values: readonly (number | null)[]): MinuteSlot[] {
  return values.map((value, index) => ({ at: minuteAt(index), value }));
}

/**
 * A busy hour: an upload at 09:20, tasks scaling up until 09:40, then a poison file holding the oldest message
 * while the DLQ fills; CloudWatch has nothing yet for the last two minutes of throughput.
 */
export function busyHour(): { processed: (number | null)[]; oldestAge: (number | null)[]; deadLetters: (number | null)[] } {
  const processed = Array.from({ length: 60 }, (_, minute): number | null =>
    minute < 20 ? null : minute >= 58 ? null : Math.round(48 * Math.sin(((minute - 20) / 38) * Math.PI)));
  const oldestAge = Array.from({ length: 60 }, (_, minute) => (minute < 20 ? 0 : minute < 45 ? 30 + (minute - 20) * 12 : (minute - 45) * 60 + 40));
  const deadLetters = Array.from({ length: 60 }, (_, minute) => (minute < 30 ? 0 : minute < 50 ? 2 : 5));
  return { processed, oldestAge, deadLetters };
}

/** The GetMetricData queries `status --aws` sends for a resize stack whose queues are blueprint-work and blueprint-dlq. */
export const RESIZE_METRIC_QUERIES = [
  {
    Id: 'processed', ReturnData: true,
    MetricStat: { Metric: { Namespace: 'S3QueueWorker', MetricName: 'ImagesProcessed', Dimensions: [{ Name: 'service', Value: 'worker' }] }, Period: 60, Stat: 'Sum' },
  },
  {
    Id: 'oldestAge', ReturnData: true,
    MetricStat: { Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: [{ Name: 'QueueName', Value: 'blueprint-work' }] }, Period: 60, Stat: 'Maximum' },
  },
  {
    Id: 'deadLetters', ReturnData: true,
    MetricStat: { Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Dimensions: [{ Name: 'QueueName', Value: 'blueprint-dlq' }] }, Period: 60, Stat: 'Maximum' },
  },
];
