import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { readCloudWatchReport, type MetricsRead } from '../src/cloudwatch-status/cloudwatch-report';
import { metricDataResult, minuteAt, RESIZE_METRIC_QUERIES } from './factories';

const OUTPUTS = {
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/blueprint-work',
  dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/blueprint-dlq',
};
/** 42 s into 10:00 UTC: the window is 09:00 to 10:00. */
const clock = () => Date.parse('2026-12-03T10:00:42Z');
const cloudwatch = mockClient(CloudWatchClient);

beforeEach(() => cloudwatch.reset());

function sdkError(name: string, httpStatusCode: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} from CloudWatch`), { name, $fault: 'client', $metadata: { httpStatusCode }, ...extra });
}

function read(report: Awaited<ReturnType<typeof readCloudWatchReport>>): MetricsRead {
  if (report.status !== 'read') throw new Error(`expected the metrics to be read, got: ${report.message}`);
  return report;
}

function valuesOf(report: MetricsRead, id: string): (number | null)[] {
  return report.series.find((series) => series.id === id)!.minutes.map((minute) => minute.value);
}

describe('readCloudWatchReport', () => {
  it('sends one GetMetricData for the three series over the last 60 finished minutes, per minute', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await readCloudWatchReport(new CloudWatchClient({}), OUTPUTS, 'resize', clock);
    expect(cloudwatch).toHaveReceivedCommandTimes(GetMetricDataCommand, 1);
    expect(cloudwatch).toHaveReceivedCommandWith(GetMetricDataCommand, {
      StartTime: new Date('2026-12-03T09:00:00Z'),
      EndTime: new Date('2026-12-03T10:00:00Z'),
      MetricDataQueries: RESIZE_METRIC_QUERIES,
    });
    expect(cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input.NextToken).toBeUndefined();
  });

  it('reads acknowledged messages on the work queue for a job that publishes no per-item metric', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await readCloudWatchReport(new CloudWatchClient({}), OUTPUTS, 'fanout', clock);
    const [processed] = cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries!;
    expect(processed!.MetricStat).toEqual({
      Metric: { Namespace: 'AWS/SQS', MetricName: 'NumberOfMessagesDeleted', Dimensions: [{ Name: 'QueueName', Value: 'blueprint-work' }] }, Period: 60, Stat: 'Sum',
    });
  });

  it('follows NextToken with the same queries and window, and joins the pages into one series each', async () => {
    cloudwatch
      .on(GetMetricDataCommand).resolvesOnce({
        MetricDataResults: [metricDataResult('processed', [[minuteAt(59), 12], [minuteAt(58), 30]], { StatusCode: 'PartialData' })],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        MetricDataResults: [
          metricDataResult('processed', [[minuteAt(57), 48]]),
          metricDataResult('oldestAge', [[minuteAt(59), 42]]),
          metricDataResult('deadLetters', [[minuteAt(0), 0], [minuteAt(59), 0]]),
        ],
      });
    const report = read(await readCloudWatchReport(new CloudWatchClient({}), OUTPUTS, 'resize', clock));
    expect(cloudwatch).toHaveReceivedCommandTimes(GetMetricDataCommand, 2);
    const [first, second] = cloudwatch.commandCalls(GetMetricDataCommand).map((call) => call.args[0].input);
    expect(second).toEqual({ ...first, NextToken: 'page-2' });
    expect(valuesOf(report, 'processed').slice(57)).toEqual([48, 30, 12]);
    expect(valuesOf(report, 'oldestAge')[59]).toBe(42);
    expect(report.deadLetterGrowth).toEqual({ first: 0, last: 0, change: 0, grew: false });
  });

  it('leaves the minutes CloudWatch did not report empty and trends on what is there', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        metricDataResult('processed', [[minuteAt(10), 5], [minuteAt(40), 0]]),
        metricDataResult('oldestAge', [[minuteAt(48), 300], [minuteAt(55), 720], [minuteAt(58), 900]]),
        metricDataResult('deadLetters', [[minuteAt(2), 1], [minuteAt(57), 4]]),
      ],
    });
    const report = read(await readCloudWatchReport(new CloudWatchClient({}), OUTPUTS, 'resize', clock));
    const processed = valuesOf(report, 'processed');
    expect(processed.filter((value) => value !== null)).toEqual([5, 0]);
    expect(processed[10]).toBe(5);
    expect(processed[40]).toBe(0);
    expect(report.oldestMessageAge).toEqual({ latestSeconds: 900, latestMinutesAgo: 1, trend: 'rising', changeSeconds: 600, overMinutes: 10, stuck: true });
    expect(report.deadLetterGrowth).toEqual({ first: 1, last: 4, change: 3, grew: true });
  });

  it('reports an hour without datapoints as empty minutes, with no trend or growth claimed', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [metricDataResult('processed', []), metricDataResult('oldestAge', []), metricDataResult('deadLetters', [])],
    });
    const report = read(await readCloudWatchReport(new CloudWatchClient({}), OUTPUTS, 'resize', clock));
    for (const series of report.series) {
      expect(series.minutes).toHaveLength(60);
      expect(series.minutes.every((minute) => minute.value === null)).toBe(true);
    }
    expect(report.oldestMessageAge).toBeUndefined();
    expect(report.deadLetterGrowth).toBeUndefined();
  });

  it('names cloudwatch:GetMetricData when the credentials may not read metrics, instead of throwing', async () => {
    cloudwatch.on(GetMetricDataCommand).rejects(sdkError('AccessDenied', 403));
    const report = await readCloudWatchReport(new CloudWatchClient({}), OUTPUTS, 'resize', clock);
    expect(report).toEqual({ status: 'unavailable', reason: 'access-denied', message: expect.stringContaining('need cloudwatch:GetMetricData') });
  });

  it('says it was throttled when CloudWatch still throttles after the SDK retried', async () => {
    cloudwatch.on(GetMetricDataCommand).rejects(sdkError('ThrottlingException', 400, { $retryable: { throttling: true } }));
    const report = await readCloudWatchReport(new CloudWatchClient({}), OUTPUTS, 'resize', clock);
    expect(report).toEqual({ status: 'unavailable', reason: 'throttled', message: expect.stringContaining('throttled GetMetricData (ThrottlingException)') });
  });

  it('drops a half-read answer when a later page fails, rather than charting part of the hour', async () => {
    cloudwatch
      .on(GetMetricDataCommand).resolvesOnce({ MetricDataResults: [metricDataResult('processed', [[minuteAt(59), 1]])], NextToken: 'page-2' })
      .rejectsOnce(sdkError('Throttling', 400));
    const report = await readCloudWatchReport(new CloudWatchClient({}), OUTPUTS, 'resize', clock);
    expect(report).toMatchObject({ status: 'unavailable', reason: 'throttled' });
  });

  it('names any other failure with its error name and first line', async () => {
    cloudwatch.on(GetMetricDataCommand).rejects(sdkError('InvalidParameterValue', 400));
    expect(await readCloudWatchReport(new CloudWatchClient({}), OUTPUTS, 'resize', clock)).toEqual({
      status: 'unavailable', reason: 'failed', message: 'CloudWatch GetMetricData failed (InvalidParameterValue: InvalidParameterValue from CloudWatch)',
    });
  });

  it('stops following a NextToken that never ends', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [], NextToken: 'again' });
    const report = await readCloudWatchReport(new CloudWatchClient({}), OUTPUTS, 'resize', clock);
    expect(report).toMatchObject({ status: 'unavailable', reason: 'failed', message: expect.stringContaining('more pages after 20') });
    expect(cloudwatch).toHaveReceivedCommandTimes(GetMetricDataCommand, 20);
  });

  it('keeps the other series when CloudWatch refuses one of them', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        metricDataResult('processed', [], { StatusCode: 'Forbidden', Messages: [{ Code: 'Forbidden', Value: 'namespace S3QueueWorker' }] }),
        metricDataResult('deadLetters', [[minuteAt(59), 2]]),
      ],
    });
    const report = read(await readCloudWatchReport(new CloudWatchClient({}), OUTPUTS, 'resize', clock));
    expect(report.series.find((series) => series.id === 'processed')?.problem).toBe('Forbidden: namespace S3QueueWorker');
    expect(valuesOf(report, 'deadLetters')[59]).toBe(2);
  });
});
