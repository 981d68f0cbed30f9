import { outputKey, outputMetadata, sourceKeyOf } from '../../src/naming/output-key';
import { userMetadataBytes } from '../../../shared/naming/s3-limits';

const key = (sourceKey: string, overrides: Partial<Parameters<typeof outputKey>[0]> = {}) =>
  outputKey({ destPrefix: '', sourcePrefix: '', sourceKey, outputName: '224x224', extension: '.jpg', ...overrides });

describe('outputKey', () => {
  it('keeps the folder structure so equal file names in different folders never collide', () => {
    expect(key('a/x.jpg')).toBe('224x224/a/x.jpg');
    expect(key('b/x.jpg')).toBe('224x224/b/x.jpg');
  });

  it('puts outputs under DEST_PREFIX/<size>/ and removes SOURCE_PREFIX', () => {
    expect(key('incoming/cats/c.png', { destPrefix: 'resized/', sourcePrefix: 'incoming/' })).toBe('resized/224x224/cats/c.jpg');
  });

  it('keeps the whole key when it does not start with SOURCE_PREFIX', () => {
    expect(key('other/c.png', { sourcePrefix: 'incoming/' })).toBe('224x224/other/c.jpg');
  });

  it.each([
    ['a/b/photo.PNG', '.jpg', '224x224/a/b/photo.jpg'],
    ['photo.jpeg', '.webp', '224x224/photo.webp'],
    ['no-extension', '.jpg', '224x224/no-extension.jpg'],
    ['v1.2/archive.tar.gz', '.png', '224x224/v1.2/archive.tar.png'],
    ['folder.d/file', '.jpg', '224x224/folder.d/file.jpg'],
    ['.hidden', '.jpg', '224x224/.hidden.jpg'],
    ['sp ace/ü+x.jpg', '.jpg', '224x224/sp ace/ü+x.jpg'],
  ])('%s with %s -> %s', (sourceKey, extension, expected) => {
    expect(key(sourceKey, { extension })).toBe(expected);
  });

  it('gives each size its own folder', () => {
    expect(key('x.jpg', { outputName: '299x299' })).toBe('299x299/x.jpg');
  });
});

describe('outputMetadata', () => {
  it('stores the source key URL-encoded when it fits, readable and reversible', () => {
    const metadata = outputMetadata({ bucket: 'src', key: 'a b/ü+x.jpg', etag: 'e1' });
    expect(metadata).toEqual({ 'source-bucket': 'src', 'source-key': encodeURIComponent('a b/ü+x.jpg'), 'source-etag': 'e1' });
    expect(sourceKeyOf(metadata)).toBe('a b/ü+x.jpg');
  });

  it.each([
    ['1024 bytes of three-byte characters', '日'.repeat(341) + 'x'],
    ['1024 bytes of four-byte characters', '😀'.repeat(256)],
    ['1024 ASCII bytes', 'k'.repeat(1024)],
    ['1022 bytes of two-byte characters', 'é'.repeat(511)],
  ])('keeps any legal key (%s) within S3\'s 2 KB of metadata, with the longest bucket name and a multipart ETag', (_name, key) => {
    expect(Buffer.byteLength(key)).toBeLessThanOrEqual(1024);
    const metadata = outputMetadata({ bucket: 'b'.repeat(63), key, etag: `${'f'.repeat(32)}-10000` });
    expect(userMetadataBytes(metadata)).toBeLessThanOrEqual(2048);
    expect(sourceKeyOf(metadata)).toBe(key);
  });
});
