import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { LogLine } from './invariants';

/**
 * Follows a worker's log file while the worker writes it: each `read` returns the JSON lines completed since the
 * last one. The chaos run uses it to act at the moment a worker says it received a given message.
 */
export class LogTail {
  private offset = 0;
  private partial = '';

  constructor(readonly path: string) {}

  read(): LogLine[] {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return [];
    }
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return [];
      const buffer = Buffer.alloc(size - this.offset);
      const got = readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset += got;
      const parts = (this.partial + buffer.subarray(0, got).toString('utf8')).split('\n');
      this.partial = parts.pop() ?? '';
      const lines: LogLine[] = [];
      for (const part of parts) {
        if (!part.startsWith('{')) continue;
        try {
          lines.push(JSON.parse(part) as LogLine);
        } catch {
          // a line cut off by a kill, continued by nothing
        }
      }
      return lines;
    } finally {
      closeSync(fd);
    }
  }
}
