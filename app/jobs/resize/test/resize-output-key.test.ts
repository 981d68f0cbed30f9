import { outputKey } from '../resize-output-key';

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

