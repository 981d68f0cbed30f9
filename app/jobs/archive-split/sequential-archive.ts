import type { Readable } from 'node:stream';
import type { ArchiveEntry } from './archive-entry';

/**
 * An archive that can only be read front to back (a TAR.GZ: no index, every byte after the one before), read as
 * many times as the split needs. Each pass is a fresh read of the same version of the object.
 */
export interface SequentialArchive {
  /**
   * One read of the whole archive, front to back: visit is called for each entry in archive order. The body must be
   * consumed or resumed by visit before its promise resolves; a body visit leaves unread is drained (skipped) by the
   * reader. Entries' indexes and paths are the same on every pass. Rejects with visit's own error, with the abort's
   * reason when `signal` aborts, or with what the read failed with (CorruptArchiveError for a broken archive).
   */
  pass(visit: (entry: ArchiveEntry, body: Readable) => Promise<void>, signal?: AbortSignal): Promise<PassStats>;
}

/** What one complete pass read. */
export interface PassStats {
  /** Entries visited. */
  readonly entries: number;
  /** Bytes of the archive object read (compressed, as stored). */
  readonly compressedBytes: number;
  /** Bytes of the TAR itself (decompressed), headers and padding included. */
  readonly bytes: number;
}
