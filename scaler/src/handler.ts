import type { Context } from 'aws-lambda';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createLog } from '../../shared/log/logger';
import { loadScalerConfig, type ScalerConfig } from './config';
import { EcsTaskHistory } from './ecs-task-history';
import { EcsTaskLauncher } from './ecs-task-launcher';
import { STOP_LAUNCHING_BEFORE_TIMEOUT_MS } from './launch-plan';
import { runScaler } from './run-scaler';
import { createEmfScalerMetrics } from './scaler-metrics';
import { SqsDepthReader } from './sqs-depth-reader';
import { SsmWorkerImage } from './ssm-worker-image';

const SERVICE_NAME = 's3-queue-scaler';

// Created once per cold start with the SDK's standard configuration (region, credentials, AWS_ENDPOINT_URL_*).
const sqs = new SQSClient({});
const ecs = new ECSClient({});
const ssm = new SSMClient({});

let config: ScalerConfig | undefined;

export interface ScalerHandlerResult {
  readonly desired: number;
  readonly launch: number;
  readonly launched: number;
  readonly failures: number;
  readonly dryRun: boolean;
  readonly heldBy?: string;
  readonly reasons: readonly string[];
}

/**
 * Invoked by the schedule (rate(2 minutes)). Configuration is validated on the first invocation rather than at import
 * so a bad variable fails the invocation with its ConfigError message in the logs.
 */
export const handler = async (_event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<ScalerHandlerResult> => {
  config ??= loadScalerConfig(process.env);
  const log = createLog(SERVICE_NAME, config.logLevel);
  const remainingMs = context?.getRemainingTimeInMillis();
  const { decision, launchReport, dryRun } = await runScaler({
    depthReader: new SqsDepthReader(sqs, config.queueUrl),
    launcher: new EcsTaskLauncher(ecs, config, { log }),
    config,
    log,
    metrics: createEmfScalerMetrics(new Metrics({ namespace: config.metricsNamespace, serviceName: SERVICE_NAME })),
    ...(config.imageParameter !== undefined ? { imageSource: new SsmWorkerImage(ssm, config.imageParameter) } : {}),
    history: new EcsTaskHistory(ecs, config),
    ...(remainingMs !== undefined ? { stopLaunchingAt: Date.now() + remainingMs - STOP_LAUNCHING_BEFORE_TIMEOUT_MS } : {}),
  });
  return {
    desired: decision.desired,
    launch: decision.launch,
    launched: launchReport.launched,
    failures: launchReport.failures.length,
    dryRun,
    ...(decision.heldBy !== undefined ? { heldBy: decision.heldBy } : {}),
    reasons: decision.reasons,
  };
};
