import { decideScaling, originalBlueprintLaunch } from '../../../scaler/src/policy';

/** What a scheduled scaler run sees: the queue's counts and the tasks running or still pending. */
export interface ScalerObservation {
  readonly visible: number;
  readonly inFlight: number;
  readonly running: number;
}

export interface ScalingRule {
  readonly name: string;
  /** Tasks to launch now. */
  launch(observation: ScalerObservation, maxTasks: number, messagesPerTask: number): number;
}

/** This blueprint's policy, exactly as the deployed scaler calls it. */
export const OUR_RULE: ScalingRule = Object.freeze({
  name: 'ours',
  launch: (observation: ScalerObservation, maxTasks: number, messagesPerTask: number) =>
    decideScaling({ ...observation, delayed: 0, maxTasks, messagesPerTask, enabled: true }).launch,
});

/** The original AWS blueprint's rule; it has no per-task backlog setting of its own (10 is built in). */
export const ORIGINAL_RULE: ScalingRule = Object.freeze({
  name: 'original',
  launch: (observation: ScalerObservation, maxTasks: number) =>
    originalBlueprintLaunch(observation.visible, observation.running, maxTasks),
});
