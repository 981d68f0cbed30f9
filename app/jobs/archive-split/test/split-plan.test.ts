import { S3LimitError } from '../../../../shared/errors';
import type { ArchiveEntry } from '../archive-entry';
import type { Manifest } from '../manifest';
import { planSplit, type SplitInput, type SplitPlan } from '../split-plan';
import { BUCKET, entries, imageManifest, imagePaths, manifestOf } from './factories';

function plan(manifest: Manifest, listing: readonly ArchiveEntry[], overrides: Partial<SplitInput> = {}): SplitPlan {
  return planSplit({
    manifest, entries: listing, settings: { batchSize: 2, outputPrefix: 'batch/' }, stem: 'export', outputBucket: BUCKET, sourceEtag: 'etag-1', ...overrides,
  });
}

const allProblems = (result: SplitPlan) => result.batches.flatMap((batch) => batch.problems);
const rowProblems = (result: SplitPlan) => allProblems(result).filter((problem) => problem.row !== undefined);

describe('planSplit: finding each row\'s image', () => {
  it('looks next to the manifest first, then from the root, then by a unique file name', () => {
    const listing = entries('export/manifest.csv', 'export/images/a.jpg', 'images/a.jpg', 'images/b.jpg', { path: 'deep/x/c.jpg', size: 7 });
    const result = plan(imageManifest(['images/a.jpg', 'images/b.jpg', 'c.jpg'], 'export/manifest.csv'), listing, { settings: { batchSize: 10, outputPrefix: 'batch/' } });
    expect(result.batches[0]!.files).toEqual([
      { entryIndex: 1, entryPath: 'export/images/a.jpg', nameInZip: 'images/a.jpg', size: 100 },
      { entryIndex: 3, entryPath: 'images/b.jpg', nameInZip: 'images/b.jpg', size: 100 },
      { entryIndex: 4, entryPath: 'deep/x/c.jpg', nameInZip: 'c.jpg', size: 7 },
    ]);
    expect(result.batches[0]!.problems).toEqual([]);
    expect(result).toMatchObject({ rows: 3, images: 3, archiveProblems: [] });
  });

  it('names each file in the ZIP as the manifest names it, normalised, with the value trimmed', () => {
    const listing = entries('manifest.csv', './images/a.jpg', 'images/b.jpg');
    const result = plan(imageManifest(['  ./images//a.jpg ', 'images/./b.jpg']), listing);
    expect(result.batches[0]!.files.map((file) => [file.nameInZip, file.entryPath])).toEqual([['images/a.jpg', './images/a.jpg'], ['images/b.jpg', 'images/b.jpg']]);
  });

  it('reads the image column wherever it is', () => {
    const manifest = manifestOf(['id', 'Image', 'label'], [['1', 'a.jpg', 'cat']]);
    expect(plan(manifest, entries('a.jpg')).batches[0]!.files.map((file) => file.nameInZip)).toEqual(['a.jpg']);
  });

  it('reports a missing file, keeping the row in its batch', () => {
    const result = plan(imageManifest(['a.jpg', 'gone.jpg', 'images']), entries('a.jpg', 'images/', 'images/x.jpg'), { settings: { batchSize: 3, outputPrefix: '' } });
    expect(result.batches[0]!.rows.map((row) => row.values[0])).toEqual(['a.jpg', 'gone.jpg', 'images']);
    expect(result.batches[0]!.problems).toEqual([
      { kind: 'missing-file', row: 2, image: 'gone.jpg', detail: 'no such file in the archive' },
      { kind: 'missing-file', row: 3, image: 'images', detail: 'names a folder, not a file' },
    ]);
    expect(result.images).toBe(1);
  });

  it('reports a row without an image', () => {
    const result = plan(imageManifest(['', '   ']), entries('a.jpg'));
    expect(rowProblems(result)).toEqual([
      { kind: 'no-image', row: 1, detail: 'the row names no image' },
      { kind: 'no-image', row: 2, detail: 'the row names no image' },
    ]);
    expect(result.batches[0]!.files).toEqual([]);
  });

  it.each([
    ['../passwd', '".." segment'],
    ['images/../../passwd', '".." segment'],
    ['/etc/passwd', 'absolute path'],
    ['C:/passwd', 'drive-letter path'],
    ['images\\passwd', 'backslash'],
    ['pass\u0000wd', 'NUL character'],
  ])('never looks up an unsafe value (%j), not even by its file name', (value, reason) => {
    const result = plan(imageManifest([value]), entries('passwd', 'etc/passwd', 'images/passwd'));
    expect(rowProblems(result)).toEqual([{ kind: 'unsafe-path', row: 1, image: value.replace('\u0000', '\\u0000'), detail: `${reason}: not looked up` }]);
    expect(result.batches[0]!.files).toEqual([]);
  });

  it('reports a file name that several files share, naming them, instead of guessing', () => {
    const listing = entries('x/a.jpg', 'y/a.jpg', 'z/q/a.jpg');
    const result = plan(imageManifest(['a.jpg', 'y/a.jpg', 'photos/a.jpg']), listing);
    expect(rowProblems(result)).toEqual([
      { kind: 'ambiguous-name', row: 1, image: 'a.jpg', detail: 'not found as named; 3 files are called "a.jpg" ("x/a.jpg", "y/a.jpg", "z/q/a.jpg") and the row does not say which' },
      { kind: 'ambiguous-name', row: 3, image: 'photos/a.jpg', detail: expect.stringContaining('3 files are called "a.jpg"') },
    ]);
    expect(result.batches[0]!.files.map((file) => file.entryPath)).toEqual(['y/a.jpg']);
  });

  it('lists at most five candidates of an ambiguous name', () => {
    const listing = entries(...Array.from({ length: 8 }, (_, index) => `d${index}/a.jpg`));
    expect(rowProblems(plan(imageManifest(['a.jpg']), listing))[0]!.detail).toMatch(/8 files are called "a.jpg" \("d0\/a.jpg", .*"d4\/a.jpg" and 3 more\)/);
  });

  it('never follows a link: a row naming one is an unsafe path, and every link is reported', () => {
    const listing = entries('a.jpg', { path: 'images/l.jpg', kind: 'link' }, { path: 'unused-link', kind: 'link' }, { path: 'dev/fifo', kind: 'other' });
    const result = plan(imageManifest(['images/l.jpg', 'fifo']), listing);
    expect(rowProblems(result)).toEqual([
      { kind: 'unsafe-path', row: 1, image: 'images/l.jpg', entry: 'images/l.jpg', detail: 'names a link, and links are never followed' },
      { kind: 'missing-file', row: 2, image: 'fifo', detail: 'no such file in the archive' },
    ]);
    expect(result.archiveProblems).toEqual([
      { kind: 'unsafe-entry', entry: 'images/l.jpg', detail: 'a link: links are never followed, so it is left out of every batch' },
      { kind: 'unsafe-entry', entry: 'unused-link', detail: 'a link: links are never followed, so it is left out of every batch' },
      { kind: 'unsafe-entry', entry: 'dev/fifo', detail: 'neither a file nor a folder (a device or FIFO): left out of every batch' },
    ]);
    expect(result.batches[0]!.files).toEqual([]);
  });

  it('reports entries with unsafe paths (control characters escaped), uses none of them, and puts them first in part 1', () => {
    const listing = entries('../evil.jpg', '/abs.jpg', 'C:\\win.jpg', 'bad\u001b[2J.jpg', 'ok.jpg', { path: '../up/', kind: 'directory' });
    const result = plan(imageManifest(['evil.jpg', 'abs.jpg', 'ok.jpg', 'ok.jpg', 'x.jpg']), listing);
    expect(result.archiveProblems).toEqual([
      { kind: 'unsafe-entry', entry: '../evil.jpg', detail: '".." segment: left out of every batch' },
      { kind: 'unsafe-entry', entry: '/abs.jpg', detail: 'absolute path: left out of every batch' },
      { kind: 'unsafe-entry', entry: 'C:\\win.jpg', detail: 'drive-letter path: left out of every batch' },
      { kind: 'unsafe-entry', entry: 'bad\\u001b[2J.jpg', detail: 'control character: left out of every batch' },
      { kind: 'unsafe-entry', entry: '../up/', detail: '".." segment: left out of every batch' },
    ]);
    expect(result.batches[0]!.problems.slice(0, 5)).toEqual(result.archiveProblems);
    expect(result.batches[0]!.problems.slice(5).map((problem) => [problem.kind, problem.row])).toEqual([['missing-file', 1], ['missing-file', 2]]);
    expect(result.batches.slice(1).map((batch) => batch.problems.map((problem) => problem.kind))).toEqual([['duplicate-row'], ['missing-file']]);
    expect(result.batches.flatMap((batch) => batch.files.map((file) => file.entryPath))).toEqual(['ok.jpg']);
  });

  it('uses the last copy of a path stored twice, as unzip and tar do, and reports it', () => {
    const listing = entries({ path: 'images/a.jpg', size: 1 }, 'b.jpg', { path: './images/a.jpg', size: 2 }, { path: 'images//a.jpg', size: 3 });
    const result = plan(imageManifest(['images/a.jpg']), listing);
    expect(result.batches[0]!.files).toEqual([{ entryIndex: 3, entryPath: 'images//a.jpg', nameInZip: 'images/a.jpg', size: 3 }]);
    expect(result.archiveProblems).toEqual([
      { kind: 'duplicate-entry', entry: 'images/a.jpg', detail: '3 entries have this path; the last (entry 3) is used, as unzip and tar do' },
    ]);
  });

  it('follows the last copy even when it is a link: the row is then an unsafe path', () => {
    const listing = entries('a.jpg', { path: 'a.jpg', kind: 'link' });
    const result = plan(imageManifest(['a.jpg']), listing);
    expect(rowProblems(result)).toEqual([expect.objectContaining({ kind: 'unsafe-path', row: 1, entry: 'a.jpg' })]);
    expect(result.archiveProblems.map((problem) => problem.kind)).toEqual(['unsafe-entry', 'duplicate-entry']);
  });

  it('does not report a folder stored twice', () => {
    expect(plan(imageManifest(['a/x.jpg']), entries('a/', './a/', 'a/x.jpg')).archiveProblems).toEqual([]);
  });

  it('keeps the batch\'s own manifest.csv and problems.csv names from being taken by an image', () => {
    const result = plan(imageManifest(['manifest.csv', 'Problems.CSV', 'sub/manifest.csv']), entries('manifest.csv', 'Problems.CSV', 'sub/manifest.csv'), { settings: { batchSize: 5, outputPrefix: '' } });
    expect(rowProblems(result)).toEqual([
      { kind: 'unsafe-path', row: 1, image: 'manifest.csv', detail: 'would take the place of the batch\'s own manifest.csv' },
      { kind: 'unsafe-path', row: 2, image: 'Problems.CSV', detail: 'would take the place of the batch\'s own problems.csv' },
    ]);
    expect(result.batches[0]!.files.map((file) => file.nameInZip)).toEqual(['sub/manifest.csv']);
  });
});

describe('planSplit: rows naming the same image', () => {
  it('puts the image once in each batch holding such a row and reports every repeat', () => {
    const result = plan(imageManifest(['a.jpg', 'a.jpg', 'b.jpg', 'a.jpg', './a.jpg']), entries('a.jpg', 'b.jpg'), { settings: { batchSize: 3, outputPrefix: '' } });
    expect(result.batches.map((batch) => batch.files.map((file) => file.nameInZip))).toEqual([['a.jpg', 'b.jpg'], ['a.jpg']]);
    expect(rowProblems(result)).toEqual([
      { kind: 'duplicate-row', row: 2, image: 'a.jpg', entry: 'a.jpg', detail: 'names the same file as row 1; the batch holds it once' },
      { kind: 'duplicate-row', row: 4, image: 'a.jpg', entry: 'a.jpg', detail: 'names the same file as row 1; a later batch holds its own copy' },
      { kind: 'duplicate-row', row: 5, image: './a.jpg', entry: 'a.jpg', detail: 'names the same file as row 1; the batch holds it once' },
    ]);
    expect(result.images).toBe(3);
  });

  it('keeps one file for two spellings of the same name in a batch', () => {
    const result = plan(imageManifest(['a/./b.jpg', 'a/b.jpg']), entries('a/b.jpg'));
    expect(result.batches[0]!.files).toEqual([{ entryIndex: 0, entryPath: 'a/b.jpg', nameInZip: 'a/b.jpg', size: 100 }]);
    expect(rowProblems(result).map((problem) => [problem.kind, problem.row])).toEqual([['duplicate-row', 2]]);
  });

  it('stores one file under both names when two rows reach it by different names, so each row resolves in the ZIP', () => {
    const result = plan(imageManifest(['b.jpg', 'deep/b.jpg']), entries('deep/b.jpg'));
    expect(result.batches[0]!.files.map((file) => [file.entryIndex, file.nameInZip])).toEqual([[0, 'b.jpg'], [0, 'deep/b.jpg']]);
    expect(rowProblems(result)).toEqual([
      { kind: 'duplicate-row', row: 2, image: 'deep/b.jpg', entry: 'deep/b.jpg', detail: 'names the same file as row 1; the batch holds it under both names' },
    ]);
    expect(result.images).toBe(1);
  });
});

describe('planSplit: batches', () => {
  const listing = entries(...imagePaths(10));

  it.each([
    [1, [1]],
    [2, [2]],
    [3, [2, 1]],
    [4, [2, 2]],
    [5, [2, 2, 1]],
  ])('splits %i rows into batches of %j in manifest order (batch size 2)', (rows, sizes) => {
    const result = plan(imageManifest(imagePaths(rows)), listing);
    expect(result.batches.map((batch) => batch.rows.length)).toEqual(sizes);
    expect(result.batches.map((batch) => batch.part)).toEqual(sizes.map((_, index) => index + 1));
    expect(result.batches.flatMap((batch) => batch.rows.map((row) => row.line))).toEqual(Array.from({ length: rows }, (_, index) => index + 1));
    expect(result.batches.flatMap((batch) => batch.files.map((file) => file.nameInZip))).toEqual(imagePaths(rows));
    expect(result).toMatchObject({ rows, images: rows });
  });

  it('names each batch OUTPUT_PREFIX + stem + -part{n}.zip in the output bucket', () => {
    const result = plan(imageManifest(imagePaths(3)), listing, { stem: 'Export Photos', outputBucket: 'out-bucket', settings: { batchSize: 2, outputPrefix: 'parts/' } });
    expect(result.batches.map((batch) => [batch.bucket, batch.key])).toEqual([['out-bucket', 'parts/Export Photos-part1.zip'], ['out-bucket', 'parts/Export Photos-part2.zip']]);
  });

  it('plans no batch for a manifest without rows, but still reports the archive\'s problems', () => {
    const result = plan(imageManifest([]), entries('../evil.jpg'));
    expect(result.batches).toEqual([]);
    expect(result).toMatchObject({ rows: 0, images: 0, archiveProblems: [{ kind: 'unsafe-entry', entry: '../evil.jpg' }] });
  });

  it('refuses a plan whose batch keys would be over 1024 bytes', () => {
    const stem = 'n'.repeat(1024 - 'batch/'.length - '-part1.zip'.length);
    const oneRowEach = { stem, settings: { batchSize: 1, outputPrefix: 'batch/' } };
    expect(plan(imageManifest(imagePaths(9)), listing, oneRowEach).batches[8]!.key).toHaveLength(1024);
    // Part 10 is one byte longer than part 9.
    expect(() => plan(imageManifest(imagePaths(10)), listing, oneRowEach)).toThrow(S3LimitError);
    expect(() => plan(imageManifest(imagePaths(1)), listing, { stem: `${stem}n` })).toThrow(/batch 1 would have a 1025-byte key/);
  });

  it('refuses a batch size that is not 1, 2, ...', () => {
    expect(() => plan(imageManifest(imagePaths(1)), listing, { settings: { batchSize: 0, outputPrefix: '' } })).toThrow(RangeError);
  });

  it('returns a frozen plan', () => {
    const result = plan(imageManifest(imagePaths(3)), listing);
    expect(Object.isFrozen(result)).toBe(true);
    expect(Object.isFrozen(result.batches[0])).toBe(true);
    expect(Object.isFrozen(result.batches[0]!.files)).toBe(true);
    expect(Object.isFrozen(result.batches[0]!.problems)).toBe(true);
  });
});

describe('planSplit: fingerprints', () => {
  const listing = entries(...imagePaths(4));
  const manifest = imageManifest(imagePaths(4));
  const fingerprints = (result: SplitPlan) => result.batches.map((batch) => batch.fingerprint);
  const base = fingerprints(plan(manifest, listing));

  it('are sha256 hex, the same for the same input, and differ between parts', () => {
    expect(base[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprints(plan(manifest, listing))).toEqual(base);
    expect(base[0]).not.toBe(base[1]);
  });

  it('change with the archive version, for every part', () => {
    const other = fingerprints(plan(manifest, listing, { sourceEtag: 'etag-2' }));
    expect(other[0]).not.toBe(base[0]);
    expect(other[1]).not.toBe(base[1]);
  });

  it('change only for the batch whose row or file changed', () => {
    const edited = manifestOf(['image', 'label'], [...manifest.rows.slice(0, 3).map((row) => row.values), ['images/00004.jpg', 'relabelled']]);
    expect(fingerprints(plan(edited, listing))).toEqual([base[0], expect.not.stringMatching(base[1]!)]);
    const resized = listing.map((entry) => (entry.index === 0 ? { ...entry, size: 101 } : entry));
    expect(fingerprints(plan(manifest, resized))).toEqual([expect.not.stringMatching(base[0]!), base[1]]);
  });

  it('change with the header and with the problems, which the ZIP also holds', () => {
    const renamed = manifestOf(['image', 'class'], manifest.rows.map((row) => row.values));
    expect(fingerprints(plan(renamed, listing))[1]).not.toBe(base[1]);
    expect(fingerprints(plan(manifest, [...listing, { path: '../x', kind: 'file', size: 1, index: 4 }]))).toEqual([expect.not.stringMatching(base[0]!), base[1]]);
  });

  it('do not depend on the output location, which is not part of the ZIP', () => {
    expect(fingerprints(plan(manifest, listing, { outputBucket: 'elsewhere', stem: 'other' }))).toEqual(base);
  });
});

describe('planSplit at scale', () => {
  it('plans 100,000 rows over 100,000 entries (by name, by path and missing) in linear time', () => {
    const paths = imagePaths(100_000, 'export/photos/');
    const listing = entries('export/manifest.csv', ...paths);
    // Every third row by path next to the manifest, the others by file name; every 1000th missing.
    const values = paths.map((path, index) => (index % 1000 === 999 ? `missing-${index}.jpg` : index % 3 === 0 ? path.slice('export/'.length) : path.slice(path.lastIndexOf('/') + 1)));
    const started = Date.now();
    const result = plan(imageManifest(values, 'export/manifest.csv'), listing, { settings: { batchSize: 2000, outputPrefix: 'batch/' } });
    // A plan that scanned every entry per row would take minutes; linear takes well under a second.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.batches).toHaveLength(50);
    expect(result.rows).toBe(100_000);
    expect(result.images).toBe(99_900);
    expect(rowProblems(result)).toHaveLength(100);
    expect(result.batches[49]!.files.at(-1)).toMatchObject({ entryIndex: 99_999, nameInZip: '99999.jpg' });
  });
});
