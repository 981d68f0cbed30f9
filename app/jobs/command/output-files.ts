import type { Dirent } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';

export interface OutputFile {
  /** Relative to the output directory, with `/` between folders: the tail of the output's key. */
  readonly relativePath: string;
  /** The absolute path to read it from. */
  readonly path: string;
  readonly bytes: number;
}

export type SkipReason =
  | 'symbolic-link'
  | 'socket'
  | 'fifo'
  | 'device'
  | 'other-file-type'
  | 'name-not-utf8'
  | 'outside-output-dir'
  | 'unreadable'
  | 'output-dir-missing'
  | 'output-dir-not-a-directory';

export interface SkippedEntry {
  /** `.` for the output directory itself; a name that is not UTF-8 shows with U+FFFD in it. */
  readonly relativePath: string;
  readonly reason: SkipReason;
}

export interface OutputListing {
  /** Sorted by relative path. */
  readonly files: readonly OutputFile[];
  /** What was left out, for the log: a program (or an archive it unpacked) may leave links and the like. */
  readonly skipped: readonly SkippedEntry[];
  readonly totalBytes: number;
}

/**
 * What the program left in its output directory: regular files only, found recursively, never following a link.
 * A symbolic link is skipped, whether it points to /etc/passwd, to the input or to a folder elsewhere (a hostile
 * archive's favourite trick), and so are sockets, FIFOs and devices; each file's real path is checked to lie inside
 * the directory. Call it once the program's process group is gone, so nothing changes the tree meanwhile.
 *
 * A hard link is a regular file and is kept: the program runs as the worker's user and could as well copy any file
 * it can read, so skipping them would stop no one and would break programs that link duplicate outputs.
 */
export async function listOutputFiles(outputDir: string): Promise<OutputListing> {
  const files: OutputFile[] = [];
  const skipped: SkippedEntry[] = [];
  const top = await lstat(outputDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (top === undefined) return { files, skipped: [{ relativePath: '.', reason: 'output-dir-missing' }], totalBytes: 0 };
  // The program could have replaced the directory by a link to somewhere else.
  if (!top.isDirectory()) return { files, skipped: [{ relativePath: '.', reason: 'output-dir-not-a-directory' }], totalBytes: 0 };
  const realRoot = await realpath(outputDir);

  const walk = async (dir: string, relativeDir: string): Promise<void> => {
    let entries: Dirent<Buffer>[];
    try {
      entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch (error) {
      // A folder the program made unreadable (chmod 000) for a worker that is not root.
      if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
      skipped.push({ relativePath: relativeDir, reason: 'unreadable' });
      return;
    }
    for (const entry of entries) {
      const name = entry.name.toString('utf8');
      const relativePath = relativeDir === '' ? name : `${relativeDir}/${name}`;
      // An S3 key is UTF-8: a name that is not cannot be named faithfully, and decoding it would read another file.
      if (!Buffer.from(name, 'utf8').equals(entry.name)) skipped.push({ relativePath, reason: 'name-not-utf8' });
      else if (entry.isSymbolicLink()) skipped.push({ relativePath, reason: 'symbolic-link' });
      else if (entry.isDirectory()) await walk(join(dir, name), relativePath);
      else if (entry.isFile()) await addFile(join(dir, name), relativePath);
      else skipped.push({ relativePath, reason: entry.isSocket() ? 'socket' : entry.isFIFO() ? 'fifo' : entry.isBlockDevice() || entry.isCharacterDevice() ? 'device' : 'other-file-type' });
    }
  };
  const addFile = async (path: string, relativePath: string): Promise<void> => {
    const stats = await lstat(path);
    const real = await realpath(path);
    if (!stats.isFile()) skipped.push({ relativePath, reason: stats.isSymbolicLink() ? 'symbolic-link' : 'other-file-type' });
    else if (real !== join(realRoot, ...relativePath.split('/'))) skipped.push({ relativePath, reason: 'outside-output-dir' });
    else files.push({ relativePath, path, bytes: stats.size });
  };
  await walk(outputDir, '');

  files.sort((a, b) => compare(a.relativePath, b.relativePath));
  skipped.sort((a, b) => compare(a.relativePath, b.relativePath));
  return { files, skipped, totalBytes: files.reduce((sum, file) => sum + file.bytes, 0) };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
