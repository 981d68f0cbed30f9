/**
 * One entry of an archive as its reader lists it: what the planner needs to match manifest rows to files, and
 * nothing of the content. ZIP and TAR.GZ readers both produce it, so the plan never knows the format.
 */
export interface ArchiveEntry {
  /** As stored, decoded to a string: it may be unsafe (`../x`, `/etc/x`); the planner decides, never the reader. */
  readonly path: string;
  /** Links are listed, never followed. */
  readonly kind: 'file' | 'directory' | 'link' | 'other';
  /** Uncompressed bytes. */
  readonly size: number;
  /** Position in the archive, 0-based and stable: the same path stored twice gives two entries. */
  readonly index: number;
}
