import { Construct } from '../framework/core';
import { CloudwatchDashboard } from '../framework/aws';

export interface OperationsDashboardProps {
  readonly name: string;
  readonly region: string;
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  readonly clusterName: string;
  readonly scalerLogGroupName: string;
  /** The worker's and the scaler's EMF namespaces and Powertools service names (their `service` dimension). */
  readonly workerMetrics: { readonly namespace: string; readonly service: string };
  readonly scalerMetrics: { readonly namespace: string; readonly service: string };
  /**
   * With several pipelines, all of them (queueName and deadLetterQueueName are then the first's): each widget shows
   * every pipeline's lines, labelled with its name, and the scaler's metrics carry a `pipeline` dimension. The same
   * six widgets either way: a dashboard costs the same whatever it shows.
   */
  readonly pipelines?: readonly { readonly name: string; readonly queueName: string; readonly deadLetterQueueName: string }[];
  /**
   * A batch pipeline runs in the stack: two more widgets for the batch job's EMF metrics, under the worker's namespace
   * and service dimension (records scored, skipped and failed per minute; batch size; inference latency).
   */
  readonly batchMetrics?: boolean;
}

type Metric = (string | { stat?: string; label?: string; period?: number; yAxis?: string })[];

/** One page that answers "is it working, how fast, what does it cost me in tasks, and why did the scaler do that". */
export class OperationsDashboard extends Construct {
  readonly dashboard: CloudwatchDashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const graph = (title: string, metrics: Metric[], x: number, y: number, stat = 'Maximum') => ({
      type: 'metric', x, y, width: 12, height: 6,
      properties: { title, region: props.region, view: 'timeSeries', stat, period: 60, metrics },
    });
    const sqs = (metric: string, queue: string, label: string): Metric => ['AWS/SQS', metric, 'QueueName', queue, { label }];
    const worker = (metric: string, label: string, stat = 'Sum', extra: { yAxis?: string } = {}): Metric =>
      [props.workerMetrics.namespace, metric, 'service', props.workerMetrics.service, { label, stat, ...extra }];
    const several = props.pipelines !== undefined && props.pipelines.length > 1;
    const pipelines = several ? props.pipelines! : [{ name: '', queueName: props.queueName, deadLetterQueueName: props.deadLetterQueueName }];
    const named = (name: string, label: string) => (several ? `${name} ${label}` : label);
    const scaler = (metric: string, label: string, stat = 'Maximum'): Metric[] => pipelines.map(({ name }) => [
      props.scalerMetrics.namespace, metric, 'service', props.scalerMetrics.service, ...(several ? ['pipeline', name] : []), { label: named(name, label), stat },
    ]);
    const widgets = [
      graph('Queue depth', pipelines.flatMap(({ name, queueName, deadLetterQueueName }) => [
        sqs('ApproximateNumberOfMessagesVisible', queueName, named(name, 'visible')),
        sqs('ApproximateNumberOfMessagesNotVisible', queueName, named(name, 'in flight')),
        sqs('ApproximateNumberOfMessagesVisible', deadLetterQueueName, named(name, 'dead letters')),
      ]), 0, 0),
      graph('Age of the oldest message (s)', pipelines.map(({ name, queueName }) => sqs('ApproximateAgeOfOldestMessage', queueName, named(name, 'oldest message'))), 12, 0),
      graph('Images per minute', [
        worker('ImagesProcessed', 'processed'), worker('ImagesSkipped', 'skipped'), worker('Failures', 'failures'),
      ], 0, 6, 'Sum'),
      graph('Tasks', [
        ['ECS/ContainerInsights', 'TaskCount', 'ClusterName', props.clusterName, { label: 'tasks in the cluster' }],
        ...scaler('RunningTasks', 'running or pending (scaler view)'),
        ...scaler('TasksLaunched', 'launched', 'Sum'),
        ...scaler('LaunchFailures', 'launch failures', 'Sum'),
      ], 12, 6),
      graph('Backlog per task', scaler('BacklogPerTask', 'visible messages per task'), 0, 12),
      {
        type: 'log', x: 12, y: 12, width: 12, height: 6,
        properties: {
          title: 'Scaling decisions', region: props.region, view: 'table',
          query: `SOURCE '${props.scalerLogGroupName}' | fields @timestamp, ${several ? 'pipeline, ' : ''}visible, inFlight, running, launch, reasons | filter message = "scaling decision" | sort @timestamp desc | limit 20`,
        },
      },
    ];
    if (props.batchMetrics === true) {
      widgets.push(
        graph('Records per minute (batch)', [
          worker('RecordsScored', 'scored'), worker('RecordsSkipped', 'skipped (already scored)'), worker('RecordsFailed', 'failed'),
        ], 0, 18, 'Sum'),
        graph('Batches: size and inference latency', [
          worker('BatchSize', 'records per batch (average)', 'Average'),
          worker('InferenceLatency', 'inference p50 (ms)', 'p50', { yAxis: 'right' }),
          worker('InferenceLatency', 'inference p99 (ms)', 'p99', { yAxis: 'right' }),
        ], 12, 18, 'Average'),
      );
    }
    this.dashboard = new CloudwatchDashboard(this, 'dashboard', { dashboardName: props.name, dashboardBody: JSON.stringify({ widgets }) });
  }
}
