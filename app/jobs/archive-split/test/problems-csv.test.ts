import { parse } from 'csv-parse/sync';
import { problemsCsv } from '../problems-csv';
import { problem } from './factories';

describe('problemsCsv', () => {
  it('writes the header kind,row,image,entry,detail and one line per problem, leaving absent fields empty', () => {
    expect(problemsCsv([
      problem('missing-file', { row: 3, image: 'images/a.jpg', detail: 'no such file in the archive' }),
      { kind: 'unsafe-entry', entry: '../evil.jpg', detail: '".." segment: left out of every batch' },
    ])).toBe('kind,row,image,entry,detail\nmissing-file,3,images/a.jpg,,no such file in the archive\nunsafe-entry,,,../evil.jpg,""".."" segment: left out of every batch"\n');
  });

  it('writes only the header when there is no problem', () => {
    expect(problemsCsv([])).toBe('kind,row,image,entry,detail\n');
  });

  it('quotes names holding commas, quotes and line breaks, so a CSV reader gets them back whole', () => {
    const awkward = problem('ambiguous-name', { row: 7, image: 'a, "b"\r\nc.jpg', entry: 'x\ny.jpg', detail: '2 files are called "c.jpg"' });
    expect(parse(problemsCsv([awkward]))).toEqual([['kind', 'row', 'image', 'entry', 'detail'], ['ambiguous-name', '7', 'a, "b"\r\nc.jpg', 'x\ny.jpg', '2 files are called "c.jpg"']]);
  });

  it('defuses names a spreadsheet would run as formulas', () => {
    const [, line] = parse(problemsCsv([problem('missing-file', { image: '=HYPERLINK("http://evil")', entry: '+1.jpg' })])) as string[][];
    expect(line![2]).toBe('\'=HYPERLINK("http://evil")');
    expect(line![3]).toBe('\'+1.jpg');
  });
});
