import type { MetricsRead } from '../src/cloudwatch-status/cloudwatch-report';
import { metricSeriesFor } from '../src/cloudwatch-status/metric-queries';
import { ageTrend, deadLetterGrowth } from '../src/cloudwatch-status/queue-trends';
import { formatCloudWatchReport, formatDuration } from '../src/cloudwatch-status/report-lines';
import { GAP } from '../src/cloudwatch-status/sparkline';
import { busyHour, minuteAt, minuteSlots } from './factories';

const OUTPUTS = {
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/blueprint-work',
  dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/blueprint-dlq',
};

/** A read as readCloudWatchReport assembles it, from 60 values per series. */
function reportOf(job: string, values: { processed: (number | null)[]; oldestAge: (number | null)[]; deadLetters: (number | null)[] }): MetricsRead {
  const series = metricSeriesFor(OUTPUTS, job).map((spec) => ({ ...spec, minutes: minuteSlots(values[spec.id]) }));
  const age = ageTrend(minuteSlots(values.oldestAge));
  const growth = deadLetterGrowth(minuteSlots(values.deadLetters));
  return {
    status: 'read', from: minuteAt(0), to: minuteAt(60), periodSeconds: 60, series,
    ...(age !== undefined ? { oldestMessageAge: age } : {}), ...(growth !== undefined ? { deadLetterGrowth: growth } : {}),
  };
}

const none = (): null[] => Array.from({ length: 60 }, () => null);

describe('formatCloudWatchReport', () => {
  it('draws one line per series with min, max, last and unit, then says what "processed" counts', () => {
    const lines = formatCloudWatchReport(reportOf('resize', busyHour()));
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe(`CloudWatch, last hour (09:00-10:00 UTC, one column a minute, ${GAP} no datapoint):`);
    expect(lines[1]).toMatch(new RegExp(`^  processed +${GAP}{20}[▁-█]{38}${GAP}{2}  min 0  max 48  last \\d+ images/min \\(2 min before the end\\)$`));
    expect(lines[2]).toMatch(/^ {2}oldest message +[▁-█]{60} {2}min 0 s {2}max 15 min {2}last 15 min; rising \+14 min in the last 14 min: as fast as the clock, nothing took it/);
    expect(lines[3]).toMatch(/^ {2}DLQ +▁{30}[▂-█]{30} {2}min 0 {2}max 5 {2}last 5 messages; GROWING 0 → 5 \(\+5\) this hour: .*npm run redrive$/);
    expect(lines[4]).toBe("  processed = images resized: the worker's S3QueueWorker/ImagesProcessed, summed over all tasks");
  });

  it('lines the charts up in one column', () => {
    const lines = formatCloudWatchReport(reportOf('resize', busyHour())).slice(1, 4);
    const chartStarts = lines.map((line) => line.search(/[▁-█·]/));
    expect(new Set(chartStarts).size).toBe(1);
  });

  it('says "no datapoints in the last hour" for a series with none, and claims no trend or growth', () => {
    const lines = formatCloudWatchReport(reportOf('fanout', { processed: none(), oldestAge: none(), deadLetters: none() }));
    expect(lines.slice(1, 4)).toEqual([
      '  processed       no datapoints in the last hour',
      '  oldest message  no datapoints in the last hour',
      '  DLQ             no datapoints in the last hour',
    ]);
    expect(lines[4]).toContain('AWS/SQS NumberOfMessagesDeleted on blueprint-work');
  });

  it('calls an unchanged DLQ unchanged and a steady age steady', () => {
    const flat = Array.from({ length: 60 }, () => 3);
    const lines = formatCloudWatchReport(reportOf('resize', { processed: none(), oldestAge: flat.map(() => 40), deadLetters: flat }));
    expect(lines[2]).toMatch(/; steady in the last 14 min$/);
    expect(lines[3]).toMatch(/min 3 {2}max 3 {2}last 3 messages; unchanged this hour$/);
  });

  it('shows a shrinking DLQ without raising the alarm', () => {
    const shrinking = Array.from({ length: 60 }, (_, minute) => (minute < 30 ? 6 : 1));
    expect(formatCloudWatchReport(reportOf('resize', { processed: none(), oldestAge: none(), deadLetters: shrinking }))[3]).toMatch(/; 6 → 1 \(-5\) this hour$/);
  });

  it('shows a series CloudWatch refused as not read, with its reason', () => {
    const report = reportOf('batch', busyHour());
    const refused = { ...report, series: report.series.map((series) => (series.id === 'processed' ? { ...series, problem: 'Forbidden: namespace S3QueueWorker' } : series)) };
    expect(formatCloudWatchReport(refused)[1]).toBe('  processed       not read: Forbidden: namespace S3QueueWorker');
  });

  it('is one line naming the problem when the metrics could not be read', () => {
    expect(formatCloudWatchReport({ status: 'unavailable', reason: 'access-denied', message: 'CloudWatch refused GetMetricData (AccessDenied): these credentials need cloudwatch:GetMetricData' }))
      .toEqual(['CloudWatch metrics not shown: CloudWatch refused GetMetricData (AccessDenied): these credentials need cloudwatch:GetMetricData']);
  });
});

describe('formatDuration', () => {
  it.each([[42, '42 s'], [119, '119 s'], [120, '2 min'], [3599, '60 min'], [7200, '2.0 h'], [3 * 86_400, '3.0 d']])('%d s is %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
