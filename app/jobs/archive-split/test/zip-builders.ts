import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { ZipFile } from 'yazl';
import type { BatchZipFile } from '../batch-zip';
import type { RangeReader } from '../zip-archive';

/**
 * Builders for the ZIP tests: archives made by Info-ZIP's `zip` and by yazl, raw byte patches for hostile names and
 * corruption, Buffer-backed and computed RangeReaders, and the `unzip` checks of what the writer produced.
 */

export const MiB = 1024 * 1024;

export function tempDir(prefix = 'zip-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Deterministic bytes that do not compress (a seeded xorshift), so a deflated entry is still its size. */
export function noise(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export type TreeItem = { readonly path: string; readonly content: Buffer | string } | { readonly path: string; readonly linkTo: string };

/**
 * A ZIP made by the system `zip` from files written to a temporary folder. `flags` are zip's own: `-0` stores,
 * `-fz` forces ZIP64 records, `-y` stores symlinks as links.
 */
export function infoZip(items: readonly TreeItem[], flags: readonly string[] = []): Buffer {
  const root = tempDir('zip-src-');
  try {
    for (const item of items) {
      const full = join(root, item.path);
      mkdirSync(dirname(full), { recursive: true });
      if ('linkTo' in item) symlinkSync(item.linkTo, full);
      else if (item.path.endsWith('/')) mkdirSync(full, { recursive: true });
      else writeFileSync(full, item.content);
    }
    const out = join(root, '..', `${root.split('/').pop()}.zip`);
    // -X: no extra attributes that vary by machine. Without -r, zip adds exactly the paths named, in that order.
    execFileSync('zip', ['-q', '-X', ...flags, out, ...items.map((item) => item.path)], { cwd: root });
    const bytes = readFileSync(out);
    rmSync(out);
    return bytes;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A ZIP made by yazl from in-memory entries, for what `zip` will not make (forced ZIP64 on every record). */
export async function yazlZip(
  entries: readonly { name: string; content: Buffer; compress?: boolean }[],
  options: { forceZip64Format?: boolean } = {},
): Promise<Buffer> {
  const zip = new ZipFile();
  for (const entry of entries) {
    zip.addReadStream(Readable.from([entry.content]), entry.name, {
      mtime: new Date('2026-01-01T00:00:00Z'), compress: entry.compress ?? false, size: entry.content.length, forceZip64Format: options.forceZip64Format ?? false,
    });
  }
  zip.end({ forceZip64Format: options.forceZip64Format ?? false, comment: '' });
  return collect(zip.outputStream as Readable);
}

/** Replaces every occurrence of one name by another of the same byte length: in the local header and the central directory. */
export function patchName(zip: Buffer, from: string, to: string): Buffer {
  const a = Buffer.from(from);
  const b = Buffer.from(to, 'latin1');
  if (a.length !== b.length) throw new Error('patchName keeps offsets: both names must have the same length');
  const out = Buffer.from(zip);
  let found = 0;
  for (let at = out.indexOf(a); at !== -1; at = out.indexOf(a, at + a.length)) {
    b.copy(out, at);
    found++;
  }
  if (found === 0) throw new Error(`name ${from} not found`);
  return out;
}

/** Where an entry's data starts, from its local header (`name` must be unique in the archive). */
export function dataOffset(zip: Buffer, name: string): number {
  const header = zip.indexOf(Buffer.from(name));
  const lfh = header - 30;
  if (lfh < 0 || zip.readUInt32LE(lfh) !== 0x04034b50) throw new Error(`no local header for ${name}`);
  return lfh + 30 + zip.readUInt16LE(lfh + 26) + zip.readUInt16LE(lfh + 28);
}

/** A RangeReader over a Buffer that records every range asked for. */
export function bufferReader(bytes: Buffer): RangeReader & { readonly calls: [number, number][] } {
  const calls: [number, number][] = [];
  const reader = async (start: number, endInclusive: number, signal?: AbortSignal) => {
    signal?.throwIfAborted();
    calls.push([start, endInclusive]);
    if (start < 0 || endInclusive >= bytes.length || endInclusive < start) throw new Error(`range ${start}-${endInclusive} outside 0-${bytes.length - 1}`);
    await new Promise((resolve) => setImmediate(resolve));
    return Buffer.from(bytes.subarray(start, endInclusive + 1));
  };
  return Object.assign(reader, { calls });
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A BatchZipFile from memory, counting its opens and the bytes its streams gave. */
export function memoryFile(nameInZip: string, content: Buffer, counter?: { opened: number; bytes: number }, chunkBytes = 64 * 1024): BatchZipFile {
  return {
    nameInZip,
    size: content.length,
    async open() {
      if (counter) counter.opened++;
      let offset = 0;
      return new Readable({
        read() {
          if (offset >= content.length) {
            this.push(null);
            return;
          }
          const chunk = content.subarray(offset, offset + chunkBytes);
          offset += chunk.length;
          if (counter) counter.bytes += chunk.length;
          this.push(chunk);
        },
      });
    },
  };
}

/** `unzip -t` (every entry's CRC checked) and `unzip -Z1` (the names) on bytes written to a temporary file. */
export function unzipCheck(zip: Buffer): { testOutput: string; names: string[] } {
  const dir = tempDir('zip-out-');
  try {
    const path = join(dir, 'out.zip');
    writeFileSync(path, zip);
    const testOutput = execFileSync('unzip', ['-t', path], { encoding: 'utf8', maxBuffer: 64 * MiB });
    const names = execFileSync('unzip', ['-Z1', path], { encoding: 'utf8', maxBuffer: 64 * MiB }).split('\n').filter((line) => line !== '');
    return { testOutput, names };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Extracts one entry with `unzip -p`, to compare bytes with what went in. */
export function unzipEntry(zip: Buffer, name: string): Buffer {
  const dir = tempDir('zip-out-');
  try {
    const path = join(dir, 'out.zip');
    writeFileSync(path, zip);
    return execFileSync('unzip', ['-p', path, name], { maxBuffer: 256 * MiB });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CRC-32 of `size` zero bytes, in steps over one zero buffer. */
export function zerosCrc(size: number): number {
  const zeros = Buffer.alloc(8 * MiB);
  let crc = 0;
  for (let done = 0; done < size; done += zeros.length) crc = crc32(zeros.subarray(0, Math.min(zeros.length, size - done)), crc);
  return crc;
}

/**
 * A ZIP64 archive that exists only as arithmetic: `big.bin`, `bigSize` zero bytes stored (so its sizes need ZIP64),
 * followed by `after.txt`, whose local header lies past 4 GiB (so its offset needs ZIP64 too), then a ZIP64 central
 * directory. Its RangeReader computes any range: headers where they are, zeros elsewhere.
 */
export function virtualZip64(bigSize: number, afterContent: Buffer): { size: number; reader: RangeReader; bigCrc: number } {
  const bigCrc = zerosCrc(bigSize);
  const dosTime = 0;
  const dosDate = (46 << 9) | (1 << 5) | 1; // 2026-01-01
  const segments: { offset: number; bytes: Buffer }[] = [];
  let cursor = 0;
  const put = (bytes: Buffer) => {
    segments.push({ offset: cursor, bytes });
    cursor += bytes.length;
  };

  const bigName = Buffer.from('big.bin');
  const bigLocal = Buffer.alloc(30 + bigName.length + 20);
  bigLocal.writeUInt32LE(0x04034b50, 0);
  bigLocal.writeUInt16LE(45, 4);
  bigLocal.writeUInt16LE(0, 6);
  bigLocal.writeUInt16LE(0, 8);
  bigLocal.writeUInt16LE(dosTime, 10);
  bigLocal.writeUInt16LE(dosDate, 12);
  bigLocal.writeUInt32LE(bigCrc, 14);
  bigLocal.writeUInt32LE(0xffffffff, 18);
  bigLocal.writeUInt32LE(0xffffffff, 22);
  bigLocal.writeUInt16LE(bigName.length, 26);
  bigLocal.writeUInt16LE(20, 28);
  bigName.copy(bigLocal, 30);
  writeZip64Extra(bigLocal, 30 + bigName.length, [bigSize, bigSize]);
  put(bigLocal);
  cursor += bigSize; // the zeros: no segment

  const afterOffset = cursor;
  const afterName = Buffer.from('after.txt');
  const afterCrc = crc32(afterContent);
  const afterLocal = Buffer.alloc(30 + afterName.length);
  afterLocal.writeUInt32LE(0x04034b50, 0);
  afterLocal.writeUInt16LE(20, 4);
  afterLocal.writeUInt16LE(dosTime, 10);
  afterLocal.writeUInt16LE(dosDate, 12);
  afterLocal.writeUInt32LE(afterCrc, 14);
  afterLocal.writeUInt32LE(afterContent.length, 18);
  afterLocal.writeUInt32LE(afterContent.length, 22);
  afterLocal.writeUInt16LE(afterName.length, 26);
  afterName.copy(afterLocal, 30);
  put(afterLocal);
  put(afterContent);

  const centralStart = cursor;
  put(centralRecord(bigName, bigCrc, 0xffffffff, 0xffffffff, 0, [bigSize, bigSize], dosTime, dosDate));
  put(centralRecord(afterName, afterCrc, afterContent.length, afterContent.length, 0xffffffff, [afterOffset], dosTime, dosDate));
  const centralSize = cursor - centralStart;

  const zip64End = Buffer.alloc(56);
  const zip64EndOffset = cursor;
  zip64End.writeUInt32LE(0x06064b50, 0);
  writeUInt64(zip64End, 44, 4);
  zip64End.writeUInt16LE(45, 12);
  zip64End.writeUInt16LE(45, 14);
  writeUInt64(zip64End, 2, 24);
  writeUInt64(zip64End, 2, 32);
  writeUInt64(zip64End, centralSize, 40);
  writeUInt64(zip64End, centralStart, 48);
  put(zip64End);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  writeUInt64(locator, zip64EndOffset, 8);
  locator.writeUInt32LE(1, 16);
  put(locator);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(2, 8);
  end.writeUInt16LE(2, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(0xffffffff, 16);
  put(end);

  const size = cursor;
  const reader: RangeReader = async (start, endInclusive) => {
    if (start < 0 || endInclusive >= size || endInclusive < start) throw new Error(`range ${start}-${endInclusive} outside 0-${size - 1}`);
    const out = Buffer.alloc(endInclusive - start + 1);
    for (const segment of segments) {
      const from = Math.max(start, segment.offset);
      const to = Math.min(endInclusive + 1, segment.offset + segment.bytes.length);
      if (from < to) segment.bytes.copy(out, from - start, from - segment.offset, to - segment.offset);
    }
    return out;
  };
  return { size, reader, bigCrc };
}

function centralRecord(name: Buffer, crc: number, compressed: number, uncompressed: number, offset: number, zip64: number[], time: number, date: number): Buffer {
  const extraLength = 4 + 8 * zip64.length;
  const record = Buffer.alloc(46 + name.length + extraLength);
  record.writeUInt32LE(0x02014b50, 0);
  record.writeUInt16LE((3 << 8) | 45, 4);
  record.writeUInt16LE(45, 6);
  record.writeUInt16LE(time, 12);
  record.writeUInt16LE(date, 14);
  record.writeUInt32LE(crc, 16);
  record.writeUInt32LE(compressed, 20);
  record.writeUInt32LE(uncompressed, 24);
  record.writeUInt16LE(name.length, 28);
  record.writeUInt16LE(extraLength, 30);
  record.writeUInt32LE((0o100644 << 16) >>> 0, 38);
  record.writeUInt32LE(offset, 42);
  name.copy(record, 46);
  writeZip64Extra(record, 46 + name.length, zip64);
  return record;
}

function writeZip64Extra(target: Buffer, at: number, values: number[]): void {
  target.writeUInt16LE(0x0001, at);
  target.writeUInt16LE(8 * values.length, at + 2);
  values.forEach((value, i) => writeUInt64(target, value, at + 4 + 8 * i));
}

function writeUInt64(target: Buffer, value: number, at: number): void {
  target.writeUInt32LE(value % 0x100000000, at);
  target.writeUInt32LE(Math.floor(value / 0x100000000), at + 4);
}

/**
 * A sink that keeps only the last `keep` bytes of what it is given (chunks, not copies, until the end) and counts the
 * rest: a ZIP of several GB checked by its tail without holding it.
 */
export class TailSink extends Writable {
  bytes = 0;
  private chunks: Buffer[] = [];
  private held = 0;

  constructor(private readonly keep: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    this.chunks.push(chunk);
    this.held += chunk.length;
    while (this.chunks.length > 1 && this.held - this.chunks[0].length >= this.keep) this.held -= this.chunks.shift()!.length;
    callback();
  }

  /** The kept bytes and where they start in the whole stream. */
  tail(): { bytes: Buffer; offset: number } {
    const bytes = Buffer.concat(this.chunks).subarray(-this.keep);
    return { bytes, offset: this.bytes - bytes.length };
  }
}
