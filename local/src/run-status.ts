import type { ObjectStore } from '../../app/src/ports/object-store';
import { RunLedger } from '../../app/src/fanout/run-ledger';
import { parseLedgerKey, reportKey, summaryCsvKey, triggerKey } from '../../shared/fanout/run-layout';
import type { RunRecord } from '../../shared/fanout/run-record';
import { mapLimited } from '../../shared/runtime/map-limited';

/** Where one fan-out run stands, per family: what `npm run status` prints. */
export interface RunStatus {
  readonly runId: string;
  readonly files: number;
  readonly batches: number;
  readonly dispatched: boolean;
  readonly families: readonly { readonly family: string; readonly dispatched: number; readonly done: number; readonly failed: number }[];
  readonly triggered: boolean;
  readonly aggregated: boolean;
  /** s3://… of the summary once aggregated. */
  readonly summary?: string;
  /** Once aggregated: file × family results that failed (the summary has each reason). */
  readonly failedFiles?: number;
  readonly createdAt: string;
}

const READS_AT_ONCE = 16;
const retry = { retries: 2, baseDelayMs: 100, maxDelayMs: 1000, sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };

/**
 * Every run under a run root, newest first, from the ledger itself: the run record, the settlements (each read once
 * for done or failed), the trigger and the report. Reads only; the same code for the local server and for S3.
 */
export async function readRunStatuses(store: ObjectStore, bucket: string, root: string, limit = 20): Promise<RunStatus[]> {
  const keys = new Set((await store.list(bucket, root)).map((object) => object.key));
  const runIds = [...keys].flatMap((key) => {
    const match = /^([^/]+)\/run\.json$/.exec(key.slice(root.length));
    return key.startsWith(root) && match !== null ? [match[1]!] : [];
  });
  const statuses = await Promise.all(runIds.map(async (runId) => {
    const ledger = new RunLedger({ bucket, root, runId }, store, retry);
    const record: RunRecord = await ledger.readRunRecord();
    const layout = ledger.layout;
    const settled = [...keys].flatMap((key) => {
      const entry = parseLedgerKey(layout, key);
      return entry === undefined ? [] : [entry];
    });
    const states = await mapLimited(settled, READS_AT_ONCE, async (entry) => ({ ...entry, status: (await ledger.ledgerEntry(entry.family, entry.index))?.status }));
    const aggregated = keys.has(reportKey(layout));
    const report = aggregated ? await ledger.readJsonIfPresent<{ failedFileCount?: number }>(reportKey(layout)) : undefined;
    return {
      runId,
      files: record.fileCount,
      batches: record.batchCount,
      dispatched: keys.has(`${root}${runId}/dispatched.json`),
      families: record.families.map((family) => ({
        family,
        dispatched: record.batchCount,
        done: states.filter((state) => state.family === family && state.status === 'done').length,
        failed: states.filter((state) => state.family === family && state.status === 'failed').length,
      })),
      triggered: keys.has(triggerKey(layout)),
      aggregated,
      ...(aggregated ? { summary: `s3://${bucket}/${summaryCsvKey(layout)}` } : {}),
      ...(report?.failedFileCount !== undefined ? { failedFiles: report.failedFileCount } : {}),
      createdAt: record.createdAt,
    };
  }));
  return statuses.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
}

/** One line per run and per family, e.g. `run dawn-chorus: 240 files in 12 batches, aggregated (s3://…)`. */
export function formatRunStatus(run: RunStatus): string[] {
  const failed = run.failedFiles === undefined ? '' : `, ${run.failedFiles} file results failed`;
  const state = run.aggregated ? `aggregated once${failed} (${run.summary ?? ''})` : run.triggered ? 'aggregating' : run.dispatched ? 'running' : 'dispatching';
  return [
    `run ${run.runId}: ${run.files} files in ${run.batches} batches, ${state}`,
    ...run.families.map((family) => `  ${family.family}: dispatched ${family.dispatched}, done ${family.done}, failed ${family.failed}, pending ${family.dispatched - family.done - family.failed}`),
  ];
}
