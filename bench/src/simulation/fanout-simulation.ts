import type { SimulationParameters } from '../parameters';
import { simulateScaling, WORKER_WORLD, type SimulationResult } from './scaling-simulation';
import { OUR_RULE, type ScalingRule } from './scaling-rules';
import type { Workload } from './workloads';

/**
 * A fan-out run (issue 12) on the scaling simulation: a manifest upload to one aggregated result. Three kinds of
 * pipeline, each the deployed system of `simulateScaling` (its scheduled scaler run, task start latency, long polls,
 * idle exit, caps), linked by the messages one sends to the next:
 *
 *   manifest ──> fan-out pipeline: one task dispatches B = ⌈N / BATCH_SIZE⌉ batch messages to each family's queue
 *            ──> F family pipelines in parallel, each with its own cap, CONCURRENCY and time per batch
 *            ──> the last batch of the last family settles: one aggregate message ──> aggregator pipeline
 *
 * The links only go forward (a family never sends to the fan-out, the aggregator to no one), so the run is simulated
 * pipeline by pipeline: the fan-out's dispatch time is when every family's batches land, the latest family's last batch
 * is when the aggregate message lands. All pipelines share the scaler's schedule (one Lambda run decides for all of
 * them, at the same instants) and its depth lag. Their launches share one run's launch budget in AWS; with at most a
 * few tens of tasks per run that budget never binds, so it is not modelled.
 *
 * Times around the work are the requests the jobs make (app/jobs/fanout/fanout-job.ts, app/src/worker/handle-batch.ts,
 * app/src/fanout/run-ledger.ts, app/jobs/aggregate/aggregate-job.ts), each at an assumed round trip, the parallel
 * ones in the jobs' lanes. A batch takes BATCH_SIZE × the family's time per file (its own reads and writes included)
 * plus its ledger requests; the last, shorter batch of a list that does not divide evenly is counted as a full one,
 * by the simulation and the ideal alike.
 */

/** One analysis family: its own queue, task definition and scaling rule. */
export interface FamilySpec {
  readonly name: string;
  /** Seconds one file takes in this family's container, its S3 reads and writes included. */
  readonly perFileSeconds: number;
  /** MAX_TASKS of the family's pipeline. */
  readonly maxTasks: number;
  /** CONCURRENCY of the family's worker: batch messages one task works at once. */
  readonly concurrency: number;
  /** MESSAGES_PER_TASK of the family's pipeline: the visible batches one new task is started for. */
  readonly messagesPerTask: number;
}

/** The fan-out and aggregator pipelines: each gets one message a run. */
export interface PipelineCaps {
  readonly maxTasks: number;
  readonly messagesPerTask: number;
  readonly concurrency: number;
}

/** The requests around the work. Round trips are assumed, not measured. */
export interface FanoutRequestCosts {
  /** One S3 request (GET, HEAD, PUT, conditional create, a LIST page) of a small object, from a task in the region. */
  readonly s3RequestSeconds: number;
  /** One SendMessageBatch of 10. */
  readonly sqsSendSeconds: number;
  /** S3 requests at once: the fan-out's batch-list writes (WRITES_AT_ONCE) and the aggregator's reads (READS_AT_ONCE). */
  readonly lanes: number;
  /** Keys per ListObjectsV2 page (the completion check lists the run's ledger). */
  readonly listPageKeys: number;
}

export interface FanoutRun {
  readonly name: string;
  readonly files: number;
  /** BATCH_SIZE of the fan-out job. */
  readonly batchSize: number;
  readonly families: readonly FamilySpec[];
  readonly fanout: PipelineCaps;
  readonly aggregator: PipelineCaps;
  readonly requests: FanoutRequestCosts;
  /** What every pipeline shares: the schedule, start latency, WAIT_SECONDS, IDLE_POLLS, RECEIVE_BATCH_SIZE, horizon. */
  readonly parameters: SimulationParameters;
  /** The scaler reads ApproximateNumberOfMessages as it was this long before its run. */
  readonly depthLagSeconds: number;
}

/** SendMessageBatch takes at most 10 messages. */
const SQS_BATCH = 10;

export function batchCount(files: number, batchSize: number): number {
  if (!(Number.isInteger(files) && files >= 1)) throw new RangeError(`files must be a positive integer, got ${files}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  return Math.ceil(files / batchSize);
}

/** Pages of the run's ledger when every batch of every family is settled. */
function ledgerPages(run: FanoutRun): number {
  return Math.ceil((batchCount(run.files, run.batchSize) * run.families.length) / run.requests.listPageKeys);
}

/**
 * The fan-out task's work on the manifest: read it, create the run record, check it is not dispatched, write the
 * batch lists (in lanes), send each family its batches (families at once, each family's SendMessageBatch calls one
 * after another), mark the run dispatched.
 */
export function dispatchSeconds(run: FanoutRun): number {
  const batches = batchCount(run.files, run.batchSize);
  const { s3RequestSeconds, sqsSendSeconds, lanes } = run.requests;
  return s3RequestSeconds * (4 + Math.ceil(batches / lanes)) + sqsSendSeconds * Math.ceil(batches / SQS_BATCH);
}

/**
 * One batch message in a family's task: its files, then the run record, the ledger entry (not settled yet), the batch
 * list, the results, the settlement and the completion check's listing of the ledger.
 */
export function batchSeconds(run: FanoutRun, family: FamilySpec): number {
  return run.batchSize * family.perFileSeconds + run.requests.s3RequestSeconds * (5 + ledgerPages(run));
}

/** The last settlement's trigger: create the trigger object, send the one aggregate message. */
export function triggerSeconds(run: FanoutRun): number {
  return run.requests.s3RequestSeconds + run.requests.sqsSendSeconds;
}

/**
 * The aggregator's work, proportional to B × F reads: is the run aggregated (HEAD), the run record, the ledger's
 * listing, then per batch its list and per family its ledger entry and results (in lanes), then the two summaries and
 * the report.
 */
export function aggregationSeconds(run: FanoutRun): number {
  const batches = batchCount(run.files, run.batchSize);
  const reads = batches * (1 + 2 * run.families.length);
  return run.requests.s3RequestSeconds * (2 + ledgerPages(run) + Math.ceil(reads / run.requests.lanes) + 3);
}

export interface FamilyIdeal {
  readonly name: string;
  readonly batchSeconds: number;
  /** Batches worked at once at the caps: MAX_TASKS × CONCURRENCY. */
  readonly slots: number;
  /** ⌈B / slots⌉. */
  readonly rounds: number;
  readonly seconds: number;
}

/**
 * The lower bound for the caps: dispatch, then every family at its caps from the instant its batches land with no
 * scheduling delay (MAX_TASKS tasks already running, each working CONCURRENCY batches), the families in parallel, so
 * the slowest decides, then the trigger and the aggregation. No scaler run, task start or depth lag is waited for.
 */
export interface FanoutIdeal {
  readonly dispatchSeconds: number;
  readonly families: readonly FamilyIdeal[];
  /** The family the bound waits for. */
  readonly slowestFamily: string;
  readonly familiesSeconds: number;
  readonly triggerSeconds: number;
  readonly aggregationSeconds: number;
  readonly totalSeconds: number;
}

export function idealFanout(run: FanoutRun): FanoutIdeal {
  if (run.families.length === 0) throw new RangeError('a fan-out run needs at least one family');
  const batches = batchCount(run.files, run.batchSize);
  const families = run.families.map((family): FamilyIdeal => {
    const slots = family.maxTasks * family.concurrency;
    const rounds = Math.ceil(batches / slots);
    const perBatch = batchSeconds(run, family);
    return { name: family.name, batchSeconds: perBatch, slots, rounds, seconds: rounds * perBatch };
  });
  const slowest = families.reduce((a, b) => (b.seconds > a.seconds ? b : a));
  const dispatch = dispatchSeconds(run);
  const trigger = triggerSeconds(run);
  const aggregation = aggregationSeconds(run);
  return {
    dispatchSeconds: dispatch,
    families,
    slowestFamily: slowest.name,
    familiesSeconds: slowest.seconds,
    triggerSeconds: trigger,
    aggregationSeconds: aggregation,
    totalSeconds: dispatch + slowest.seconds + trigger + aggregation,
  };
}

/** One pipeline's part of the run, in seconds from the manifest upload. */
export interface PipelineHop {
  readonly pipeline: string;
  readonly kind: 'fan-out' | 'family' | 'aggregator';
  readonly messages: number;
  /** Its messages land in its queue. */
  readonly arrivedAt: number;
  /** The first scheduled scaler run at or after that. */
  readonly firstRunAt: number;
  /** The run that launched its first task (later than firstRunAt when a lagging count hid the messages). */
  readonly launchedAt: number;
  /** Its first task's first receive. */
  readonly firstStartAt: number;
  /** Its last message done. */
  readonly doneAt: number;
  /** Its last task's exit: the pipeline is back at zero. */
  readonly lastExitAt: number;
  readonly tasksLaunched: number;
  readonly peakTasks: number;
  readonly scalerRunsThatLaunched: number;
  /** Sum over its tasks of RunTask to exit. */
  readonly taskSeconds: number;
  /** Of which started with nothing in flight: polls that found nothing and the idle tail before exit. */
  readonly idleTaskSeconds: number;
}

/**
 * Where the time beyond the ideal goes, along the run's critical path (the fan-out, the family whose last batch
 * settles last, the aggregator). The parts add up to simulated - ideal.
 */
export interface FanoutBreakdown {
  /** From messages landing to the next scheduled scaler run. */
  readonly scheduleWaitSeconds: number;
  /** Scheduled runs that saw no messages yet because the count they read lags, until one launched. */
  readonly depthLagSeconds: number;
  /** From the launching run to the first task's first receive: RunTask, provisioning, image pull, start. */
  readonly taskStartSeconds: number;
  /**
   * Work beyond the ideal's: for the critical family, fewer batches at once than MAX_TASKS × CONCURRENCY (a scaler
   * that launches fewer tasks than the cap for the backlog, tasks launched by later runs).
   */
  readonly workBeyondIdealSeconds: number;
}

export interface FanoutOutcome {
  readonly name: string;
  readonly files: number;
  readonly batchSize: number;
  readonly batches: number;
  readonly families: readonly FamilySpec[];
  readonly firstTickSeconds: number;
  readonly depthLagSeconds: number;
  readonly ideal: FanoutIdeal;
  /** Manifest upload to the aggregated result (the run report written). */
  readonly simulatedSeconds: number;
  /** simulated / ideal. */
  readonly ratio: number;
  readonly breakdown: FanoutBreakdown;
  /** The fan-out, then each family, then the aggregator. */
  readonly hops: readonly PipelineHop[];
  /** The family whose last batch settled last. */
  readonly criticalFamily: string;
  readonly lastBatchAt: number;
  /** Aggregate messages the aggregator worked: one per run. */
  readonly aggregations: number;
  /** When the aggregator received the run's aggregate message. */
  readonly aggregationStartedAt: number;
  /** Every pipeline back at zero tasks. */
  readonly scaledToZeroAt: number;
  readonly taskSeconds: number;
  readonly idleTaskSeconds: number;
}

/** The whole run under one scaler rule (the deployed one unless named), at the run's schedule phase and depth lag. */
export function simulateFanout(run: FanoutRun, rule: ScalingRule = OUR_RULE): FanoutOutcome {
  const ideal = idealFanout(run);
  const batches = batchCount(run.files, run.batchSize);
  const pipeline = (
    name: string,
    kind: PipelineHop['kind'],
    arrivedAt: number,
    messages: number,
    caps: Pick<PipelineCaps, 'maxTasks' | 'messagesPerTask' | 'concurrency'>,
    secondsPerMessage: number,
  ): { hop: PipelineHop; result: SimulationResult } => {
    const workload: Workload = { name: `${messages} messages at ${arrivedAt.toFixed(1)} s`, arrivals: [{ atSeconds: arrivedAt, count: messages }], totalFiles: messages };
    const parameters = { ...run.parameters, maxTasks: caps.maxTasks, messagesPerTask: caps.messagesPerTask };
    const result = simulateScaling(workload, rule, parameters, WORKER_WORLD, {
      slots: { concurrency: caps.concurrency, secondsPerMessage },
      depthLagSeconds: run.depthLagSeconds,
    });
    if (result.drainSeconds === undefined) {
      throw new Error(`${run.name}: the ${name} pipeline did not finish its ${messages} messages within the ${run.parameters.horizonSeconds} s horizon`);
    }
    const launchingRun = result.runs?.find((record) => record.launched > 0);
    if (launchingRun === undefined || result.tasks.length === 0) throw new Error(`${run.name}: no scaler run launched a task for the ${name} pipeline`);
    const hop: PipelineHop = {
      pipeline: name,
      kind,
      messages,
      arrivedAt,
      firstRunAt: firstRunAtOrAfter(arrivedAt, run.parameters),
      launchedAt: launchingRun.atSeconds,
      firstStartAt: Math.min(...result.tasks.map((task) => task.startedAt)),
      doneAt: arrivedAt + result.drainSeconds,
      lastExitAt: Math.max(...result.tasks.map((task) => task.exitedAt)),
      tasksLaunched: result.tasksLaunched,
      peakTasks: result.peakTasks,
      scalerRunsThatLaunched: result.launchingRuns,
      taskSeconds: result.taskSeconds,
      idleTaskSeconds: result.idleTaskSeconds ?? 0,
    };
    return { hop, result };
  };

  const fanout = pipeline('fan-out', 'fan-out', 0, 1, run.fanout, ideal.dispatchSeconds);
  const dispatchedAt = fanout.hop.doneAt;
  const families = run.families.map((family, index) =>
    pipeline(family.name, 'family', dispatchedAt, batches, family, ideal.families[index]!.batchSeconds));
  const critical = families.reduce((a, b) => (b.hop.doneAt > a.hop.doneAt ? b : a));
  const lastBatchAt = critical.hop.doneAt;
  const aggregator = pipeline('aggregator', 'aggregator', lastBatchAt + ideal.triggerSeconds, 1, run.aggregator, ideal.aggregationSeconds);
  const aggregatedAt = aggregator.hop.doneAt;

  const path = [fanout.hop, critical.hop, aggregator.hop];
  const sum = (part: (hop: PipelineHop) => number) => path.reduce((total, hop) => total + part(hop), 0);
  const hops = [fanout.hop, ...families.map((family) => family.hop), aggregator.hop];
  const scheduleWaitSeconds = sum((hop) => hop.firstRunAt - hop.arrivedAt);
  const depthLagSeconds = sum((hop) => hop.launchedAt - hop.firstRunAt);
  const taskStartSeconds = sum((hop) => hop.firstStartAt - hop.launchedAt);
  return {
    name: run.name,
    files: run.files,
    batchSize: run.batchSize,
    batches,
    families: run.families,
    firstTickSeconds: run.parameters.firstTickSeconds,
    depthLagSeconds: run.depthLagSeconds,
    ideal,
    simulatedSeconds: aggregatedAt,
    ratio: aggregatedAt / ideal.totalSeconds,
    breakdown: {
      scheduleWaitSeconds: toMs(scheduleWaitSeconds),
      depthLagSeconds: toMs(depthLagSeconds),
      taskStartSeconds: toMs(taskStartSeconds),
      workBeyondIdealSeconds: toMs(aggregatedAt - ideal.totalSeconds - scheduleWaitSeconds - depthLagSeconds - taskStartSeconds),
    },
    hops,
    criticalFamily: critical.hop.pipeline,
    lastBatchAt,
    aggregations: aggregator.result.tasks.reduce((total, task) => total + task.processed, 0),
    aggregationStartedAt: aggregatedAt - ideal.aggregationSeconds,
    scaledToZeroAt: Math.max(...hops.map((hop) => hop.lastExitAt)),
    taskSeconds: hops.reduce((total, hop) => total + hop.taskSeconds, 0),
    idleTaskSeconds: hops.reduce((total, hop) => total + hop.idleTaskSeconds, 0),
  };
}

/** Sums of float times leave residues like 1e-12: the breakdown is kept to the millisecond. */
function toMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** The scheduled scaler runs fall at firstTickSeconds + k × scheduleIntervalSeconds. */
export function firstRunAtOrAfter(time: number, parameters: Pick<SimulationParameters, 'firstTickSeconds' | 'scheduleIntervalSeconds'>): number {
  const { firstTickSeconds: first, scheduleIntervalSeconds: interval } = parameters;
  if (time <= first) return first;
  return first + Math.ceil((time - first) / interval - 1e-9) * interval;
}
