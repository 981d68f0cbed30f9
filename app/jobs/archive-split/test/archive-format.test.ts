import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { classifyFailure } from '../../../../shared/errors';
import { NotAnArchiveError } from '../archive-errors';
import { detectArchiveFormat, FORMAT_DETECTION_BYTES } from '../archive-format';

const KEY = 's3://uploads/in/batch 7.zip';
const bytes = (...values: (number | string)[]) => Buffer.concat(values.map((value) => (typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from([value]))));
/** What detection sees of an object: its first FORMAT_DETECTION_BYTES. */
const head = (object: Buffer) => object.subarray(0, FORMAT_DETECTION_BYTES);

/** The NotAnArchiveError detection throws for `first`, or the format when it accepts them. */
function verdict(first: Buffer): string {
  try {
    return detectArchiveFormat(first, KEY);
  } catch (error) {
    expect(error).toBeInstanceOf(NotAnArchiveError);
    return (error as Error).message;
  }
}

describe('detectArchiveFormat: what it accepts', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'archive-format-'));
    writeFileSync(join(dir, 'a.txt'), 'alpha');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a ZIP by its local header, an empty ZIP by its end record, a spanned one by its marker', () => {
    expect(detectArchiveFormat(bytes('PK', 3, 4, 20, 0, 0, 0, 8, 0), KEY)).toBe('zip');
    expect(detectArchiveFormat(bytes('PK', 5, 6, ...new Array<number>(18).fill(0)), KEY)).toBe('zip');
    expect(detectArchiveFormat(bytes('PK', 7, 8, 'PK', 3, 4), KEY)).toBe('zip');
  });

  it('any gzip stream as a TAR.GZ: one from GNU tar, and one that holds no TAR (its reader says so later)', () => {
    execFileSync('tar', ['czf', join(dir, 'a.tar.gz'), '-C', dir, 'a.txt']);
    expect(detectArchiveFormat(head(readFileSync(join(dir, 'a.tar.gz'))), KEY)).toBe('tar.gz');
    expect(detectArchiveFormat(head(gzipSync('not a tar at all')), KEY)).toBe('tar.gz');
  });

  it('a plain TAR in GNU and POSIX formats, by `ustar` at offset 257', () => {
    for (const format of ['gnu', 'posix', 'ustar']) {
      execFileSync('tar', ['cf', join(dir, `a-${format}.tar`), `--format=${format}`, '-C', dir, 'a.txt']);
      expect(detectArchiveFormat(head(readFileSync(join(dir, `a-${format}.tar`))), KEY)).toBe('tar');
    }
  });

  it('never by the key: a TAR.GZ named .zip is a TAR.GZ, a ZIP named .tar.gz a ZIP', () => {
    expect(detectArchiveFormat(head(gzipSync(Buffer.alloc(1024))), 's3://u/in/x.zip')).toBe('tar.gz');
    expect(detectArchiveFormat(bytes('PK', 3, 4), 's3://u/in/x.tar.gz')).toBe('zip');
  });
});

describe('detectArchiveFormat: what it refuses, named', () => {
  it.each([
    ['RAR', bytes('Rar!', 0x1a, 0x07, 0x01, 0x00), 'a RAR archive'],
    ['7z', bytes(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4), 'a 7z archive'],
    ['bzip2', bytes('BZh91AY&SY'), 'a bzip2 stream (.bz2, .tar.bz2)'],
    ['xz', bytes(0xfd, '7zXZ', 0x00, 0x00, 0x04), 'an xz stream (.xz, .tar.xz)'],
    ['zstd', bytes(0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58), 'a zstd stream (.zst, .tar.zst)'],
    ['compress', bytes(0x1f, 0x9d, 0x90), 'a Unix compress stream (.Z)'],
    ['gzip, not deflate', bytes(0x1f, 0x8b, 0x07, 0x00), 'a gzip stream with an unknown compression method'],
    ['a ZIP central directory', bytes('PK', 1, 2, 20, 0), 'a piece of a ZIP archive, not its start (a split segment?)'],
    ['PDF', bytes('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n'), 'a PDF document'],
    ['PNG', bytes(0x89, 'PNG\r\n', 0x1a, '\n', 0, 0, 0, 13, 'IHDR'), 'a PNG image'],
    ['JPEG', bytes(0xff, 0xd8, 0xff, 0xe0, 0, 16, 'JFIF'), 'a JPEG image'],
    ['GIF', bytes('GIF89a', 1, 0, 1, 0), 'a GIF image'],
    ['an executable', bytes('MZ', 0x90, 0), 'a Windows executable (a self-extracting archive?)'],
    ['HTML', Buffer.from('\ufeff\n  <!DOCTYPE html><html><body>Access denied</body></html>'), 'an HTML page'],
    ['HTML without doctype', Buffer.from('<HTML><head>'), 'an HTML page'],
    ['XML', Buffer.from('<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>'), 'an XML document'],
    ['CSV text', Buffer.from('image,label\nphoto.jpg,cat\n'), 'text'],
  ])('%s', (_name, first, looksLike) => {
    expect(verdict(first)).toBe(`${KEY} is not a ZIP or TAR.GZ archive: it starts like ${looksLike}`);
  });

  it('text cut inside a multi-byte character is still text; bytes with control characters are not', () => {
    const text = Buffer.from('名前,ラベル\n写真.jpg,猫\n');
    // Minus the line feed and the last byte of 猫: two of its three bytes remain.
    expect(verdict(text.subarray(0, text.length - 2))).toMatch(/it starts like text$/);
    expect(verdict(bytes('abc', 0, 'def'))).not.toMatch(/like text/);
  });

  it('an empty object, and bytes of no known format by their first four in hex only', () => {
    expect(verdict(Buffer.alloc(0))).toBe(`${KEY} is not a ZIP or TAR.GZ archive: the object is empty`);
    expect(verdict(bytes(0xde, 0xad, 0xbe, 0xef, 's3cret', 0))).toBe(`${KEY} is not a ZIP or TAR.GZ archive: it starts with the bytes de ad be ef, no format this job reads`);
  });

  it('a TAR header cut before its magic is not taken for a TAR', () => {
    const tarStart = Buffer.alloc(300);
    tarStart.write('ustar', 257, 'latin1');
    expect(detectArchiveFormat(tarStart, KEY)).toBe('tar');
    expect(verdict(tarStart.subarray(0, 260))).not.toBe('tar');
  });

  it('is a permanent failure (not-an-archive): no retry turns a RAR into a ZIP', () => {
    const error = (() => {
      try {
        return detectArchiveFormat(bytes('Rar!', 0x1a, 0x07, 0x00), KEY);
      } catch (caught) {
        return caught;
      }
    })();
    expect(classifyFailure(error)).toMatchObject({ kind: 'permanent', reason: 'not-an-archive' });
  });
});
