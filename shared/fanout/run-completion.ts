import { parseLedgerKey, type RunLayout } from './run-layout';

export interface FamilyProgress {
  readonly family: string;
  readonly dispatched: number;
  /** Batches with a ledger entry (done or failed: the ledger key alone does not say which). */
  readonly settled: number;
}

export interface RunCompletion {
  readonly expected: number;
  readonly settled: number;
  readonly complete: boolean;
  readonly perFamily: readonly FamilyProgress[];
}

/**
 * Pure: how far a run is, from its record and the ledger's keys. Only keys of the run's own families and batch
 * numbers count, so a stray object can never make a run look complete early.
 */
export function runCompletion(run: RunLayout & { readonly families: readonly string[]; readonly batchCount: number }, ledgerKeys: readonly string[]): RunCompletion {
  const settled = new Map(run.families.map((family) => [family, new Set<number>()]));
  for (const key of ledgerKeys) {
    const entry = parseLedgerKey(run, key);
    if (entry === undefined || entry.index >= run.batchCount) continue;
    settled.get(entry.family)?.add(entry.index);
  }
  const perFamily = run.families.map((family) => ({ family, dispatched: run.batchCount, settled: settled.get(family)!.size }));
  const total = perFamily.reduce((sum, family) => sum + family.settled, 0);
  const expected = run.batchCount * run.families.length;
  return { expected, settled: total, complete: total === expected, perFamily };
}
