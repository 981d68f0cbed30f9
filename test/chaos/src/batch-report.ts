import { FAULT_KINDS } from './fault-proxy';
import type { BatchChaosResult, BatchKillKind } from './batch-chaos';
import { STORE_FAULT_KINDS, STORE_OPERATIONS } from './store-fault-proxy';

const KILL_KINDS: readonly BatchKillKind[] = ['random', 'before-write', 'after-write', 'discovery'];

/** The human report of a batch chaos run: the records, what was done to the run, what came out, every broken invariant. */
export function formatBatchReport(title: string, result: BatchChaosResult): string {
  const { report, s3Faults, storeFaults, discovery, workerLines } = result;
  const c = report.counts;
  const s3Injected = FAULT_KINDS.reduce((sum, kind) => sum + s3Faults.faults[kind], 0);
  const storeInjected = STORE_FAULT_KINDS.reduce((sum, kind) => sum + storeFaults.faults[kind], 0);
  const killsOf = (kind: BatchKillKind) => result.kills.filter((kill) => kill.kind === kind).length;
  const lines = [
    `== ${title} ==`,
    `records: ${c.records} (${c.valid} valid, ${c.broken} broken files, ${c.missingInput} inputs never uploaded); scored ${c.scored}; ` +
      `dead-lettered ${c.unscoredDeadLettered} records (${Object.entries(c.deadLetteredRecords).map(([reason, count]) => `${reason} ${count}`).join(', ') || 'none'}) in ${c.deadLetters} dead letters; lost ${c.lost}`,
    `at-least-once: ${c.duplicatesScored} records scored more than once (${c.scoringsApplied} scorings applied for ${c.scored} results), ` +
      `${workerLines.skipped} records skipped as already scored, ${workerLines.redeliveries} redeliveries; ` +
      `${c.finishedWorkDeadLettered} dead letters of scored records; ${c.transientExhaustion.length} valid records dead-lettered after transient failures` +
      `${c.transientExhaustion.length > 0 ? ` (${c.transientExhaustion.map((entry) => `${entry.id}: ${entry.reasons}`).join('; ')})` : ''}`,
    `discovery: ${discovery.killed ? `SIGKILLed after sending ${discovery.sentBeforeKill} records, rerun started after ${discovery.rerunStartedAfter ?? 'the beginning'}` : 'not killed'}` +
      `${discovery.rerunEnqueued !== undefined ? ` and enqueued ${discovery.rerunEnqueued}` : ''}; ${c.messagesSent} messages sent, ${c.sentTwice} records sent twice`,
    `workers: ${result.workersStarted} started; ${workerLines.batches} batches logged (${workerLines.scored} scored, ${workerLines.skipped} skipped, ${workerLines.failed} failed); ` +
      `retried: ${Object.entries(workerLines.retriedByReason).map(([reason, count]) => `${reason} ${count}`).join(', ') || 'none'}`,
    `kills: ${KILL_KINDS.map((kind) => `${kind} ${killsOf(kind)}`).join(', ')}`,
    `S3 faults injected: ${s3Injected} of ${s3Faults.requests} requests (${FAULT_KINDS.map((kind) => `${kind} ${s3Faults.faults[kind]}`).join(', ')})`,
    `store faults injected: ${storeInjected} of ${storeFaults.requests} requests (${STORE_FAULT_KINDS.map((kind) => `${kind} ${storeFaults.faults[kind]}`).join(', ')}); ` +
      `by call ${STORE_OPERATIONS.map((op) => `${op} ${storeFaults.byOperation[op].faults}/${storeFaults.byOperation[op].requests}`).join(', ')}; ` +
      `aimed: ${storeFaults.intercepted.beforeForward} writes cut before the store, ${storeFaults.intercepted.afterApplied} applied and unanswered`,
  ];
  if (result.storeOutage !== undefined) {
    const o = result.storeOutage;
    lines.push(`store outage: ${o.seconds} s (${o.mode}) at ${Math.round(o.atFraction * 100)}% scored; ${storeFaults.outage['internal-error-500']} requests answered 500, ` +
      `${storeFaults.outage['connection-reset']} reset, ${storeFaults.outage['throughput-exceeded-400']} throttled; results written again ${o.recoverySeconds ?? '?'} s after it ended`);
  }
  lines.push(`model: ${result.shippedModelVersion}; logs: ${result.logLineCount} lines checked, ${result.logLeaks.length} leaks; duration: ${result.durationSeconds} s`);
  const problems = [...report.violations, ...result.logLeaks];
  lines.push(problems.length === 0 ? 'invariants: all hold' : `invariants: ${problems.length} BROKEN`);
  lines.push(...problems.slice(0, 50).map((problem) => `  - ${problem}`));
  if (problems.length > 50) lines.push(`  ... and ${problems.length - 50} more`);
  return lines.join('\n');
}

/** Whether the run did what it claims beside the invariants: the kills it planned, faults of every kind on S3 and the store. */
export function batchProblems(result: BatchChaosResult, planned: { sigkills: number; beforeWriteKills: number; afterWriteKills: number; discoveryKill: boolean }): string[] {
  const problems: string[] = [];
  const count = (kind: BatchKillKind) => result.kills.filter((kill) => kill.kind === kind).length;
  if (count('random') < planned.sigkills) problems.push(`${count('random')} random SIGKILLs of ${planned.sigkills} planned`);
  if (count('before-write') < planned.beforeWriteKills) problems.push(`${count('before-write')} before-write SIGKILLs of ${planned.beforeWriteKills} planned`);
  if (count('after-write') < planned.afterWriteKills) problems.push(`${count('after-write')} after-write SIGKILLs of ${planned.afterWriteKills} planned`);
  if (planned.discoveryKill && count('discovery') === 0) problems.push('discovery finished before it could be SIGKILLed');
  // S3: a 5xx (503 SlowDown or 500), a reset, a slow answer (each a download timeout).
  const s3 = result.s3Faults.faults;
  if (s3['slow-down-503'] + s3['internal-error-500'] === 0) problems.push('no S3 5xx fault was injected');
  if (s3['connection-reset'] === 0) problems.push('no S3 connection was reset');
  if (s3['slow-response'] === 0) problems.push('no S3 answer was slowed past DOWNLOAD_TIMEOUT_MS');
  for (const kind of STORE_FAULT_KINDS) if (result.storeFaults.faults[kind] === 0) problems.push(`no store ${kind} fault was injected`);
  return problems;
}
