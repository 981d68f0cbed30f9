import type { CrashLoopDecision } from './crash-loop';
import type { ImageGateDecision } from './image-gate';
import type { ScalingDecision } from './policy';

/**
 * The backlog's decision after the start guards: the image gate and the crash-loop guard can only lower the launch,
 * never raise it. Pure; the guards' own reasons join the decision's so the one decision line says everything.
 */
export interface GuardedDecision extends ScalingDecision {
  /** What the backlog alone asked for (decideScaling's launch). */
  readonly wanted: number;
  /** Which guard held launches back, if one did. */
  readonly heldBy?: 'bootstrap-image' | 'crash-loop';
  readonly crashLoop?: CrashLoopDecision;
}

export interface StartGuards {
  /** Undefined when the image is not known (no IMAGE_PARAMETER) or was not needed (nothing to launch). */
  readonly image?: ImageGateDecision;
  readonly crashLoop?: CrashLoopDecision;
}

export function applyStartGuards(decision: ScalingDecision, guards: StartGuards): GuardedDecision {
  const wanted = decision.launch;
  if (guards.image !== undefined && !guards.image.ready) {
    return { ...decision, launch: 0, wanted, heldBy: 'bootstrap-image', reasons: [...decision.reasons, guards.image.reason ?? 'worker image not ready -> launch 0'] };
  }
  const crashLoop = guards.crashLoop;
  if (crashLoop === undefined) return { ...decision, wanted };
  const reasons = crashLoop.reason !== undefined ? [...decision.reasons, crashLoop.reason] : decision.reasons;
  const launch = Math.min(wanted, crashLoop.allowed);
  const held = crashLoop.state === 'backing-off' || (crashLoop.state === 'probing' && launch < wanted);
  return { ...decision, launch, wanted, reasons, crashLoop, ...(held ? { heldBy: 'crash-loop' as const } : {}) };
}
