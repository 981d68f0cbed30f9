import type { SimulationParameters } from '../parameters';
import { simulateFanout, type FamilySpec, type FanoutOutcome, type FanoutRequestCosts, type FanoutRun, type PipelineCaps } from './fanout-simulation';

/**
 * Request round trips around the work: assumed, not measured (tens of milliseconds for a small S3 object or an SQS
 * batch call from a task in the same region). The lanes are the fan-out job's WRITES_AT_ONCE and the aggregate job's
 * READS_AT_ONCE, both 16; a ListObjectsV2 page holds 1,000 keys.
 */
export const DEFAULT_FANOUT_REQUESTS: FanoutRequestCosts = Object.freeze({ s3RequestSeconds: 0.04, sqsSendSeconds: 0.02, lanes: 16, listPageKeys: 1000 });

/**
 * The scaler reads ApproximateNumberOfMessages, which the SQS documentation says may take a minute after the producers
 * stop sending to be consistent. Modelled as a count read a whole minute late: pessimistic, so the results also give
 * the run with exact counts.
 */
export const FANOUT_DEPTH_LAG_SECONDS = 60;

/** The fan-out job's default BATCH_SIZE. */
export const FANOUT_BATCH_SIZE = 50;

/** The fan-out and aggregator pipelines at the stack's defaults (MAX_TASKS 10, MESSAGES_PER_TASK 10), one message at once. */
export const SINGLE_MESSAGE_PIPELINE: PipelineCaps = Object.freeze({ maxTasks: 10, messagesPerTask: 10, concurrency: 1 });

/**
 * Two families as a research team's manifest would meet them: a fast signal-processing pass and a slow model, each
 * capped at 10 tasks of CONCURRENCY 2. MESSAGES_PER_TASK is set to the concurrency: a batch message is 50 files, so
 * the default 10 (sized for one file per message) would start a task for every 10 batches and leave slots unused.
 */
export function twoFamilies(messagesPerTask = 2): FamilySpec[] {
  return [
    { name: 'fast (0.5 s/file)', perFileSeconds: 0.5, maxTasks: 10, concurrency: 2, messagesPerTask },
    { name: 'slow (3 s/file)', perFileSeconds: 3, maxTasks: 10, concurrency: 2, messagesPerTask },
  ];
}

export function fanoutRun(name: string, files: number, families: readonly FamilySpec[], parameters: SimulationParameters): FanoutRun {
  return {
    name,
    files,
    batchSize: FANOUT_BATCH_SIZE,
    families,
    fanout: SINGLE_MESSAGE_PIPELINE,
    aggregator: SINGLE_MESSAGE_PIPELINE,
    requests: DEFAULT_FANOUT_REQUESTS,
    parameters,
    depthLagSeconds: FANOUT_DEPTH_LAG_SECONDS,
  };
}

/** The scenarios: a small and a large run over two families, and the small one at the default MESSAGES_PER_TASK. */
export function standardFanoutScenarios(base: SimulationParameters): FanoutRun[] {
  return [
    fanoutRun('1,000 files x 2 families', 1_000, twoFamilies(), base),
    fanoutRun('20,000 files x 2 families', 20_000, twoFamilies(), base),
    fanoutRun('1,000 files x 2 families, MESSAGES_PER_TASK 10', 1_000, twoFamilies(10), base),
  ];
}

/** The first scheduled run this many seconds after the upload, for a sweep over the schedule's phase. */
export const PHASES_SECONDS: readonly number[] = Object.freeze([0, 15, 30, 45, 60, 75, 90, 105]);

/** One scenario at the bench's phase, over every phase of the two-minute schedule, and with exact queue counts. */
export interface FanoutScenarioResult extends FanoutOutcome {
  /** The same run with the first scheduled run at each phase (seconds after the upload). */
  readonly phases: readonly { readonly firstTickSeconds: number; readonly simulatedSeconds: number; readonly ratio: number }[];
  readonly worstPhaseRatio: number;
  readonly bestPhaseRatio: number;
  /** The same run (bench's phase) with a scaler that reads exact counts. */
  readonly exactCounts: { readonly simulatedSeconds: number; readonly ratio: number };
}

export function runFanoutScenario(run: FanoutRun): FanoutScenarioResult {
  const outcome = simulateFanout(run);
  const phases = PHASES_SECONDS.filter((phase) => phase < run.parameters.scheduleIntervalSeconds).map((firstTickSeconds) => {
    const phased = simulateFanout({ ...run, parameters: { ...run.parameters, firstTickSeconds } });
    return { firstTickSeconds, simulatedSeconds: phased.simulatedSeconds, ratio: phased.ratio };
  });
  const exact = simulateFanout({ ...run, depthLagSeconds: 0 });
  const ratios = phases.map((phase) => phase.ratio);
  return {
    ...outcome,
    phases,
    worstPhaseRatio: Math.max(outcome.ratio, ...ratios),
    bestPhaseRatio: Math.min(outcome.ratio, ...ratios),
    exactCounts: { simulatedSeconds: exact.simulatedSeconds, ratio: exact.ratio },
  };
}

/** What results.json keeps: the scenarios and the assumptions they share. */
export interface FanoutSimulation {
  readonly requests: FanoutRequestCosts;
  readonly depthLagSeconds: number;
  readonly scheduleIntervalSeconds: number;
  readonly startLatencySeconds: number;
  readonly idlePolls: number;
  readonly waitSeconds: number;
  readonly scenarios: readonly FanoutScenarioResult[];
}

export function fanoutSimulation(base: SimulationParameters): FanoutSimulation {
  return {
    requests: DEFAULT_FANOUT_REQUESTS,
    depthLagSeconds: FANOUT_DEPTH_LAG_SECONDS,
    scheduleIntervalSeconds: base.scheduleIntervalSeconds,
    startLatencySeconds: base.startLatencySeconds,
    idlePolls: base.idlePolls,
    waitSeconds: base.waitSeconds,
    scenarios: standardFanoutScenarios(base).map(runFanoutScenario),
  };
}
