import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { classifyFailure, type FailureKind } from '../../../../shared/errors';
import { MemoryLog } from '../../../../shared/log/logger';
import type { ObjectRef, PutOptions } from '../../../src/ports/object-store';
import { WorkDirs } from '../../../src/job/work-dirs';
import { MemoryStore } from '../../../test/fakes/memory-store';
import { ArchiveSplitJob } from '../archive-split-job';
import { MAX_CALLBACK_BODY_BYTES } from '../callback';
import { archiveSplitSettings, BUCKET, messageJobContext, RecordingSender, requestBody, UPDATES_QUEUE } from './factories';
import {
  centralDirectoryNames, deflatedZeros, endRecord, gnuLongName, paxHeader, rawZip, tarData, tarEnd, tarFile, tarHeader, type RawZipEntry,
} from './hostile-builders';

/**
 * A hostile-input pass over the archive-split job, driven as the worker drives it (a request message in, a callback
 * and batch ZIPs out, or a thrown error the worker classifies). Every case checks the job's promises: bad input ends
 * as a permanent error whose reason names the problem (with a failure callback), or as a success whose callback and
 * problems.csv report the problem; nothing lands outside OUTPUT_PREFIX or the message's work directory; no case hangs
 * (each has its own limit, well below jest's); the deflate bomb and the 50,000-row manifest stay within a memory bound.
 */

setFlagsFromString('--expose-gc');
/** A real collection before each measurement, so garbage left by an earlier case does not hide this one's growth. */
const gc = runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
let dir: string;
/** Paths a traversing entry would create if anything extracted it by its name: none may exist after any case. */
let canary: { relative: string; relativeTarget: string; absolute: string };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hostile-archives-'));
  const name = `hostile-canary-${process.pid}-${Date.now()}`;
  // Twelve levels up from any work directory is the root: both name a path in /tmp, short enough for a ustar header.
  canary = { relative: `${'../'.repeat(12)}tmp/${name}-rel`, relativeTarget: `/tmp/${name}-rel`, absolute: `/tmp/${name}-abs` };
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  expect([canary.relativeTarget, canary.absolute].filter((path) => existsSync(path))).toEqual([]);
});

/** The memory store, except that a large upload is counted, not kept: the bomb's 200 MB batch ZIP must not be the test's memory. */
class SizedStore extends MemoryStore {
  static readonly KEEP_BYTES = 64 * MiB;
  readonly uploaded = new Map<string, number>();

  override async uploadStream(ref: ObjectRef, body: Readable, options: PutOptions & { readonly signal?: AbortSignal }): Promise<void> {
    this.calls.uploadStream++;
    try {
      let bytes = 0;
      let kept: Buffer[] | undefined = [];
      for await (const chunk of body as AsyncIterable<Buffer>) {
        options.signal?.throwIfAborted();
        bytes += chunk.length;
        if (kept !== undefined && bytes <= SizedStore.KEEP_BYTES) kept.push(Buffer.from(chunk));
        else kept = undefined;
      }
      this.uploaded.set(ref.key, bytes);
      this.add(ref.bucket, ref.key, kept === undefined ? Buffer.alloc(0) : Buffer.concat(kept), { ...options.metadata });
    } catch (error) {
      body.destroy();
      throw error;
    }
  }
}

interface Callback {
  readonly status: 'success' | 'failure';
  readonly reason?: string;
  readonly batchFiles: string[];
  readonly rows: number;
  readonly images: number;
  readonly problems: { kind: string; row?: number; image?: string; entry?: string; detail: string }[];
  readonly problemCount: number;
  readonly problemsByKind: Record<string, number>;
}

interface Outcome {
  readonly file: string;
  readonly error?: unknown;
  readonly kind?: FailureKind;
  readonly reason?: string;
  readonly callback: Callback;
  readonly callbackBytes: number;
  readonly store: SizedStore;
  readonly log: MemoryLog;
  readonly ms: number;
  /** Peak growth of the V8 heap plus Buffers over the case, after a collection before it. */
  readonly peakBytes: number;
}

interface SplitOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly diskBudgetBytes?: number;
  /** The case fails as a hang past this; the job is aborted then. */
  readonly limitMs?: number;
}

/** Stores `bytes` as `exports/<file>`, sends the job a request for it, and gathers what it did. */
async function split(file: string, bytes: Buffer, options: SplitOptions = {}): Promise<Outcome> {
  const root = mkdtempSync(join(dir, 'work-'));
  const dirs = await WorkDirs.open(root);
  const job = new ArchiveSplitJob(archiveSplitSettings(root, options.env ?? {}), dirs, options.diskBudgetBytes ?? 1024 ** 3);
  const store = new SizedStore();
  const sender = new RecordingSender();
  const log = new MemoryLog();
  store.add(BUCKET, `exports/${file}`, bytes);
  const controller = new AbortController();
  const context = messageJobContext({ store, sender, log, signal: controller.signal });

  gc();
  const base = footprint();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, footprint())), 5);
  const limitMs = options.limitMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  let error: unknown;
  try {
    await Promise.race([
      job.handleRequest(requestBody({ file, exportPath: 'exports/', totalSize: bytes.length }), context),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          controller.abort(new Error('hang'));
          reject(new Error(`${file}: no outcome within ${limitMs} ms (a hang)`));
        }, limitMs);
      }),
    ]);
  } catch (caught) {
    if (caught instanceof Error && caught.message.includes('(a hang)')) throw caught;
    error = caught;
  } finally {
    clearTimeout(timer);
    clearInterval(sampler);
  }
  const ms = Date.now() - started;
  peak = Math.max(peak, footprint());

  // Nothing outside OUTPUT_PREFIX in the bucket, nothing left in (or escaped from) the work directory.
  expect(store.keys(BUCKET).filter((key) => key !== `exports/${file}` && !key.startsWith('batch/'))).toEqual([]);
  expect(readdirSync(dirs.processDir)).toEqual([]);
  expect([canary.relativeTarget, canary.absolute].filter((path) => existsSync(path))).toEqual([]);
  // One callback, whatever the outcome (the request's queue is an allowed one).
  expect(sender.sent.map((message) => message.queueUrl)).toEqual([UPDATES_QUEUE]);
  const callback = sender.callbacks(UPDATES_QUEUE)[0] as unknown as Callback;
  const classified = error === undefined ? undefined : classifyFailure(error);
  return {
    file, error, kind: classified?.kind, reason: classified?.reason, callback, callbackBytes: Buffer.byteLength(sender.sent[0]!.body),
    store, log, ms, peakBytes: peak - base,
  };
}

function footprint(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** A permanent failure: the reason the worker logs, a failure callback with the error's message, no batch ZIP. */
function expectPermanent(outcome: Outcome, reason: string, message: RegExp): void {
  expect({ kind: outcome.kind, reason: outcome.reason }).toEqual({ kind: 'permanent', reason });
  expect((outcome.error as Error).message).toMatch(message);
  expect(outcome.callback).toMatchObject({ status: 'failure', batchFiles: [], reason: (outcome.error as Error).message });
  expect(outcome.store.keys(BUCKET).filter((key) => key.endsWith('.zip') && key.startsWith('batch/'))).toEqual([]);
}

/** A success: its callback, whose problems (the first 100) are the parts' problems.csv rows. */
function expectSuccess(outcome: Outcome): Callback {
  expect(outcome.error).toBeUndefined();
  expect(outcome.callback.status).toBe('success');
  expect(outcome.callbackBytes).toBeLessThanOrEqual(MAX_CALLBACK_BODY_BYTES);
  return outcome.callback;
}

/**
 * What Info-ZIP makes of a batch ZIP: every entry tested, its problems.csv and manifest.csv as records, and its names
 * (from the central directory itself: Info-ZIP truncates names past 4095 bytes). `longNames`: Info-ZIP's only
 * complaint may be that truncation.
 */
function unzipped(outcome: Outcome, key: string, longNames = false): { names: string[]; problems: Record<string, string>[]; manifest: string[][]; path: string } {
  const path = join(dir, `${process.hrtime.bigint()}.zip`);
  const bytes = outcome.store.object(BUCKET, key)!.body;
  writeFileSync(path, bytes);
  const tested = spawnSync('unzip', ['-tqq', path], { encoding: 'utf8' });
  const complaints = `${tested.stdout}${tested.stderr}`.split('\n').filter((line) => line.trim() !== '');
  if (longNames) expect(complaints.every((line) => /filename too long--truncating/.test(line))).toBe(true);
  else expect({ status: tested.status, complaints }).toEqual({ status: 0, complaints: [] });
  const problems = parse(unzipEntry(path, 'problems.csv'), { columns: true }) as Record<string, string>[];
  const manifest = parse(unzipEntry(path, 'manifest.csv')) as string[][];
  return { names: centralDirectoryNames(bytes), problems, manifest, path };
}

/** One entry's bytes by `unzip -p` (a warning about another entry's long name is not a failure). */
function unzipEntry(zipPath: string, name: string): Buffer {
  // unzip treats [ ] * ? in a name as a pattern; none of the names read back here has them.
  const extracted = spawnSync('unzip', ['-p', zipPath, name], { maxBuffer: 256 * MiB });
  expect(extracted.status === 0 || (extracted.status === 1 && /filename too long/.test(String(extracted.stderr)))).toBe(true);
  return extracted.stdout;
}

/** `image,label` CSV naming these images, quoted as csv-stringify would. */
function manifestCsv(images: readonly string[]): Buffer {
  return Buffer.from(`image,label\n${images.map((image, i) => `"${image.replace(/"/g, '""')}",label ${i + 1}`).join('\n')}\n`);
}

const manifestEntry = (images: readonly string[]): RawZipEntry => ({ name: 'manifest.csv', content: manifestCsv(images) });

const kinds = (callback: Callback) => Object.fromEntries(Object.entries(callback.problemsByKind).filter(([, count]) => count > 0));

describe('ZIP entry names: listed, reported, never used to write anything', () => {
  const hostile = [
    ['../x.jpg', '".." segment'],
    ['/abs.jpg', 'absolute path'],
    ['C:\\x.jpg', 'drive-letter path'],
    ['a\\..\\b.jpg', 'backslash'],
    ['nul\0x.jpg', 'NUL character'],
    ['new\nline.jpg', 'control character'],
  ] as const;
  const longName = `${'long/'.repeat(999)}name.jpg`;
  const rtl = 'photo\u202egpj.exe';
  const nfc = 'caf\u00e9.jpg';

  it('unsafe names (a 5,000-byte path among them: no file system holds it) are unsafe-entry problems and their rows unsafe-path; odd but safe names (RTL override, case, NFD) are handled exactly', async () => {
    const entries: RawZipEntry[] = [
      ...hostile.map(([name], i) => ({ name, content: Buffer.from(`hostile ${i}`) })),
      { name: canary.relative, content: Buffer.from('escaped') },
      { name: canary.absolute, content: Buffer.from('escaped') },
      { name: longName, content: Buffer.from('long') },
      { name: rtl, content: Buffer.from('rtl') },
      { name: 'Case.jpg', content: Buffer.from('upper') },
      { name: 'case.jpg', content: Buffer.from('lower') },
      { name: nfc, content: Buffer.from('nfc') },
      { name: 'dup.jpg', content: Buffer.from('first') },
      { name: 'dup.jpg', content: Buffer.from('second') },
      { name: 'dup.jpg', content: Buffer.from('third') },
    ];
    const rows = [...hostile.map(([name]) => name), canary.relative, longName, rtl, 'Case.jpg', 'case.jpg', 'CASE.jpg', nfc, nfc.normalize('NFD'), 'dup.jpg'];
    const outcome = await split('names.zip', rawZip([...entries, manifestEntry(rows)]));
    const callback = expectSuccess(outcome);

    // eslint-disable-next-line no-control-regex
    const printable = (name: string) => name.replace(/[\0-\x1f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
    expect(callback.problems.filter((problem) => problem.kind === 'unsafe-entry')).toEqual([
      ...hostile.map(([name, why]) => ({ kind: 'unsafe-entry', entry: printable(name), detail: `${why}: left out of every batch` })),
      { kind: 'unsafe-entry', entry: canary.relative, detail: '".." segment: left out of every batch' },
      { kind: 'unsafe-entry', entry: canary.absolute, detail: 'absolute path: left out of every batch' },
      { kind: 'unsafe-entry', entry: `${longName.slice(0, 500)}…`, detail: 'longer than 4096 bytes: left out of every batch' },
    ]);
    expect(callback.problems.filter((problem) => problem.kind === 'unsafe-path').map((problem) => [problem.row, problem.image, problem.detail]))
      .toEqual([
        ...hostile.map(([name, why], i) => [i + 1, printable(name), `${why}: not looked up`]), [7, canary.relative, '".." segment: not looked up'],
        [8, `${longName.slice(0, 500)}…`, 'longer than 4096 bytes: not looked up'],
      ]);
    expect(callback.problems.filter((problem) => problem.kind === 'duplicate-entry')).toEqual([
      { kind: 'duplicate-entry', entry: 'dup.jpg', detail: '3 entries have this path; the last (entry 15) is used, as unzip and tar do' },
    ]);
    // Lookups are exact: a case variant and the NFD spelling of an NFC name are missing files, reported by row.
    expect(callback.problems.filter((problem) => problem.kind === 'missing-file').map((problem) => [problem.row, problem.image]))
      .toEqual([[12, 'CASE.jpg'], [14, nfc.normalize('NFD')]]);
    expect(kinds(callback)).toEqual({ 'unsafe-entry': 9, 'unsafe-path': 8, 'duplicate-entry': 1, 'missing-file': 2 });
    expect(callback).toMatchObject({ rows: 15, images: 5, batchFiles: ['batch/names-part1.zip'] });

    const part = unzipped(outcome, 'batch/names-part1.zip');
    // Only safe names reach the batch ZIP; the right-to-left override and both cases are kept as named.
    expect(part.names.sort()).toEqual(['manifest.csv', 'problems.csv', rtl, 'Case.jpg', 'case.jpg', nfc, 'dup.jpg'].sort());
    expect(part.names.every((name) => !name.startsWith('/') && !name.split('/').includes('..') && !name.includes('\\'))).toBe(true);
    expect(part.manifest).toHaveLength(1 + rows.length);
    expect(part.problems).toHaveLength(callback.problemCount);
    expect(unzipEntry(part.path, 'dup.jpg').toString()).toBe('third');
    expect(unzipEntry(part.path, 'Case.jpg').toString()).toBe('upper');
  }, 15000);
});

describe('ZIP structures that lie', () => {
  it('overlapping entries (the "overlapping files" bomb): every central directory record pointing at one local header is read in full, streamed', async () => {
    // 20 records, one 1 MiB deflated kernel (about 1 KB stored): the job does not detect the overlap and writes 20 MiB.
    const kernel = Buffer.alloc(MiB, 0x41);
    const entries: RawZipEntry[] = [{ name: 'f0.jpg', content: kernel, method: 8 }];
    for (let i = 1; i < 20; i++) entries.push({ name: `f${i}.jpg`, content: kernel, method: 8, sharesDataOf: 0 });
    const archive = rawZip([...entries, manifestEntry(entries.map((entry) => entry.name as string))]);
    expect(archive.length).toBeLessThan(8 * 1024);
    const outcome = await split('overlap.zip', archive);
    expect(expectSuccess(outcome)).toMatchObject({ rows: 20, images: 20, problemCount: 0 });
    const part = unzipped(outcome, 'batch/overlap-part1.zip');
    expect(part.names).toHaveLength(22);
    expect(unzipEntry(part.path, 'f19.jpg').equals(kernel)).toBe(true);
    expect(outcome.peakBytes).toBeLessThan(120 * MiB);
  }, 15000);

  it('an entry whose local header offset points past the end of the archive: corrupt-archive naming the entry', async () => {
    const outcome = await split('past-end.zip', rawZip([{ name: 'a.jpg', content: Buffer.from('aaaa'), offsetShift: 1_000_000 }, manifestEntry(['a.jpg'])]));
    expectPermanent(outcome, 'corrupt-archive', /^ZIP entry 0 \("a\.jpg"\): unexpected EOF/);
  });

  it.each([
    ['stored, declared far above', { method: 0, uncompressedSize: 1e9 }, /^corrupt ZIP central directory at entry 0: .*size mismatch for stored file: 11 != 1000000000/],
    ['deflated, declared far above', { method: 8, uncompressedSize: 1e9 }, /^ZIP entry 0 \("a\.jpg"\): not enough bytes in the stream\. expected 1000000000\. got only 11/],
    ['stored, declared below', { method: 0, uncompressedSize: 3 }, /^corrupt ZIP central directory at entry 0: .*size mismatch for stored file: 11 != 3/],
    ['deflated, declared below', { method: 8, uncompressedSize: 3 }, /^ZIP entry 0 \("a\.jpg"\): too many bytes in the stream\. expected 3\. got at least 11/],
  ] as const)('an uncompressed size that lies (%s): corrupt-archive naming the sizes', async (_, lie, message) => {
    const content = Buffer.from('hello world');
    const outcome = await split('sizes.zip', rawZip([{ name: 'a.jpg', content, ...lie }, manifestEntry(['a.jpg'])]));
    expectPermanent(outcome, 'corrupt-archive', message);
  });

  it('a deflate bomb (200 KB inflating to 200 MiB of zeros) named by the manifest is streamed into its batch ZIP, never held: memory stays flat', async () => {
    const size = 200 * MiB;
    const bomb = await deflatedZeros(size);
    expect(bomb.data.length).toBeLessThan(300 * 1024);
    const entries: RawZipEntry[] = [{ name: 'zeros.bin', data: bomb.data, method: 8, crc: bomb.crc, uncompressedSize: size }];
    const outcome = await split('bomb.zip', rawZip([...entries, manifestEntry(['zeros.bin'])]), { limitMs: 25000 });
    expect(expectSuccess(outcome)).toMatchObject({ rows: 1, images: 1, problemCount: 0 });
    // The whole 200 MiB went through (stored in the batch ZIP, plus headers), CRC-checked on the way.
    expect(outcome.store.uploaded.get('batch/bomb-part1.zip')).toBeGreaterThan(size);
    expect(outcome.store.uploaded.get('batch/bomb-part1.zip')).toBeLessThan(size + 4096);
    // Garbage not yet collected counts too; holding the entry would take 200 MiB on its own.
    expect(outcome.peakBytes).toBeLessThan(160 * MiB);
    console.log(`deflate bomb: 200 MiB streamed in ${outcome.ms} ms, peak heap+buffers growth ${(outcome.peakBytes / MiB).toFixed(0)} MiB`);

    // Not named by any row, it is never inflated at all.
    const unnamed = await split('bomb-unnamed.zip', rawZip([...entries, manifestEntry(['other.jpg'])]));
    expect(kinds(expectSuccess(unnamed))).toEqual({ 'missing-file': 1 });
    expect(unnamed.ms).toBeLessThan(2000);
    expect(unnamed.store.uploaded.get('batch/bomb-unnamed-part1.zip')).toBeLessThan(4096);
  }, 45000);

  it.each([
    ['encrypted (flag bit 0)', { flags: 1, data: Buffer.concat([Buffer.alloc(12, 9), Buffer.from('secret photo')]) }],
    ['compressed with bzip2 (method 12)', { method: 12, data: Buffer.from('BZh9 not really') }],
  ] as const)('an entry %s named by the manifest: reported as an unsafe entry and its row as unsafe-path, its bytes never read', async (_, how) => {
    const outcome = await split('unreadable.zip', rawZip([{ name: 'a.jpg', content: Buffer.from('secret photo'), ...how }, { name: 'b.jpg', content: Buffer.from('b') }, manifestEntry(['a.jpg', 'b.jpg'])]));
    const callback = expectSuccess(outcome);
    expect(callback.problems.map((problem) => [problem.kind, problem.row, problem.entry])).toEqual([['unsafe-entry', undefined, 'a.jpg'], ['unsafe-path', 1, 'a.jpg']]);
    expect(callback).toMatchObject({ rows: 2, images: 1 });
    expect(unzipped(outcome, 'batch/unreadable-part1.zip').names.sort()).toEqual(['b.jpg', 'manifest.csv', 'problems.csv']);
  });

  it('an encrypted manifest: a permanent failure naming manifest.csv', async () => {
    const content = manifestCsv(['a.jpg']);
    const outcome = await split('locked.zip', rawZip([{ name: 'manifest.csv', content, flags: 1, data: Buffer.concat([Buffer.alloc(12, 9), content]) }, { name: 'a.jpg', content: Buffer.from('a') }]));
    expect(outcome.kind).toBe('permanent');
    expect(outcome.callback).toMatchObject({ status: 'failure', reason: expect.stringContaining('"manifest.csv"') });
  });

  it('a comment holding a coherent fake end record: read as the archive it describes (empty, as unzip reads it too), so manifest-missing', async () => {
    const real = rawZip([{ name: 'a.jpg', content: Buffer.from('a') }, manifestEntry(['a.jpg'])]);
    const fake = endRecord(0, 0, 0);
    const end = Buffer.from(real.subarray(real.length - 22));
    end.writeUInt16LE(fake.length, 20);
    const outcome = await split('fake-end.zip', Buffer.concat([real.subarray(0, real.length - 22), end, fake]));
    expectPermanent(outcome, 'manifest-missing', /no file named "manifest\.csv" .* among its 0 entries/);
  });

  it('a comment holding an incoherent fake end record: corrupt-archive naming the comment', async () => {
    const real = rawZip([{ name: 'a.jpg', content: Buffer.from('a') }, manifestEntry(['a.jpg'])]);
    const fake = Buffer.concat([endRecord(5, 1000, 999_999), Buffer.from('trailer')]);
    const end = Buffer.from(real.subarray(real.length - 22));
    end.writeUInt16LE(fake.length, 20);
    const outcome = await split('fake-end2.zip', Buffer.concat([real.subarray(0, real.length - 22), end, fake]));
    expectPermanent(outcome, 'corrupt-archive', /^not a readable ZIP: Invalid comment length/);
  });

  it('a truncated central directory (its end record counts a record that is not there): corrupt-archive', async () => {
    const outcome = await split('short-cd.zip', rawZip([{ name: 'a.jpg', content: Buffer.from('a') }, manifestEntry(['a.jpg'])], { dropLastRecords: 1 }));
    expectPermanent(outcome, 'corrupt-archive', /^corrupt ZIP central directory at entry 1: unexpected EOF/);
  });

  it('an empty ZIP (its end record only) is manifest-missing; a 0-byte object is not-an-archive', async () => {
    expectPermanent(await split('empty.zip', endRecord(0, 0, 0)), 'manifest-missing', /among its 0 entries/);
    expectPermanent(await split('zero.zip', Buffer.alloc(0)), 'not-an-archive', /is empty \(0 bytes\)/);
  });
});

describe('manifests that are odd', () => {
  it('an archive holding only a manifest: a header alone is a success with no part; rows alone are one part of missing files', async () => {
    const headerOnly = await split('header-only.zip', rawZip([{ name: 'manifest.csv', content: Buffer.from('image,label\n') }]));
    expect(expectSuccess(headerOnly)).toMatchObject({ batchFiles: [], rows: 0, images: 0, problemCount: 0 });
    const rowsOnly = await split('rows-only.zip', rawZip([manifestEntry(['a.jpg', 'b.jpg'])]));
    expect(expectSuccess(rowsOnly)).toMatchObject({ batchFiles: ['batch/rows-only-part1.zip'], rows: 2, images: 0, problemsByKind: expect.objectContaining({ 'missing-file': 2 }) });
    expect(unzipped(rowsOnly, 'batch/rows-only-part1.zip').manifest).toEqual([['image', 'label'], ['a.jpg', 'label 1'], ['b.jpg', 'label 2']]);
  });

  it('an image column empty on every row: every row kept and reported as no-image', async () => {
    const outcome = await split('no-images.zip', rawZip([{ name: 'a.jpg', content: Buffer.from('a') }, { name: 'manifest.csv', content: Buffer.from('image,label\n,one\n"",two\n  ,three\n') }]));
    const callback = expectSuccess(outcome);
    expect(callback.problems).toEqual([1, 2, 3].map((row) => ({ kind: 'no-image', row, detail: 'the row names no image' })));
    expect(unzipped(outcome, 'batch/no-images-part1.zip').manifest).toEqual([['image', 'label'], ['', 'one'], ['', 'two'], ['  ', 'three']]);
  });

  it.each([
    ['binary garbage', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff))],
    ['UTF-16LE with its BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('image,label\na.jpg,x\n', 'utf16le')])],
    ['UTF-16BE with its BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('image,label\na.jpg,x\n', 'utf16le').swap16()])],
  ])('a manifest of %s: manifest-invalid, "not UTF-8"', async (_, content) => {
    const outcome = await split('bad-manifest.zip', rawZip([{ name: 'manifest.csv', content }, { name: 'a.jpg', content: Buffer.from('a') }]));
    expectPermanent(outcome, 'manifest-invalid', /^manifest "manifest\.csv" is not UTF-8 text/);
  });

  it('a UTF-16LE manifest without a BOM (valid UTF-8, full of NULs): manifest-invalid listing the columns as read', async () => {
    const outcome = await split('utf16.zip', rawZip([{ name: 'manifest.csv', content: Buffer.from('image,label\na.jpg,x\n', 'utf16le') }, { name: 'a.jpg', content: Buffer.from('a') }]));
    expectPermanent(outcome, 'manifest-invalid', /has no "image" column .*its columns are "i\\+u0000m\\+u0000a/);
  });

  // 50,000 rows, a quarter of MAX_MANIFEST_ROWS: the plan is linear (a quadratic one would not finish), and the
  // bench (part 9) measures the memory of 200,000.
  it('a manifest of 50,000 rows: split in 25 parts within time and memory bounds, every missing file counted', async () => {
    const rows = Array.from({ length: 50_000 }, (_, i) => `images/${String(i).padStart(6, '0')}.jpg`);
    const archive = rawZip([{ name: 'manifest.csv', content: manifestCsv(rows), method: 8 }, { name: 'images/000001.jpg', content: Buffer.from('one') }]);
    const outcome = await split('big-manifest.zip', archive, { limitMs: 20000 });
    const callback = expectSuccess(outcome);
    expect(callback).toMatchObject({ rows: 50_000, images: 1, problemCount: 49_999, problemsByKind: expect.objectContaining({ 'missing-file': 49_999 }) });
    expect(callback.batchFiles).toHaveLength(25);
    expect(callback.problems).toHaveLength(100);
    console.log(`50,000-row manifest: ${outcome.ms} ms, peak heap+buffers growth ${(outcome.peakBytes / MiB).toFixed(0)} MiB`);
    expect(outcome.peakBytes).toBeLessThan(200 * MiB);
  }, 30000);
});

describe('TAR and TAR.GZ that lie', () => {
  const tarGz = (...blocks: Buffer[]) => gzipSync(Buffer.concat(blocks));

  it('a symlink named like a manifest row and a hard link to /etc/passwd: both listed, never followed, their rows unsafe-path', async () => {
    const outcome = await split('links.tar.gz', tarGz(
      tarFile('manifest.csv', manifestCsv(['images/a.jpg', 'pw', 'b.jpg'])),
      tarHeader({ name: 'images/a.jpg', type: '2', linkname: '/etc/passwd' }),
      tarHeader({ name: 'pw', type: '1', linkname: '/etc/passwd' }),
      tarFile('b.jpg', 'bbb'),
      tarEnd(),
    ));
    const callback = expectSuccess(outcome);
    expect(callback.problems.map((problem) => [problem.kind, problem.row, problem.entry])).toEqual([
      ['unsafe-entry', undefined, 'images/a.jpg'], ['unsafe-entry', undefined, 'pw'], ['unsafe-path', 1, 'images/a.jpg'], ['unsafe-path', 2, 'pw'],
    ]);
    const part = unzipped(outcome, 'batch/links-part1.zip');
    expect(part.names.sort()).toEqual(['b.jpg', 'manifest.csv', 'problems.csv']);
    expect(unzipEntry(part.path, 'b.jpg').toString()).toBe('bbb');
  });

  it('traversing and absolute entries out of order, with spilling: spilled under the work directory by index, never by name', async () => {
    // BATCH_SIZE 1: b.jpg (part 2) comes before a.jpg (part 1), so it waits on disk while part 1 is built.
    const outcome = await split('escape.tar.gz', tarGz(
      tarFile('manifest.csv', manifestCsv(['a.jpg', 'b.jpg', canary.relative])),
      tarFile(canary.relative, 'escaped'),
      tarFile(canary.absolute, 'escaped'),
      tarFile('b.jpg', 'bbb'),
      tarFile('a.jpg', 'aaa'),
      tarEnd(),
    ), { env: { BATCH_SIZE: '1' } });
    const callback = expectSuccess(outcome);
    expect(kinds(callback)).toEqual({ 'unsafe-entry': 2, 'unsafe-path': 1 });
    expect(callback.batchFiles).toEqual(['batch/escape-part1.zip', 'batch/escape-part2.zip', 'batch/escape-part3.zip']);
    expect(unzipEntry(unzipped(outcome, 'batch/escape-part2.zip').path, 'b.jpg').toString()).toBe('bbb');
  });

  it('a PAX header over tar-stream\'s 4 MiB limit: corrupt-archive naming it; a 1 MiB PAX path is an unsafe-entry, too long for any file system', async () => {
    const huge = await split('pax-huge.tar.gz', tarGz(tarFile('manifest.csv', manifestCsv(['a.jpg'])), paxHeader({ path: 'p'.repeat(5 * MiB) }), tarHeader({ name: 'x' }), tarEnd()));
    expectPermanent(huge, 'corrupt-archive', /the TAR is damaged \(Header exceeds max size\)/);
    const long = await split('pax-long.tar.gz', tarGz(tarFile('manifest.csv', manifestCsv(['a.jpg'])), paxHeader({ path: `deep/${'p'.repeat(MiB)}` }), tarHeader({ name: 'x', size: 1 }), tarData(Buffer.from('x')), tarFile('a.jpg', 'a'), tarEnd()));
    expect(expectSuccess(long)).toMatchObject({ rows: 1, images: 1, problemCount: 1, problemsByKind: expect.objectContaining({ 'unsafe-entry': 1 }) });
  });

  it('a 1 MiB GNU long name that traverses: one unsafe-entry, cut to 500 characters in the callback and to 4097 (past the longest usable path) in problems.csv', async () => {
    const name = `../${'g'.repeat(MiB)}`;
    const outcome = await split('gnu-long.tar.gz', tarGz(tarFile('manifest.csv', manifestCsv(['a.jpg'])), gnuLongName(name), tarHeader({ name: 'x', size: 3 }), tarData(Buffer.from('abc')), tarFile('a.jpg', 'a'), tarEnd()));
    const callback = expectSuccess(outcome);
    expect(callback.problems).toEqual([{ kind: 'unsafe-entry', entry: `${name.slice(0, 500)}…`, detail: '".." segment: left out of every batch' }]);
    // The listing keeps 4097 characters of a name, enough to know it is too long: never a megabyte per entry.
    expect(unzipped(outcome, 'batch/gnu-long-part1.zip').problems).toEqual([{ kind: 'unsafe-entry', row: '', image: '', entry: name.slice(0, 4097), detail: '".." segment: left out of every batch' }]);
  });

  it('a file whose header says 1 GiB but whose stream ends early: corrupt-archive "truncated", whether the gzip ends cleanly or not', async () => {
    const blocks = Buffer.concat([tarFile('manifest.csv', manifestCsv(['big.bin'])), tarHeader({ name: 'big.bin', size: 1024 ** 3 }), Buffer.alloc(100_000, 7)]);
    expectPermanent(await split('short.tar.gz', gzipSync(blocks)), 'corrupt-archive', /the TAR ends inside an entry \(truncated\), after 1 entries/);
    const cut = gzipSync(blocks);
    expectPermanent(await split('cut.tar.gz', cut.subarray(0, cut.length - 100)), 'corrupt-archive', /the gzip stream ends early \(truncated\)/);
  });

  it('a gzip of something that is not a TAR: corrupt-archive "gzip but not a TAR"', async () => {
    expectPermanent(await split('text.tar.gz', gzipSync(Buffer.from('not a tar at all\n'.repeat(100)))), 'corrupt-archive', /is gzip but not a TAR: its first block is no TAR header/);
    expectPermanent(await split('tiny.tar.gz', gzipSync(Buffer.from('hello'))), 'corrupt-archive', /is gzip but not a TAR: it holds 5 bytes, less than one TAR header/);
    expectPermanent(await split('nothing.tar.gz', gzipSync(Buffer.alloc(0))), 'corrupt-archive', /is gzip but not a TAR: it decompresses to nothing/);
  });

  it('an empty TAR.GZ (its end blocks only): manifest-missing', async () => {
    expectPermanent(await split('empty.tar.gz', gzipSync(tarEnd())), 'manifest-missing', /among its 0 entries/);
  });

  it('trailing garbage: inside the gzip after the end blocks and after the gzip member, corrupt-archive; zero padding after the member is fine', async () => {
    const tar = Buffer.concat([tarFile('manifest.csv', manifestCsv(['a.jpg'])), tarFile('a.jpg', 'a'), tarEnd()]);
    const garbage = Buffer.from('GARBAGE!'.repeat(100));
    expectPermanent(await split('inside.tar.gz', gzipSync(Buffer.concat([tar, garbage]))), 'corrupt-archive', /a TAR header is damaged \(bad checksum or unknown format\), after 2 entries/);
    expectPermanent(await split('after.tar.gz', Buffer.concat([gzipSync(tar), garbage])), 'corrupt-archive', /the gzip data is damaged \(incorrect header check\)/);
    expect(expectSuccess(await split('padded.tar.gz', Buffer.concat([gzipSync(tar), Buffer.alloc(1000)])))).toMatchObject({ rows: 1, images: 1 });
  });

  it('size fields that are not sizes (base-256 negative, not octal): corrupt-archive "Invalid header"', async () => {
    const minusOne = Buffer.alloc(12, 0xff);
    minusOne[11] = 0xfe;
    for (const sizeField of [minusOne, Buffer.from('zzzzzzzzzzz\0')]) {
      const outcome = await split('sizes.tar.gz', tarGz(tarFile('manifest.csv', manifestCsv(['a.jpg'])), tarHeader({ name: 'a.jpg', sizeField }), tarEnd()));
      expectPermanent(outcome, 'corrupt-archive', /the TAR is damaged \(Invalid header\), after 1 entries/);
    }
  });

  it('a gzip bomb (64 MiB of zeros in 70 KB) named by the manifest, out of order with 1 MiB of disk: streamed past, nothing spilled', async () => {
    const size = 64 * MiB;
    // Built in a function of its own, so the zeros are garbage before the job starts.
    const build = () => gzipSync(Buffer.concat([tarFile('manifest.csv', manifestCsv(['a.jpg', 'zeros.bin'])), tarHeader({ name: 'zeros.bin', size }), Buffer.alloc(size), tarFile('a.jpg', 'a'), tarEnd()]));
    const archive = build();
    expect(archive.length).toBeLessThan(200 * 1024);
    const outcome = await split('gz-bomb.tar.gz', archive, { env: { BATCH_SIZE: '1' }, diskBudgetBytes: MiB, limitMs: 20000 });
    expect(expectSuccess(outcome)).toMatchObject({ rows: 2, images: 2, batchFiles: ['batch/gz-bomb-part1.zip', 'batch/gz-bomb-part2.zip'] });
    expect(outcome.store.uploaded.get('batch/gz-bomb-part2.zip')).toBeGreaterThan(size);
    // zeros.bin (part 2) comes before a.jpg (part 1) and cannot wait on 1 MiB of disk: the planner builds part 2 as it
    // streams past and part 1 after it, in the one building read after the listing read.
    expect(outcome.log.messages('archive split')[0]).toMatchObject({ passes: 2, spillHighWaterBytes: 0 });
  }, 30000);
});
