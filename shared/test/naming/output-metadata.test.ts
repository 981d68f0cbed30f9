import { outputMetadata, relativeSourceKey, sourceKeyOf } from '../../naming/output-metadata';
import { userMetadataBytes } from '../../naming/s3-limits';

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

describe('relativeSourceKey', () => {
  it('removes SOURCE_PREFIX only from the front of keys that start with it', () => {
    expect(relativeSourceKey('in/a/x.jpg', 'in/')).toBe('a/x.jpg');
    expect(relativeSourceKey('other/in/x.jpg', 'in/')).toBe('other/in/x.jpg');
    expect(relativeSourceKey('a/x.jpg', '')).toBe('a/x.jpg');
  });
});
