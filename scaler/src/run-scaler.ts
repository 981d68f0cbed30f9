import type { QueueDepthReader } from '../../app/src/ports/queue';
import type { Log } from '../../app/src/log/logger';
import { decideScaling, type ScalingDecision } from './policy';
import type { LaunchReport, TaskLauncher } from './ports/task-launcher';
import type { ScalerMetricsSink } from './scaler-metrics';

export type RunScalerConfig = Readonly<{
  maxTasks: number;
  messagesPerTask: number;
  enabled: boolean;
  dryRun: boolean;
}>;

export interface RunScalerDeps {
  readonly depthReader: QueueDepthReader;
  readonly launcher: TaskLauncher;
  readonly config: RunScalerConfig;
  readonly log: Log;
  readonly metrics?: ScalerMetricsSink;
}

export interface ScalerRun {
  readonly decision: ScalingDecision;
  /** What was started; zero launched and no failures when nothing was to be launched or on a dry run. */
  readonly launchReport: LaunchReport;
  readonly dryRun: boolean;
}

const NOTHING_LAUNCHED: LaunchReport = Object.freeze({ launched: 0, failures: Object.freeze([]) });

/**
 * One scaling run: read the depth and the running count, decide, launch, and log one line saying why. Free of AWS
 * types so the local pipeline runs the very same steps with its local queue and child-process launcher.
 */
export async function runScaler(deps: RunScalerDeps): Promise<ScalerRun> {
  const { config, log } = deps;
  const [depth, running] = await Promise.all([deps.depthReader.depth(), deps.launcher.countRunning()]);
  const decision = decideScaling({
    visible: depth.visible,
    inFlight: depth.inFlight,
    delayed: depth.delayed,
    running,
    maxTasks: config.maxTasks,
    messagesPerTask: config.messagesPerTask,
    enabled: config.enabled,
  });
  const launchReport = decision.launch > 0 && !config.dryRun ? await deps.launcher.launch(decision.launch) : NOTHING_LAUNCHED;

  log.info('scaling decision', {
    visible: depth.visible,
    inFlight: depth.inFlight,
    delayed: depth.delayed,
    running,
    desired: decision.desired,
    launch: decision.launch,
    launched: launchReport.launched,
    failures: launchReport.failures.length,
    failureReasons: [...new Set(launchReport.failures.map((failure) => failure.reason))],
    spotFallbackLaunched: launchReport.spotFallbackLaunched,
    dryRun: config.dryRun,
    enabled: config.enabled,
    reasons: decision.reasons,
  });
  deps.metrics?.publish({
    visible: depth.visible,
    inFlight: depth.inFlight,
    running,
    launched: launchReport.launched,
    failures: launchReport.failures.length,
  });
  return { decision, launchReport, dryRun: config.dryRun };
}
