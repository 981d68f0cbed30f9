import type { FanoutScenarioResult, FanoutSimulation } from '../simulation/fanout-scenarios';
import { TARGETS, type TargetCheck } from '../targets';
import { duration, fixed, markdownTable } from './markdown-table';

/** The fan-out section of the summary (issue 12): time to the aggregated result against the ideal for the caps. */
export function fanoutText(fanout: FanoutSimulation | undefined): string {
  if (fanout === undefined) return 'Not simulated in this run (`npm run bench -- --only fanout` adds it).';
  const { requests } = fanout;
  const intro =
    'A manifest upload to one aggregated result, on the same simulation: the fan-out pipeline (one task dispatches ' +
    'B = ⌈N / 50⌉ batch messages to each family\'s queue), each family its own pipeline with its own MAX_TASKS, ' +
    'CONCURRENCY (batches one task works at once) and time per file, and, once the last batch of the last family ' +
    'settles, one aggregate message to the aggregator pipeline. Every pipeline waits for the scheduled scaler run ' +
    `(every ${fanout.scheduleIntervalSeconds} s, deciding with \`decideScaling\`), a ${fanout.startLatencySeconds} s task start, ` +
    `and exits after IDLE_POLLS ${fanout.idlePolls} x ${fanout.waitSeconds} s. The scaler reads the queue's count ` +
    `${fanout.depthLagSeconds} s late (SQS: the counts may take a minute to be consistent; pessimistic, so the run with exact ` +
    'counts is given too). The fan-out and aggregator pipelines are at the stack\'s defaults; MESSAGES_PER_TASK of the ' +
    'families is their CONCURRENCY unless named. **Ideal for the caps**: dispatch + the slowest family\'s ' +
    '⌈B / (MAX_TASKS x CONCURRENCY)⌉ rounds of a batch, with no scheduling delay + the trigger + the aggregation. A batch ' +
    'is 50 x the time per file plus its ledger requests; dispatch and aggregation are the jobs\' S3 and SQS requests ' +
    `(**assumed** ${fixed(requests.s3RequestSeconds * 1000, 0)} ms per S3 request, ${fixed(requests.sqsSendSeconds * 1000, 0)} ms ` +
    `per SendMessageBatch, ${requests.lanes} at once where the jobs run them in parallel). Simulated at the bench's phase ` +
    '(first scaler run 60 s after the upload) and at 8 phases 15 s apart.';
  const summary = markdownTable(
    ['scenario', 'families (time per file, MAX_TASKS x CONCURRENCY)', 'batches', 'ideal', 'simulated', 'simulated / ideal', 'over the phases', 'exact counts'],
    fanout.scenarios.map((scenario) => [
      scenario.name,
      scenario.families.map((family) => `${family.name}: ${family.maxTasks} x ${family.concurrency}`).join('; '),
      `${scenario.batches} x ${scenario.families.length}`,
      duration(scenario.ideal.totalSeconds),
      duration(scenario.simulatedSeconds),
      `${fixed(scenario.ratio, 2)}x`,
      `${fixed(scenario.bestPhaseRatio, 2)}-${fixed(scenario.worstPhaseRatio, 2)}x`,
      `${duration(scenario.exactCounts.simulatedSeconds)} (${fixed(scenario.exactCounts.ratio, 2)}x)`,
    ]),
  );
  const breakdown = markdownTable(
    ['scenario', 'beyond the ideal', 'waiting for a scheduled run', 'runs missed to the lagging count', 'task starts', 'family work beyond the caps\' rounds', 'idle task time (off the path)', 'task hours', 'all back at zero'],
    fanout.scenarios.map((scenario) => [
      scenario.name,
      duration(scenario.simulatedSeconds - scenario.ideal.totalSeconds),
      duration(scenario.breakdown.scheduleWaitSeconds),
      duration(scenario.breakdown.depthLagSeconds),
      duration(scenario.breakdown.taskStartSeconds),
      duration(scenario.breakdown.workBeyondIdealSeconds),
      duration(scenario.idleTaskSeconds),
      fixed(scenario.taskSeconds / 3600, 2),
      duration(scenario.scaledToZeroAt),
    ]),
  );
  const hops = markdownTable(
    ['scenario', 'pipeline', 'messages', 'land', 'first run', 'launching run', 'first task working', 'last done', 'tasks (peak)'],
    fanout.scenarios.flatMap((scenario) =>
      scenario.hops.map((hop) => [
        scenario.name,
        hop.pipeline + (hop.pipeline === scenario.criticalFamily ? ' (last)' : ''),
        String(hop.messages),
        seconds(hop.arrivedAt),
        seconds(hop.firstRunAt),
        seconds(hop.launchedAt),
        seconds(hop.firstStartAt),
        seconds(hop.doneAt),
        `${hop.tasksLaunched} (${hop.peakTasks})`,
      ]),
    ),
  );
  return `${intro}

${summary}

Where the time beyond the ideal goes, along the critical path (the fan-out, the family whose last batch settles last,
the aggregator); idle task time (tasks polling with nothing in flight, and their idle tails) costs money but delays
nothing, since the aggregate message goes out when the last batch settles, not when tasks exit:

${breakdown}

Each pipeline's part, in seconds from the upload, at the bench's phase:

${hops}

${aggregationsLine(fanout.scenarios)}`;
}

function aggregationsLine(scenarios: readonly FanoutScenarioResult[]): string {
  const once = scenarios.every((scenario) => scenario.aggregations === 1 && scenario.aggregationStartedAt > scenario.lastBatchAt);
  return once
    ? 'Every run was aggregated exactly once, after the last batch of its last family.'
    : `**Aggregation not once or early**: ${scenarios.map((scenario) => `${scenario.name}: ${scenario.aggregations}`).join(', ')}.`;
}

function seconds(value: number): string {
  return `${value.toFixed(0)} s`;
}

/** Issue 12's target: the large run within TARGETS.fanoutLargeOverIdeal of the ideal at every phase of the schedule. */
export function fanoutTarget(fanout: FanoutSimulation | undefined): TargetCheck {
  const large = fanout?.scenarios.reduce<FanoutScenarioResult | undefined>((largest, scenario) => (largest === undefined || scenario.files > largest.files ? scenario : largest), undefined);
  const target =
    `fan-out run${large ? ` (${large.name})` : ''}: manifest upload to aggregated result <= ${TARGETS.fanoutLargeOverIdeal}x the ideal for the caps, ` +
    'at every phase of the schedule, aggregated once';
  if (large === undefined) return { target, measured: 'n/a', holds: undefined };
  const once = large.aggregations === 1 && large.aggregationStartedAt > large.lastBatchAt;
  return {
    target,
    measured:
      `${fixed(large.worstPhaseRatio, 2)}x at the worst phase, ${fixed(large.ratio, 2)}x at the bench's ` +
      `(${duration(large.simulatedSeconds)} vs ${duration(large.ideal.totalSeconds)}); ${fixed(large.exactCounts.ratio, 2)}x with exact counts`,
    holds: large.worstPhaseRatio <= TARGETS.fanoutLargeOverIdeal && once,
    ...(once ? {} : { note: `aggregated ${large.aggregations} times` }),
  };
}
