import { NotAnArchiveError } from './archive-errors';

/**
 * Which reader an archive needs, from its first bytes only: a key's extension is what the uploader typed, and a
 * `.zip` that is really a RAR (or an HTML error page saved under the archive's name) must fail as what it is.
 */
export type ArchiveFormat = 'zip' | 'tar.gz' | 'tar';

/** Bytes detection looks at: a TAR names itself at offset 257 (`ustar`), inside its first 512-byte header. */
export const FORMAT_DETECTION_BYTES = 512;

/**
 * The format of an archive that starts with `firstBytes` (the first FORMAT_DETECTION_BYTES of it, fewer when the object
 * is smaller). A gzip stream is taken for a TAR.GZ here; one that holds no TAR fails later, in the TAR reader.
 * Throws NotAnArchiveError naming what the bytes look like where that is cheap to tell.
 */
export function detectArchiveFormat(firstBytes: Buffer, keyForMessages: string): ArchiveFormat {
  if (startsWith(firstBytes, [0x50, 0x4b, 0x03, 0x04])) return 'zip';
  // An archive with no entries is only its end-of-central-directory record.
  if (startsWith(firstBytes, [0x50, 0x4b, 0x05, 0x06])) return 'zip';
  // A spanned-archive marker before the first local header; a one-segment "spanned" archive is a plain ZIP after it.
  if (startsWith(firstBytes, [0x50, 0x4b, 0x07, 0x08])) return 'zip';
  // gzip's magic and the deflate method, the only one defined.
  if (startsWith(firstBytes, [0x1f, 0x8b, 0x08])) return 'tar.gz';
  if (isUstar(firstBytes)) return 'tar';
  throw new NotAnArchiveError(`${keyForMessages} is not a ZIP or TAR.GZ archive: ${describe(firstBytes)}`);
}

interface Lookalike {
  readonly looksLike: string;
  readonly matches: (bytes: Buffer) => boolean;
}

const magic = (looksLike: string, signature: readonly number[], offset = 0): Lookalike => ({ looksLike, matches: (bytes) => startsWith(bytes, signature, offset) });
const ascii = (text: string) => [...Buffer.from(text, 'latin1')];

/** Formats people send by mistake, by their magic numbers; checked in order. */
const LOOKALIKES: readonly Lookalike[] = [
  magic('a RAR archive', ascii('Rar!\x1a\x07')),
  magic('a 7z archive', [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]),
  magic('a bzip2 stream (.bz2, .tar.bz2)', ascii('BZh')),
  magic('an xz stream (.xz, .tar.xz)', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
  magic('a zstd stream (.zst, .tar.zst)', [0x28, 0xb5, 0x2f, 0xfd]),
  magic('a Unix compress stream (.Z)', [0x1f, 0x9d]),
  magic('a gzip stream with an unknown compression method', [0x1f, 0x8b]),
  magic('a piece of a ZIP archive, not its start (a split segment?)', ascii('PK')),
  magic('a PDF document', ascii('%PDF-')),
  magic('a PNG image', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  magic('a JPEG image', [0xff, 0xd8, 0xff]),
  magic('a GIF image', ascii('GIF8')),
  magic('a Windows executable (a self-extracting archive?)', ascii('MZ')),
  { looksLike: 'an HTML page', matches: (bytes) => /^\s*(<!doctype html|<html)/i.test(textStart(bytes)) },
  { looksLike: 'an XML document', matches: (bytes) => /^\s*<\?xml/i.test(textStart(bytes)) },
  { looksLike: 'text', matches: isText },
];

function describe(bytes: Buffer): string {
  if (bytes.length === 0) return 'the object is empty';
  const lookalike = LOOKALIKES.find((candidate) => candidate.matches(bytes));
  if (lookalike !== undefined) return `it starts like ${lookalike.looksLike}`;
  // A few bytes in hex name the format for whoever looks it up, and reveal nothing of the content.
  return `it starts with the bytes ${[...bytes.subarray(0, 4)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ')}, no format this job reads`;
}

function startsWith(bytes: Buffer, signature: readonly number[], offset = 0): boolean {
  return bytes.length >= offset + signature.length && signature.every((byte, i) => bytes[offset + i] === byte);
}

/** POSIX `ustar\0` and GNU `ustar  \0` both start with these five bytes at offset 257. */
function isUstar(bytes: Buffer): boolean {
  return startsWith(bytes, ascii('ustar'), 257);
}

/** The first bytes as text, a byte-order mark dropped; only ever matched against ASCII patterns. */
function textStart(bytes: Buffer): string {
  return bytes.subarray(0, 64).toString('latin1').replace(/^\xef\xbb\xbf/, '');
}

/** UTF-8 with no control characters but tab, line feed, carriage return and form feed. */
function isText(bytes: Buffer): boolean {
  if (bytes.some((byte) => (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c) || byte === 0x7f)) return false;
  // The sample may end inside a multi-byte character: up to three bytes of one are cut off before decoding.
  for (let cut = 0; cut <= Math.min(3, bytes.length - 1); cut++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, bytes.length - cut));
      return true;
    } catch {
      // try a shorter sample
    }
  }
  return false;
}
