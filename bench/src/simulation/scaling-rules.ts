import { DEFAULT_CRASH_LOOP, type CrashLoopSettings } from '../../../scaler/src/crash-loop';
import { FARGATE_LAUNCH_LIMITS, STOP_LAUNCHING_BEFORE_TIMEOUT_MS, type LaunchRateLimits } from '../../../scaler/src/launch-plan';
import { decideScaling, originalBlueprintLaunch } from '../../../scaler/src/policy';

/** What a scheduled scaler run sees: the queue's counts and the tasks running or still pending. */
export interface ScalerObservation {
  readonly visible: number;
  readonly inFlight: number;
  readonly running: number;
}

/**
 * How one run's RunTask calls go out. `sequential`: one chunk of 10 after another, each waiting for the previous
 * call's answer, and the Lambda killed at its timeout (calls not started by then never happen). `rate-planned`: the
 * scaler's own launch plan (scaler/src/launch-plan.ts), calls sent in parallel, none started after the run's budget.
 */
export type LaunchStyle =
  | { readonly kind: 'sequential'; readonly timeoutSeconds: number }
  | { readonly kind: 'rate-planned'; readonly limits: LaunchRateLimits; readonly budgetSeconds: number };

export interface ScalingRule {
  readonly name: string;
  /** Tasks to launch now. */
  launch(observation: ScalerObservation, maxTasks: number, messagesPerTask: number): number;
  readonly launcher: LaunchStyle;
  /**
   * The start guards (bootstrap-image gate and crash-loop back-off, exactly as the deployed scaler calls them), or
   * undefined for a rule that launches whatever the backlog asks for.
   */
  readonly guards?: { readonly crashLoop: CrashLoopSettings };
}

/** The scaler Lambda's timeout (infra's ScalerFunction TIMEOUT_SECONDS; a test holds the two equal). */
export const SCALER_TIMEOUT_SECONDS = 45;
/** The timeout the scaler had before issue 10. */
export const PREVIOUS_SCALER_TIMEOUT_SECONDS = 60;

const decideLaunch = (observation: ScalerObservation, maxTasks: number, messagesPerTask: number) =>
  decideScaling({ ...observation, delayed: 0, maxTasks, messagesPerTask, enabled: true }).launch;

/** This blueprint's scaler as deployed: its policy, its start guards and its rate-planned parallel launches. */
export const OUR_RULE: ScalingRule = Object.freeze<ScalingRule>({
  name: 'ours',
  launch: decideLaunch,
  launcher: { kind: 'rate-planned', limits: FARGATE_LAUNCH_LIMITS, budgetSeconds: SCALER_TIMEOUT_SECONDS - STOP_LAUNCHING_BEFORE_TIMEOUT_MS / 1000 },
  guards: { crashLoop: DEFAULT_CRASH_LOOP },
});

/**
 * This blueprint's scaler before issue 10: the same policy, no start guards, chunks launched one after another by a
 * 60 s Lambda. The "old rule" of the start-failure and large-launch comparisons.
 */
export const UNGUARDED_RULE: ScalingRule = Object.freeze<ScalingRule>({
  name: 'ours before issue 10',
  launch: decideLaunch,
  launcher: { kind: 'sequential', timeoutSeconds: PREVIOUS_SCALER_TIMEOUT_SECONDS },
});

/**
 * The original AWS blueprint's rule; it has no per-task backlog setting of its own (10 is built in), no start guards,
 * and is modelled launching one chunk after another within the same 60 s.
 */
export const ORIGINAL_RULE: ScalingRule = Object.freeze<ScalingRule>({
  name: 'original',
  launch: (observation: ScalerObservation, maxTasks: number) =>
    originalBlueprintLaunch(observation.visible, observation.running, maxTasks),
  launcher: { kind: 'sequential', timeoutSeconds: PREVIOUS_SCALER_TIMEOUT_SECONDS },
});
