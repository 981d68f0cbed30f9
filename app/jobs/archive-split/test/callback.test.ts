import { buildCallback, MAX_CALLBACK_BODY_BYTES, MAX_CALLBACK_PROBLEMS, type CallbackInput } from '../callback';
import type { Problem } from '../split-plan';
import { problem } from './factories';

const success: CallbackInput = {
  downloadId: 'dl-42', status: 'success', batchFiles: ['batch/export-part1.zip', 'batch/export-part2.zip'], rows: 3000, images: 2990,
  problems: [problem('missing-file', { row: 12 }), { kind: 'unsafe-entry', entry: '../evil.jpg', detail: 'left out' }], sourceEtag: 'etag-1',
};
const bodyOf = (input: CallbackInput) => JSON.parse(buildCallback(input).body) as Record<string, unknown> & { problems: Problem[]; batchFiles: string[] };

describe('buildCallback', () => {
  it('tells the outcome with every count, and carries its deduplication id', () => {
    const callback = buildCallback(success);
    expect(JSON.parse(callback.body)).toEqual({
      downloadId: 'dl-42', status: 'success', batchFiles: ['batch/export-part1.zip', 'batch/export-part2.zip'], batchFileCount: 2, rows: 3000, images: 2990,
      problems: success.problems, problemCount: 2,
      problemsByKind: { 'missing-file': 1, 'no-image': 0, 'unsafe-path': 0, 'unsafe-entry': 1, 'ambiguous-name': 0, 'duplicate-entry': 0, 'duplicate-row': 0 },
      deduplicationId: callback.deduplicationId,
    });
  });

  it('says why a failure failed', () => {
    const failure = bodyOf({ ...success, status: 'failure', batchFiles: [], rows: 0, images: 0, problems: [], reason: 'the archive has no file named "manifest.csv"' });
    expect(failure).toMatchObject({ status: 'failure', batchFiles: [], reason: 'the archive has no file named "manifest.csv"' });
    expect(bodyOf(success)).not.toHaveProperty('reason');
  });

  it('reports success with no batch files for an archive without rows', () => {
    expect(bodyOf({ ...success, batchFiles: [], rows: 0, images: 0, problems: [] })).toMatchObject({ status: 'success', batchFiles: [], batchFileCount: 0, problemCount: 0 });
  });

  it('lists the first 100 problems and counts them all', () => {
    const problems = Array.from({ length: 250 }, (_, index) => problem(index % 2 === 0 ? 'missing-file' : 'duplicate-row', { row: index + 1 }));
    const body = bodyOf({ ...success, problems });
    expect(body.problems).toHaveLength(MAX_CALLBACK_PROBLEMS);
    expect(body.problems.map((p) => p.row)).toEqual(Array.from({ length: 100 }, (_, index) => index + 1));
    expect(body).toMatchObject({ problemCount: 250, problemsByKind: { 'missing-file': 125, 'duplicate-row': 125 } });
  });

  it('stays within an SQS message with hostile long names: fields cut, then fewer problems, counts still complete', () => {
    const hostile = Array.from({ length: 1000 }, (_, index) => problem('missing-file', { row: index + 1, image: '写'.repeat(100_000), entry: '\u{1F4A3}'.repeat(50_000), detail: 'd'.repeat(10_000) }));
    const callback = buildCallback({ ...success, problems: hostile });
    const body = JSON.parse(callback.body) as { problems: Problem[]; problemCount: number };
    expect(Buffer.byteLength(callback.body)).toBeLessThanOrEqual(MAX_CALLBACK_BODY_BYTES);
    expect(body.problems.length).toBeGreaterThan(10);
    expect(body.problems.length).toBeLessThan(MAX_CALLBACK_PROBLEMS);
    expect(body.problems[0]!.image).toBe(`${'写'.repeat(500)}…`);
    expect(body.problems[0]!.detail).toBe(`${'d'.repeat(500)}…`);
    expect(body.problemCount).toBe(1000);
  });

  it('keeps within the limit for tens of thousands of long batch keys, giving up problems first, then listed keys', () => {
    const batchFiles = Array.from({ length: 20_000 }, (_, index) => `${'p'.repeat(200)}/export-part${index + 1}.zip`);
    const callback = buildCallback({ ...success, batchFiles });
    const body = JSON.parse(callback.body) as { problems: Problem[]; batchFiles: string[]; batchFileCount: number };
    expect(Buffer.byteLength(callback.body)).toBeLessThanOrEqual(MAX_CALLBACK_BODY_BYTES);
    expect(body.problems).toEqual([]);
    expect(body.batchFiles).toEqual(batchFiles.slice(0, body.batchFiles.length));
    expect(body.batchFiles.length).toBeGreaterThan(1000);
    expect(body.batchFileCount).toBe(20_000);
  });

  it('cuts a very long failure reason', () => {
    expect(bodyOf({ ...success, status: 'failure', reason: 'r'.repeat(10_000) }).reason).toBe(`${'r'.repeat(2000)}…`);
  });

  it('never cuts a character in half', () => {
    const image = `${'a'.repeat(499)}\u{1F4A3}tail`;
    const [cut] = bodyOf({ ...success, problems: [problem('missing-file', { image })] }).problems;
    expect(cut!.image).toBe(`${'a'.repeat(499)}…`);
  });

  describe('deduplicationId', () => {
    const id = (input: CallbackInput) => buildCallback(input).deduplicationId;

    it('is the same for the same outcome, and fits a FIFO MessageDeduplicationId (at most 128 of [A-Za-z0-9])', () => {
      expect(id(success)).toBe(id({ ...success }));
      expect(id(success)).toMatch(/^[0-9a-f]{64}$/);
    });

    it('changes with the download, the archive version, the status, the batch files and the reason', () => {
      const others = [
        { ...success, downloadId: 'dl-43' }, { ...success, sourceEtag: 'etag-2' }, { ...success, sourceEtag: undefined }, { ...success, status: 'failure' as const },
        { ...success, batchFiles: ['batch/export-part1.zip'] }, { ...success, reason: 'x' },
      ].map(id);
      expect(new Set([id(success), ...others]).size).toBe(others.length + 1);
    });

    it('keeps the fields apart: text moved from one field to the next changes the id', () => {
      expect(id({ ...success, downloadId: 'a', reason: 'bc' })).not.toBe(id({ ...success, downloadId: 'ab', reason: 'c' }));
    });
  });
});
