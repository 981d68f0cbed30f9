import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { ZipFile } from 'yazl';
import { classifyFailure, InputTooLargeError, ObjectChangedError } from '../../../../shared/errors';
import { MemoryLog } from '../../../../shared/log/logger';
import { MemoryStore } from '../../../test/fakes/memory-store';
import { CorruptArchiveError, ManifestMissingError, NotAnArchiveError, SizeMismatchError } from '../archive-errors';
import { FINGERPRINT_METADATA } from '../batch-upload';
import { demoExportContent, photoPalette, writeTarExport, writeZipExport } from '../demo-export';
import { parseManifest } from '../manifest';
import { splitArchive, type SplitContext } from '../split-archive';
import { parseSplitRequest, type SplitRequest } from '../split-request';
import { archiveSettings, BUCKET, requestBody } from './factories';

let dir: string;
let photos: Buffer[];
const ROWS = 230;
const BATCH = 50;
/** Rows 40, 80, ... name photos the exports lack. */
const MISSING_EVERY = 40;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'split-archive-'));
  photos = await photoPalette(6);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const settings = archiveSettings({ BATCH_SIZE: String(BATCH) });
const retry = { retries: 2, baseDelayMs: 1, maxDelayMs: 2, sleep: async () => undefined };

function contextFor(store: MemoryStore, overrides: Partial<SplitContext> = {}): SplitContext & { log: MemoryLog } {
  const spillDir = mkdtempSync(join(dir, 'spill-'));
  return { store, settings, retry, signal: new AbortController().signal, log: new MemoryLog(), spillDir, diskBudgetBytes: 1024 ** 3, ...overrides } as SplitContext & { log: MemoryLog };
}

async function uploaded(store: MemoryStore, file: string, write: (path: string) => Promise<void>): Promise<SplitRequest> {
  const path = join(dir, file);
  await write(path);
  const bytes = readFileSync(path);
  store.add(BUCKET, `exports/${file}`, bytes);
  return parseSplitRequest(requestBody({ file, exportPath: 'exports/', totalSize: bytes.length }), settings);
}

/** What `unzip` says of a batch ZIP: the test passes only when Info-ZIP reads it as any user would. */
function unzipCheck(store: MemoryStore, key: string): { names: string[]; manifest: string; problems: string } {
  const path = join(dir, key.replace(/\//g, '_'));
  writeFileSync(path, store.object(BUCKET, key)!.body);
  execFileSync('unzip', ['-tqq', path]);
  const names = execFileSync('unzip', ['-Z1', path], { encoding: 'utf8' }).trim().split('\n');
  const manifest = execFileSync('unzip', ['-p', path, 'manifest.csv'], { encoding: 'utf8' });
  const problems = execFileSync('unzip', ['-p', path, 'problems.csv'], { encoding: 'utf8' });
  return { names, manifest, problems };
}

describe('splitArchive over a ZIP read by ranged GETs', () => {
  it('writes one batch ZIP per 50 rows, each holding exactly its rows, their images and its problems, and reads the ZIP in place', async () => {
    const store = new MemoryStore();
    const request = await uploaded(store, 'birds.zip', (path) => writeZipExport(path, ROWS, photos, MISSING_EVERY));
    const outcome = (await splitArchive(request, contextFor(store)))!;

    expect(outcome).toMatchObject({ format: 'zip', built: 5, kept: 0, passes: 0 });
    expect(outcome.plan.rows).toBe(ROWS);
    expect(store.calls.get).toBe(0);
    const expected = demoExportContent(ROWS - 1, photos, true, MISSING_EVERY);
    let imagesSeen = 0;
    for (const [index, batch] of outcome.plan.batches.entries()) {
      expect(batch.key).toBe(`batch/birds-part${index + 1}.zip`);
      const zip = unzipCheck(store, batch.key);
      const rows = parseManifest(Buffer.from(zip.manifest), 'manifest.csv', { imageColumn: 'image', maxBytes: 1 << 20 }).rows;
      const wanted = [...expected.rows.slice(index * BATCH, (index + 1) * BATCH)];
      expect(rows.map((row) => row.values)).toEqual(wanted.map((row) => row.values));
      const present = new Set(expected.files.map((file) => file.name.replace(/^export\//, '')));
      const images = wanted.map((row) => row.values[1]!).filter((image) => present.has(image));
      expect(zip.names.sort()).toEqual(['manifest.csv', 'problems.csv', ...images].sort());
      imagesSeen += images.length;
    }
    expect(imagesSeen).toBe(outcome.plan.images);
    // Rows 160 and 200 name photos the export lacks; the last row names a path outside it.
    const part4 = unzipCheck(store, 'batch/birds-part4.zip').problems.trim().split('\n');
    expect(part4.slice(1).map((line) => line.split(',').slice(0, 3).join(','))).toEqual(['missing-file,160,images/S000/S000160.jpg', 'missing-file,200,images/S000/S000200.jpg']);
    expect(unzipCheck(store, 'batch/birds-part5.zip').problems).toMatch(/unsafe-path,230,\.\.\/\.\.\/etc\/passwd/);
  });

  it('keeps the parts an earlier attempt finished for the same archive version: a redelivery builds only what is missing', async () => {
    const store = new MemoryStore();
    const request = await uploaded(store, 'again.zip', (path) => writeZipExport(path, ROWS, photos, MISSING_EVERY));
    await splitArchive(request, contextFor(store));
    store.objects.delete(`${BUCKET}/batch/again-part3.zip`);
    const before = store.object(BUCKET, 'batch/again-part1.zip')!;

    const second = (await splitArchive(request, contextFor(store)))!;
    expect(second).toMatchObject({ built: 1, kept: 4 });
    expect(store.object(BUCKET, 'batch/again-part1.zip')).toBe(before);
    expect(store.object(BUCKET, 'batch/again-part3.zip')!.metadata[FINGERPRINT_METADATA]).toBe(second.plan.batches[2]!.fingerprint);
  });

  it('fails permanently, naming the problem, for what is not an archive, a ZIP without manifest, a corrupt ZIP and a size the request got wrong', async () => {
    const store = new MemoryStore();
    store.add(BUCKET, 'exports/notes.zip', 'just some text\n');
    await expect(splitArchive(parseSplitRequest(requestBody({ file: 'notes.zip', exportPath: 'exports', totalSize: 15 }), settings), contextFor(store)))
      .rejects.toThrow(NotAnArchiveError);

    const zipPath = join(dir, 'plain.zip');
    execFileSync('zip', ['-qj', zipPath, join(__dirname, 'split-archive.test.ts')]);
    store.add(BUCKET, 'exports/plain.zip', readFileSync(zipPath));
    await expect(splitArchive(parseSplitRequest(requestBody({ file: 'plain.zip', exportPath: 'exports', totalSize: readFileSync(zipPath).length }), settings), contextFor(store)))
      .rejects.toThrow(ManifestMissingError);

    const good = await uploaded(store, 'cut.zip', (path) => writeZipExport(path, 60, photos));
    const whole = store.object(BUCKET, 'exports/cut.zip')!.body;
    store.add(BUCKET, 'exports/cut.zip', whole.subarray(0, whole.length - 300));
    await expect(splitArchive({ ...good, expectedSize: whole.length - 300 }, contextFor(store))).rejects.toThrow(CorruptArchiveError);

    await expect(splitArchive({ ...good, expectedSize: 12 }, contextFor(store))).rejects.toThrow(SizeMismatchError);
  });

  it('fails with ObjectChangedError, transient, when the archive is replaced while its entries are being read', async () => {
    const store = new MemoryStore();
    const request = await uploaded(store, 'replaced.zip', (path) => writeZipExport(path, ROWS, photos, MISSING_EVERY));
    const readRange = store.readRange.bind(store);
    let reads = 0;
    store.readRange = async (ref, range, options) => {
      // Between the format check and the first block of the ZIP, someone uploads a new version under the same key.
      if (++reads === 2) store.add(BUCKET, request.source.key, Buffer.from('a newer export'));
      return readRange(ref, range, options);
    };
    const failure = await splitArchive(request, contextFor(store)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ObjectChangedError);
    expect(classifyFailure(failure).kind).toBe('transient');
  });

  it('answers undefined when the archive is gone, for the caller to decide what that means', async () => {
    const store = new MemoryStore();
    expect(await splitArchive(parseSplitRequest(requestBody({ file: 'gone.zip', exportPath: '', totalSize: 1 }), settings), contextFor(store))).toBeUndefined();
  });
});

describe('splitArchive over a TAR.GZ streamed in shuffled order', () => {
  it('with room on disk: one listing read and one building read, the out-of-order entries spilled and then freed', async () => {
    const store = new MemoryStore();
    const request = await uploaded(store, 'shuffled.tar.gz', (path) => writeTarExport(path, ROWS, photos, MISSING_EVERY));
    const context = contextFor(store);
    const outcome = (await splitArchive(request, context))!;

    expect(outcome).toMatchObject({ format: 'tar.gz', built: 5, kept: 0, passes: 2 });
    expect(outcome.spillHighWaterBytes).toBeGreaterThan(0);
    expect(execFileSync('ls', ['-A', context.spillDir], { encoding: 'utf8' })).toBe('');
    const expected = demoExportContent(ROWS, photos, false, MISSING_EVERY);
    for (const [index, batch] of outcome.plan.batches.entries()) {
      const zip = unzipCheck(store, batch.key);
      const present = new Set(expected.files.map((file) => file.name.replace(/^export\//, '')));
      const images = expected.rows.slice(index * BATCH, (index + 1) * BATCH).map((row) => row.values[1]!).filter((image) => present.has(image));
      expect(zip.names.sort()).toEqual(['manifest.csv', 'problems.csv', ...images].sort());
    }
  });

  it('with no disk at all: never spills, reads the archive again per batch it could not finish, and the batches are the same', async () => {
    const store = new MemoryStore();
    const request = await uploaded(store, 'nodisk.tar.gz', (path) => writeTarExport(path, ROWS, photos, MISSING_EVERY));
    const roomy = (await splitArchive(request, contextFor(store)))!;
    const firstParts = roomy.plan.batches.map((batch) => store.object(BUCKET, batch.key)!.body);
    for (const batch of roomy.plan.batches) store.objects.delete(`${BUCKET}/${batch.key}`);

    const log = new MemoryLog();
    const outcome = (await splitArchive(request, contextFor(store, { diskBudgetBytes: 0, log })))!;
    expect(outcome.spillHighWaterBytes).toBe(0);
    expect(outcome.passes).toBeGreaterThan(2);
    // Every read counts, those stopped early too: more than the listing read's whole archive.
    expect(outcome.bytesRead).toBeGreaterThan(outcome.archiveBytes);
    expect(outcome.bytesRead).toBeLessThanOrEqual(outcome.passes * outcome.archiveBytes);
    expect(outcome.passes).toBeLessThanOrEqual(1 + outcome.plan.batches.length);
    for (const [index, batch] of outcome.plan.batches.entries()) {
      const zip = unzipCheck(store, batch.key);
      const roomyPath = join(dir, `roomy-${index}.zip`);
      writeFileSync(roomyPath, firstParts[index]!);
      expect(zip.names.sort()).toEqual(execFileSync('unzip', ['-Z1', roomyPath], { encoding: 'utf8' }).trim().split('\n').sort());
    }
  });
});

describe('one archive file under two names in one batch', () => {
  const content = Buffer.from('the same photo, named twice');
  const manifestText = 'image,note\nb.jpg,by its name alone\ndeep/b.jpg,by its path\n';

  async function buildZip(path: string): Promise<void> {
    const zip = new ZipFile();
    const written = pipeline(zip.outputStream, createWriteStream(path));
    zip.addBuffer(content, 'export/deep/b.jpg');
    zip.addBuffer(Buffer.from(manifestText), 'export/manifest.csv');
    zip.end();
    await written;
  }

  async function buildTarGz(path: string): Promise<void> {
    const tar = pack();
    const written = pipeline(tar, createGzip(), createWriteStream(path));
    tar.entry({ name: 'export/manifest.csv' }, manifestText);
    tar.entry({ name: 'export/deep/b.jpg' }, content);
    tar.finalize();
    await written;
  }

  it.each([['twice.zip', buildZip], ['twice.tar.gz', buildTarGz]] as const)('%s: both names hold the bytes, whether the entry is read by range or streamed', async (file, build) => {
    const store = new MemoryStore();
    const request = await uploaded(store, file, build);
    const outcome = (await splitArchive(request, contextFor(store, { diskBudgetBytes: 0 })))!;
    expect(outcome.plan.batches).toHaveLength(1);
    const key = outcome.plan.batches[0]!.key;
    expect(unzipCheck(store, key).names.sort()).toEqual(['b.jpg', 'deep/b.jpg', 'manifest.csv', 'problems.csv']);
    const path = join(dir, `${file}.out.zip`);
    writeFileSync(path, store.object(BUCKET, key)!.body);
    for (const name of ['b.jpg', 'deep/b.jpg']) expect(execFileSync('unzip', ['-p', path, name])).toEqual(content);
  });
});

describe('limits that keep a hostile export from taking the task down', () => {
  async function tarGz(path: string, files: readonly [string, string | Buffer][]): Promise<void> {
    const tar = pack();
    const written = pipeline(tar, createGzip(), createWriteStream(path));
    for (const [name, body] of files) tar.entry({ name }, body);
    tar.finalize();
    await written;
  }

  it('a row naming an image by a path longer than any file system allows is an unsafe-path problem, not a crash', async () => {
    const store = new MemoryStore();
    const long = `${'y'.repeat(70_000)}/b.jpg`;
    const request = await uploaded(store, 'long.tar.gz', (path) => tarGz(path, [['manifest.csv', `image\n${long}\nb.jpg\n`], ['b.jpg', 'bytes']]));
    const outcome = (await splitArchive(request, contextFor(store)))!;
    const problems = outcome.plan.batches[0]!.problems;
    expect(problems.map((problem) => [problem.kind, problem.row])).toEqual([['unsafe-path', 1]]);
    expect(problems[0]!.detail).toMatch(/longer than 4096 bytes/);
    expect(unzipCheck(store, outcome.plan.batches[0]!.key).names.sort()).toEqual(['b.jpg', 'manifest.csv', 'problems.csv']);
  });

  it('refuses a manifest with more rows than MAX_MANIFEST_ROWS, and an archive with more entries than MAX_ARCHIVE_ENTRIES', async () => {
    const store = new MemoryStore();
    const small = archiveSettings({ BATCH_SIZE: '50', MAX_MANIFEST_ROWS: '100', MAX_ARCHIVE_ENTRIES: '150' });
    const rows = await uploaded(store, 'rows.tar.gz', (path) => tarGz(path, [['manifest.csv', `image\n${Array.from({ length: 101 }, (_, i) => `${i}.jpg`).join('\n')}\n`]]));
    await expect(splitArchive(rows, contextFor(store, { settings: small }))).rejects.toThrow(/more than MAX_MANIFEST_ROWS \(100\) rows/);
    const exactly = await uploaded(store, 'hundred.tar.gz', (path) => tarGz(path, [['manifest.csv', `image\n${Array.from({ length: 100 }, (_, i) => `${i}.jpg`).join('\n')}\n`]]));
    expect((await splitArchive(exactly, contextFor(store, { settings: small })))!.plan.rows).toBe(100);

    const many: [string, string][] = Array.from({ length: 151 }, (_, i) => [`f${i}.jpg`, 'x']);
    const tar = await uploaded(store, 'many.tar.gz', (path) => tarGz(path, [['manifest.csv', 'image\nf1.jpg\n'], ...many]));
    await expect(splitArchive(tar, contextFor(store, { settings: small }))).rejects.toThrow(InputTooLargeError);
    const zip = await uploaded(store, 'many.zip', async (path) => {
      const file = new ZipFile();
      const written = pipeline(file.outputStream, createWriteStream(path));
      file.addBuffer(Buffer.from('image\nf1.jpg\n'), 'manifest.csv');
      for (const [name, body] of many) file.addBuffer(Buffer.from(body), name);
      file.end();
      await written;
    });
    await expect(splitArchive(zip, contextFor(store, { settings: small }))).rejects.toThrow(/152 entries, more than MAX_ARCHIVE_ENTRIES \(150\)/);
  });

  it('a TAR.GZ with manifests at several depths, deeper ones first and last: the shallowest is the manifest', async () => {
    const store = new MemoryStore();
    const request = await uploaded(store, 'depths.tar.gz', (path) => tarGz(path, [
      ['a/b/c/manifest.csv', 'image\ndeep.jpg\n'], ['a/manifest.csv', 'image\nshallow.jpg\n'], ['a/b/manifest.csv', 'image\nmiddle.jpg\n'],
      ['a/shallow.jpg', 'S'], ['a/b/middle.jpg', 'M'], ['a/b/c/deep.jpg', 'D'],
    ]));
    const outcome = (await splitArchive(request, contextFor(store)))!;
    expect(outcome.plan.batches[0]!.rows.map((row) => row.values)).toEqual([['shallow.jpg']]);
    expect(outcome.plan.batches[0]!.files.map((file) => file.entryPath)).toEqual(['a/shallow.jpg']);
  });
});

