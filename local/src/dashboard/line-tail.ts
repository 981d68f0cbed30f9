import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

/** At most this much of a file is read per call, so a burst of logging never lands in memory at once. */
const MAX_READ_BYTES = 4 * 1024 * 1024;

/**
 * The complete lines appended to a set of files since the last read, like `tail -F`. Files that already existed when
 * the tail started are read from their end: the data directory's logs and decisions are appended to by every run, and
 * only this run's belong on its dashboard.
 */
export class LineTail {
  private readonly offsets = new Map<string, number>();
  private readonly partial = new Map<string, string>();
  // A character cut by a read's end is completed by the next read, not mangled.
  private readonly decoders = new Map<string, StringDecoder>();

  private constructor(private readonly listFiles: () => Promise<string[]>) {}

  /** One file (it may not exist yet). */
  static async ofFile(path: string): Promise<LineTail> {
    return LineTail.started(async () => [path]);
  }

  /** Every `*.log` file under a directory, its subdirectories (a companion pipeline's workers) included. */
  static async ofLogDirectory(dir: string): Promise<LineTail> {
    return LineTail.started(async () => {
      const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
      return names.filter((name) => name.endsWith('.log')).map((name) => join(dir, name));
    });
  }

  private static async started(listFiles: () => Promise<string[]>): Promise<LineTail> {
    const tail = new LineTail(listFiles);
    for (const path of await listFiles()) {
      const size = await sizeOf(path);
      if (size !== undefined) tail.offsets.set(path, size);
    }
    return tail;
  }

  async readNewLines(): Promise<string[]> {
    const lines: string[] = [];
    for (const path of await this.listFiles()) {
      const size = await sizeOf(path);
      if (size === undefined) continue;
      let offset = this.offsets.get(path) ?? 0;
      // A file cut shorter was replaced: read it again from its start.
      if (size < offset) {
        offset = 0;
        this.partial.delete(path);
        this.decoders.delete(path);
      }
      if (size === offset) continue;
      const length = Math.min(size - offset, MAX_READ_BYTES);
      const buffer = Buffer.alloc(length);
      const handle = await open(path, 'r');
      let read: number;
      try {
        ({ bytesRead: read } = await handle.read(buffer, 0, length, offset));
      } finally {
        await handle.close();
      }
      this.offsets.set(path, offset + read);
      const decoder = this.decoders.get(path) ?? new StringDecoder('utf8');
      this.decoders.set(path, decoder);
      const text = (this.partial.get(path) ?? '') + decoder.write(buffer.subarray(0, read));
      const parts = text.split('\n');
      // The last part is a line still being written: kept until its newline arrives.
      this.partial.set(path, parts.pop() ?? '');
      lines.push(...parts.filter((line) => line !== ''));
    }
    return lines;
  }
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}
