import { normaliseEntryPath, unsafePathReason } from './entry-paths';

/**
 * One entry of an archive as a reader lists it, before anything is decided about it: the ZIP reader (from the central
 * directory) and the TAR.GZ reader (from the headers) both produce these, and every decision is made on them alone.
 */
export interface ArchiveEntry {
  /** As stored, decoded to a string; untrusted (may be absolute, hold `..` or control characters). */
  readonly path: string;
  /** Symbolic and hard links are `link`; devices, FIFOs and anything else not a file or a directory are `other`. */
  readonly kind: 'file' | 'directory' | 'link' | 'other';
  /** Uncompressed bytes. */
  readonly size: number;
  /** Position in the archive, 0-based: the same entry has the same index on every read of the same archive. */
  readonly index: number;
}

/** The archive as it would extract. */
export interface ArchivePaths {
  /** Safe entries by normalised path, the last copy of each winning (as unzip and tar overwrite), whatever its kind. */
  readonly byPath: ReadonlyMap<string, ArchiveEntry>;
  /** How many entries spell each path stored more than once (rare, so kept apart from the map every entry goes into). */
  readonly copies: ReadonlyMap<string, number>;
}

/** Unsafe entries are left out; callers that report them look for them themselves. */
export function entriesByPath(entries: readonly ArchiveEntry[]): ArchivePaths {
  const byPath = new Map<string, ArchiveEntry>();
  const copies = new Map<string, number>();
  for (const entry of entries) {
    if (unsafePathReason(entry.path) !== undefined) continue;
    const path = normaliseEntryPath(entry.path);
    const seen = byPath.get(path);
    if (seen !== undefined) copies.set(path, (copies.get(path) ?? 1) + 1);
    if (seen === undefined || entry.index > seen.index) byPath.set(path, entry);
  }
  return { byPath, copies };
}
