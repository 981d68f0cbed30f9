import { formatMemory } from './chaos-report';
import { FAULT_KINDS, S3_OPERATIONS } from './fault-proxy';
import { FANOUT_GROUP, type FanoutChaosResult, type FanoutKillKind } from './fanout-chaos';

const KILL_KINDS: readonly FanoutKillKind[] = ['random', 'mid-dispatch', 'results-before-ledger', 'trigger-before-request', 'mid-aggregation', 'poisoned-batch'];

/** The human report of a fan-out chaos run: the runs, what was done to the pipelines, what came out, every broken invariant. */
export function formatFanoutReport(title: string, result: FanoutChaosResult): string {
  const { report, faults } = result;
  const c = report.counts;
  const injected = FAULT_KINDS.reduce((sum, kind) => sum + faults.faults[kind], 0);
  const killsOf = (kind: FanoutKillKind) => result.kills.filter((kill) => kill.kind === kind);
  const workersKilledIn = (pipeline: string) => result.kills.filter((kill) => kill.pipeline.split('+').includes(pipeline)).reduce((sum, kill) => sum + (kill.kind === 'random' ? 1 : kill.workers), 0);
  const repeats = result.repeats;
  const lines = [
    `== ${title} ==`,
    `runs: ${c.runs} (${result.runs.map((run) => `${run.name}: ${run.kind}, ${run.files} files, ${run.batches} batches, dispatched by ${c.dispatchingDeliveries[run.name] ?? 0} deliveries` +
      `${run.dispatchInterrupted ? ' (one cut short by a kill)' : ''}${run.runSeconds !== undefined ? `, ${run.runSeconds} s` : ''}`).join('; ')}); ${c.badManifests} bad manifests`,
    `files: ${c.goodFiles + c.brokenFiles} in the manifests (${c.goodFiles} good, ${c.brokenFiles} broken WAVs), ${c.files} summary rows, lost ${c.lost}; ` +
      `${c.batches} batch settlements expected, ${c.failedBatches} failed batches; ` +
      `${c.finishedWorkDeadLettered} dead letters of finished work`,
    `dispatch: ${c.batchMessages} batch messages to the families (${c.duplicateBatchMessages} beyond one per batch); the redelivered manifest's ` +
      `${result.lateRedelivery.queued ? '3 deliveries' : '2 deliveries (the third never queued)'}: ${c.dispatchingDeliveries[result.redeliveredRun] ?? 0} dispatched its run, ` +
      `${result.lateRedelivery.skipped} found it dispatched and sent nothing`,
    `aggregation: ${c.reportsCreated} report.json and ${c.triggersCreated} aggregate.json created, ${c.aggregatedLines} "aggregated" lines; ` +
      `triggers ${Object.entries(repeats.triggerOutcomes).map(([outcome, count]) => `${outcome} ${count}`).join(', ') || 'none'}; ${repeats.aggregationsSkipped} aggregations skipped as done`,
    `faults injected: ${injected} of ${faults.requests} S3 requests (${FAULT_KINDS.map((kind) => `${kind} ${faults.faults[kind]}`).join(', ')})`,
    `faults by call (faults/requests): ${S3_OPERATIONS.filter((op) => faults.byOperation[op].requests > 0).map((op) => `${op} ${faults.byOperation[op].faults}/${faults.byOperation[op].requests}`).join(', ')}`,
    `kills: ${KILL_KINDS.map((kind) => `${kind} ${killsOf(kind).length}${killsOf(kind).some((kill) => kill.landed !== undefined) ? ` (${killsOf(kind).filter((kill) => kill.landed === true).length} landed)` : ''}`).join(', ')}; ` +
      `${result.pipelineKills} whole-pipeline SIGKILL + restart`,
    `workers: ${FANOUT_GROUP.map((pipeline) => `${pipeline} ${result.workersStarted[pipeline] ?? 0} started, ${workersKilledIn(pipeline)} SIGKILLed`).join('; ')}`,
    `at-least-once: ${repeats.redeliveries} redeliveries, ${repeats.batchesAlreadySettled} batch messages found their batch already settled`,
  ];
  if (result.outage !== undefined) {
    const o = result.outage;
    lines.push(`outage: ${o.seconds} s (${o.mode}) from ${Math.round(o.atFraction * 100)}% of the batches settled, ${faults.outage['slow-down-503']} requests answered 503 SlowDown and ` +
      `${faults.outage['connection-reset']} reset; ${repeats.outageReleases} batch or aggregation attempts failed and released meanwhile (a receive spent each); ` +
      `work resumed ${o.recoverySeconds ?? '?'} s after it ended`);
  }
  if (result.memory.length > 0) lines.push(`memory (one cgroup per worker process): ${c.oomKills} OOM kills; ${formatMemory(result.memory)}`);
  lines.push(`logs: ${result.logLineCount} lines checked, ${result.logLeaks.length} leaks`, `duration: ${result.durationSeconds} s`);
  const problems = [...report.violations, ...result.logLeaks];
  lines.push(problems.length === 0 ? 'invariants: all hold' : `invariants: ${problems.length} BROKEN`);
  lines.push(...problems.slice(0, 50).map((problem) => `  - ${problem}`));
  if (problems.length > 50) lines.push(`  ... and ${problems.length - 50} more`);
  return lines.join('\n');
}

/**
 * Checks that the run did what it claims, beside the invariants: every pipeline's workers SIGKILLed, each targeted kill
 * landed in its window at least once (the key it must precede was first written after it), the poisoned batches'
 * receivers killed, faults on GETs, PUTs and HEADs, the redelivered manifest's late delivery skipped.
 */
export function fanoutProblems(result: FanoutChaosResult, planned: { windowKills: number; triggerKills: number; aggregatorKills: number; dispatchKills: number; poisonedBatches: number }): string[] {
  const problems: string[] = [];
  for (const pipeline of FANOUT_GROUP) {
    if (!result.kills.some((kill) => kill.pipeline.split('+').includes(pipeline) && (kill.kind === 'random' || kill.workers > 0))) problems.push(`no ${pipeline} worker was SIGKILLed`);
  }
  const wanted: [FanoutKillKind, number][] = [['results-before-ledger', planned.windowKills], ['trigger-before-request', planned.triggerKills], ['mid-aggregation', planned.aggregatorKills], ['mid-dispatch', planned.dispatchKills]];
  for (const [kind, count] of wanted) {
    if (count > 0 && !result.kills.some((kill) => kill.kind === kind && kill.landed === true)) problems.push(`no ${kind} SIGKILL landed in its window`);
  }
  if (planned.poisonedBatches > 0 && !result.kills.some((kill) => kill.kind === 'poisoned-batch')) problems.push('no worker that received a poisoned batch was SIGKILLed');
  for (const call of ['GET', 'PUT', 'HEAD'] as const) {
    if (result.faults.byOperation[call].requests === 0) problems.push(`no ${call} call was made`);
    else if (result.faults.byOperation[call].faults === 0 && Object.values(result.faults.faults).some((count) => count > 0)) problems.push(`no fault hit a ${call} call`);
  }
  if (!result.lateRedelivery.queued) problems.push('the redelivered manifest was never delivered after its dispatch');
  else if (result.lateRedelivery.skipped === 0) problems.push('the redelivered manifest\'s late delivery was not skipped as already dispatched');
  return problems;
}
