import type { RunRecord } from '../../../shared/fanout/run-record';
import type { BatchFindings, SummaryTable } from './summary-table';

export interface RunReport {
  readonly runId: string;
  readonly manifest: RunRecord['manifest'];
  readonly files: number;
  readonly families: Readonly<Record<string, { batches: number; batchesDone: number; batchesFailed: number; filesDone: number; filesFailed: number }>>;
  readonly failedBatches: readonly { family: string; batch: number; reason: string }[];
  readonly failedFileCount: number;
  /** Batches whose list was missing at aggregation: their files not reported by any family are not in the summary. */
  readonly missingBatchLists: readonly number[];
  /** The first failures, by file and family; the summary has them all. */
  readonly failedFiles: readonly { key: string; family: string; reason: string }[];
  readonly createdAt: string;
  readonly aggregatedAt: string;
  /** From the run's dispatch to its aggregation. */
  readonly runSeconds: number;
  readonly aggregationMs: number;
}

const FAILED_FILES_LISTED = 1000;

/** Pure: the run report from the run record, what the aggregator read, and the merged table. */
export function buildRunReport(record: RunRecord, batches: readonly BatchFindings[], table: SummaryTable, timing: { aggregatedAt: Date; aggregationMs: number }): RunReport {
  const families = Object.fromEntries(record.families.map((family) => {
    const entries = batches.map((batch) => batch.families[family]?.entry);
    const cells = table.rows.map((row) => row.families[family]!);
    return [family, {
      batches: record.batchCount,
      batchesDone: entries.filter((entry) => entry?.status === 'done').length,
      batchesFailed: entries.filter((entry) => entry?.status === 'failed').length,
      filesDone: cells.filter((cell) => cell.status === 'done').length,
      filesFailed: cells.filter((cell) => cell.status === 'failed').length,
    }];
  }));
  const failedBatches = batches.flatMap((batch) => record.families.flatMap((family) => {
    const entry = batch.families[family]?.entry;
    return entry?.status === 'failed' ? [{ family, batch: batch.batch, reason: entry.reason ?? '' }] : [];
  }));
  const failures = table.rows.flatMap((row) => record.families.flatMap((family) => {
    const cell = row.families[family]!;
    return cell.status === 'failed' ? [{ key: row.key, family, reason: cell.reason ?? '' }] : [];
  }));
  return {
    runId: record.runId,
    manifest: record.manifest,
    files: table.rows.length,
    families,
    failedBatches,
    failedFileCount: failures.length,
    missingBatchLists: batches.filter((batch) => batch.listMissing === true).map((batch) => batch.batch),
    failedFiles: failures.slice(0, FAILED_FILES_LISTED),
    createdAt: record.createdAt,
    aggregatedAt: timing.aggregatedAt.toISOString(),
    runSeconds: Math.max(0, Math.round((timing.aggregatedAt.getTime() - Date.parse(record.createdAt)) / 100) / 10),
    aggregationMs: timing.aggregationMs,
  };
}
