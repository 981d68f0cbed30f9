import { createHash } from 'node:crypto';
import { entriesByPath, type ArchiveEntry } from './archive-entry';
import type { ArchiveSettings } from './archive-settings';
import { normaliseEntryPath, printablePath, unsafePathReason } from './entry-paths';
import type { Manifest, ManifestRow } from './manifest';
import { batchKey } from './split-request';

/**
 * What goes into every batch ZIP, decided from the archive's listing and its manifest alone, before any image byte is
 * read: the readers and the writer only carry it out.
 */
export interface SplitPlan {
  readonly batches: readonly PlannedBatch[];
  /** Problems of the archive itself (unsafe or duplicated entries); also at the head of part 1's problems. */
  readonly archiveProblems: readonly Problem[];
  /** Manifest rows, every one of which is in exactly one batch. */
  readonly rows: number;
  /** Distinct image files per batch, summed over batches (an image named in two batches counts twice). */
  readonly images: number;
}

export interface PlannedBatch {
  /** 1-based. */
  readonly part: number;
  readonly bucket: string;
  readonly key: string;
  /** The batch's rows, in manifest order, each whatever its problem: the filtered manifest holds them all. */
  readonly rows: readonly ManifestRow[];
  /** In the order of the first row naming each. */
  readonly files: readonly PlannedFile[];
  /** The rows' problems, after the archive's own in part 1. */
  readonly problems: readonly Problem[];
  /** sha256 (hex) of everything that decides the batch ZIP's bytes: a part stored with this fingerprint needs no rebuild. */
  readonly fingerprint: string;
}

export interface PlannedFile {
  readonly entryIndex: number;
  /** As stored in the archive. */
  readonly entryPath: string;
  /** The image value as the manifest names it, normalised: the filtered manifest at the ZIP's root resolves to it. */
  readonly nameInZip: string;
  readonly size: number;
}

export type ProblemKind = 'missing-file' | 'no-image' | 'unsafe-path' | 'unsafe-entry' | 'ambiguous-name' | 'duplicate-entry' | 'duplicate-row';

export const PROBLEM_KINDS: readonly ProblemKind[] = ['missing-file', 'no-image', 'unsafe-path', 'unsafe-entry', 'ambiguous-name', 'duplicate-entry', 'duplicate-row'];

/** Something a reader of the batches should know; image and entry are printable (control characters escaped). */
export interface Problem {
  readonly kind: ProblemKind;
  /** The manifest row's `line`. */
  readonly row?: number;
  /** The row's image value, trimmed. */
  readonly image?: string;
  /** The archive entry's path. */
  readonly entry?: string;
  readonly detail: string;
}

/** The names each batch ZIP gives its own files at its root; no image may take them. */
export const BATCH_MANIFEST_NAME = 'manifest.csv';
export const BATCH_PROBLEMS_NAME = 'problems.csv';
/**
 * Part of every fingerprint: bump it whenever the batch ZIP's layout or the writer's output changes, so parts built the
 * old way are rebuilt rather than kept.
 */
export const BATCH_FORMAT_VERSION = 1;
const CANDIDATES_SHOWN = 5;

export interface SplitInput {
  readonly manifest: Manifest;
  readonly entries: readonly ArchiveEntry[];
  readonly settings: Pick<ArchiveSettings, 'batchSize' | 'outputPrefix'>;
  readonly stem: string;
  readonly outputBucket: string;
  /** The archive version the plan was made from: a replaced archive gives every part a new fingerprint. */
  readonly sourceEtag: string;
}

type Resolution = { readonly ok: true; readonly path: string; readonly nameInZip: string; readonly entry: ArchiveEntry } | { readonly ok: false; readonly problem: Problem };

/** Pure and linear in rows + entries (maps, never a scan per row). */
export function planSplit(input: SplitInput): SplitPlan {
  const { manifest, settings } = input;
  if (!Number.isSafeInteger(settings.batchSize) || settings.batchSize < 1) throw new RangeError(`batchSize must be a whole number from 1, got ${settings.batchSize}`);
  const archive = indexArchive(input.entries);
  const manifestPath = normaliseEntryPath(manifest.path);
  const manifestFolder = manifestPath.includes('/') ? manifestPath.slice(0, manifestPath.lastIndexOf('/') + 1) : '';

  const batches: PlannedBatch[] = [];
  /** The first row naming each archive entry, for duplicate-row problems across the whole manifest. */
  const firstRowOf = new Map<number, number>();
  let images = 0;
  for (let start = 0; start < manifest.rows.length; start += settings.batchSize) {
    const part = batches.length + 1;
    const rows = Object.freeze(manifest.rows.slice(start, start + settings.batchSize));
    const files = new Map<string, PlannedFile>();
    const entriesInBatch = new Set<number>();
    const problems: Problem[] = part === 1 ? [...archive.problems] : [];
    for (const row of rows) {
      const value = (row.values[manifest.imageColumn] ?? '').trim();
      const resolution = resolve(value, row, manifestFolder, archive);
      if (!resolution.ok) {
        problems.push(resolution.problem);
        continue;
      }
      const { entry, nameInZip } = resolution;
      const firstRow = firstRowOf.get(entry.index);
      if (firstRow === undefined) firstRowOf.set(entry.index, row.line);
      else problems.push(duplicateRow(row, value, resolution.path, firstRow, entriesInBatch.has(entry.index), files.has(nameInZip)));
      if (!files.has(nameInZip)) files.set(nameInZip, Object.freeze({ entryIndex: entry.index, entryPath: entry.path, nameInZip, size: entry.size }));
      entriesInBatch.add(entry.index);
    }
    images += entriesInBatch.size;
    const batch = {
      part,
      bucket: input.outputBucket,
      key: batchKey({ stem: input.stem }, settings, part),
      rows,
      files: Object.freeze([...files.values()]),
      problems: Object.freeze(problems),
    };
    batches.push(Object.freeze({ ...batch, fingerprint: fingerprint(batch, manifest.header, input.sourceEtag) }));
  }
  return Object.freeze({ batches: Object.freeze(batches), archiveProblems: archive.problems, rows: manifest.rows.length, images });
}

interface ArchiveIndex {
  /** Safe entries by normalised path, the last copy of each (as unzip and tar overwrite), whatever its kind. */
  readonly byPath: ReadonlyMap<string, ArchiveEntry>;
  /** Regular files' normalised paths by their last segment; built on the first value not found by path. */
  byBasename?: ReadonlyMap<string, readonly string[]>;
  readonly problems: readonly Problem[];
}

function indexArchive(entries: readonly ArchiveEntry[]): ArchiveIndex {
  const problems: Problem[] = [];
  // Reported whether a row names them or not, so an archive's odd entries never vanish without a word.
  for (const entry of inArchiveOrder(entries)) {
    const reason = unsafePathReason(entry.path);
    const detail = reason !== undefined ? `${reason}: left out of every batch`
      : entry.kind === 'link' ? 'a link: links are never followed, so it is left out of every batch'
        : entry.kind === 'other' ? 'neither a file nor a folder (a device or FIFO): left out of every batch'
          : undefined;
    if (detail !== undefined) problems.push({ kind: 'unsafe-entry', entry: printablePath(entry.path), detail });
  }
  const { byPath, copies } = entriesByPath(entries);
  for (const [path, count] of copies) {
    const entry = byPath.get(path)!;
    // A folder stored twice (`a/` and `./a/`) changes nothing that is extracted.
    if (entry.kind === 'directory') continue;
    problems.push({ kind: 'duplicate-entry', entry: printablePath(path), detail: `${count} entries have this path; the last (entry ${entry.index}) is used, as unzip and tar do` });
  }
  return { byPath, problems: Object.freeze(problems.map((problem) => Object.freeze(problem))) };
}

/** Readers list entries in order already; sorting is only paid for when one did not. */
function inArchiveOrder(entries: readonly ArchiveEntry[]): readonly ArchiveEntry[] {
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.index < entries[i - 1]!.index) return [...entries].sort((a, b) => a.index - b.index);
  }
  return entries;
}

function basenameIndex(archive: ArchiveIndex): ReadonlyMap<string, readonly string[]> {
  if (archive.byBasename !== undefined) return archive.byBasename;
  const byBasename = new Map<string, string[]>();
  for (const [path, entry] of archive.byPath) {
    if (entry.kind !== 'file') continue;
    const basename = path.slice(path.lastIndexOf('/') + 1);
    const named = byBasename.get(basename);
    if (named === undefined) byBasename.set(basename, [path]);
    else named.push(path);
  }
  archive.byBasename = byBasename;
  return byBasename;
}

const RESERVED_NAMES = [BATCH_MANIFEST_NAME, BATCH_PROBLEMS_NAME];

/** An image value to its archive entry: next to the manifest, then from the archive's root, then by a unique name. */
function resolve(value: string, row: ManifestRow, manifestFolder: string, archive: ArchiveIndex): Resolution {
  if (value === '') return failed('no-image', row, value, 'the row names no image');
  const unsafe = unsafePathReason(value);
  if (unsafe !== undefined) return failed('unsafe-path', row, value, `${unsafe}: not looked up`);
  const path = normaliseEntryPath(value);
  if (path === '') return failed('missing-file', row, value, 'names the archive\'s root, not a file');
  const reserved = RESERVED_NAMES.find((name) => name.length === path.length && name === path.toLowerCase());
  if (reserved !== undefined) return failed('unsafe-path', row, value, `would take the place of the batch's own ${reserved}`);

  const nextToManifest = manifestFolder === '' ? path : `${manifestFolder}${path}`;
  let found = isFound(archive, nextToManifest) ? nextToManifest : isFound(archive, path) ? path : undefined;
  if (found === undefined) {
    const basename = path.slice(path.lastIndexOf('/') + 1);
    const named = basenameIndex(archive).get(basename) ?? [];
    if (named.length > 1) {
      const shown = named.slice(0, CANDIDATES_SHOWN).map((candidate) => JSON.stringify(printablePath(candidate))).join(', ');
      const more = named.length > CANDIDATES_SHOWN ? ` and ${named.length - CANDIDATES_SHOWN} more` : '';
      return failed('ambiguous-name', row, value, `not found as named; ${named.length} files are called ${JSON.stringify(printablePath(basename))} (${shown}${more}) and the row does not say which`);
    }
    found = named[0];
  }
  if (found === undefined) {
    const folder = archive.byPath.has(nextToManifest) || archive.byPath.has(path);
    return failed('missing-file', row, value, folder ? 'names a folder, not a file' : 'no such file in the archive');
  }
  const entry = archive.byPath.get(found)!;
  if (entry.kind !== 'file') return failed('unsafe-path', row, value, `names a ${entry.kind === 'link' ? 'link' : 'special file'}, and links are never followed`, found);
  return { ok: true, path: found, nameInZip: path, entry };
}

/** Folders are not what a row can name: a path that is only a folder is looked for further. */
function isFound(archive: ArchiveIndex, path: string): boolean {
  const entry = archive.byPath.get(path);
  return entry !== undefined && entry.kind !== 'directory';
}

function failed(kind: ProblemKind, row: ManifestRow, value: string, detail: string, entry?: string): Resolution {
  return {
    ok: false,
    problem: Object.freeze({ kind, row: row.line, ...(value !== '' ? { image: printablePath(value) } : {}), ...(entry !== undefined ? { entry: printablePath(entry) } : {}), detail }),
  };
}

function duplicateRow(row: ManifestRow, value: string, path: string, firstRow: number, inBatch: boolean, sameName: boolean): Problem {
  const where = !inBatch ? 'a later batch holds its own copy' : sameName ? 'the batch holds it once' : 'the batch holds it under both names';
  return Object.freeze({
    kind: 'duplicate-row', row: row.line, image: printablePath(value), entry: printablePath(path),
    detail: `names the same file as row ${firstRow}; ${where}`,
  });
}

/** Canonical by construction: fixed key order and arrays, so the same batch always hashes the same. */
function fingerprint(batch: Omit<PlannedBatch, 'fingerprint' | 'key' | 'bucket'>, header: readonly string[], sourceEtag: string): string {
  const canonical = JSON.stringify({
    version: BATCH_FORMAT_VERSION,
    sourceEtag,
    part: batch.part,
    header,
    rows: batch.rows.map((row) => [row.line, row.values]),
    files: batch.files.map((file) => [file.entryIndex, file.entryPath, file.nameInZip, file.size]),
    problems: batch.problems.map((problem) => [problem.kind, problem.row ?? null, problem.image ?? null, problem.entry ?? null, problem.detail]),
  });
  return createHash('sha256').update(canonical).digest('hex');
}
