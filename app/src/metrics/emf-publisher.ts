import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { StatsWindow } from './worker-stats';

/** Where a stats window goes: CloudWatch Embedded Metric Format on stdout, so metrics cost no API calls. */
export interface MetricsSink {
  publish(window: StatsWindow, inFlight: number): void;
}

export function createEmfSink(namespace: string, serviceName: string): MetricsSink {
  const metrics = new Metrics({ namespace, serviceName });
  return {
    publish(window, inFlight) {
      metrics.addMetric('ImagesProcessed', MetricUnit.Count, window.processed);
      metrics.addMetric('ImagesSkipped', MetricUnit.Count, window.skipped);
      metrics.addMetric('Failures', MetricUnit.Count, window.failed);
      metrics.addMetric('OutputsWritten', MetricUnit.Count, window.outputs);
      metrics.addMetric('BytesIn', MetricUnit.Bytes, window.bytesIn);
      metrics.addMetric('BytesOut', MetricUnit.Bytes, window.bytesOut);
      metrics.addMetric('InFlight', MetricUnit.Count, inFlight);
      if (window.processed > 0) {
        metrics.addMetric('ProcessingTimeAvg', MetricUnit.Milliseconds, window.totalDurationMs / window.processed);
      }
      metrics.publishStoredMetrics();
    },
  };
}

export const silentMetricsSink: MetricsSink = { publish: () => undefined };
