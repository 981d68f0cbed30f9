import { buildSummaryTable, neutraliseFormula, oneLine, summaryRecords, type BatchFindings } from '../summary-table';

const entry = (status: 'done' | 'failed', reason?: string) => ({ status, ...(reason !== undefined ? { reason } : {}), files: 2, failedFiles: 0, at: '', messageId: 'm' });

const batches: BatchFindings[] = [
  {
    batch: 1,
    keys: ['c.wav'],
    families: { loud: { entry: entry('failed', 'invalid-batch: list unusable') } },
  },
  {
    batch: 0,
    keys: ['a.wav', 'b.wav'],
    families: {
      loud: {
        entry: entry('done'),
        results: { runId: 'r', family: 'loud', batch: 0, files: [
          { key: 'a.wav', status: 'done', summary: { mean_dbfs: -12.5, active: true } },
          { key: 'b.wav', status: 'failed', reason: 'command-failed', detail: 'not a WAV file' },
        ] },
      },
    },
  },
];

describe('the run summary', () => {
  it('has a row per file in batch order, each family\'s outcome, and a failed row for a dead-lettered batch\'s files', () => {
    const table = buildSummaryTable(['loud', 'band'], batches);
    expect(table.rows.map((row) => row.key)).toEqual(['a.wav', 'b.wav', 'c.wav']);
    expect(table.rows[0]!.families.loud).toEqual({ status: 'done', summary: { mean_dbfs: -12.5, active: true } });
    expect(table.rows[1]!.families.loud).toEqual({ status: 'failed', reason: 'not a WAV file' });
    expect(table.rows[2]!.families.loud).toEqual({ status: 'failed', reason: 'batch dead-lettered: invalid-batch: list unusable' });
    // A family with nothing recorded for a file never reads as success.
    expect(table.rows[0]!.families.band).toEqual({ status: 'failed', reason: 'no result recorded for this file' });
  });

  it('writes a column per summary field after each family\'s status and reason', () => {
    const [header, first] = summaryRecords(buildSummaryTable(['loud'], batches));
    expect(header).toEqual(['key', 'loud.status', 'loud.reason', 'loud.mean_dbfs', 'loud.active']);
    expect(first).toEqual(['a.wav', 'done', '', -12.5, true]);
  });

  it('keeps a CSV reason on one line: a program\'s last stderr line names the problem', () => {
    expect(oneLine('COMMAND exited with code 65: permanent; last lines of stderr:\nloudness: truncated WAV: data chunk declares 64000 bytes\n')).toBe('loudness: truncated WAV: data chunk declares 64000 bytes');
    expect(oneLine('not audio')).toBe('not audio');
  });

  it('keeps text a spreadsheet would run as a formula from being one, and numbers as numbers', () => {
    expect(neutraliseFormula('=HYPERLINK("http://x")')).toBe('\'=HYPERLINK("http://x")');
    expect(neutraliseFormula('@SUM(A1)')).toBe('\'@SUM(A1)');
    expect(neutraliseFormula('+1 (555)')).toBe('\'+1 (555)');
    expect(neutraliseFormula('-12.5')).toBe('-12.5');
    expect(neutraliseFormula(-12.5)).toBe(-12.5);
    expect(neutraliseFormula('audio/a.wav')).toBe('audio/a.wav');
    const [, row] = summaryRecords(buildSummaryTable(['loud'], [{ batch: 0, keys: ['=cmd|calc.wav'], families: {} }]));
    expect(row![0]).toBe('\'=cmd|calc.wav');
  });
});
