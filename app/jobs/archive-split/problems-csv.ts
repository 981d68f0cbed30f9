import { stringify } from 'csv-stringify/sync';
import type { Problem } from './split-plan';

export const PROBLEMS_CSV_HEADER = ['kind', 'row', 'image', 'entry', 'detail'] as const;

/**
 * Each batch's `problems.csv`: header `kind,row,image,entry,detail`, one line per problem. Image and entry names come
 * from the archive, so a cell starting like a formula (`=`, `+`, `-`, `@`) is prefixed with `'` for the spreadsheet
 * that will open this report; the callback carries the names unchanged.
 */
export function problemsCsv(problems: readonly Problem[]): string {
  return stringify(
    [[...PROBLEMS_CSV_HEADER], ...problems.map((problem) => [problem.kind, problem.row === undefined ? '' : String(problem.row), problem.image ?? '', problem.entry ?? '', problem.detail])],
    { escape_formulas: true },
  );
}
