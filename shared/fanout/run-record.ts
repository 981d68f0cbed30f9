import type { RunHome } from './messages';

/** What a run is, fixed when the manifest is first dispatched (`run.json`, created once). */
export interface RunRecord extends RunHome {
  readonly manifest: { readonly bucket: string; readonly key: string; readonly etag: string };
  /** Where the files named in the batches are. */
  readonly sourceBucket: string;
  /** The families every batch goes to, in the order their columns appear in the summary. */
  readonly families: readonly string[];
  readonly batchSize: number;
  readonly batchCount: number;
  readonly fileCount: number;
  /** Per-run settings from the manifest, given to every family's program. */
  readonly settings: Readonly<Record<string, string>>;
  readonly createdAt: string;
}

/** A batch's list (`batches/000000.json`). */
export interface BatchList {
  readonly runId: string;
  readonly batch: number;
  readonly bucket: string;
  readonly keys: readonly string[];
  readonly settings: Readonly<Record<string, string>>;
}

/** One file's outcome in one family. `summary` is the flat summary.json the family's program wrote, if any. */
export interface FileResult {
  readonly key: string;
  readonly status: 'done' | 'failed';
  readonly reason?: string;
  readonly detail?: string;
  readonly summary?: Readonly<Record<string, string | number | boolean>>;
}

/** A family's results for one batch (`results/<family>/000000.json`). */
export interface BatchResults {
  readonly runId: string;
  readonly family: string;
  readonly batch: number;
  readonly files: readonly FileResult[];
}

/** A batch's terminal state in one family (`ledger/<family>/000000.json`), written once. */
export interface LedgerEntry {
  /** done: every file has an outcome (some may have failed); failed: the batch itself was dead-lettered. */
  readonly status: 'done' | 'failed';
  readonly reason?: string;
  readonly files: number;
  readonly failedFiles: number;
  readonly at: string;
  readonly messageId: string;
}

/** The aggregation trigger (`aggregate.json`), written once by the completion that found the run complete. */
export interface TriggerRecord {
  readonly at: string;
  /** The batch message whose completion triggered: its redelivery may send the request again, no other may. */
  readonly messageId: string;
}
