import type { BatchResults, FileResult, LedgerEntry } from '../../../shared/fanout/run-record';

/** One batch as the aggregator found it: its files, and per family its ledger entry and results (either may lack). */
export interface BatchFindings {
  readonly batch: number;
  readonly keys: readonly string[];
  readonly families: Readonly<Record<string, { readonly entry?: LedgerEntry; readonly results?: BatchResults }>>;
  /** The batch's list was not found: `keys` are only those some family reported on. */
  readonly listMissing?: boolean;
}

export interface FamilyCell {
  readonly status: 'done' | 'failed';
  readonly reason?: string;
  readonly summary?: Readonly<Record<string, string | number | boolean>>;
}

export interface SummaryRow {
  readonly key: string;
  readonly families: Readonly<Record<string, FamilyCell>>;
}

export interface SummaryTable {
  readonly families: readonly string[];
  readonly rows: readonly SummaryRow[];
  /** Per family, the summary fields in order of first appearance: the CSV's columns. */
  readonly fields: Readonly<Record<string, readonly string[]>>;
}

/**
 * Pure: one row per file of the run, in manifest order, with each family's outcome. A file a family has no result for
 * (its batch dead-lettered, its results lost) is failed with the ledger's reason, so every file of the run appears and
 * no gap reads as success.
 */
export function buildSummaryTable(families: readonly string[], batches: readonly BatchFindings[]): SummaryTable {
  const fields = Object.fromEntries(families.map((family) => [family, [] as string[]]));
  const rows = [...batches].sort((a, b) => a.batch - b.batch).flatMap((batch) => batch.keys.map((key) => {
    const cells: Record<string, FamilyCell> = {};
    for (const family of families) {
      const found = batch.families[family];
      const result = found?.results?.files.find((file) => file.key === key);
      cells[family] = cellOf(result, found?.entry);
      for (const field of Object.keys(cells[family]!.summary ?? {})) if (!fields[family]!.includes(field)) fields[family]!.push(field);
    }
    return { key, families: cells };
  }));
  return { families, rows, fields };
}

function cellOf(result: FileResult | undefined, entry: LedgerEntry | undefined): FamilyCell {
  if (result !== undefined) {
    return { status: result.status, ...(result.reason !== undefined ? { reason: result.detail ?? result.reason } : {}), ...(result.summary !== undefined ? { summary: result.summary } : {}) };
  }
  if (entry?.status === 'failed') return { status: 'failed', reason: `batch dead-lettered: ${entry.reason ?? 'no reason recorded'}` };
  return { status: 'failed', reason: 'no result recorded for this file' };
}

/** The table as CSV rows (header first): `key`, then per family `<family>.status`, `<family>.reason` and its fields. */
export function summaryRecords(table: SummaryTable): (string | number | boolean)[][] {
  const header = ['key', ...table.families.flatMap((family) => [`${family}.status`, `${family}.reason`, ...table.fields[family]!.map((field) => `${family}.${field}`)])];
  const body = table.rows.map((row) => [
    row.key,
    ...table.families.flatMap((family) => {
      const cell = row.families[family]!;
      return [cell.status, oneLine(cell.reason ?? ''), ...table.fields[family]!.map((field) => cell.summary?.[field] ?? '')];
    }),
  ]);
  return [header, ...body.map((values) => values.map(neutraliseFormula))];
}

/**
 * A spreadsheet row stays one line: a multi-line reason (a program's exit and its stderr tail) becomes its last line,
 * which for a program is the one naming the problem. summary.json keeps it whole.
 */
export function oneLine(reason: string): string {
  const lines = reason.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
  return lines.length <= 1 ? (lines[0] ?? '') : lines[lines.length - 1]!;
}

/**
 * A spreadsheet runs a cell that starts with = + - @ (or a tab/CR) as a formula, and file keys and program output are
 * anyone's text: such text is prefixed with `'`. Numbers, including negative ones, stay numbers.
 */
export function neutraliseFormula(value: string | number | boolean): string | number | boolean {
  if (typeof value !== 'string' || !/^[=+\-@\t\r]/.test(value) || /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(value)) return value;
  return `'${value}`;
}
