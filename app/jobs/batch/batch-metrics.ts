import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { BatchTimings } from './score-batch';

/** What one batch did: the per-batch log line and the EMF metrics are both cut from it. */
export interface BatchReport {
  readonly size: number;
  readonly scored: number;
  readonly skipped: number;
  readonly failed: number;
  readonly timings: BatchTimings;
}

/** Totals since the last window was taken: the per-minute `batch throughput` line. */
export interface BatchWindow {
  readonly batches: number;
  readonly records: number;
  readonly scored: number;
  readonly skipped: number;
  readonly failed: number;
  readonly largestBatch: number;
  readonly inferenceMsTotal: number;
}

const EMPTY: BatchWindow = { batches: 0, records: 0, scored: 0, skipped: 0, failed: 0, largestBatch: 0, inferenceMsTotal: 0 };

export class BatchCounters {
  private window: BatchWindow = EMPTY;
  private total: BatchWindow = EMPTY;

  add(report: BatchReport): void {
    this.window = plus(this.window, report);
    this.total = plus(this.total, report);
  }

  takeWindow(): BatchWindow {
    const window = this.window;
    this.window = EMPTY;
    return window;
  }

  totals(): BatchWindow {
    return this.total;
  }
}

function plus(window: BatchWindow, report: BatchReport): BatchWindow {
  return {
    batches: window.batches + 1,
    records: window.records + report.size,
    scored: window.scored + report.scored,
    skipped: window.skipped + report.skipped,
    failed: window.failed + report.failed,
    largestBatch: Math.max(window.largestBatch, report.size),
    inferenceMsTotal: window.inferenceMsTotal + report.timings.inferenceMs,
  };
}

/** Pure: the throughput line's figures for a window that lasted `elapsedMs`. */
export function throughputFields(window: BatchWindow, elapsedMs: number): Record<string, number> {
  const perMinute = (count: number) => Math.round((count * 60_000) / Math.max(1, elapsedMs));
  return {
    recordsPerMin: perMinute(window.records),
    scoredPerMin: perMinute(window.scored),
    skipped: window.skipped,
    failed: window.failed,
    batches: window.batches,
    meanBatchSize: window.batches === 0 ? 0 : Math.round((window.records / window.batches) * 10) / 10,
    meanInferenceMs: window.batches === 0 ? 0 : Math.round(window.inferenceMsTotal / window.batches),
  };
}

export interface BatchMetricsSink {
  publish(report: BatchReport): void;
}

/** CloudWatch Embedded Metric Format on stdout, one line per batch: the dashboard's batch widgets read these. */
export function createEmfBatchSink(namespace: string, serviceName: string): BatchMetricsSink {
  const metrics = new Metrics({ namespace, serviceName });
  return {
    publish(report) {
      metrics.addMetric('RecordsScored', MetricUnit.Count, report.scored);
      metrics.addMetric('RecordsSkipped', MetricUnit.Count, report.skipped);
      metrics.addMetric('RecordsFailed', MetricUnit.Count, report.failed);
      metrics.addMetric('BatchSize', MetricUnit.Count, report.size);
      metrics.addMetric('InferenceLatency', MetricUnit.Milliseconds, report.timings.inferenceMs);
      metrics.addMetric('ResultWriteLatency', MetricUnit.Milliseconds, report.timings.writeMs);
      metrics.publishStoredMetrics();
    },
  };
}

export const silentBatchSink: BatchMetricsSink = { publish: () => undefined };
