import { decideCrashLoop, HISTORY_WINDOW_SECONDS } from '../../../scaler/src/crash-loop';
import { planLaunch } from '../../../scaler/src/launch-plan';
import type { TaskRecord } from '../../../scaler/src/ports/task-history';
import type { SimulationParameters } from '../parameters';
import { EventQueue } from './event-queue';
import type { LaunchStyle, ScalingRule } from './scaling-rules';
import type { Workload } from './workloads';

/**
 * A discrete-event model of the deployed system: S3 events land in the queue, a scheduled scaler run decides from
 * the queue's counts how many Fargate tasks to start, each task starts after a latency, then receives up to
 * `receiveBatchSize` messages per long poll and works through them at its throughput, and exits after `idlePolls`
 * consecutive empty long polls. Pure and deterministic: the same inputs give the same result, with no clock or I/O.
 *
 * Simplifications, stated so results are read with them in mind: queue counts are exact unless the options give
 * them a lag, a task works one receive batch at a time at its full rate (the real worker overlaps receives with work,
 * which this rate already includes) unless the options give it slots, nothing fails unless the world's image does,
 * and billing runs from RunTask to exit (Fargate starts billing at image pull, a little later, so task seconds lean
 * high).
 *
 * With `slots` (SimulationOptions) a task works as the worker does on messages that each take a while, such as a
 * fan-out batch: it keeps up to `concurrency` messages in flight, each done `secondsPerMessage` after it was received,
 * receives again (at most its free slots, at most `receiveBatchSize`) as soon as a slot frees, and exits when a long
 * poll comes back empty with nothing in flight after `idlePolls` empty polls in a row.
 *
 * The world can run a broken image instead of the worker: one that exits non-zero a few seconds after starting (a
 * crash loop), or the bootstrap image, which exits 0 at once; neither receives a message. A run's RunTask calls go
 * out as the rule's launcher sends them (one after another, or the scaler's rate plan), each task starting its
 * latency after its own call.
 */
export interface SimulatedWorld {
  /** What a started task does: work (`worker`), exit 1 (`crash-at-start`) or exit 0 (`bootstrap`) without receiving. */
  readonly image: 'worker' | 'crash-at-start' | 'bootstrap';
  /** For the two broken images: seconds from start to exit. */
  readonly exitAfterSeconds: number;
  /**
   * One RunTask call's round trip, which a sequential launcher waits for before its next chunk. Assumed, not measured:
   * 1.5 s makes 50 calls outlast a 60 s Lambda, as issue 10 reports for MAX_TASKS=500.
   */
  readonly runTaskCallSeconds: number;
}

export const WORKER_WORLD: SimulatedWorld = Object.freeze({ image: 'worker', exitAfterSeconds: 5, runTaskCallSeconds: 1.5 });

/** Messages that each take a fixed time, worked `concurrency` at a time per task (the worker's CONCURRENCY). */
export interface TaskSlots {
  readonly concurrency: number;
  readonly secondsPerMessage: number;
}

/** What the standard scenarios leave at their defaults: a pooled per-task rate and exact queue counts. */
export interface SimulationOptions {
  /** Tasks work messages in slots instead of sharing `perTaskImagesPerSecond` over each receive batch. */
  readonly slots?: TaskSlots;
  /**
   * The scaler reads the queue's counts as they were this long before its run (ApproximateNumberOfMessages lags);
   * 0 or absent: exact counts.
   */
  readonly depthLagSeconds?: number;
}

/** One scheduled run that had something to launch. */
export interface ScalerRunRecord {
  readonly atSeconds: number;
  /** What the backlog asked for. */
  readonly wanted: number;
  /** Tasks whose RunTask call was made. */
  readonly launched: number;
  /** Tasks the run could not launch in time (a sequential run killed at its timeout, a planned one at its budget). */
  readonly notLaunchedInTime: number;
  /** From the run's start to the answer of its last RunTask call. */
  readonly launchSpanSeconds: number;
  readonly heldBy?: 'bootstrap-image' | 'crash-loop';
}
export interface TimelineSample {
  readonly atSeconds: number;
  readonly visible: number;
  readonly inFlight: number;
  /** Tasks pending or running. */
  readonly tasks: number;
}

export interface SimulatedTask {
  readonly launchedAt: number;
  readonly startedAt: number;
  readonly exitedAt: number;
  readonly processed: number;
  /** It started to an empty queue while other tasks still held messages in flight. */
  readonly startedWhileOthersDrain: boolean;
  /** 0 for the worker's own exit and the bootstrap image, 1 for a crash; undefined while still running at the end. */
  readonly exitCode?: number;
}

export interface SimulationResult {
  readonly rule: string;
  readonly workload: string;
  readonly files: number;
  /** First arrival to the last file done; undefined when the horizon came first. */
  readonly drainSeconds: number | undefined;
  /** First arrival to the last task's exit. */
  readonly lastExitSeconds: number;
  readonly tasksLaunched: number;
  readonly peakTasks: number;
  /** Scheduled runs that launched at least one task. */
  readonly launchingRuns: number;
  readonly scalerRuns: number;
  /** Sum over tasks of RunTask to exit. */
  readonly taskSeconds: number;
  /** Tasks that exited without processing a single file. */
  readonly emptyStarts: number;
  /** Of those, the ones that started while other tasks were still draining the backlog. */
  readonly emptyStartsWhileDraining: number;
  readonly receives: number;
  readonly emptyReceives: number;
  readonly meanLatencySeconds: number;
  readonly maxLatencySeconds: number;
  readonly tasks: readonly SimulatedTask[];
  readonly timeline: readonly TimelineSample[];
  /** The simulated span, from the first arrival (or 0) to the last event, the horizon at most. */
  readonly simulatedSeconds?: number;
  /** Runs whose launches a start guard held back or cut. */
  readonly heldRuns?: number;
  /** With slots: task seconds between start and exit with no message in flight (waiting polls and the idle tail). */
  readonly idleTaskSeconds?: number;
  /** Tasks that exited non-zero. */
  readonly startFailures?: number;
  /** The runs that had something to launch, in order. */
  readonly runs?: readonly ScalerRunRecord[];
}

type SimEvent =
  | { readonly kind: 'arrival'; readonly index: number }
  | { readonly kind: 'tick' }
  | { readonly kind: 'start'; readonly task: number }
  | { readonly kind: 'batch-done'; readonly task: number; readonly batch: TakenBatch }
  | { readonly kind: 'poll-expired'; readonly task: number; readonly poll: number }
  | { readonly kind: 'exit'; readonly task: number; readonly code: number };

interface TakenBatch {
  readonly count: number;
  /** Sum of the batch's arrival times, for the mean latency without keeping every file. */
  readonly arrivalSum: number;
  readonly earliestArrival: number;
}

interface TaskState {
  readonly launchedAt: number;
  startedAt: number;
  exitedAt: number | undefined;
  processed: number;
  emptyPolls: number;
  /** Identifies the current long poll, so an expiry for a poll that already got messages is ignored. */
  poll: number;
  waiting: boolean;
  startedWhileOthersDrain: boolean;
  exitCode: number | undefined;
  /** With slots: messages in flight, and since when the task has had none (while started). */
  busy: number;
  idleSince: number;
}

interface Cohort {
  readonly arrivedAt: number;
  count: number;
}

export function simulateScaling(
  workload: Workload,
  rule: ScalingRule,
  parameters: SimulationParameters,
  world: SimulatedWorld = WORKER_WORLD,
  options: SimulationOptions = {},
): SimulationResult {
  validate(parameters);
  const { slots } = options;
  if (slots !== undefined && !(Number.isInteger(slots.concurrency) && slots.concurrency >= 1 && slots.secondsPerMessage >= 0)) {
    throw new RangeError(`slots need an integer concurrency of at least 1 and a time per message of 0 or more, got ${JSON.stringify(slots)}`);
  }
  const depthLag = options.depthLagSeconds ?? 0;
  if (!(depthLag >= 0)) throw new RangeError(`depthLagSeconds must be 0 or more, got ${depthLag}`);
  const events = new EventQueue<SimEvent>();
  const backlog: Cohort[] = [];
  let backlogHead = 0;
  let visible = 0;
  let inFlight = 0;
  let completed = 0;
  let arrivalsLeft = workload.arrivals.length;
  const tasks: TaskState[] = [];
  const waiting: number[] = [];
  let alive = 0;
  let peakTasks = 0;
  let scalerRuns = 0;
  let launchingRuns = 0;
  let receives = 0;
  let emptyReceives = 0;
  let latencySum = 0;
  let maxLatency = 0;
  let lastCompletion: number | undefined;
  let heldRuns = 0;
  let idleTaskSeconds = 0;
  /** The queue's counts after each change, for a scaler that reads them late; only kept when it does. */
  const depthHistory: { time: number; visible: number; inFlight: number }[] = [{ time: -Infinity, visible: 0, inFlight: 0 }];
  let depthCursor = 0;
  const runs: ScalerRunRecord[] = [];
  const timeline: TimelineSample[] = [];
  let nextSampleAt = 0;
  const firstArrival = workload.arrivals.reduce((earliest, arrival) => Math.min(earliest, arrival.atSeconds), Infinity);
  const origin = Number.isFinite(firstArrival) ? firstArrival : 0;

  workload.arrivals.forEach((arrival, index) => events.push(arrival.atSeconds, { kind: 'arrival', index }));
  events.push(parameters.firstTickSeconds, { kind: 'tick' });

  const take = (most: number): TakenBatch => {
    let wanted = Math.min(most, visible);
    const count = wanted;
    let arrivalSum = 0;
    let earliestArrival = Infinity;
    while (wanted > 0) {
      const cohort = backlog[backlogHead]!;
      const used = Math.min(wanted, cohort.count);
      arrivalSum += used * cohort.arrivedAt;
      earliestArrival = Math.min(earliestArrival, cohort.arrivedAt);
      cohort.count -= used;
      wanted -= used;
      if (cohort.count === 0) backlogHead++;
    }
    // Drop consumed cohorts now and then so a long steady run does not keep them all.
    if (backlogHead > 1024) {
      backlog.splice(0, backlogHead);
      backlogHead = 0;
    }
    visible -= count;
    inFlight += count;
    receives++;
    return { count, arrivalSum, earliestArrival };
  };

  const startWork = (id: number, now: number): void => {
    const task = tasks[id]!;
    task.waiting = false;
    task.emptyPolls = 0;
    if (slots === undefined) {
      const batch = take(parameters.receiveBatchSize);
      events.push(now + batch.count / parameters.perTaskImagesPerSecond, { kind: 'batch-done', task: id, batch });
      return;
    }
    const batch = take(Math.min(parameters.receiveBatchSize, slots.concurrency - task.busy));
    if (task.busy === 0) idleTaskSeconds += now - task.idleSince;
    task.busy += batch.count;
    events.push(now + slots.secondsPerMessage, { kind: 'batch-done', task: id, batch });
    // The worker receives again at once while it has a free slot.
    poll(id, now);
  };

  const poll = (id: number, now: number): void => {
    const task = tasks[id]!;
    if (slots !== undefined && task.busy >= slots.concurrency) return;
    if (visible > 0) {
      startWork(id, now);
      return;
    }
    task.waiting = true;
    task.poll++;
    waiting.push(id);
    events.push(now + parameters.waitSeconds, { kind: 'poll-expired', task: id, poll: task.poll });
  };

  const sample = (now: number, force: boolean): void => {
    if (!force && now < nextSampleAt) return;
    const last = timeline[timeline.length - 1];
    if (last && last.atSeconds === now) timeline.pop();
    timeline.push({ atSeconds: now, visible, inFlight, tasks: alive });
    nextSampleAt = now + parameters.sampleEverySeconds;
  };

  const finished = (): boolean => arrivalsLeft === 0 && visible === 0 && inFlight === 0 && alive === 0;

  const recordDepth = (now: number): void => {
    const last = depthHistory[depthHistory.length - 1]!;
    if (last.visible === visible && last.inFlight === inFlight) return;
    if (last.time === now) depthHistory.pop();
    depthHistory.push({ time: now, visible, inFlight });
  };

  /** The counts as they stood at `time`; runs come in order, so the cursor only moves forward. */
  const depthAt = (time: number): { visible: number; inFlight: number } => {
    while (depthCursor + 1 < depthHistory.length && depthHistory[depthCursor + 1]!.time <= time) depthCursor++;
    return depthHistory[depthCursor]!;
  };

  let now = 0;
  for (;;) {
    const next = events.pop();
    if (next === undefined || next.time > parameters.horizonSeconds) break;
    now = next.time;
    const event = next.event;
    const aliveBefore = alive;
    switch (event.kind) {
      case 'arrival': {
        const arrival = workload.arrivals[event.index]!;
        arrivalsLeft--;
        if (arrival.count <= 0) break;
        backlog.push({ arrivedAt: arrival.atSeconds, count: arrival.count });
        visible += arrival.count;
        // Long polls return as soon as messages arrive, longest waiter first.
        while (visible > 0 && waiting.length > 0) {
          const id = waiting.shift()!;
          startWork(id, now);
        }
        break;
      }
      case 'tick': {
        scalerRuns++;
        const seen = depthLag > 0 ? depthAt(now - depthLag) : { visible, inFlight };
        const wanted = rule.launch({ visible: seen.visible, inFlight: seen.inFlight, running: alive }, parameters.maxTasks, parameters.messagesPerTask);
        const { launch, heldBy } = wanted > 0 ? guard(rule, world, wanted, tasks, now) : { launch: 0, heldBy: undefined };
        if (heldBy !== undefined) heldRuns++;
        const calls = launchCalls(rule.launcher, launch, world.runTaskCallSeconds);
        const launched = calls.reduce((sum, call) => sum + call.count, 0);
        if (launched > 0) launchingRuns++;
        for (const call of calls) {
          for (let i = 0; i < call.count; i++) {
            const id = tasks.length;
            const launchedAt = now + call.offsetSeconds;
            tasks.push({
              launchedAt,
              startedAt: launchedAt + parameters.startLatencySeconds,
              exitedAt: undefined,
              processed: 0,
              emptyPolls: 0,
              poll: 0,
              waiting: false,
              startedWhileOthersDrain: false,
              exitCode: undefined,
              busy: 0,
              idleSince: launchedAt + parameters.startLatencySeconds,
            });
            alive++;
            events.push(launchedAt + parameters.startLatencySeconds, { kind: 'start', task: id });
          }
        }
        if (wanted > 0) {
          const lastCall = calls[calls.length - 1];
          runs.push({
            atSeconds: now, wanted, launched, notLaunchedInTime: launch - launched,
            launchSpanSeconds: lastCall === undefined ? 0 : lastCall.offsetSeconds + world.runTaskCallSeconds,
            ...(heldBy !== undefined ? { heldBy } : {}),
          });
        }
        peakTasks = Math.max(peakTasks, alive);
        if (!finished()) events.push(now + parameters.scheduleIntervalSeconds, { kind: 'tick' });
        break;
      }
      case 'start': {
        const task = tasks[event.task]!;
        task.startedWhileOthersDrain = visible === 0 && inFlight > 0;
        if (world.image === 'worker') poll(event.task, now);
        else events.push(now + world.exitAfterSeconds, { kind: 'exit', task: event.task, code: world.image === 'bootstrap' ? 0 : 1 });
        break;
      }
      case 'exit': {
        const task = tasks[event.task]!;
        task.exitedAt = now;
        task.exitCode = event.code;
        alive--;
        break;
      }
      case 'batch-done': {
        const task = tasks[event.task]!;
        const { batch } = event;
        inFlight -= batch.count;
        completed += batch.count;
        task.processed += batch.count;
        latencySum += batch.count * now - batch.arrivalSum;
        maxLatency = Math.max(maxLatency, now - batch.earliestArrival);
        lastCompletion = now;
        if (slots !== undefined) {
          task.busy -= batch.count;
          if (task.busy === 0) task.idleSince = now;
          // A long poll already under way goes on; otherwise the freed slot receives again.
          if (task.waiting) break;
        }
        poll(event.task, now);
        break;
      }
      case 'poll-expired': {
        const task = tasks[event.task]!;
        if (!task.waiting || task.poll !== event.poll) break;
        receives++;
        emptyReceives++;
        task.emptyPolls++;
        const position = waiting.indexOf(event.task);
        if (position >= 0) waiting.splice(position, 1);
        if (task.emptyPolls >= parameters.idlePolls && task.busy === 0) {
          task.waiting = false;
          task.exitedAt = now;
          task.exitCode = 0;
          alive--;
          if (slots !== undefined) idleTaskSeconds += now - task.idleSince;
        } else {
          poll(event.task, now);
        }
        break;
      }
    }
    sample(now, alive !== aliveBefore);
    if (depthLag > 0) recordDepth(now);
    if (finished() && events.size === 0) break;
  }
  sample(now, true);

  const end = now;
  const finishedTasks: SimulatedTask[] = tasks.map((task) => ({
    launchedAt: task.launchedAt,
    startedAt: task.startedAt,
    exitedAt: task.exitedAt ?? end,
    processed: task.processed,
    startedWhileOthersDrain: task.startedWhileOthersDrain,
    ...(task.exitCode !== undefined ? { exitCode: task.exitCode } : {}),
  }));
  const taskSeconds = finishedTasks.reduce((sum, task) => sum + (task.exitedAt - task.launchedAt), 0);
  const emptyTasks = finishedTasks.filter((task) => task.processed === 0);
  const drained = completed === workload.totalFiles;
  return {
    rule: rule.name,
    workload: workload.name,
    files: workload.totalFiles,
    drainSeconds: drained ? (lastCompletion ?? origin) - origin : undefined,
    lastExitSeconds: finishedTasks.reduce((latest, task) => Math.max(latest, task.exitedAt), origin) - origin,
    tasksLaunched: tasks.length,
    peakTasks,
    launchingRuns,
    scalerRuns,
    taskSeconds,
    emptyStarts: emptyTasks.length,
    emptyStartsWhileDraining: emptyTasks.filter((task) => task.startedWhileOthersDrain).length,
    receives,
    emptyReceives,
    meanLatencySeconds: completed > 0 ? latencySum / completed : 0,
    maxLatencySeconds: maxLatency,
    tasks: finishedTasks,
    timeline,
    simulatedSeconds: end - Math.min(origin, end),
    heldRuns,
    ...(slots !== undefined ? { idleTaskSeconds: idleTaskSeconds + stillIdle(tasks, end) } : {}),
    startFailures: finishedTasks.filter((task) => task.exitCode !== undefined && task.exitCode !== 0).length,
    runs,
  };
}

/** Idle time of tasks still running, started and without work when the simulation ends (at its horizon). */
function stillIdle(tasks: readonly TaskState[], end: number): number {
  return tasks.reduce((sum, task) => sum + (task.exitedAt === undefined && task.busy === 0 && task.startedAt <= end ? end - task.idleSince : 0), 0);
}

/** The deployed scaler's start guards, from the simulated tasks as ECS would report them. */
function guard(
  rule: ScalingRule,
  world: SimulatedWorld,
  wanted: number,
  tasks: readonly TaskState[],
  now: number,
): { launch: number; heldBy: ScalerRunRecord['heldBy'] } {
  if (rule.guards === undefined) return { launch: wanted, heldBy: undefined };
  if (world.image === 'bootstrap') return { launch: 0, heldBy: 'bootstrap-image' };
  const decision = decideCrashLoop(taskRecords(tasks, now), now * 1000, rule.guards.crashLoop);
  const launch = Math.min(wanted, decision.allowed);
  return { launch, heldBy: launch < wanted ? 'crash-loop' : undefined };
}

/** What DescribeTasks would say of the tasks created by `now`, those stopped within the guard's window. */
function taskRecords(tasks: readonly TaskState[], now: number): TaskRecord[] {
  const records: TaskRecord[] = [];
  for (let id = tasks.length - 1; id >= 0; id--) {
    const task = tasks[id]!;
    if (task.launchedAt > now) continue;
    const stopped = task.exitedAt !== undefined && task.exitedAt <= now;
    if (stopped && task.exitedAt! < now - HISTORY_WINDOW_SECONDS) break;
    records.push({
      arn: `task-${id}`,
      status: stopped ? 'stopped' : 'running',
      createdAt: task.launchedAt * 1000,
      ...(task.startedAt <= now ? { startedAt: task.startedAt * 1000 } : {}),
      ...(stopped ? { stoppedAt: task.exitedAt! * 1000, stopCode: 'EssentialContainerExited', exitCode: task.exitCode ?? 0 } : {}),
    });
  }
  return records;
}

/** The RunTask calls one run makes, with their offset from the run's start, and only those made in time. */
export function launchCalls(launcher: LaunchStyle, count: number, callSeconds: number): { offsetSeconds: number; count: number }[] {
  if (count <= 0) return [];
  if (launcher.kind === 'rate-planned') {
    return planLaunch(count, launcher.limits).calls
      .filter((call) => call.atMs < launcher.budgetSeconds * 1000)
      .map((call) => ({ offsetSeconds: call.atMs / 1000, count: call.count }));
  }
  const calls: { offsetSeconds: number; count: number }[] = [];
  for (let remaining = count, offset = 0; remaining > 0 && offset < launcher.timeoutSeconds; offset += callSeconds) {
    const size = Math.min(10, remaining);
    calls.push({ offsetSeconds: offset, count: size });
    remaining -= size;
  }
  return calls;
}

/**
 * The best a burst can drain under a cap: wait for the first scheduled run, wait for the tasks to start, then all
 * the tasks the backlog asks for (at most the cap) work at full rate.
 */
export function idealBurstDrainSeconds(files: number, parameters: SimulationParameters): number {
  const tasks = Math.max(1, Math.min(parameters.maxTasks, Math.ceil(files / parameters.messagesPerTask)));
  return parameters.firstTickSeconds + parameters.startLatencySeconds + files / (tasks * parameters.perTaskImagesPerSecond);
}

function validate(parameters: SimulationParameters): void {
  const positive: (keyof SimulationParameters)[] = [
    'scheduleIntervalSeconds',
    'perTaskImagesPerSecond',
    'receiveBatchSize',
    'waitSeconds',
    'idlePolls',
    'sampleEverySeconds',
  ];
  for (const name of positive) {
    if (!(parameters[name] > 0)) throw new RangeError(`${name} must be positive, got ${parameters[name]}`);
  }
}
