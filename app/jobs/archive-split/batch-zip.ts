import { setMaxListeners } from 'node:events';
import { type PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { ZipFile } from 'yazl';

/**
 * One batch ZIP, written as a stream for a multipart upload: nothing of it is ever whole in memory or on disk. Files
 * are stored (images are compressed already, and deflating them again would cost the CPU that throughput needs);
 * the small text extras (manifest.csv, problems.csv) are deflated. yazl switches to ZIP64 exactly where a size, an
 * offset or the entry count needs it.
 */

export interface BatchZipFile {
  /** Its name in the batch ZIP: a safe relative path (yazl refuses absolute paths and `..`). */
  readonly nameInZip: string;
  /** Its exact size in bytes: known up front, so a stored entry needs no guess, and a source that lies fails. */
  readonly size: number;
  open(signal?: AbortSignal): Promise<Readable>;
}

export interface BatchZipExtra {
  readonly name: string;
  readonly content: Buffer;
}

export interface BatchZipInput {
  readonly files: readonly BatchZipFile[];
  /** Written first, so a reader streaming the ZIP meets the manifest before the images. */
  readonly extras: readonly BatchZipExtra[];
  /** Every entry's modification time: the same input then gives the same bytes. */
  readonly mtime: Date;
  /** Bytes of following files held in memory ahead of the writer (default 32 MiB). */
  readonly prefetchBytes?: number;
  /** Following files read ahead at most (default 16); only files of at most prefetchBytes / 4 are. */
  readonly prefetchEntries?: number;
  readonly signal?: AbortSignal;
}

export interface BatchZipStats {
  /** Files written (extras not counted). */
  readonly files: number;
  readonly extras: number;
  /** Bytes of the whole ZIP. */
  readonly bytes: number;
  /** Whether the ZIP carries ZIP64 records (an entry or an offset past 4 GiB, or 65535 entries or more). */
  readonly zip64: boolean;
}

export interface BatchZipOutput {
  /**
   * The ZIP's bytes, to be piped into the upload. Backpressure holds end to end: a consumer that stops reading stops
   * the reads too, beyond the prefetch bound. Any failure (a file that cannot be opened or read, a size that does not
   * match, the signal) destroys this stream with that error, so the upload fails and is aborted.
   */
  readonly stream: Readable;
  /** Settles when the consumer has read the last byte, or with the stream's error. */
  readonly done: Promise<BatchZipStats>;
}

const MiB = 1024 * 1024;
const FILE_MODE = 0o100644;
const EOCD_LOCATOR_SIGNATURE = 0x07064b50;
/** A ZIP64 end-of-central-directory locator (20 bytes) directly precedes the end record (22 bytes, no comment). */
const TAIL_BYTES = 20 + 22;

export function writeBatchZip(input: BatchZipInput): BatchZipOutput {
  const prefetchBytes = input.prefetchBytes ?? 32 * MiB;
  const prefetchEntries = input.prefetchEntries ?? 16;
  if (!Number.isSafeInteger(prefetchBytes) || prefetchBytes < 0) throw new RangeError(`prefetchBytes must be a non-negative integer, got ${prefetchBytes}`);
  if (!Number.isSafeInteger(prefetchEntries) || prefetchEntries < 0) throw new RangeError(`prefetchEntries must be a non-negative integer, got ${prefetchEntries}`);
  for (const file of input.files) {
    if (!Number.isSafeInteger(file.size) || file.size < 0) throw new RangeError(`the size of ${JSON.stringify(file.nameInZip)} must be a non-negative integer, got ${file.size}`);
  }

  const zip = new ZipFile();
  // yazl's typings say NodeJS.ReadableStream; it is a PassThrough, and destroying it is how a failure stops it.
  const output = zip.outputStream as PassThrough;
  const tail = new TailWatch();
  const controller = new AbortController();
  const signal = input.signal === undefined ? controller.signal : AbortSignal.any([input.signal, controller.signal]);
  // Every file read ahead listens on it (and its ranged GETs may too): more than Node's default of 10 is expected.
  setMaxListeners(2 * prefetchEntries + 10, signal);
  const sources = new FileSources(input.files, { prefetchBytes, prefetchEntries, signal, fail });
  let settled = false;
  let resolveDone!: (stats: BatchZipStats) => void;
  let rejectDone!: (error: unknown) => void;
  const done = new Promise<BatchZipStats>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // The stream carries the same error to whoever consumes it: a caller that only pipes must not crash the process.
  done.catch(() => undefined);

  function fail(error: unknown): void {
    if (settled) return;
    settled = true;
    input.signal?.removeEventListener('abort', onAbort);
    controller.abort(error);
    sources.destroy();
    output.unpipe(tail);
    output.destroy();
    tail.destroy(error instanceof Error ? error : new Error(String(error)));
    rejectDone(error);
  }
  const onAbort = () => fail(input.signal?.reason);

  try {
    for (const extra of input.extras) {
      zip.addBuffer(extra.content, extra.name, { mtime: input.mtime, mode: FILE_MODE, compress: true });
    }
    input.files.forEach((file, index) => {
      zip.addReadStreamLazy(file.nameInZip, { mtime: input.mtime, mode: FILE_MODE, compress: false, size: file.size }, (callback) => {
        // Deferred: yazl may ask for the first file while entries are still being added, and a later name it refuses
        // must throw from here before any read has started.
        queueMicrotask(() => {
          sources.take(index).then((stream) => {
            if (!settled) callback(null, stream);
          }, fail);
        });
      });
    });
    zip.end();
  } catch (error) {
    // Thrown to the caller, who never gets the stream: nothing may be left to emit this error unheard.
    settled = true;
    controller.abort(error);
    sources.destroy();
    output.destroy();
    throw error;
  }

  zip.on('error', fail);
  if (input.signal !== undefined) {
    if (input.signal.aborted) queueMicrotask(onAbort);
    else input.signal.addEventListener('abort', onAbort, { once: true });
  }
  tail.once('end', () => {
    if (settled) return;
    settled = true;
    input.signal?.removeEventListener('abort', onAbort);
    resolveDone({ files: input.files.length, extras: input.extras.length, bytes: tail.bytes, zip64: tail.hasZip64Locator() });
  });
  // The consumer gave up (an upload that failed destroys what feeds it): every read behind the stream stops.
  tail.once('close', () => fail(tail.errored ?? new Error('the batch ZIP stream was destroyed before its end')));
  output.pipe(tail);
  queueMicrotask(() => {
    if (!settled) sources.fill();
  });
  return { stream: tail, done };
}

/** Passes the ZIP through unchanged, counting its bytes and keeping the last few to tell whether ZIP64 was used. */
class TailWatch extends Transform {
  bytes = 0;
  private last = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.last = chunk.length >= TAIL_BYTES
      ? Buffer.from(chunk.subarray(chunk.length - TAIL_BYTES))
      : Buffer.concat([this.last, chunk]).subarray(-TAIL_BYTES);
    callback(null, chunk);
  }

  hasZip64Locator(): boolean {
    return this.last.length === TAIL_BYTES && this.last.readUInt32LE(0) === EOCD_LOCATOR_SIGNATURE;
  }
}

interface SourceOptions {
  readonly prefetchBytes: number;
  readonly prefetchEntries: number;
  readonly signal: AbortSignal;
  readonly fail: (error: unknown) => void;
}

/**
 * Hands yazl each file's stream in turn. Small files following the one being written are read whole ahead of their
 * turn, so many small ranged reads overlap instead of queueing behind each other; a larger file is opened only in
 * its turn and streamed. What is read ahead stays within prefetchBytes until the writer has consumed it, so a
 * consumer that stops reading stops the reads.
 */
class FileSources {
  private readonly prefetched = new Map<number, Promise<Buffer>>();
  private readonly active = new Set<Readable>();
  /** Bytes read ahead, or being read, and not yet written. */
  private heldBytes = 0;
  /** The next file that may be read ahead; those before it were read ahead already or are taken in their turn. */
  private nextCandidate = 0;
  private destroyed = false;

  constructor(private readonly files: readonly BatchZipFile[], private readonly options: SourceOptions) {}

  /** Reads ahead as many following files as the bounds allow. */
  fill(): void {
    const maxFileBytes = this.options.prefetchBytes / 4;
    while (!this.destroyed && this.nextCandidate < this.files.length && this.prefetched.size < this.options.prefetchEntries) {
      const index = this.nextCandidate;
      const file = this.files[index];
      if (file.size > maxFileBytes) {
        this.nextCandidate++;
        continue;
      }
      // In order: a later, smaller file does not jump ahead of one that waits for room.
      if (this.heldBytes + file.size > this.options.prefetchBytes) return;
      this.heldBytes += file.size;
      this.nextCandidate++;
      const reading = this.readWhole(file);
      reading.catch(this.options.fail);
      this.prefetched.set(index, reading);
    }
  }

  /** The stream of file `index`, whose turn it is. */
  async take(index: number): Promise<Readable> {
    const file = this.files[index];
    const ahead = this.prefetched.get(index);
    let stream: Readable;
    if (ahead !== undefined) {
      this.prefetched.delete(index);
      stream = Readable.from([await ahead], { objectMode: false });
      // Its bytes stay counted until they have gone into the ZIP.
      stream.once('close', () => {
        this.heldBytes -= file.size;
        this.fill();
      });
    } else {
      this.nextCandidate = Math.max(this.nextCandidate, index + 1);
      stream = await this.open(file);
      stream.on('error', this.options.fail);
    }
    this.active.add(stream);
    stream.once('close', () => this.active.delete(stream));
    this.fill();
    return stream;
  }

  /** Without an error: the failure is the output's to report, and a source with no listener left would crash on it. */
  destroy(): void {
    this.destroyed = true;
    for (const stream of this.active) stream.destroy();
    this.active.clear();
    this.prefetched.clear();
  }

  private async open(file: BatchZipFile): Promise<Readable> {
    this.options.signal.throwIfAborted();
    const stream = await file.open(this.options.signal);
    if (this.destroyed) {
      stream.destroy();
      this.options.signal.throwIfAborted();
    }
    return stream;
  }

  /** One exact-size copy: chunks that are slices of larger buffers (a cached block) would keep those alive. */
  private async readWhole(file: BatchZipFile): Promise<Buffer> {
    const stream = await this.open(file);
    this.active.add(stream);
    const whole = Buffer.allocUnsafe(file.size);
    let filled = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (filled + chunk.length > file.size) throw sizeMismatch(file, `more than ${file.size}`);
        filled += chunk.copy(whole, filled);
      }
    } finally {
      this.active.delete(stream);
    }
    if (filled !== file.size) throw sizeMismatch(file, String(filled));
    return whole;
  }
}

function sizeMismatch(file: BatchZipFile, got: string): Error {
  // The planner's size comes from the archive's listing and the reader checks it: a mismatch is a bug, not input.
  return new Error(`${JSON.stringify(file.nameInZip)} gave ${got} bytes where ${file.size} were declared`);
}
