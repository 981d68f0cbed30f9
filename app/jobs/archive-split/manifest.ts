import { CsvError, parse, type InfoRecord } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { ManifestError, ManifestMissingError } from './archive-errors';
import { entriesByPath, type ArchiveEntry } from './archive-entry';
import { printablePath } from './entry-paths';

/** The archive's CSV manifest: one row per image, in the order the batches keep. */
export interface Manifest {
  /** The manifest entry's path in the archive, as stored; image values are first looked up relative to its folder. */
  readonly path: string;
  /** Column names, trimmed; empty only for an empty manifest. */
  readonly header: readonly string[];
  readonly rows: readonly ManifestRow[];
  /** The image column's position in `header`; -1 only for an empty manifest (no header, no rows). */
  readonly imageColumn: number;
}

export interface ManifestRow {
  /** The data record's number in the file, 1 = the first row after the header (blank records are not counted). */
  readonly line: number;
  readonly values: readonly string[];
}

/** How many bad lines an error lists before it only counts the rest. */
const LINES_SHOWN = 5;
const COLUMN_SHOWN_CHARS = 60;
const COLUMNS_SHOWN = 50;

/**
 * The manifest among the archive's entries: a file whose last path segment is `manifestName` (case-insensitively), at
 * any depth, the shallowest winning. Two at that depth is a ManifestError (which one was meant cannot be known); none
 * a ManifestMissingError.
 */
export function findManifestEntry(entries: readonly ArchiveEntry[], manifestName: string): ArchiveEntry {
  const wanted = manifestName.toLowerCase();
  // `segments`, not `depth`: infra/test/code-needs-policy.test.ts finds SDK calls by name, and reading a `.depth`
  // property would count as calling the SQS adapter's depth(), which the worker role is not granted.
  let shallowest: { segments: number; found: Array<[string, ArchiveEntry]> } = { segments: Number.POSITIVE_INFINITY, found: [] };
  for (const [path, entry] of entriesByPath(entries).byPath) {
    if (entry.kind !== 'file' || path.slice(path.lastIndexOf('/') + 1).toLowerCase() !== wanted) continue;
    const segments = path.split('/').length;
    if (segments < shallowest.segments) shallowest = { segments, found: [[path, entry]] };
    else if (segments === shallowest.segments) shallowest.found.push([path, entry]);
  }
  const [first, ...others] = shallowest.found;
  if (first === undefined) {
    throw new ManifestMissingError(
      `the archive has no file named "${manifestName}" (looked for case-insensitively, at any depth, among its ${entries.length} entries)`,
    );
  }
  if (others.length > 0) {
    const names = shallowest.found.map(([path]) => JSON.stringify(printablePath(path))).sort();
    throw new ManifestError(`the archive has ${names.length} files named "${manifestName}" at the same depth, and which one is the manifest cannot be told: ${names.join(', ')}`);
  }
  return first[1];
}

/**
 * Pure: the manifest's bytes in, its rows out. UTF-8 (a BOM is dropped), any of CRLF, LF or CR line ends, quoted fields
 * holding commas, quotes and line breaks. Blank lines and records whose every field is blank are skipped; a manifest
 * with no rows is not an error (it splits into nothing).
 */
export function parseManifest(bytes: Buffer, manifestPath: string, options: { readonly imageColumn: string; readonly maxBytes: number; readonly maxRows?: number }): Manifest {
  const where = `manifest ${JSON.stringify(printablePath(manifestPath))}`;
  if (bytes.length > options.maxBytes) {
    throw new ManifestError(`${where} is ${bytes.length} bytes, more than MAX_MANIFEST_BYTES (${options.maxBytes})`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // A Latin-1 or UTF-16 manifest would decode to names that match nothing in the archive: refuse it plainly instead.
    throw new ManifestError(`${where} is not UTF-8 text (save it as "CSV UTF-8")`);
  }
  // Parsing stops one record past the limit: a manifest of millions of short rows costs the limit, not its size.
  const records = readRecords(text, where, options.maxRows === undefined ? undefined : options.maxRows + 2);
  if (options.maxRows !== undefined && records.length > options.maxRows + 1) {
    throw new ManifestError(`${where} has more than MAX_MANIFEST_ROWS (${options.maxRows}) rows: split the export, or raise MAX_MANIFEST_ROWS with the task's memory`);
  }
  const [headerRecord, ...dataRecords] = records;
  if (headerRecord === undefined) return Object.freeze({ path: manifestPath, header: Object.freeze([]), rows: Object.freeze([]), imageColumn: -1 });

  const header = Object.freeze(headerRecord.values.map((name) => name.trim()));
  const imageColumn = findImageColumn(header, options.imageColumn, where);
  const rows: ManifestRow[] = [];
  const badLines: string[] = [];
  for (const record of dataRecords) {
    if (record.values.every((value) => value.trim() === '')) continue;
    if (record.values.length !== header.length) {
      badLines.push(`line ${record.startLine} has ${record.values.length}`);
      continue;
    }
    rows.push(Object.freeze({ line: rows.length + badLines.length + 1, values: Object.freeze(record.values) }));
  }
  if (badLines.length > 0) {
    const more = badLines.length > LINES_SHOWN ? ` (and ${badLines.length - LINES_SHOWN} more lines)` : '';
    throw new ManifestError(`${where} has rows with the wrong number of fields (the header has ${header.length}): ${badLines.slice(0, LINES_SHOWN).join(', ')}${more}`);
  }
  return Object.freeze({ path: manifestPath, header, rows: Object.freeze(rows), imageColumn });
}

/** The CSV of a header and rows, as each batch's filtered manifest: quoted where needed, LF line ends, no BOM. */
export function manifestCsv(header: readonly string[], rows: readonly ManifestRow[]): string {
  if (header.length === 0 && rows.length === 0) return '';
  return stringify([header as string[], ...rows.map((row) => row.values as string[])]);
}

interface CsvRecord {
  readonly values: string[];
  /** Where the record starts in the file (1-based), for messages. */
  readonly startLine: number;
}

function readRecords(text: string, where: string, maxRecords: number | undefined): CsvRecord[] {
  let parsed: Array<{ record: string[]; info: InfoRecord }>;
  try {
    parsed = parse(text, {
      bom: true,
      info: true,
      skip_empty_lines: true,
      // Column counts are checked here instead, so one error can list every bad line.
      relax_column_count: true,
      // Fixed rather than guessed from the first line, so a file with mixed line ends keeps no stray \r or \n in a value.
      record_delimiter: ['\r\n', '\n', '\r'],
      ...(maxRecords !== undefined ? { to: maxRecords } : {}),
    }) as unknown as Array<{ record: string[]; info: InfoRecord }>;
  } catch (error) {
    if (error instanceof CsvError) throw new ManifestError(`${where} is not valid CSV: ${error.message.slice(0, 300)}`);
    throw error;
  }
  let endLine = 0;
  let emptyLines = 0;
  return parsed.map(({ record, info }) => {
    // `info.lines` is where a record ends; it starts after the previous one and any blank lines skipped since.
    const startLine = endLine + 1 + (info.empty_lines - emptyLines);
    endLine = info.lines;
    emptyLines = info.empty_lines;
    return { values: record, startLine };
  });
}

function findImageColumn(header: readonly string[], imageColumn: string, where: string): number {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  // Unnamed columns may repeat: spreadsheets export trailing empty columns as `,,`, and nothing refers to them by name.
  for (const name of header.filter((column) => column !== '')) (seen.has(name) ? duplicates : seen).add(name);
  if (duplicates.size > 0) {
    throw new ManifestError(`${where} has duplicate column names in its header: ${listed([...duplicates])}`);
  }
  const wanted = imageColumn.toLowerCase();
  const matches = header.flatMap((name, index) => (name.toLowerCase() === wanted ? [index] : []));
  if (matches.length === 0) {
    throw new ManifestError(`${where} has no "${imageColumn}" column (IMAGE_COLUMN, matched case-insensitively); its columns are ${listed(header)}`);
  }
  if (matches.length > 1) {
    throw new ManifestError(`${where} has ${matches.length} columns that are "${imageColumn}" case-insensitively: ${matches.map((index) => shown(header[index]!)).join(', ')}`);
  }
  return matches[0]!;
}

function listed(header: readonly string[]): string {
  const more = header.length > COLUMNS_SHOWN ? ` (and ${header.length - COLUMNS_SHOWN} more)` : '';
  return `${header.slice(0, COLUMNS_SHOWN).map(shown).join(', ')}${more}`;
}

function shown(name: string): string {
  const printable = printablePath(name);
  return JSON.stringify(printable.length <= COLUMN_SHOWN_CHARS ? printable : `${printable.slice(0, COLUMN_SHOWN_CHARS)}…`);
}
