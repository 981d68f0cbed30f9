import { GetMetricDataCommand, type CloudWatchClient, type MetricDataResult } from '@aws-sdk/client-cloudwatch';
import type { StackOutputs } from '../operator-commands';
import { metricDataQueries, metricSeriesFor, metricWindow, PERIOD_SECONDS, type MetricSeriesSpec } from './metric-queries';
import { alignToMinutes, collectResults, type MinuteSlot } from './minute-series';
import { ageTrend, deadLetterGrowth, type AgeTrend, type DeadLetterGrowth } from './queue-trends';

export interface ChartedSeries extends MetricSeriesSpec {
  readonly minutes: readonly MinuteSlot[];
  /** CloudWatch answered but refused or failed this one series. */
  readonly problem?: string;
}

export interface MetricsRead {
  readonly status: 'read';
  readonly from: Date;
  readonly to: Date;
  readonly periodSeconds: number;
  readonly series: readonly ChartedSeries[];
  readonly oldestMessageAge?: AgeTrend;
  readonly deadLetterGrowth?: DeadLetterGrowth;
}

/** The metrics could not be read; the rest of the status stands without them. */
export interface MetricsUnavailable {
  readonly status: 'unavailable';
  readonly reason: 'access-denied' | 'throttled' | 'failed';
  readonly message: string;
}

export type CloudWatchReport = MetricsRead | MetricsUnavailable;

/** A NextToken that never ends would be CloudWatch's bug; three series of 60 points fit one page many times over. */
const MAX_PAGES = 20;

/**
 * The last hour of the stack's throughput, oldest message's age and DLQ, in one GetMetricData call (and its pages).
 * Never throws for CloudWatch's refusals: status without the chart is still status.
 */
export async function readCloudWatchReport(
  cloudwatch: CloudWatchClient, outputs: Pick<StackOutputs, 'queueUrl' | 'dlqUrl'>, job: string, clock: () => number,
): Promise<CloudWatchReport> {
  const window = metricWindow(clock());
  const specs = metricSeriesFor(outputs, job);
  const queries = metricDataQueries(specs);
  const pages: MetricDataResult[][] = [];
  try {
    let nextToken: string | undefined;
    do {
      if (pages.length === MAX_PAGES) throw new Error(`GetMetricData still had more pages after ${MAX_PAGES}`);
      const page = await cloudwatch.send(new GetMetricDataCommand({
        MetricDataQueries: queries, StartTime: window.start, EndTime: window.end, ...(nextToken !== undefined ? { NextToken: nextToken } : {}),
      }));
      pages.push(page.MetricDataResults ?? []);
      nextToken = page.NextToken === '' ? undefined : page.NextToken;
    } while (nextToken !== undefined);
  } catch (error) {
    return unavailable(error);
  }
  const raw = collectResults(pages);
  const series = specs.map((spec): ChartedSeries => {
    const found = raw.get(spec.id);
    return { ...spec, minutes: alignToMinutes(window, found, spec.stat), ...(found?.problem !== undefined ? { problem: found.problem } : {}) };
  });
  const minutesOf = (id: MetricSeriesSpec['id']) => series.find((entry) => entry.id === id)!.minutes;
  const age = ageTrend(minutesOf('oldestAge'));
  const growth = deadLetterGrowth(minutesOf('deadLetters'));
  return {
    status: 'read', from: window.start, to: window.end, periodSeconds: PERIOD_SECONDS, series,
    ...(age !== undefined ? { oldestMessageAge: age } : {}), ...(growth !== undefined ? { deadLetterGrowth: growth } : {}),
  };
}

const THROTTLING_NAMES = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'LimitExceeded']);

/** Says what stopped the read and, for a refusal, the permission to add. */
export function unavailable(error: unknown): MetricsUnavailable {
  const failure = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: string; message?: string; $metadata?: { httpStatusCode?: number }; $retryable?: { throttling?: boolean };
  };
  const name = failure.name ?? 'Error';
  const status = failure.$metadata?.httpStatusCode;
  if (name === 'AccessDenied' || name === 'AccessDeniedException' || status === 403) {
    return {
      status: 'unavailable', reason: 'access-denied',
      message: `CloudWatch refused GetMetricData (${name}): these credentials need cloudwatch:GetMetricData (an action on Resource "*")`,
    };
  }
  if (THROTTLING_NAMES.has(name) || failure.$retryable?.throttling === true || status === 429) {
    return { status: 'unavailable', reason: 'throttled', message: `CloudWatch throttled GetMetricData (${name}) past the SDK's retries: run status again in a minute` };
  }
  const said = error instanceof Error ? error.message : String(error);
  return { status: 'unavailable', reason: 'failed', message: `CloudWatch GetMetricData failed (${name}: ${said.split('\n')[0]})` };
}
