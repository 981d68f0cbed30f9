import type { Context } from 'aws-lambda';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createLog, type Log } from '../../shared/log/logger';
import { EcsTaskHistory } from './ecs-task-history';
import { EcsTaskLauncher } from './ecs-task-launcher';
import { LaunchBudget } from './launch-budget';
import { FARGATE_LAUNCH_LIMITS, STOP_LAUNCHING_BEFORE_TIMEOUT_MS } from './launch-plan';
import { logWithFields } from './log-with-fields';
import { loadScalerPipelines, type PipelineScalerConfig } from './pipelines-config';
import { runScaler, type RunScalerDeps, type ScalerRun } from './run-scaler';
import { runScalerForPipelines, throwIfAnyFailed } from './run-scaler-for-pipelines';
import { createEmfScalerMetrics } from './scaler-metrics';
import { SqsDepthReader } from './sqs-depth-reader';
import { SsmWorkerImage } from './ssm-worker-image';

const SERVICE_NAME = 's3-queue-scaler';

// Created once per cold start with the SDK's standard configuration (region, credentials, AWS_ENDPOINT_URL_*).
const sqs = new SQSClient({});
const ecs = new ECSClient({});
const ssm = new SSMClient({});

let pipelines: readonly PipelineScalerConfig[] | undefined;

export interface ScalerHandlerResult {
  readonly desired: number;
  readonly launch: number;
  readonly launched: number;
  readonly failures: number;
  readonly dryRun: boolean;
  readonly heldBy?: string;
  readonly reasons: readonly string[];
}

/** With PIPELINES: one result per pipeline, in its order. */
export interface PipelinesHandlerResult {
  readonly pipelines: readonly (ScalerHandlerResult & { readonly name: string })[];
}

/**
 * Invoked by the schedule (rate(2 minutes)). Configuration is validated on the first invocation rather than at import
 * so a bad variable fails the invocation with its ConfigError message in the logs. With PIPELINES, every pipeline is
 * decided in the same run, each logged with its name and published with a `pipeline` metric dimension; one that fails
 * does not stop the others, and the run throws once all were tried.
 */
export const handler = async (_event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<ScalerHandlerResult | PipelinesHandlerResult> => {
  pipelines ??= loadScalerPipelines(process.env);
  const [first] = pipelines;
  const log = createLog(SERVICE_NAME, first!.logLevel);
  const remainingMs = context?.getRemainingTimeInMillis();
  const stopLaunchingAt = remainingMs !== undefined ? { stopLaunchingAt: Date.now() + remainingMs - STOP_LAUNCHING_BEFORE_TIMEOUT_MS } : {};
  if (pipelines.length === 1 && first!.pipeline === undefined) {
    return summarize(await runScaler(pipelineDeps(first!, log, stopLaunchingAt)));
  }
  // AWS's launch rates are the account's: the pipelines' launchers draw on one budget.
  const budget = new LaunchBudget(FARGATE_LAUNCH_LIMITS, Date.now());
  const outcomes = await runScalerForPipelines(pipelines.map((config) => ({
    name: config.pipeline!,
    deps: pipelineDeps(config, logWithFields(log, { pipeline: config.pipeline }), stopLaunchingAt, budget),
  })), log);
  throwIfAnyFailed(outcomes);
  return { pipelines: outcomes.map((outcome) => ({ name: outcome.name, ...(outcome.ok ? summarize(outcome.run) : unreachable()) })) };
};

/** The AWS adapters of one pipeline; its metrics carry its name as a dimension when it has one. */
function pipelineDeps(config: PipelineScalerConfig, log: Log, stop: { stopLaunchingAt?: number }, budget?: LaunchBudget): RunScalerDeps {
  const metrics = new Metrics({
    namespace: config.metricsNamespace, serviceName: SERVICE_NAME, ...(config.pipeline !== undefined ? { defaultDimensions: { pipeline: config.pipeline } } : {}),
  });
  return {
    depthReader: new SqsDepthReader(sqs, config.queueUrl),
    launcher: new EcsTaskLauncher(ecs, config, { log, ...(budget !== undefined ? { budget } : {}) }),
    config,
    log,
    metrics: createEmfScalerMetrics(metrics),
    ...(config.imageParameter !== undefined ? { imageSource: new SsmWorkerImage(ssm, config.imageParameter) } : {}),
    history: new EcsTaskHistory(ecs, config),
    ...stop,
  };
}

function summarize({ decision, launchReport, dryRun }: ScalerRun): ScalerHandlerResult {
  return {
    desired: decision.desired,
    launch: decision.launch,
    launched: launchReport.launched,
    failures: launchReport.failures.length,
    dryRun,
    ...(decision.heldBy !== undefined ? { heldBy: decision.heldBy } : {}),
    reasons: decision.reasons,
  };
}

/** throwIfAnyFailed has thrown for any failed outcome. */
function unreachable(): never {
  throw new Error('a failed pipeline outcome after throwIfAnyFailed');
}
