import { FAULT_KINDS } from './fault-proxy';
import type { ChaosResult, WorkerResources } from './chaos-run';

const MiB = 1024 * 1024;

/** The human report a chaos run prints: what was done to the pipeline, what came out, and every broken invariant. */
export function formatChaosReport(title: string, result: ChaosResult): string {
  const { report, faults, actions } = result;
  const c = report.counts;
  const injected = FAULT_KINDS.reduce((sum, kind) => sum + faults.faults[kind], 0);
  const lines = [
    `== ${title} ==`,
    `inputs: ${c.inputs} (expected ${c.expected.processed} processed, ${c.expected.skipped} skipped, ${c.expected.dlq} dead-lettered)`,
    `outcome: ${c.outputs} outputs, ${c.deadLetters} dead letters, lost ${c.lost}`,
    `faults injected: ${injected} of ${faults.requests} S3 requests (${FAULT_KINDS.map((kind) => `${kind} ${faults.faults[kind]}`).join(', ')}); ${faults.held} held by brown-outs during SIGTERMs`,
    `chaos: ${actions.sigkills} workers SIGKILLed, ${actions.sigterms} SIGTERMed (${actions.sigtermsWithReleases} handed back unfinished work), ` +
      `${actions.pipelineKills} whole-pipeline SIGKILL + restart, ${actions.workersStarted} workers started`,
    `at-least-once: ${c.redeliveries} redeliveries, ${c.repeatedWork} images processed again, ${c.idempotentSkips} redeliveries skipped as already done`,
    `logs: ${result.logLineCount} lines checked, ${result.logLeaks.length} leaks`,
    `duration: ${result.durationSeconds} s`,
  ];
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
