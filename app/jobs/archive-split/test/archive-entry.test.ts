import { entriesByPath } from '../archive-entry';
import { entries } from './factories';

describe('entriesByPath', () => {
  it('maps safe entries by normalised path, whatever their kind', () => {
    const { byPath, copies } = entriesByPath(entries('./a.jpg', 'dir/', { path: 'l', kind: 'link' }, '../up.jpg', '/abs.jpg', 'x\u0000.jpg'));
    expect([...byPath.keys()]).toEqual(['a.jpg', 'dir', 'l']);
    expect(copies.size).toBe(0);
  });

  it('lets the last copy of a path win, by index even when listed out of order, and counts the copies', () => {
    const listing = entries({ path: 'a.jpg', size: 1 }, { path: './a.jpg', size: 2 }, { path: 'a.jpg', kind: 'link', size: 3 });
    const { byPath, copies } = entriesByPath([listing[2]!, listing[0]!, listing[1]!]);
    expect(byPath.get('a.jpg')).toMatchObject({ index: 2, kind: 'link', size: 3 });
    expect(copies).toEqual(new Map([['a.jpg', 3]]));
  });
});
