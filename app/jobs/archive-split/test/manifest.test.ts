import { classifyFailure } from '../../../../shared/errors';
import { ManifestError, ManifestMissingError } from '../archive-errors';
import { findManifestEntry, manifestCsv, parseManifest, type Manifest } from '../manifest';
import { csv, entries } from './factories';

const options = { imageColumn: 'image', maxBytes: 1024 * 1024 };
const parse = (bytes: Buffer, path = 'manifest.csv', opts = options): Manifest => parseManifest(bytes, path, opts);

function manifestError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    expect(classifyFailure(error)).toMatchObject({ kind: 'permanent', reason: 'manifest-invalid' });
    return (error as Error).message;
  }
  throw new Error('expected a ManifestError');
}

describe('findManifestEntry', () => {
  it('finds the manifest at the root', () => {
    expect(findManifestEntry(entries('images/', 'images/a.jpg', 'manifest.csv'), 'manifest.csv')).toMatchObject({ path: 'manifest.csv', index: 2 });
  });

  it('finds it at any depth, whatever its case, and prefers the shallowest', () => {
    expect(findManifestEntry(entries('export/2026/Manifest.CSV', 'export/2026/a.jpg'), 'manifest.csv').path).toBe('export/2026/Manifest.CSV');
    expect(findManifestEntry(entries('export/a/b/manifest.csv', './export/MANIFEST.csv', 'x/y/z/w/manifest.csv'), 'manifest.csv').path).toBe('./export/MANIFEST.csv');
    expect(findManifestEntry(entries('meta/index.csv'), 'INDEX.CSV').path).toBe('meta/index.csv');
  });

  it('refuses two manifests at the same shallowest depth, naming both', () => {
    const message = manifestError(() => findManifestEntry(entries('b/manifest.csv', 'a/Manifest.csv', 'a/b/manifest.csv'), 'manifest.csv'));
    expect(message).toBe('the archive has 2 files named "manifest.csv" at the same depth, and which one is the manifest cannot be told: "a/Manifest.csv", "b/manifest.csv"');
  });

  it('takes the last copy when the same path is stored twice, as extraction would', () => {
    expect(findManifestEntry(entries('manifest.csv', 'a.jpg', './manifest.csv'), 'manifest.csv')).toMatchObject({ path: './manifest.csv', index: 2 });
  });

  it('ignores folders, links, other entries, unsafe paths and names that only contain the manifest name', () => {
    const listing = entries(
      'manifest.csv/', { path: 'a/manifest.csv', kind: 'link' }, { path: 'b/manifest.csv', kind: 'other' }, '../manifest.csv', '/manifest.csv',
      'old-manifest.csv', 'manifest.csv.bak', 'deep/down/manifest.csv',
    );
    expect(findManifestEntry(listing, 'manifest.csv').path).toBe('deep/down/manifest.csv');
  });

  it('says what it looked for, how, and among how many entries when there is none', () => {
    let thrown: unknown;
    try {
      findManifestEntry(entries('a.jpg', 'b.jpg', 'manifest.txt'), 'manifest.csv');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ManifestMissingError);
    expect(classifyFailure(thrown)).toMatchObject({ kind: 'permanent', reason: 'manifest-missing' });
    expect((thrown as Error).message).toBe('the archive has no file named "manifest.csv" (looked for case-insensitively, at any depth, among its 3 entries)');
  });
});

describe('parseManifest', () => {
  it('reads the header and rows, numbering rows from 1', () => {
    expect(parse(csv(['image,label', 'a.jpg,cat', 'b.jpg,dog']), 'export/manifest.csv')).toEqual({
      path: 'export/manifest.csv', header: ['image', 'label'], imageColumn: 0,
      rows: [{ line: 1, values: ['a.jpg', 'cat'] }, { line: 2, values: ['b.jpg', 'dog'] }],
    });
  });

  it('drops a byte order mark, so the first column keeps its name', () => {
    const manifest = parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), csv(['image,label', 'a.jpg,cat'])]));
    expect(manifest.header).toEqual(['image', 'label']);
    expect(manifest.imageColumn).toBe(0);
  });

  it('reads CRLF, LF and CR line ends, even mixed in one file, leaving no stray line end in a value', () => {
    const expected = [['a.jpg', '1'], ['b.jpg', '2']];
    expect(parse(csv(['image,n', 'a.jpg,1', 'b.jpg,2'], '\r\n')).rows.map((row) => row.values)).toEqual(expected);
    expect(parse(csv(['image,n', 'a.jpg,1', 'b.jpg,2'], '\r')).rows.map((row) => row.values)).toEqual(expected);
    expect(parse(Buffer.from('image,n\r\na.jpg,1\nb.jpg,2\n')).rows.map((row) => row.values)).toEqual(expected);
  });

  it('reads quoted fields holding commas, quotes and line breaks', () => {
    const manifest = parse(Buffer.from('image,caption\r\n"a, b.jpg","she said ""hi""\r\nand left"\r\nc.jpg,plain\r\n'));
    expect(manifest.rows).toEqual([
      { line: 1, values: ['a, b.jpg', 'she said "hi"\r\nand left'] },
      { line: 2, values: ['c.jpg', 'plain'] },
    ]);
  });

  it('skips blank lines and blank records without counting them as rows', () => {
    const manifest = parse(Buffer.from('image,label\n\na.jpg,x\n,\n  ,  \n\nb.jpg,y\n\n'));
    expect(manifest.rows).toEqual([{ line: 1, values: ['a.jpg', 'x'] }, { line: 2, values: ['b.jpg', 'y'] }]);
  });

  it('keeps a row with an empty image and other values (the plan reports it)', () => {
    expect(parse(csv(['image,label', ',cat'])).rows).toEqual([{ line: 1, values: ['', 'cat'] }]);
  });

  it('gives zero rows for a header only, and for an empty file', () => {
    expect(parse(csv(['image,label']))).toMatchObject({ header: ['image', 'label'], rows: [], imageColumn: 0 });
    expect(parse(Buffer.from('image,label'))).toMatchObject({ rows: [] });
    expect(parse(Buffer.alloc(0))).toEqual({ path: 'manifest.csv', header: [], rows: [], imageColumn: -1 });
    expect(parse(Buffer.from('\ufeff\n\r\n'))).toMatchObject({ header: [], rows: [] });
  });

  it('trims header names and matches the image column case-insensitively', () => {
    const manifest = parse(csv([' id , File Name ,label', '1,a.jpg,cat']), 'manifest.csv', { ...options, imageColumn: 'file name' });
    expect(manifest.header).toEqual(['id', 'File Name', 'label']);
    expect(manifest.imageColumn).toBe(1);
  });

  it('names the line of every row with a wrong number of fields', () => {
    const message = manifestError(() => parse(Buffer.from('image,label\na.jpg,x\nb.jpg\n\n"c\nd.jpg",x,extra\n')));
    expect(message).toBe('manifest "manifest.csv" has rows with the wrong number of fields (the header has 2): line 3 has 1, line 5 has 3');
  });

  it('lists only the first five bad lines, counting the rest', () => {
    const lines = ['image,label', ...Array.from({ length: 8 }, (_, index) => `only-${index}.jpg`)];
    expect(manifestError(() => parse(csv(lines)))).toMatch(/line 2 has 1, line 3 has 1, line 4 has 1, line 5 has 1, line 6 has 1 \(and 3 more lines\)$/);
  });

  it('lists the header\'s columns when the image column is missing', () => {
    expect(manifestError(() => parse(csv(['file,label,split', 'a.jpg,x,train'])))).toBe(
      'manifest "manifest.csv" has no "image" column (IMAGE_COLUMN, matched case-insensitively); its columns are "file", "label", "split"',
    );
  });

  it('refuses duplicate column names, and two columns that are the image column in different cases', () => {
    expect(manifestError(() => parse(csv(['image,label,label', 'a.jpg,x,y'])))).toBe('manifest "manifest.csv" has duplicate column names in its header: "label"');
    expect(manifestError(() => parse(csv(['image, label ,label', 'a.jpg,x,y'])))).toMatch(/duplicate column names in its header: "label"/);
    expect(manifestError(() => parse(csv(['Image,IMAGE', 'a.jpg,b.jpg'])))).toBe('manifest "manifest.csv" has 2 columns that are "image" case-insensitively: "Image", "IMAGE"');
  });

  it('lets unnamed columns repeat, as spreadsheets export trailing empty columns', () => {
    expect(parse(csv(['image,label,,', 'a.jpg,x,,'])).header).toEqual(['image', 'label', '', '']);
  });

  it('refuses text that is not CSV, naming the line', () => {
    expect(manifestError(() => parse(Buffer.from('image,label\na.jpg,"unclosed\n')))).toMatch(/^manifest "manifest.csv" is not valid CSV: .*line 2/);
    expect(manifestError(() => parse(Buffer.from('image,label\na.jpg,b"c"\n')))).toMatch(/is not valid CSV/);
  });

  it('refuses a manifest that is not UTF-8', () => {
    expect(manifestError(() => parse(Buffer.from('image\ncaf\xe9.jpg\n', 'latin1')))).toBe('manifest "manifest.csv" is not UTF-8 text (save it as "CSV UTF-8")');
    expect(manifestError(() => parse(Buffer.from('\ufeffimage\n', 'utf16le')))).toMatch(/not UTF-8/);
  });

  it('refuses a manifest over maxBytes before parsing it', () => {
    expect(manifestError(() => parse(csv(['image', 'a.jpg']), 'm.csv', { ...options, maxBytes: 8 }))).toBe('manifest "m.csv" is 12 bytes, more than MAX_MANIFEST_BYTES (8)');
  });

  it('reads UTF-8 names as they are', () => {
    expect(parse(csv(['image', 'ünïcödé/写真.jpg'])).rows[0]!.values).toEqual(['ünïcödé/写真.jpg']);
  });
});

describe('manifestCsv', () => {
  it('writes a header and rows with LF line ends, quoting only where needed', () => {
    const manifest = parse(csv(['image,label', 'a.jpg,cat', 'b.jpg,dog']));
    expect(manifestCsv(manifest.header, manifest.rows.slice(1))).toBe('image,label\nb.jpg,dog\n');
    expect(manifestCsv(['image', 'caption'], [{ line: 1, values: ['a, b.jpg', 'said "hi"\r\nbye'] }])).toBe('image,caption\n"a, b.jpg","said ""hi""\r\nbye"\n');
  });

  it('writes the header alone for no rows, and nothing for an empty manifest', () => {
    expect(manifestCsv(['image', 'label'], [])).toBe('image,label\n');
    expect(manifestCsv([], [])).toBe('');
  });

  it('round-trips through parseManifest: the same header and values, rows renumbered from 1', () => {
    const awkward = [
      ['a, b.jpg', 'said "hi"'], ['multi\nline.jpg', 'cr\ronly'], [' spaced .jpg', ''], ['ü/写真.jpg', '=SUM(A1)'], ['"quoted".jpg', ',,,'],
    ];
    const original = parse(Buffer.from(manifestCsv(['image', 'note'], awkward.map((values, index) => ({ line: index + 1, values })))));
    expect(original.rows.map((row) => row.values)).toEqual(awkward);
    const filtered = manifestCsv(original.header, original.rows.slice(2));
    expect(parse(Buffer.from(filtered))).toEqual({
      path: 'manifest.csv', header: ['image', 'note'], imageColumn: 0,
      rows: awkward.slice(2).map((values, index) => ({ line: index + 1, values })),
    });
  });
});
