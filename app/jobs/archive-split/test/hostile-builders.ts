import { crc32, createDeflateRaw, deflateRawSync } from 'node:zlib';

/**
 * Hostile archives written byte by byte, for what no well-behaved tool (zip, yazl, tar, tar-stream's packer) will
 * write: ZIP central directories that lie (names, sizes, offsets, flags, overlapping data, fake end records in the
 * comment) and TAR headers that lie (sizes, types, PAX and GNU long names).
 */

// ---------------------------------------------------------------------------------------------------- ZIP

/** One entry of a hand-written ZIP. Every field the central directory carries can be made to lie. */
export interface RawZipEntry {
  /** A string is written as UTF-8 with the UTF-8 flag set; a Buffer is written as it is, the flag left clear. */
  readonly name: string | Buffer;
  /** The entry's real content; `data` (what follows the local header) is derived from it unless given. */
  readonly content?: Buffer;
  /** The bytes after the local header as stored (already deflated for method 8). */
  readonly data?: Buffer;
  /** 0 stored (default), 8 deflate (content is deflated), anything else written as it is. */
  readonly method?: number;
  /** Defaults: the CRC-32 and length of `content`, the length of the stored data. */
  readonly crc?: number;
  readonly uncompressedSize?: number;
  readonly compressedSize?: number;
  /** Added to the general purpose flags (bit 0: encrypted). */
  readonly flags?: number;
  /** The unix mode in the high half of the external attributes (default a regular file, 0644). */
  readonly unixMode?: number;
  /**
   * Write no local header or data of its own: the central directory record points at the local header of the entry
   * with this index (earlier in the list), the "overlapping files" trick.
   */
  readonly sharesDataOf?: number;
  /** Added to this entry's local header offset in its central directory record (pointing it elsewhere). */
  readonly offsetShift?: number;
}

export interface RawZipOptions {
  /** The end record's comment, written as it is. */
  readonly comment?: Buffer;
  /** Central directory records dropped from the end of the central directory while the end record still counts them. */
  readonly dropLastRecords?: number;
  /** Bytes put before the first local header (what a self-extractor's stub would be). */
  readonly prefix?: Buffer;
}

const UTF8_FLAG = 0x800;
const DOS_DATE = (46 << 9) | (1 << 5) | 1; // 2026-01-01

/** A ZIP written field by field: local headers and data, the central directory, the end record. */
export function rawZip(entries: readonly RawZipEntry[], options: RawZipOptions = {}): Buffer {
  const parts: Buffer[] = [];
  let cursor = 0;
  const put = (bytes: Buffer) => {
    parts.push(bytes);
    cursor += bytes.length;
  };
  if (options.prefix !== undefined) put(options.prefix);

  const described = entries.map((entry) => describeEntry(entry));
  const offsets: number[] = [];
  described.forEach((entry, index) => {
    if (entry.sharesDataOf !== undefined) {
      const shared = offsets[entry.sharesDataOf];
      if (shared === undefined) throw new Error(`entry ${index} shares the data of a later or missing entry`);
      offsets.push(shared);
      return;
    }
    offsets.push(cursor);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(entry.flags, 6);
    local.writeUInt16LE(entry.method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(entry.crc, 14);
    local.writeUInt32LE(entry.compressedSize, 18);
    local.writeUInt32LE(entry.uncompressedSize, 22);
    local.writeUInt16LE(entry.name.length, 26);
    local.writeUInt16LE(0, 28);
    put(local);
    put(entry.name);
    put(entry.data);
  });

  const centralStart = cursor;
  const records = described.slice(0, described.length - (options.dropLastRecords ?? 0));
  records.forEach((entry, index) => {
    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE((3 << 8) | 20, 4);
    record.writeUInt16LE(20, 6);
    record.writeUInt16LE(entry.flags, 8);
    record.writeUInt16LE(entry.method, 10);
    record.writeUInt16LE(0, 12);
    record.writeUInt16LE(DOS_DATE, 14);
    record.writeUInt32LE(entry.crc, 16);
    record.writeUInt32LE(entry.compressedSize, 20);
    record.writeUInt32LE(entry.uncompressedSize, 24);
    record.writeUInt16LE(entry.name.length, 28);
    record.writeUInt32LE((entry.unixMode << 16) >>> 0, 38);
    record.writeUInt32LE(offsets[index]! + entry.offsetShift, 42);
    put(record);
    put(entry.name);
  });
  const centralSize = cursor - centralStart;
  put(endRecord(described.length, centralSize, centralStart, options.comment ?? Buffer.alloc(0)));
  return Buffer.concat(parts);
}

/** An end-of-central-directory record: `entries` entries, a central directory of `size` bytes at `offset`. */
export function endRecord(entries: number, size: number, offset: number, comment: Buffer = Buffer.alloc(0)): Buffer {
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries, 8);
  end.writeUInt16LE(entries, 10);
  end.writeUInt32LE(size, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(comment.length, 20);
  return Buffer.concat([end, comment]);
}

interface DescribedEntry {
  readonly name: Buffer;
  readonly data: Buffer;
  readonly method: number;
  readonly crc: number;
  readonly uncompressedSize: number;
  readonly compressedSize: number;
  readonly flags: number;
  readonly unixMode: number;
  readonly sharesDataOf?: number;
  readonly offsetShift: number;
}

function describeEntry(entry: RawZipEntry): DescribedEntry {
  const name = typeof entry.name === 'string' ? Buffer.from(entry.name, 'utf8') : entry.name;
  const method = entry.method ?? 0;
  const content = entry.content ?? Buffer.alloc(0);
  const data = entry.data ?? (method === 8 ? deflateRawSync(content) : content);
  return {
    name,
    data,
    method,
    crc: entry.crc ?? crc32(content),
    uncompressedSize: entry.uncompressedSize ?? content.length,
    compressedSize: entry.compressedSize ?? data.length,
    flags: (typeof entry.name === 'string' ? UTF8_FLAG : 0) | (entry.flags ?? 0),
    unixMode: entry.unixMode ?? 0o100644,
    offsetShift: entry.offsetShift ?? 0,
    ...(entry.sharesDataOf !== undefined ? { sharesDataOf: entry.sharesDataOf } : {}),
  };
}

/**
 * A deflate stream of `size` zero bytes, made in 8 MiB steps without ever holding them: what a deflate bomb's entry
 * stores (about 1 KB per MB). Its CRC-32 comes with it.
 */
export async function deflatedZeros(size: number): Promise<{ data: Buffer; crc: number }> {
  const zeros = Buffer.alloc(Math.min(8 * 1024 * 1024, size));
  const deflate = createDeflateRaw({ level: 9 });
  const pieces: Buffer[] = [];
  deflate.on('data', (piece: Buffer) => pieces.push(piece));
  const ended = new Promise<void>((resolve, reject) => deflate.once('end', resolve).once('error', reject));
  let crc = 0;
  for (let done = 0; done < size; done += zeros.length) {
    const chunk = zeros.subarray(0, Math.min(zeros.length, size - done));
    crc = crc32(chunk, crc);
    if (!deflate.write(chunk)) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await ended;
  return { data: Buffer.concat(pieces), crc };
}

// ---------------------------------------------------------------------------------------------------- TAR

const BLOCK = 512;

export interface RawTarHeader {
  readonly name: string;
  readonly size?: number;
  /** The typeflag character: '0' file, '1' hard link, '2' symlink, '5' directory, 'x' PAX, 'L' GNU long name. */
  readonly type?: string;
  readonly linkname?: string;
  /** The 12 bytes of the size field as they are, instead of `size` in octal (e.g. a base-256 or garbage value). */
  readonly sizeField?: Buffer;
}

/** One 512-byte ustar header block, its checksum right whatever its fields say. */
export function tarHeader(header: RawTarHeader): Buffer {
  const block = Buffer.alloc(BLOCK);
  const name = Buffer.from(header.name, 'utf8');
  if (name.length > 100) throw new Error('a ustar name field holds 100 bytes: use a PAX or GNU long name');
  name.copy(block, 0);
  block.write('0000644\0', 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  if (header.sizeField !== undefined) header.sizeField.copy(block, 124, 0, 12);
  else block.write(`${(header.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  block.write('15133165445\0', 136, 'latin1');
  block.write(header.type ?? '0', 156, 'latin1');
  if (header.linkname !== undefined) Buffer.from(header.linkname, 'utf8').copy(block, 157, 0, 100);
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

/** Content padded to whole blocks. */
export function tarData(content: Buffer): Buffer {
  const padding = (BLOCK - (content.length % BLOCK)) % BLOCK;
  return Buffer.concat([content, Buffer.alloc(padding)]);
}

/** A regular file: its header and its padded content. */
export function tarFile(name: string, content: Buffer | string): Buffer {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  return Buffer.concat([tarHeader({ name, size: bytes.length }), tarData(bytes)]);
}

/** A PAX extended header (`x`) for the entry that follows: `path` and whatever other records are given. */
export function paxHeader(records: Readonly<Record<string, string>>): Buffer {
  const body = Buffer.concat(Object.entries(records).map(([key, value]) => paxRecord(key, value)));
  return Buffer.concat([tarHeader({ name: 'PaxHeaders/entry', type: 'x', size: body.length }), tarData(body)]);
}

/** `"<length> <key>=<value>\n"`, the length counting itself. */
function paxRecord(key: string, value: string): Buffer {
  const rest = Buffer.byteLength(` ${key}=${value}\n`);
  let length = rest + String(rest).length;
  if (String(length).length !== String(rest).length) length = rest + String(length).length;
  return Buffer.from(`${length} ${key}=${value}\n`, 'utf8');
}

/** A GNU long-name header (`L`, `././@LongLink`) naming the entry that follows. */
export function gnuLongName(name: string): Buffer {
  const body = Buffer.concat([Buffer.from(name, 'utf8'), Buffer.alloc(1)]);
  return Buffer.concat([tarHeader({ name: '././@LongLink', type: 'L', size: body.length }), tarData(body)]);
}

/** The two zero blocks that end a TAR. */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

/**
 * The names in a ZIP's central directory, read from its end record (no ZIP64, no comment): for names longer than
 * Info-ZIP will print (it truncates past 4095 bytes).
 */
export function centralDirectoryNames(zip: Buffer): string[] {
  const end = zip.length - 22;
  if (zip.readUInt32LE(end) !== 0x06054b50) throw new Error('no end record where one without a comment would be');
  const count = zip.readUInt16LE(end + 10);
  const names: string[] = [];
  for (let at = zip.readUInt32LE(end + 16), i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`no central directory record at ${at}`);
    const nameLength = zip.readUInt16LE(at + 28);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return names;
}
