import type { TaskRecord } from './ports/task-history';

/**
 * The crash-loop guard: from the worker family's recent tasks, whether launching more would only start tasks that die
 * at once. Pure (tasks and the time in, a decision out), so the Lambda and the bench's simulation judge alike.
 *
 * Why it is needed: a task that exits before it receives leaves the backlog visible, so every scheduled run sees the
 * same backlog, no task running, and launches again, up to MAX_TASKS every two minutes for as long as the image is
 * broken. The guard reads ECS's own record instead of keeping state: ECS reports stopped tasks for at least an hour,
 * so the history survives cold starts and needs no table.
 */
export interface CrashLoopSettings {
  /** CRASH_LOOP_TASKS: consecutive start failures that make a crash loop; 0 turns the guard off. */
  readonly tasks: number;
  /**
   * CRASH_LOOP_MIN_RUN_SECONDS: a task that stops non-zero sooner than this after it started failed at start; one that
   * has run this long proves the image starts. Above the worker's own give-up time when receives keep failing (eight
   * tries with backoff, about a minute), so that exit 1 counts as a start failure.
   */
  readonly minRunSeconds: number;
  /** BACKOFF_BASE_SECONDS: the pause after the first failed round; it doubles with each further failed round. */
  readonly backoffBaseSeconds: number;
  /** BACKOFF_MAX_SECONDS: the longest pause, at most MAX_BACKOFF_SECONDS. */
  readonly backoffMaxSeconds: number;
}

export const DEFAULT_CRASH_LOOP: CrashLoopSettings = Object.freeze({
  tasks: 3,
  minRunSeconds: 180,
  backoffBaseSeconds: 240,
  backoffMaxSeconds: 1200,
});

/** Only stops this recent count: ECS promises stopped tasks for an hour, so this is as far back as it can always see. */
export const HISTORY_WINDOW_SECONDS = 3600;
/**
 * The longest pause that keeps a loop a loop: the guard knows it is still in one only while the last two failed runs
 * (a probe each) are both within the hour it can see, so two pauses plus the schedule's slack must fit in it. A longer
 * pause would forget the loop and launch MAX_TASKS again.
 */
export const MAX_BACKOFF_SECONDS = 1500;
/** Tasks created this close together came from one scaler run (a run's RunTask calls span seconds, runs are 120 s apart). */
export const ROUND_GAP_SECONDS = 60;
/** Tasks launched when a pause ends: enough to learn whether the image works now, too few to matter if it does not. */
export const PROBE_TASKS = 1;

/** Stop codes that say something stopped the task from outside, which tells nothing about the image. */
const INTERRUPTIONS = new Set(['SpotInterruption', 'TerminationNotice', 'UserInitiated', 'ServiceSchedulerInitiated']);

export type TaskOutcome =
  /** Failed to start, or exited non-zero before minRunSeconds. */
  | 'start-failure'
  /** Exited 0 (the worker does when drained or stopped). */
  | 'clean'
  /** Exited non-zero after running minRunSeconds or longer: the image starts, something later went wrong. */
  | 'ran'
  /** Still running, started minRunSeconds or more ago. */
  | 'healthy'
  /** Pending, or running for less than minRunSeconds: too early to say. */
  | 'starting'
  /** Stopped from outside (Spot interruption, a person, a scheduler), or not stopped yet: ignored. */
  | 'ignored';

export function classifyTask(task: TaskRecord, nowMs: number, minRunSeconds: number): TaskOutcome {
  const minRunMs = minRunSeconds * 1000;
  if (task.status === 'running') {
    return task.startedAt !== undefined && nowMs - task.startedAt >= minRunMs ? 'healthy' : 'starting';
  }
  if (task.stoppedAt === undefined || (task.stopCode !== undefined && INTERRUPTIONS.has(task.stopCode))) return 'ignored';
  if (task.stopCode === 'TaskFailedToStart' || task.startedAt === undefined) return 'start-failure';
  if (task.exitCode === 0) return 'clean';
  return task.stoppedAt - task.startedAt >= minRunMs ? 'ran' : 'start-failure';
}

export interface CrashLoopDecision {
  /** `off`: guard disabled; `ok`: launch freely; `backing-off`: launch nothing; `probing`: launch at most `allowed`. */
  readonly state: 'off' | 'ok' | 'backing-off' | 'probing';
  /** The most tasks this run may launch: Infinity unless backing off or probing. */
  readonly allowed: number;
  /** Consecutive start failures, newest first, that nothing healthier has followed. */
  readonly startFailures: number;
  /** Scaler runs those failures came from. */
  readonly rounds: number;
  /** The pause those rounds earn (0 when not in a crash loop). */
  readonly pauseSeconds: number;
  /** When the pause ends (epoch ms), while backing off. */
  readonly resumeAt?: number;
  /** For the decision line; absent when there is nothing to say. */
  readonly reason?: string;
}

/**
 * A crash loop is start failures in a row, newest first, within the last hour, with no clean exit, no long run and no
 * healthy running task after them: `settings.tasks` or more of them, or fewer that came from two or more scaler runs
 * (each run's tasks all died, as a lone probe's does). Then nothing is launched until `pause` after the newest
 * failure, where the pause doubles with each scaler run the failures came from (4, 8, 16, then 20 minutes by
 * default); after it, one probe task, and no second one while the first is still starting. A task exiting 0, or
 * running minRunSeconds, ends the loop at once. Tasks of another image than `currentImage` are left out, so a fixed
 * image pushed by the pipeline starts with a clean slate.
 */
export function decideCrashLoop(
  tasks: readonly TaskRecord[],
  nowMs: number,
  settings: CrashLoopSettings,
  currentImage?: string,
): CrashLoopDecision {
  if (settings.tasks <= 0) return { state: 'off', allowed: Infinity, startFailures: 0, rounds: 0, pauseSeconds: 0 };
  const windowStart = nowMs - HISTORY_WINDOW_SECONDS * 1000;
  const relevant = tasks.filter((task) => currentImage === undefined || task.image === undefined || task.image === currentImage);
  const judged = relevant
    .map((task) => ({ task, outcome: classifyTask(task, nowMs, settings.minRunSeconds) }))
    .filter(({ outcome }) => outcome === 'start-failure' || outcome === 'clean' || outcome === 'ran' || outcome === 'healthy')
    // A healthy running task is the newest evidence there is.
    .map((entry) => ({ ...entry, at: entry.outcome === 'healthy' ? nowMs : (entry.task.stoppedAt as number) }))
    .filter((entry) => entry.at >= windowStart)
    .sort((a, b) => b.at - a.at);
  const streakEnd = judged.findIndex((entry) => entry.outcome !== 'start-failure');
  const streak = (streakEnd === -1 ? judged : judged.slice(0, streakEnd)).map((entry) => entry.task);
  const rounds = countRounds(streak);
  if (streak.length < settings.tasks && rounds < 2) {
    return {
      state: 'ok', allowed: Infinity, startFailures: streak.length, rounds: 0, pauseSeconds: 0,
      ...(streak.length > 0 ? { reason: `${streak.length} recent start failure(s) from one scaler run, below CRASH_LOOP_TASKS ${settings.tasks}` } : {}),
    };
  }

  const pauseSeconds = Math.min(settings.backoffMaxSeconds, settings.backoffBaseSeconds * 2 ** (rounds - 1));
  const newestFailure = streak[0]!.stoppedAt as number;
  const resumeAt = newestFailure + pauseSeconds * 1000;
  const what = `crash loop: the last ${streak.length} stopped tasks failed at start (${summarize(streak)}) in ${rounds} scaler run(s) within the last hour`;
  const common = { startFailures: streak.length, rounds, pauseSeconds };
  if (nowMs < resumeAt) {
    return {
      state: 'backing-off', allowed: 0, resumeAt, ...common,
      reason: `${what} -> backing off ${pauseSeconds} s after the last failure, until ${new Date(resumeAt).toISOString()}: launch 0`,
    };
  }
  const probeStarting = relevant.some((task) => task.status === 'running' && task.createdAt > newestFailure && classifyTask(task, nowMs, settings.minRunSeconds) === 'starting');
  if (probeStarting) {
    return { state: 'backing-off', allowed: 0, ...common, reason: `${what} -> a probe task launched after the pause is still starting: launch 0` };
  }
  return { state: 'probing', allowed: PROBE_TASKS, ...common, reason: `${what} -> pause of ${pauseSeconds} s over: at most ${PROBE_TASKS} probe task` };
}

/** Scaler runs the failures came from: their creation times, split wherever two are more than ROUND_GAP_SECONDS apart. */
function countRounds(streak: readonly TaskRecord[]): number {
  if (streak.length === 0) return 0;
  const created = streak.map((task) => task.createdAt).sort((a, b) => a - b);
  let rounds = 1;
  for (let i = 1; i < created.length; i++) if (created[i]! - created[i - 1]! > ROUND_GAP_SECONDS * 1000) rounds++;
  return rounds;
}

/** "exit 1 x8, TaskFailedToStart (CannotPullContainerError) x2": the three commonest ways they failed. */
function summarize(streak: readonly TaskRecord[]): string {
  const counts = new Map<string, number>();
  for (const task of streak) counts.set(failureLabel(task), (counts.get(failureLabel(task)) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([label, count]) => `${label} x${count}`)
    .join(', ');
}

function failureLabel(task: TaskRecord): string {
  if (task.exitCode !== undefined && task.stopCode !== 'TaskFailedToStart') return `exit ${task.exitCode}`;
  // "CannotPullContainerError: pull image manifest has been retried ..." -> "CannotPullContainerError".
  const cause = (task.containerReason ?? task.stoppedReason ?? '').split(':')[0]!.trim().slice(0, 60);
  const code = task.stopCode ?? 'stopped';
  return cause !== '' ? `${code} (${cause})` : code;
}
