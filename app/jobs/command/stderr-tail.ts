/**
 * The last lines a program wrote to stderr, bounded whatever it writes: at most `lines` lines, each cut after
 * `lineBytes` bytes (its beginning kept, where an error message usually starts), and at most `bytes` bytes in all.
 * Memory stays at about lines × lineBytes however long the program runs, and a single enormous line (a dumped
 * document, a progress bar without newlines) cannot push out the lines that explain the failure.
 */
export interface StderrTailLimits {
  readonly lines: number;
  readonly bytes: number;
  readonly lineBytes: number;
}

export const DEFAULT_STDERR_TAIL: StderrTailLimits = Object.freeze({ lines: 20, bytes: 2048, lineBytes: 512 });

const NEWLINE = 0x0a;
const ELLIPSIS = '…';

export class StderrTail {
  private readonly complete: string[] = [];
  private current: Buffer[] = [];
  private currentBytes = 0;
  private currentCut = false;

  constructor(private readonly limits: StderrTailLimits = DEFAULT_STDERR_TAIL) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline < 0 ? chunk.length : newline;
      this.append(chunk.subarray(start, end));
      if (newline < 0) return;
      this.endLine();
      start = newline + 1;
    }
  }

  /** The tail as text: lines joined with `\n`, a cut line ending in `…`. */
  toString(): string {
    const lines = [...this.complete];
    if (this.currentBytes > 0 || this.currentCut) lines.push(this.decodeCurrent());
    let kept = lines.slice(-this.limits.lines);
    while (kept.length > 1 && Buffer.byteLength(kept.join('\n'), 'utf8') > this.limits.bytes) kept = kept.slice(1);
    const text = kept.join('\n');
    return Buffer.byteLength(text, 'utf8') <= this.limits.bytes ? text : cutUtf8(Buffer.from(text, 'utf8'), this.limits.bytes - 3).toString('utf8') + ELLIPSIS;
  }

  private append(bytes: Buffer): void {
    if (this.currentCut || bytes.length === 0) return;
    const room = this.limits.lineBytes - this.currentBytes;
    if (bytes.length <= room) {
      // Copied: the chunk's buffer may be reused by the stream once this returns.
      this.current.push(Buffer.from(bytes));
      this.currentBytes += bytes.length;
      return;
    }
    this.current.push(cutUtf8(Buffer.from(bytes), room));
    this.currentBytes = this.limits.lineBytes;
    this.currentCut = true;
  }

  private endLine(): void {
    this.complete.push(this.decodeCurrent());
    if (this.complete.length > this.limits.lines) this.complete.shift();
    this.current = [];
    this.currentBytes = 0;
    this.currentCut = false;
  }

  private decodeCurrent(): string {
    const text = Buffer.concat(this.current).toString('utf8').replace(/\r$/, '');
    return this.currentCut ? text + ELLIPSIS : text;
  }
}

/** The first `max` bytes, backed off to a character boundary so no half character becomes U+FFFD. */
function cutUtf8(bytes: Buffer, max: number): Buffer {
  let end = Math.max(0, Math.min(max, bytes.length));
  if (end < bytes.length) while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}
