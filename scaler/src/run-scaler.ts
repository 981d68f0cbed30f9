import type { QueueDepthReader } from '../../shared/ports/queue';
import type { Log } from '../../shared/log/logger';
import { DEFAULT_BOOTSTRAP_IMAGE } from './config';
import { decideCrashLoop, type CrashLoopSettings } from './crash-loop';
import { decideImageGate } from './image-gate';
import { decideScaling } from './policy';
import type { TaskHistory } from './ports/task-history';
import type { LaunchReport, TaskLauncher } from './ports/task-launcher';
import type { WorkerImageSource } from './ports/worker-image';
import type { ScalerMetricsSink } from './scaler-metrics';
import { applyStartGuards, type GuardedDecision, type StartGuards } from './start-guards';

export type RunScalerConfig = Readonly<{
  maxTasks: number;
  messagesPerTask: number;
  enabled: boolean;
  dryRun: boolean;
  /** What the image source answers before the pipeline's first build (default: infra's bootstrap image). */
  bootstrapImage?: string;
  /** The crash-loop guard's settings; it runs only with a `history` as well. */
  crashLoop?: CrashLoopSettings;
}>;

export interface RunScalerDeps {
  readonly depthReader: QueueDepthReader;
  readonly launcher: TaskLauncher;
  readonly config: RunScalerConfig;
  readonly log: Log;
  readonly metrics?: ScalerMetricsSink;
  /** The worker image; without it there is no bootstrap gate (the local pipeline always runs the real worker). */
  readonly imageSource?: WorkerImageSource;
  /** The family's recent tasks; without it there is no crash-loop guard. */
  readonly history?: TaskHistory;
  /** Epoch ms after which no launch call starts: the invocation's remaining time less a margin. */
  readonly stopLaunchingAt?: number;
  readonly now?: () => number;
}

export interface ScalerRun {
  readonly decision: GuardedDecision;
  /** What was started; zero launched and no failures when nothing was to be launched or on a dry run. */
  readonly launchReport: LaunchReport;
  readonly dryRun: boolean;
}

const NOTHING_LAUNCHED: LaunchReport = Object.freeze({ launched: 0, failures: Object.freeze([]) });

/**
 * One scaling run: read the depth and the running count, decide, pass the decision through the start guards, log it
 * (before launching, so a run that runs out of time has still said what it meant to do), launch, and log what the
 * launch did. The guards are consulted only when the backlog asks for tasks, so an idle queue costs no extra calls.
 * Free of AWS types so the local pipeline runs the very same steps with its local queue and child-process launcher.
 */
export async function runScaler(deps: RunScalerDeps): Promise<ScalerRun> {
  const { config, log } = deps;
  const [depth, running] = await Promise.all([deps.depthReader.depth(), deps.launcher.countRunning()]);
  const wanted = decideScaling({
    visible: depth.visible,
    inFlight: depth.inFlight,
    delayed: depth.delayed,
    running,
    maxTasks: config.maxTasks,
    messagesPerTask: config.messagesPerTask,
    enabled: config.enabled,
  });
  const guards = wanted.launch > 0 ? await readStartGuards(deps) : {};
  const decision = applyStartGuards(wanted, guards);

  log.info('scaling decision', {
    visible: depth.visible,
    inFlight: depth.inFlight,
    delayed: depth.delayed,
    running,
    desired: decision.desired,
    wanted: decision.wanted,
    launch: decision.launch,
    heldBy: decision.heldBy,
    image: guards.image?.image,
    crashLoop: decision.crashLoop?.state,
    startFailures: decision.crashLoop?.startFailures,
    dryRun: config.dryRun,
    enabled: config.enabled,
    reasons: decision.reasons,
  });
  const launching = decision.launch > 0 && !config.dryRun;
  const launchReport = launching
    ? await deps.launcher.launch(decision.launch, deps.stopLaunchingAt !== undefined ? { stopLaunchingAt: deps.stopLaunchingAt } : {})
    : NOTHING_LAUNCHED;
  if (launching) {
    log.info('launch report', {
      launch: decision.launch,
      launched: launchReport.launched,
      failures: launchReport.failures.length,
      failureReasons: [...new Set(launchReport.failures.map((failure) => failure.reason))],
      spotFallbackLaunched: launchReport.spotFallbackLaunched,
    });
  }
  deps.metrics?.publish({
    visible: depth.visible,
    inFlight: depth.inFlight,
    running,
    launched: launchReport.launched,
    failures: launchReport.failures.length,
    waitingForImage: decision.heldBy === 'bootstrap-image',
    crashLoopBackoff: decision.heldBy === 'crash-loop',
    startFailures: decision.crashLoop?.startFailures ?? 0,
  });
  return { decision, launchReport, dryRun: config.dryRun };
}

/** The image first: while it is the bootstrap image there is nothing for the task history to add. */
async function readStartGuards(deps: RunScalerDeps): Promise<StartGuards> {
  const image = deps.imageSource
    ? decideImageGate(await deps.imageSource.currentImage(), deps.config.bootstrapImage ?? DEFAULT_BOOTSTRAP_IMAGE)
    : undefined;
  if (image !== undefined && !image.ready) return { image };
  const settings = deps.config.crashLoop;
  if (deps.history === undefined || settings === undefined || settings.tasks <= 0) return image ? { image } : {};
  const tasks = await deps.history.recentTasks();
  const crashLoop = decideCrashLoop(tasks, (deps.now ?? Date.now)(), settings, image?.image);
  return image ? { image, crashLoop } : { crashLoop };
}
