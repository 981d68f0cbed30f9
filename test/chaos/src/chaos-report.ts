import { FAULT_KINDS, S3_OPERATIONS, type S3Operation } from './fault-proxy';
import type { WorkerMemory } from './invariants';
import type { ChaosResult, WorkerResources } from './chaos-run';

const MiB = 1024 * 1024;

/** The human report a chaos run prints: what was done to the pipeline, what came out, and every broken invariant. */
export function formatChaosReport(title: string, result: ChaosResult): string {
  const { report, faults, actions } = result;
  const c = report.counts;
  const injected = FAULT_KINDS.reduce((sum, kind) => sum + faults.faults[kind], 0);
  const classes = Object.entries(c.byClass).map(([name, count]) => `${name} ${count}`).join(', ');
  const lines = [
    `== ${title} ==`,
    `inputs: ${c.inputs} (expected ${c.expected.processed} processed, ${c.expected.skipped} skipped, ${c.expected.dlq} dead-lettered)`,
    `classes: ${classes}`,
    `outcome: ${c.outputs} outputs, ${c.deadLetters} dead letters, lost ${c.lost}, stale outputs ${c.stale}`,
    `faults injected: ${injected} of ${faults.requests} S3 requests (${FAULT_KINDS.map((kind) => `${kind} ${faults.faults[kind]}`).join(', ')}); ${faults.held} held by brown-outs during SIGTERMs`,
    `faults by call (faults/requests): ${S3_OPERATIONS.filter((op) => faults.byOperation[op].requests > 0).map((op) => `${op} ${faults.byOperation[op].faults}/${faults.byOperation[op].requests}`).join(', ')}` +
      `${faults.abortsAnswered > 0 ? `; ${faults.abortsAnswered} failed multipart uploads aborted (answered by the proxy as S3 would: s3rver cannot)` : ''}`,
    `chaos: ${actions.sigkills} workers SIGKILLed, ${actions.sigterms} SIGTERMed mid-batch and ${actions.renderSigterms} during a long render ` +
      `(${actions.sigtermsWithReleases} handed back unfinished work${c.sigtermExits > 0 ? `, slowest exit ${(c.slowestSigtermExitMs / 1000).toFixed(1)} s` : ''}), ` +
      `${actions.pipelineKills} whole-pipeline SIGKILL + restart, ${actions.workersStarted} workers started`,
    `at-least-once: ${c.redeliveries} redeliveries, ${c.repeatedWork} ${result.job === 'command' ? 'files' : 'images'} processed again, ${c.idempotentSkips} redeliveries skipped as already done`,
  ];
  if (result.outage !== undefined) {
    const o = result.outage;
    lines.push(
      `outage: ${o.seconds} s (${o.mode}) from ${Math.round(o.atFraction * 100)}% done, ${faults.outage['slow-down-503']} requests answered 503 SlowDown and ` +
        `${faults.outage['connection-reset']} reset; ${c.outageGateOpenings} worker outage gates opened; work resumed ${o.recoverySeconds ?? '?'} s after it ended`,
    );
  }
  if (actions.overwrites > 0 || c.sourceChangedReprocessings > 0) {
    lines.push(`overwrites: ${actions.overwrites} keys overwritten during the run, ${c.sourceChangedReprocessings} times a worker found its source changed after writing and redid it`);
  }
  if (result.command !== undefined) {
    const k = result.command;
    lines.push(
      `command job: ${k.sigkillsMidProgram} of ${actions.sigkills} SIGKILLs landed mid-program (${k.programsOrphaned} program processes orphaned), ` +
        `${k.sigtermsMidProgram} of ${actions.sigterms} SIGTERMs (${k.programsStopped} programs stopped by the forwarded SIGTERM and released), ` +
        `${k.sweeps} worker starts swept directories of killed workers; left after the run: ${k.workDirsLeft.length} work directories, ${k.programsLeft.length} programs`,
    );
  }
  if (result.decodeHeavyEstimates.length > 0) {
    const estimates = result.decodeHeavyEstimates;
    const top4 = [...estimates].sort((a, b) => b - a).slice(0, 4).reduce((sum, bytes) => sum + bytes, 0);
    lines.push(`decode-heavy: ${estimates.length} images, estimated decode ${(Math.min(...estimates) / MiB).toFixed(0)}-${(Math.max(...estimates) / MiB).toFixed(0)} MiB each, the 4 largest together ${(top4 / MiB).toFixed(0)} MiB`);
  }
  if (result.memory.length > 0) {
    lines.push(`memory (one cgroup per worker process): ${c.oomKills} OOM kills; ${formatMemory(result.memory)}`);
  }
  lines.push(`logs: ${result.logLineCount} lines checked, ${result.logLeaks.length} leaks`, `duration: ${result.durationSeconds} s`);
  if (result.resources.length > 0) {
    lines.push('workers (peak RSS first quarter -> last quarter, open fds first -> last):');
    lines.push(...result.resources.map(formatResources));
    lines.push(`temp files left: ${result.tempFilesLeft.length}`);
  }
  const problems = [...report.violations, ...result.logLeaks];
  lines.push(problems.length === 0 ? 'invariants: all hold' : `invariants: ${problems.length} BROKEN`);
  lines.push(...problems.slice(0, 50).map((problem) => `  - ${problem}`));
  if (problems.length > 50) lines.push(`  ... and ${problems.length - 50} more`);
  return lines.join('\n');
}

export function formatMemory(memory: readonly WorkerMemory[]): string {
  const peaks = memory.map((m) => m.peakBytes);
  const heaviest = memory.reduce((a, b) => (b.peakBytes > a.peakBytes ? b : a));
  return `${memory.length} workers, limit ${(heaviest.limitBytes / MiB).toFixed(0)} MiB each, peak ${(Math.min(...peaks) / MiB).toFixed(0)}-${(heaviest.peakBytes / MiB).toFixed(0)} MiB ` +
    `(highest: worker ${heaviest.worker})`;
}

/** Every worker's peak, for the notes of a full run. */
export function memoryTable(memory: readonly WorkerMemory[]): string[] {
  return memory.map((m) => `  worker ${m.worker}: peak ${(m.peakBytes / MiB).toFixed(0)} MiB of ${(m.limitBytes / MiB).toFixed(0)} MiB, OOM kills ${m.oomKills}`);
}

function formatResources(r: WorkerResources): string {
  const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
  return `  pid ${r.pid}: ${mib(r.firstQuarterPeakRssBytes)} -> ${mib(r.lastQuarterPeakRssBytes)}, fds ${r.firstQuarterMaxFds} -> ${r.lastQuarterMaxFds} (${r.samples} samples)`;
}

/** Load-run checks: RSS flat (last-quarter peak within 25% + 16 MiB of the first), descriptors not growing, no temp files. */
export function resourceProblems(result: ChaosResult): string[] {
  const problems: string[] = [];
  for (const r of result.resources) {
    if (r.lastQuarterPeakRssBytes > r.firstQuarterPeakRssBytes * 1.25 + 16 * MiB) {
      problems.push(`worker ${r.pid}: peak RSS grew from ${(r.firstQuarterPeakRssBytes / MiB).toFixed(1)} to ${(r.lastQuarterPeakRssBytes / MiB).toFixed(1)} MiB`);
    }
    if (r.lastQuarterMaxFds > r.firstQuarterMaxFds + 8) problems.push(`worker ${r.pid}: open fds grew from ${r.firstQuarterMaxFds} to ${r.lastQuarterMaxFds}`);
  }
  if (result.tempFilesLeft.length > 0) problems.push(`temp files left behind: ${result.tempFilesLeft.slice(0, 5).join(', ')}`);
  return problems;
}

/**
 * Command-run checks that the run did what it claims: SIGKILLs that caught a program running, and faults on every kind
 * of S3 call the job makes (GET, PUT, HEAD, and multipart when large files went up in parts).
 */
export function commandProblems(result: ChaosResult): string[] {
  const problems: string[] = [];
  const k = result.command;
  if (k === undefined) return ['not a command-job run'];
  if (result.actions.sigkills > 0 && k.sigkillsMidProgram === 0) problems.push('no SIGKILL caught a worker while a program ran');
  const { byOperation } = result.faults;
  const calls: S3Operation[] = ['GET', 'PUT', 'HEAD', ...((result.report.counts.byClass['large-multipart'] ?? 0) > 0 ? ['multipart' as const] : [])];
  for (const call of calls) {
    if (byOperation[call].requests === 0) problems.push(`no ${call} call was made`);
    else if (byOperation[call].faults === 0 && Object.values(result.faults.faults).some((count) => count > 0)) problems.push(`no fault hit a ${call} call`);
  }
  return problems;
}
