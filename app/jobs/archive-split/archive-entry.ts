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

/** The entry a path means, and how many entries in the archive spell that path. */
export interface PathEntry {
  readonly entry: ArchiveEntry;
  readonly copies: number;
}

/**
 * The archive as it would extract: safe entries by normalised path, the last copy of a path winning (as unzip and tar
 * overwrite), whatever its kind. Unsafe entries are left out; callers that report them look for them themselves.
 */
export function entriesByPath(entries: readonly ArchiveEntry[]): Map<string, PathEntry> {
  const byPath = new Map<string, PathEntry>();
  for (const entry of entries) {
    if (unsafePathReason(entry.path) !== undefined) continue;
    const path = normaliseEntryPath(entry.path);
    const seen = byPath.get(path);
    if (seen === undefined) byPath.set(path, { entry, copies: 1 });
    else byPath.set(path, { entry: entry.index > seen.entry.index ? entry : seen.entry, copies: seen.copies + 1 });
  }
  return byPath;
}
