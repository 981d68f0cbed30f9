/**
 * Where a fan-out run keeps everything, under the fan-out pipeline's destination prefix (`root`, e.g. `runs/`), in the
 * destination bucket. One layout for the fan-out job, the families, the aggregator, the status command and the infra's
 * IAM patterns, so none of them guesses another's keys.
 *
 * ```
 * <root><runId>/keys.json                     a prefix manifest's listing, frozen once so every attempt batches alike
 * <root><runId>/run.json                      the run record, created once (If-None-Match: *)
 * <root><runId>/batches/000000.json           each batch's list of source keys
 * <root><runId>/dispatched.json               created once every batch message was sent
 * <root><runId>/results/<family>/000000.json  a family's per-file results for one batch, created once
 * <root><runId>/results/<family>/000000.checkpoint.json  the files an unfinished attempt completed
 * <root><runId>/files/<family>/<source key>/… the files a family's program wrote for one source file
 * <root><runId>/ledger/<family>/000000.json   the batch's terminal state for that family, created once
 * <root><runId>/aggregate.json                the aggregation trigger, created once
 * <root><runId>/summary.csv, summary.json     the aggregator's merge, one row per file
 * <root><runId>/report.json                   the run report, created once: its existence means "aggregated"
 * ```
 */
export interface RunLayout {
  readonly root: string;
  readonly runId: string;
}

/** Zero-padded so the batches list in order; six digits hold a million-key manifest in batches of one. */
export function batchName(index: number): string {
  return `${String(index).padStart(6, '0')}.json`;
}

/** The batch number a ledger or batch key ends with, or undefined for any other key. */
export function batchIndexOf(key: string): number | undefined {
  const match = /\/(\d{6,})\.json$/.exec(key);
  return match === null ? undefined : Number(match[1]);
}

export function runPrefix(run: RunLayout): string {
  return `${run.root}${run.runId}/`;
}

export const keysKey = (run: RunLayout) => `${runPrefix(run)}keys.json`;
export const runRecordKey = (run: RunLayout) => `${runPrefix(run)}run.json`;
export const batchKey = (run: RunLayout, index: number) => `${runPrefix(run)}batches/${batchName(index)}`;
export const dispatchedKey = (run: RunLayout) => `${runPrefix(run)}dispatched.json`;
export const resultsKey = (run: RunLayout, family: string, index: number) => `${runPrefix(run)}results/${family}/${batchName(index)}`;
/** Files an unfinished attempt completed, for the next attempt to start from; never read by the aggregator. */
export const checkpointKey = (run: RunLayout, family: string, index: number) => `${runPrefix(run)}results/${family}/${String(index).padStart(6, '0')}.checkpoint.json`;
export const familyFilesPrefix = (run: RunLayout, family: string) => `${runPrefix(run)}files/${family}/`;
export const ledgerPrefix = (run: RunLayout) => `${runPrefix(run)}ledger/`;
export const ledgerKey = (run: RunLayout, family: string, index: number) => `${ledgerPrefix(run)}${family}/${batchName(index)}`;
export const triggerKey = (run: RunLayout) => `${runPrefix(run)}aggregate.json`;
export const summaryCsvKey = (run: RunLayout) => `${runPrefix(run)}summary.csv`;
export const summaryJsonKey = (run: RunLayout) => `${runPrefix(run)}summary.json`;
export const reportKey = (run: RunLayout) => `${runPrefix(run)}report.json`;

/** A ledger key's family and batch, or undefined when the key is not one. */
export function parseLedgerKey(run: RunLayout, key: string): { family: string; index: number } | undefined {
  const prefix = ledgerPrefix(run);
  if (!key.startsWith(prefix)) return undefined;
  const match = /^([a-z][a-z0-9-]*)\/(\d{6,})\.json$/.exec(key.slice(prefix.length));
  return match === null ? undefined : { family: match[1]!, index: Number(match[2]) };
}

/**
 * The IAM resource patterns (after `arn:aws:s3:::<bucket>/`) each role may write, for the infra and the local
 * policy. `*` in IAM spans `/`, so `<root>*` covers every run.
 */
export const writablePatterns = {
  fanout: (root: string) => [`${root}*/keys.json`, `${root}*/run.json`, `${root}*/batches/*`, `${root}*/dispatched.json`],
  family: (root: string, family: string) => [`${root}*/results/${family}/*`, `${root}*/files/${family}/*`, `${root}*/ledger/${family}/*`, `${root}*/aggregate.json`],
  aggregator: (root: string) => [`${root}*/summary.csv`, `${root}*/summary.json`, `${root}*/report.json`],
} as const;
