import { Readable, Transform, addAbortSignal, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import * as yauzl from 'yauzl';
import { TransientError } from '../../../shared/errors';
import type { ArchiveEntry } from './archive-entry';
import { CorruptArchiveError } from './archive-errors';
import { printablePath } from './entry-paths';

/**
 * A ZIP read in place through ranged reads: the central directory first (it sits at the end), then only the entries
 * asked for. Nothing is ever downloaded whole, so an archive of tens of GB costs what its listing and the entries
 * read cost, in memory and in bytes fetched.
 */

/** Bytes `start`..`endInclusive` of the archive object (an S3 ranged GET in production, a Buffer in tests). */
export type RangeReader = (start: number, endInclusive: number, signal?: AbortSignal) => Promise<Buffer>;

export interface ZipArchive {
  /** Central-directory order; an entry's index is its position there. */
  readonly entries: readonly ArchiveEntry[];
  /**
   * The entry's bytes, decompressed (stored or deflate), checked against the entry's CRC-32 and size at the end: a
   * mismatch or a deflate error is a CorruptArchiveError naming the entry's index and path (sanitised), never
   * content. A failed or aborted read is the reader's own error, unchanged.
   */
  openEntry(entry: ArchiveEntry, signal?: AbortSignal): Promise<Readable>;
  /** Ranged reads made so far and the bytes they returned. */
  readonly stats: { readonly requests: number; readonly bytesRead: number };
  /** No read is started after this; streams already open finish. */
  close(): Promise<void>;
}

export interface ZipArchiveOptions {
  /** Reads are served from aligned blocks of this many bytes (default 8 MiB); larger reads stream in such chunks. */
  readonly blockBytes?: number;
  /** Blocks kept, least recently used evicted first (default 4). */
  readonly cachedBlocks?: number;
  /** Aborts the listing and every read of this archive. */
  readonly signal?: AbortSignal;
}

const MiB = 1024 * 1024;
/**
 * Chunks handed downstream are at most this big: a stream's consumers each hold a chunk or two when it stalls, and
 * slices of one fetched block keep that block, not one copy of it per stage, alive.
 */
const SLICE_BYTES = 256 * 1024;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const ENCRYPTED_FLAG = 0x1;
/** Long names would make a log line of their own; the index already identifies the entry. */
const MAX_PATH_IN_MESSAGE = 200;

export async function openZipArchive(read: RangeReader, size: number, options: ZipArchiveOptions = {}): Promise<ZipArchive> {
  const blockBytes = options.blockBytes ?? 8 * MiB;
  const cachedBlocks = options.cachedBlocks ?? 4;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`archive size must be a non-negative integer, got ${size}`);
  if (!Number.isSafeInteger(blockBytes) || blockBytes < 1) throw new RangeError(`blockBytes must be a positive integer, got ${blockBytes}`);
  if (!Number.isSafeInteger(cachedBlocks) || cachedBlocks < 1) throw new RangeError(`cachedBlocks must be a positive integer, got ${cachedBlocks}`);
  options.signal?.throwIfAborted();

  const source = new CountingSource(read, size, options.signal);
  const reader = new BlockCachedReader(source, new BlockCache(source, blockBytes, cachedBlocks));
  const zipfile = await openYauzl(reader, size, source);
  try {
    const { entries, locations } = await listEntries(zipfile, source, options.signal);
    return new YauzlZipArchive(zipfile, source, reader, entries, locations);
  } catch (error) {
    zipfile.close();
    throw error;
  }
}

/**
 * What a read of the archive needs later, kept instead of yauzl's Entry (which holds its name, extra fields and
 * comment buffers): tens of thousands of entries stay a few MB.
 */
interface EntryLocation {
  readonly path: string;
  readonly generalPurposeBitFlag: number;
  readonly compressionMethod: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly relativeOffsetOfLocalHeader: number;
  readonly crc32: number;
}

class YauzlZipArchive implements ZipArchive {
  private closed = false;

  constructor(
    private readonly zipfile: yauzl.ZipFile,
    private readonly source: CountingSource,
    private readonly reader: BlockCachedReader,
    readonly entries: readonly ArchiveEntry[],
    private readonly locations: readonly EntryLocation[],
  ) {}

  get stats(): { readonly requests: number; readonly bytesRead: number } {
    return { requests: this.source.requests, bytesRead: this.source.bytesRead };
  }

  async openEntry(entry: ArchiveEntry, signal?: AbortSignal): Promise<Readable> {
    const location = this.locations[entry.index];
    // A programming error, not a property of the archive: an entry from another listing, or a closed archive.
    if (location === undefined || location.path !== entry.path) throw new Error(`entry ${entry.index} is not an entry of this archive`);
    if (this.closed) throw new Error('the archive is closed');
    if (entry.kind === 'other') throw new Error(`${describe(entry)} is encrypted or compressed with an unsupported method: it cannot be read`);
    signal?.throwIfAborted();

    const raw = await new Promise<Readable>((resolve, reject) => {
      this.zipfile.openReadStream(toYauzlEntry(location), (error, stream) => {
        if (error) reject(this.source.explain(error, (message) => corruptEntry(entry, message)));
        else resolve(stream);
      });
    });
    const checked = new EntryCheck(entry, location.crc32);
    raw.on('error', (error) => checked.destroy(this.source.explain(error, (message) => corruptEntry(entry, message))));
    // yauzl's streams must be unpiped before they are destroyed (its README): the consumer giving up, or an abort,
    // must stop the ranged reads behind them.
    checked.once('close', () => {
      if (!raw.readableEnded) {
        raw.unpipe(checked);
        raw.destroy();
      }
    });
    raw.pipe(checked);
    if (signal !== undefined) addAbortSignal(signal, checked);
    return checked;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.zipfile.close();
    this.reader.dropCache();
  }
}

/** Counts the bytes of an entry and its CRC-32 as they pass, and fails the stream at the end if either is wrong. */
class EntryCheck extends Transform {
  private crc = 0;
  private bytes = 0;

  constructor(private readonly entry: ArchiveEntry, private readonly expectedCrc: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.entry.size) {
      callback(corruptEntry(this.entry, `more than the ${this.entry.size} bytes the central directory gives`));
      return;
    }
    this.crc = crc32(chunk, this.crc);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.bytes !== this.entry.size) {
      callback(corruptEntry(this.entry, `${this.bytes} bytes where the central directory gives ${this.entry.size}`));
    } else if (this.crc !== this.expectedCrc) {
      callback(corruptEntry(this.entry, `CRC-32 mismatch (computed ${hex(this.crc)}, central directory ${hex(this.expectedCrc)})`));
    } else {
      callback();
    }
  }
}

/**
 * The RangeReader with the request count and byte total the stats report. It also tells the reader's own failures
 * (the store is down, the object changed, an abort) from yauzl's verdicts on the bytes: only the latter say the
 * archive is corrupt, and calling a transient outage corrupt would dead-letter a good archive.
 */
class CountingSource {
  requests = 0;
  bytesRead = 0;
  private readonly ownErrors = new WeakSet<object>();

  constructor(private readonly read: RangeReader, readonly size: number, readonly signal: AbortSignal | undefined) {}

  async fetch(start: number, endExclusive: number, signal: AbortSignal | undefined): Promise<Buffer> {
    try {
      this.requests += 1;
      const data = await this.read(start, endExclusive - 1, signal);
      if (data.length !== endExclusive - start) {
        throw new TransientError('short-read', `a ranged read of bytes ${start}-${endExclusive - 1} returned ${data.length} bytes instead of ${endExclusive - start}`);
      }
      this.bytesRead += data.length;
      return data;
    } catch (error) {
      const thrown = typeof error === 'object' && error !== null ? error : new Error(String(error));
      this.ownErrors.add(thrown);
      throw thrown;
    }
  }

  /** The reader's errors unchanged; anything else is yauzl or zlib finding the bytes wrong. */
  explain(error: unknown, corrupt: (message: string) => Error): Error {
    if (typeof error === 'object' && error !== null && (this.ownErrors.has(error) || (error as Error).name === 'AbortError')) return error as Error;
    return corrupt(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Aligned blocks of the archive, the most recently used kept. Entries stored next to each other then cost one GET per
 * block instead of one per entry (and two small reads of one entry, its local header and its data, one GET), and
 * concurrent reads of the same block share its GET.
 */
class BlockCache {
  private readonly blocks = new Map<number, Promise<Buffer>>();

  constructor(private readonly source: CountingSource, readonly blockBytes: number, private readonly capacity: number) {}

  /** Copies `length` bytes at `position` (within the archive) into `target` at `offset`. */
  async copy(target: Buffer, offset: number, position: number, length: number): Promise<void> {
    const first = Math.floor(position / this.blockBytes);
    const last = Math.floor((position + length - 1) / this.blockBytes);
    const pending: Promise<Buffer>[] = [];
    for (let index = first; index <= last; index++) pending.push(this.block(index));
    const blocks = await Promise.all(pending);
    let copied = 0;
    for (let i = 0; i < blocks.length; i++) {
      const blockStart = (first + i) * this.blockBytes;
      const from = Math.max(position, blockStart) - blockStart;
      const to = Math.min(position + length - blockStart, blocks[i].length);
      copied += blocks[i].copy(target, offset + copied, from, to);
    }
  }

  clear(): void {
    this.blocks.clear();
  }

  private block(index: number): Promise<Buffer> {
    const cached = this.blocks.get(index);
    if (cached !== undefined) {
      // Map order is insertion order: re-inserting makes this block the most recently used.
      this.blocks.delete(index);
      this.blocks.set(index, cached);
      return cached;
    }
    const start = index * this.blockBytes;
    // A signal of its own per GET: a store client listens on the signal it is given, and many GETs at once on the
    // caller's one signal would trip Node's listener-leak warning.
    const signal = this.source.signal === undefined ? undefined : AbortSignal.any([this.source.signal]);
    const fetched = this.source.fetch(start, Math.min(this.source.size, start + this.blockBytes), signal);
    this.blocks.set(index, fetched);
    // A failed GET is not kept: the next read of the block tries again.
    fetched.catch(() => {
      if (this.blocks.get(index) === fetched) this.blocks.delete(index);
    });
    while (this.blocks.size > this.capacity) {
      const oldest = this.blocks.keys().next().value as number;
      this.blocks.delete(oldest);
    }
    return fetched;
  }
}

/**
 * yauzl's window on the archive. Small reads (the end-of-archive search, central directory records, local headers,
 * small entries) go through the block cache; a read larger than a block (a big entry) bypasses it and streams in
 * block-sized ranged GETs, one ahead of the consumer, so a 10 GB entry never sits in memory.
 */
class BlockCachedReader extends yauzl.RandomAccessReader {
  constructor(private readonly source: CountingSource, private readonly cache: BlockCache) {
    super();
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (error: Error | null, bytesRead?: number) => void): void {
    // Past the end is a short read (fs.read's contract), which yauzl reports as a truncated archive.
    const available = Math.max(0, Math.min(length, this.source.size - position));
    if (available === 0) {
      setImmediate(() => callback(null, 0));
      return;
    }
    this.cache.copy(buffer, offset, position, available).then(
      () => callback(null, available),
      (error: unknown) => callback(error as Error),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const controller = new AbortController();
    const signal = this.source.signal === undefined ? controller.signal : AbortSignal.any([this.source.signal, controller.signal]);
    const chunks = end - start > this.cache.blockBytes ? this.direct(start, end, signal) : this.cached(start, end);
    const stream = Readable.from(chunks, { objectMode: false });
    stream.once('close', () => controller.abort());
    return stream;
  }

  dropCache(): void {
    this.cache.clear();
  }

  private async *cached(start: number, end: number): AsyncGenerator<Buffer> {
    // A copy, so an entry held downstream (a prefetched file) does not keep whole cached blocks alive.
    const data = Buffer.allocUnsafe(end - start);
    await this.cache.copy(data, 0, start, data.length);
    yield* slices(data);
  }

  private async *direct(start: number, end: number, signal: AbortSignal): AsyncGenerator<Buffer> {
    const step = this.cache.blockBytes;
    const fetchFrom = (position: number): Promise<Buffer> => {
      const pending = this.source.fetch(position, Math.min(end, position + step), signal);
      // Read ahead: if the consumer stops first, this rejection (the abort) must not go unhandled.
      pending.catch(() => undefined);
      return pending;
    };
    let next = fetchFrom(start);
    for (let position = start; position < end; position += step) {
      const current = next;
      if (position + step < end) next = fetchFrom(position + step);
      yield* slices(await current);
    }
  }
}

function* slices(data: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += SLICE_BYTES) yield data.subarray(offset, offset + SLICE_BYTES);
}

function openYauzl(reader: BlockCachedReader, size: number, source: CountingSource): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    const corrupt = (message: string) => new CorruptArchiveError(`not a readable ZIP: ${message}`);
    try {
      // decodeStrings off: yauzl would refuse the whole archive at the first unsafe name (`../x`, `/etc/x`, `a\b`),
      // and those must be listed for the planner to report. Names are decoded below as yauzl would, minus the check.
      yauzl.fromRandomAccessReader(reader, size, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true }, (error, zipfile) => {
        if (error) reject(source.explain(error, corrupt));
        else resolve(zipfile);
      });
    } catch (error) {
      // Thrown, not passed back: an archive larger than 2^52 bytes.
      reject(source.explain(error, corrupt));
    }
  });
}

function listEntries(zipfile: yauzl.ZipFile, source: CountingSource, signal: AbortSignal | undefined): Promise<{ entries: ArchiveEntry[]; locations: EntryLocation[] }> {
  return new Promise((resolve, reject) => {
    const entries: ArchiveEntry[] = [];
    const locations: EntryLocation[] = [];
    const corrupt = (message: string) => new CorruptArchiveError(`corrupt ZIP central directory at entry ${entries.length}: ${message}`);
    const onAbort = () => fail(signal?.reason);
    const finish = () => signal?.removeEventListener('abort', onAbort);
    function fail(error: unknown) {
      finish();
      zipfile.removeAllListeners('entry');
      reject(error);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    zipfile.on('error', (error: Error) => fail(source.explain(error, corrupt)));
    zipfile.on('end', () => {
      finish();
      resolve({ entries, locations });
    });
    zipfile.on('entry', (raw: yauzl.Entry) => {
      let path: string;
      try {
        path = yauzl.getFileNameLowLevel(raw.generalPurposeBitFlag, raw.fileNameRaw, raw.extraFields, true);
      } catch (error) {
        fail(corrupt(error instanceof Error ? error.message : String(error)));
        return;
      }
      entries.push({ path, kind: kindOf(path, raw), size: raw.uncompressedSize, index: entries.length });
      locations.push({
        path,
        generalPurposeBitFlag: raw.generalPurposeBitFlag,
        compressionMethod: raw.compressionMethod,
        compressedSize: raw.compressedSize,
        uncompressedSize: raw.uncompressedSize,
        relativeOffsetOfLocalHeader: raw.relativeOffsetOfLocalHeader,
        crc32: raw.crc32,
      });
      if (signal?.aborted !== true) zipfile.readEntry();
    });
    zipfile.readEntry();
  });
}

function kindOf(path: string, raw: yauzl.Entry): ArchiveEntry['kind'] {
  // The unix mode sits in the high half of the external attributes; creators that are not unix leave it 0.
  const type = (raw.externalFileAttributes >>> 16) & S_IFMT;
  if (path.endsWith('/') || type === S_IFDIR) return 'directory';
  if (type === S_IFLNK) return 'link';
  if (type !== 0 && type !== S_IFREG) return 'other';
  if ((raw.generalPurposeBitFlag & ENCRYPTED_FLAG) !== 0 || (raw.compressionMethod !== 0 && raw.compressionMethod !== 8)) return 'other';
  return 'file';
}

/** yauzl reads an entry from these fields alone; its Entry constructor is public for this. */
function toYauzlEntry(location: EntryLocation): yauzl.Entry {
  return Object.assign(new yauzl.Entry(), {
    generalPurposeBitFlag: location.generalPurposeBitFlag,
    compressionMethod: location.compressionMethod,
    compressedSize: location.compressedSize,
    uncompressedSize: location.uncompressedSize,
    relativeOffsetOfLocalHeader: location.relativeOffsetOfLocalHeader,
    crc32: location.crc32,
  });
}

function corruptEntry(entry: ArchiveEntry, problem: string): CorruptArchiveError {
  return new CorruptArchiveError(`${describe(entry)}: ${problem}`);
}

function describe(entry: ArchiveEntry): string {
  const path = printablePath(entry.path);
  const shown = path.length > MAX_PATH_IN_MESSAGE ? `${path.slice(0, MAX_PATH_IN_MESSAGE)}…` : path;
  return `ZIP entry ${entry.index} ("${shown}")`;
}

function hex(value: number): string {
  return value.toString(16).padStart(8, '0');
}
