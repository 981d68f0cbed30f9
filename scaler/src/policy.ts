/**
 * The scaling policy: queue depth and running tasks in, how many tasks to launch out. Pure, so the Lambda, the CLI,
 * the local pipeline and the benchmarks all make the same decision from the same numbers.
 */
export interface ScalingInput {
  /** SQS ApproximateNumberOfMessages: waiting to be received. */
  readonly visible: number;
  /** SQS ApproximateNumberOfMessagesNotVisible: received and being worked on. */
  readonly inFlight: number;
  /** SQS ApproximateNumberOfMessagesDelayed: not counted, they are picked up by a later run once visible. */
  readonly delayed?: number;
  /** Tasks of this family already running or still provisioning/pending. */
  readonly running: number;
  /** MAX_TASKS: the most tasks that may run at once. */
  readonly maxTasks: number;
  /** MESSAGES_PER_TASK: the visible backlog one new task is started for. */
  readonly messagesPerTask: number;
  /** SCALER_ENABLED. */
  readonly enabled: boolean;
}

export interface ScalingDecision {
  /** Tasks that should be running or pending for this backlog. */
  readonly desired: number;
  /** Tasks to start now: never below zero, never more than the cap allows. */
  readonly launch: number;
  /** Why, in words, so every run's log line explains itself. */
  readonly reasons: readonly string[];
  readonly input: ScalingInput;
}

/**
 * desired = min(maxTasks, ⌈visible / messagesPerTask⌉); launch = max(0, desired − running).
 *
 * Tasks still pending or draining count against the desired number, so the same backlog seen by consecutive runs
 * (every two minutes in AWS) does not start more tasks each time. In-flight messages do not ask for tasks: the tasks
 * that received them are still working, and they drain the queue before exiting.
 */
export function decideScaling(input: ScalingInput): ScalingDecision {
  if (!Number.isInteger(input.messagesPerTask) || input.messagesPerTask < 1) {
    throw new RangeError(`messagesPerTask must be a positive integer, got ${input.messagesPerTask}`);
  }
  const visible = nonNegative(input.visible);
  const running = nonNegative(input.running);
  const maxTasks = nonNegative(input.maxTasks);
  const reasons: string[] = [];

  if (!input.enabled) {
    reasons.push(`scaler disabled -> launch 0 (${visible} visible, ${running} running or pending)`);
    return { desired: 0, launch: 0, reasons, input };
  }
  if (visible === 0) {
    reasons.push(
      input.inFlight > 0
        ? `no visible messages (${input.inFlight} in flight with ${running} running or pending) -> launch 0`
        : `queue empty -> launch 0`,
    );
    appendDelayedNote(reasons, input.delayed);
    return { desired: 0, launch: 0, reasons, input };
  }

  const wanted = Math.ceil(visible / input.messagesPerTask);
  const desired = Math.min(maxTasks, wanted);
  reasons.push(
    `backlog ${visible} visible / ${input.messagesPerTask} per task -> ${wanted}` +
      (desired < wanted ? `, capped at ${maxTasks}` : ''),
  );
  const launch = Math.max(0, desired - running);
  reasons.push(
    running === 0
      ? `none running or pending -> launch ${launch}`
      : `${running} already running or pending -> launch ${launch}`,
  );
  appendDelayedNote(reasons, input.delayed);
  return { desired, launch, reasons, input };
}

/**
 * The rule of the original AWS blueprint, kept for the benchmarks' comparison: ⌈visible / 10⌉ tasks, limited only by
 * the room left under the cap. Because tasks already running or pending are subtracted from the cap rather than from
 * the backlog's need, every scheduled run launches again for a backlog that the running tasks are already draining
 * (25 visible and the 3 tasks started for them still pending: the original starts 3 more on every run until the cap
 * is reached, decideScaling starts none).
 */
export function originalBlueprintLaunch(visible: number, running: number, cap: number): number {
  return Math.max(0, Math.min(Math.ceil(nonNegative(visible) / 10), cap - nonNegative(running)));
}

function appendDelayedNote(reasons: string[], delayed: number | undefined): void {
  if (delayed !== undefined && delayed > 0) reasons.push(`${delayed} delayed not counted until visible`);
}

/** SQS counts are approximate but never negative; a NaN or negative count must not turn into a launch. */
function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
