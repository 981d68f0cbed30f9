import type { Log } from '../../shared/log/logger';
import { classifyFailure } from '../../shared/errors';
import { runScaler, type RunScalerDeps, type ScalerRun } from './run-scaler';

/** One pipeline of a run: its name and what runScaler needs for it (its log already names it). */
export interface PipelineScaling {
  readonly name: string;
  readonly deps: RunScalerDeps;
}

export type PipelineOutcome =
  | { readonly name: string; readonly ok: true; readonly run: ScalerRun }
  | { readonly name: string; readonly ok: false; readonly error: unknown };

/** Thrown after every pipeline was tried, when any could not decide or launch: the run fails (and alarms) as one. */
export class PipelinesFailedError extends Error {
  override readonly name = 'PipelinesFailedError';

  constructor(readonly failed: readonly { readonly name: string; readonly error: unknown }[]) {
    super(`scaling failed for ${failed.length} pipeline(s): ${failed.map(({ name, error }) => `${name} (${describe(error)})`).join('; ')}`);
  }
}

/**
 * One scaling run for several pipelines, each decided, logged and launched on its own, all at once: their reads
 * overlap, and their launches share the run's deadline and (through the launchers' shared budget) AWS's launch rates.
 * A pipeline whose depth, task count, image or history cannot be read is logged and left out; the others go on.
 * Returns every pipeline's outcome; the caller decides what a failure means (the Lambda throws PipelinesFailedError).
 */
export async function runScalerForPipelines(pipelines: readonly PipelineScaling[], log: Log): Promise<readonly PipelineOutcome[]> {
  const settled = await Promise.allSettled(pipelines.map(({ deps }) => runScaler(deps)));
  return settled.map((result, index): PipelineOutcome => {
    const { name } = pipelines[index]!;
    if (result.status === 'fulfilled') return { name, ok: true, run: result.value };
    const { reason } = classifyFailure(result.reason);
    log.error('pipeline scaling failed', { pipeline: name, error: (result.reason as { name?: string })?.name ?? 'Error', reason, detail: describe(result.reason) });
    return { name, ok: false, error: result.reason };
  });
}

/** Throws PipelinesFailedError naming every pipeline that failed, once all were tried. */
export function throwIfAnyFailed(outcomes: readonly PipelineOutcome[]): void {
  const failed = outcomes.flatMap((outcome) => (outcome.ok ? [] : [{ name: outcome.name, error: outcome.error }]));
  if (failed.length > 0) throw new PipelinesFailedError(failed);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
