import { account } from '../src/accounting';

describe('account', () => {
  const base = { sizes: ['224x224', '299x299'], extension: '.jpg', destPrefix: '', sourcePrefix: '' };

  it('counts a file done only when every size exists, dead-lettered when its message is in the DLQ, pending otherwise', () => {
    const result = account({
      ...base,
      sourceKeys: ['a/x.png', 'b/x.png', 'broken.jpg', 'half.jpg', 'folder/'],
      destinationKeys: ['224x224/a/x.jpg', '299x299/a/x.jpg', '224x224/b/x.jpg', '299x299/b/x.jpg', '224x224/half.jpg'],
      deadLetteredKeys: ['broken.jpg'],
    });
    expect(result).toEqual({ loaded: 4, done: 2, deadLettered: 1, pending: ['half.jpg'], outputs: 5 });
  });
});
