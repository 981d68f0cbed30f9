import { pipeline, Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { WorkerError } from '../../../shared/errors';
import type { ObjectRef, ObjectStore } from '../../src/ports/object-store';
import type { ArchiveEntry } from './archive-entry';
import { CorruptArchiveError } from './archive-errors';
import type { PassStats, SequentialArchive } from './sequential-archive';

/**
 * A TAR (gzip-compressed or not) read straight from the object store, one streamed GET per pass: object -> gunzip ->
 * tar-stream's parser -> one entry at a time to the visitor. Every stage is backpressured, so a pass holds a few
 * high-water marks of bytes whatever the archive's or an entry's size, and no byte reaches the disk.
 */

export interface TarSource {
  /** The version read on every pass: a replaced object fails the pass with ObjectChangedError. */
  readonly etag: string;
  readonly compression: 'gzip' | 'none';
}

export function openTarArchive(store: ObjectStore, ref: ObjectRef, source: TarSource, options: { readonly signal?: AbortSignal } = {}): SequentialArchive {
  return {
    pass: (visit, signal) => readPass(store, ref, source, visit, combine(options.signal, signal)),
  };
}

/**
 * The part of tar-stream's extract this reader uses. tar-stream's own typings (streamx streams) and @types/tar-stream
 * (Node streams) describe it differently; both fit this.
 */
interface TarHeader {
  readonly name: string;
  readonly size?: number | null;
  readonly type?: string | null;
}
interface TarEntryStream {
  readonly header: TarHeader;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}
interface TarParser extends AsyncIterable<TarEntryStream> {
  write(chunk: Buffer): boolean;
  end(): unknown;
  destroy(error?: Error): unknown;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * Not a literal at the call: tar-stream's bundled typings omit `allowUnknownFormat`, which its parser (and
 * @types/tar-stream) has. A pre-POSIX (V7) header has no `ustar` magic; it is a TAR all the same, and feed() has
 * checked the first block's checksum. The high-water mark bounds what waits in the parser before the feeder waits.
 */
const PARSER_OPTIONS = { highWaterMark: 16 * 1024, allowUnknownFormat: true };

interface Progress {
  entries: number;
  compressedBytes: number;
  bytes: number;
}

async function readPass(
  store: ObjectStore, ref: ObjectRef, source: TarSource, visit: (entry: ArchiveEntry, body: Readable) => Promise<void>, signal: AbortSignal | undefined,
): Promise<PassStats> {
  const what = `s3://${ref.bucket}/${ref.key}`;
  signal?.throwIfAborted();
  const { body: object } = await store.openRead(ref, { ifMatch: source.etag, ...(signal !== undefined ? { signal } : {}) });
  const progress: Progress = { entries: 0, compressedBytes: 0, bytes: 0 };
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      progress.compressedBytes += chunk.length;
      callback(null, chunk);
    },
  });
  // The callback form returns the last stream; an error anywhere destroys every stage with it, so the loop reading
  // the last one sees the first failure.
  const tarBytes: Readable = source.compression === 'gzip'
    ? pipeline(object, counter, createGunzip(), () => undefined)
    : pipeline(object, counter, () => undefined);
  const parser = extract(PARSER_OPTIONS) as unknown as TarParser;

  // The first failure is the pass's failure; every later one is a consequence of the teardown it started.
  let failure: { readonly error: unknown } | undefined;
  const fail = (error: unknown): unknown => {
    if (failure === undefined) {
      failure = { error };
      const stopped = asError(error);
      object.destroy();
      tarBytes.destroy();
      parser.destroy(stopped);
    }
    return failure.error;
  };
  const onAbort = () => fail(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  // Aborted while the GET was answered: the listener above will never be called.
  if (signal?.aborted === true) onAbort();

  const feeding = feed(tarBytes, parser, progress, source.compression, what).catch((error: unknown) => fail(error));
  try {
    for await (const stream of parser) {
      if (failure !== undefined) break;
      const entry = toEntry(stream.header, progress.entries);
      const body = new EntryBody(stream, (error) => fail(corruptTar(error, what, progress)));
      try {
        // Only files carry bytes: a link is never followed and a device or FIFO has no content worth reading.
        await visit(entry, entry.kind === 'file' ? body.readable : Readable.from([]));
      } catch (error) {
        fail(error);
        break;
      }
      if (failure !== undefined) break;
      // tar-stream never feeds a directory's stream, whatever size its header claims: waiting for its end would hang.
      if (entry.kind !== 'directory') await body.skipRest();
      if (failure !== undefined) break;
      progress.entries++;
    }
  } catch (error) {
    // The iterator rejects with the parser's error: a broken TAR, unless an earlier failure destroyed the parser.
    fail(corruptTar(error, what, progress));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  await feeding;
  if (failure !== undefined) throw failure.error;
  return { ...progress };
}

/** Writes the TAR's bytes into the parser as fast as it takes them, after checking that they are a TAR at all. */
async function feed(tarBytes: Readable, parser: TarParser, progress: Progress, compression: TarSource['compression'], what: string): Promise<void> {
  const firstBlock: Buffer[] = [];
  let firstBlockBytes = 0;
  try {
    for await (const chunk of tarBytes as AsyncIterable<Buffer>) {
      progress.bytes += chunk.length;
      if (firstBlockBytes < TAR_BLOCK_BYTES) {
        firstBlock.push(chunk.subarray(0, TAR_BLOCK_BYTES - firstBlockBytes));
        firstBlockBytes += Math.min(chunk.length, TAR_BLOCK_BYTES - firstBlockBytes);
        if (firstBlockBytes === TAR_BLOCK_BYTES && !isTarHeaderBlock(Buffer.concat(firstBlock))) throw notATar(what, compression, 'its first block is no TAR header');
      }
      if (!parser.write(chunk)) await writable(parser);
    }
  } catch (error) {
    throw isZlibError(error) ? corruptGzip(error, what, progress) : error;
  }
  if (progress.bytes === 0) throw notATar(what, compression, compression === 'gzip' ? 'it decompresses to nothing' : 'it is empty');
  if (firstBlockBytes < TAR_BLOCK_BYTES) throw notATar(what, compression, `it holds ${progress.bytes} bytes, less than one TAR header`);
  parser.end();
}

/** Resolves once the parser takes more bytes, or is gone. */
function writable(parser: TarParser): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      parser.off('drain', done);
      parser.off('close', done);
      resolve();
    };
    parser.once('drain', done);
    parser.once('close', done);
  });
}

/**
 * An entry's bytes as a Node stream that flows only while its reader reads (tar-stream's entry stream is a streamx
 * stream, and destroying it destroys the whole parser: a reader that stops early must not). After the visit, whatever
 * it left unread is read and dropped so the parser reaches the next header.
 */
class EntryBody {
  readonly readable: Readable;
  private discarding = false;
  private readonly ended: Promise<void>;

  constructor(private readonly source: TarEntryStream, onError: (error: unknown) => unknown) {
    // Never rejects: a failure of the entry is the pass's failure (onError), not the drain's.
    this.ended = new Promise((resolve) => {
      source.on('end', resolve);
      source.on('close', resolve);
    });
    this.readable = new Readable({
      read: () => void source.resume(),
      destroy: (error, callback) => {
        this.discarding = true;
        callback(error);
      },
    });
    source.on('data', (chunk) => {
      if (this.discarding) return;
      if (!this.readable.push(chunk)) source.pause();
    });
    source.on('end', () => {
      if (!this.discarding) this.readable.push(null);
    });
    source.on('error', (error) => {
      const failure = onError(error);
      if (!this.discarding) this.readable.destroy(asError(failure));
    });
    source.pause();
  }

  async skipRest(): Promise<void> {
    this.discarding = true;
    this.source.resume();
    await this.ended;
    // A body the visit never finished (resumed, or left alone) is closed here; one it read to the end already is.
    if (!this.readable.destroyed) this.readable.destroy();
  }
}

function toEntry(header: TarHeader, index: number): ArchiveEntry {
  const kind = kindOf(header.type);
  return { path: header.name, kind, size: kind === 'file' ? header.size ?? 0 : 0, index };
}

function kindOf(type: string | null | undefined): ArchiveEntry['kind'] {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory':
      return 'directory';
    case 'symlink':
    case 'link':
      return 'link';
    default:
      // Devices, FIFOs, and types tar-stream does not name (sparse files, volume labels, pax headers if surfaced).
      return 'other';
  }
}

const TAR_BLOCK_BYTES = 512;

/**
 * A TAR starts with a header block whose checksum holds (the unsigned sum of its bytes, the checksum field counted as
 * spaces; some old tars summed signed bytes), or with an all-zero end block (an empty TAR).
 */
function isTarHeaderBlock(block: Buffer): boolean {
  if (block.every((byte) => byte === 0)) return true;
  const field = block.toString('latin1', 148, 156).replace(/\0.*$/s, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const stored = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK_BYTES; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

function notATar(what: string, compression: TarSource['compression'], why: string): CorruptArchiveError {
  return new CorruptArchiveError(`${what} is ${compression === 'gzip' ? 'gzip but not a TAR' : 'not a TAR'}: ${why}`);
}

/** zlib's own errors carry a `Z_` code; the source's (network, stall, abort) never do. */
function isZlibError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** zlib's messages name the fault, never the data: safe to pass on. */
function corruptGzip(error: unknown, what: string, progress: Progress): CorruptArchiveError {
  const message = (error as Error).message;
  const fault = /unexpected end/i.test(message)
    ? 'the gzip stream ends early (truncated)'
    : /incorrect (data|length) check/i.test(message) ? 'the gzip data fails its checksum' : `the gzip data is damaged (${message})`;
  return new CorruptArchiveError(`${what} is a corrupt archive: ${fault}, ${where(progress)}`, { cause: error });
}

/** tar-stream's parser errors, which name the fault only; an error already classified passes through. */
function corruptTar(error: unknown, what: string, progress: Progress): unknown {
  if (error instanceof WorkerError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const fault = /unexpected end of data/i.test(message)
    ? 'the TAR ends inside an entry (truncated)'
    : /invalid tar header/i.test(message) ? 'a TAR header is damaged (bad checksum or unknown format)' : `the TAR is damaged (${message})`;
  return new CorruptArchiveError(`${what} is a corrupt archive: ${fault}, ${where(progress)}`, { cause: error });
}

function where(progress: Progress): string {
  return `after ${progress.entries} entries and ${progress.bytes} bytes of TAR (${progress.compressedBytes} bytes of the object read)`;
}

/** Streams are destroyed with Errors; an abort's reason may be anything (a string, a symbol). */
function asError(reason: unknown): Error {
  if (reason instanceof Error) return reason;
  return Object.assign(new Error(`the archive pass was stopped (${String(reason)})`), { name: 'AbortError', cause: reason });
}

function combine(first: AbortSignal | undefined, second: AbortSignal | undefined): AbortSignal | undefined {
  if (first === undefined) return second;
  if (second === undefined) return first;
  return AbortSignal.any([first, second]);
}
