import { checkInvariants } from '../src/invariants';
import { at, finishedRun, goodInput, logLine, outputsFor } from './factories';

describe('checkInvariants', () => {
  it('passes a run where every input ended as written down, and counts it', () => {
    const report = checkInvariants(finishedRun());
    expect(report.violations).toEqual([]);
    expect(report.counts).toMatchObject({ inputs: 6, expected: { processed: 3, dlq: 1, skipped: 2 }, outputs: 6, deadLetters: 1, lost: 0 });
  });

  it('reports a good input with a missing output, and counts it lost when it has none', () => {
    const run = finishedRun();
    const partial = checkInvariants({ ...run, outputs: run.outputs.slice(1) });
    expect(partial.violations).toEqual([expect.stringMatching(/good "good\/img-1.jpg": output 32x32\/good\/img-1.jpg is missing/)]);
    expect(partial.counts.lost).toBe(0);
    const none = checkInvariants({ ...run, outputs: run.outputs.slice(2) });
    expect(none.counts.lost).toBe(1);
  });

  it('reports wrong dimensions and a missing or foreign source ETag', () => {
    const run = finishedRun();
    const [first, second, ...rest] = run.outputs;
    const report = checkInvariants({ ...run, outputs: [{ ...first, width: 31 }, { ...second, sourceEtag: 'other' }, ...rest] });
    expect(report.violations).toEqual([
      expect.stringContaining('is 31x32, expected 32x32'),
      expect.stringContaining('carries source ETag other, expected etag-1'),
    ]);
  });

  it('reports a bad input that is not in the DLQ, one with no reason logged, and one with an output', () => {
    const run = finishedRun();
    expect(checkInvariants({ ...run, deadLetterIds: [] }).violations).toEqual([expect.stringContaining('expected in the DLQ, not there')]);
    expect(checkInvariants({ ...run, deadLetterIds: [] }).counts.lost).toBe(1);
    const wrongReason = run.logLines.map((line) => (line.message === 'failed' ? { ...line, reason: 'empty-file' } : line));
    expect(checkInvariants({ ...run, logLines: wrongReason }).violations).toEqual([expect.stringContaining('no failed log line with reason corrupt-image (saw empty-file)')]);
    const badOutput = { key: '32x32/matrix/corrupt.jpg', sourceEtag: 'e-bad', width: 32, height: 32 };
    expect(checkInvariants({ ...run, outputs: [...run.outputs, badOutput] }).violations).toEqual([
      expect.stringContaining('bad input has an output 32x32/matrix/corrupt.jpg'),
      expect.stringContaining('output 32x32/matrix/corrupt.jpg belongs to no good input'),
    ]);
  });

  it('reports a good input in the DLQ, unknown dead letters and invented outputs', () => {
    const run = finishedRun();
    const report = checkInvariants({
      ...run,
      deadLetterIds: [...run.deadLetterIds, 'm-good-2', 'm-stranger'],
      outputs: [...run.outputs, { key: '32x32/nobody.jpg', width: 32, height: 32 }],
    });
    expect(report.violations).toEqual([
      expect.stringContaining('good "good/img-2.jpg": good input is in the DLQ'),
      expect.stringContaining('output 32x32/nobody.jpg belongs to no good input (invented)'),
      expect.stringContaining('dead letter m-good-2 belongs to no bad input'),
      expect.stringContaining('dead letter m-stranger belongs to no bad input'),
    ]);
  });

  it('reports a skipped input without its log line, or dead-lettered', () => {
    const run = finishedRun();
    const noSkipLine = run.logLines.filter((line) => line.reason !== 's3-test-event');
    const report = checkInvariants({ ...run, logLines: noSkipLine });
    expect(report.violations).toEqual([expect.stringContaining('message m-test: no skipped log line')]);
    expect(report.counts.lost).toBe(1);
    expect(checkInvariants({ ...run, deadLetterIds: [...run.deadLetterIds, 'm-gone'] }).violations).toEqual(
      expect.arrayContaining([expect.stringContaining('expected skipped, is in the DLQ')]),
    );
  });

  it('reports an output written with two different contents', () => {
    const run = finishedRun();
    const key = outputsFor(goodInput(1))[0].key;
    expect(checkInvariants({ ...run, distinctWritesByKey: { ...run.distinctWritesByKey, [key]: 2 } }).violations).toEqual([
      `output ${key} was written with 2 different contents`,
    ]);
  });

  it('counts redeliveries, repeated work and idempotent skips', () => {
    const run = finishedRun();
    const report = checkInvariants({
      ...run,
      logLines: [
        ...run.logLines,
        logLine('received', { messageId: 'm-good-1', receiveCount: 1 }),
        logLine('received', { messageId: 'm-good-1', receiveCount: 2 }),
        logLine('received', { messageId: 'm-good-2', receiveCount: 3 }),
        logLine('processed', { key: 'good/img-1.jpg' }),
        logLine('skipped', { key: 'good/img-2.jpg', reason: 'outputs already exist for this ETag' }),
      ],
    });
    expect(report.violations).toEqual([]);
    expect(report.counts).toMatchObject({ redeliveries: 2, repeatedWork: 1, idempotentSkips: 1 });
  });

  describe('SIGTERM', () => {
    const sentAt = Date.parse(at(10));

    it('passes a worker that exits 0 in time with everything it handed back visible', () => {
      const report = checkInvariants(finishedRun({
        sigterms: [{ pid: 7, sentAt, exitedAt: sentAt + 1500, exitCode: 0, signal: null, released: ['m-good-1', 'm-bad'], invisibleAfterExit: [] }],
      }));
      expect(report.violations).toEqual([]);
      expect(report.counts).toMatchObject({ sigtermExits: 1, handedBack: 2 });
    });

    it('reports a non-zero exit, a slow exit and a handed-back message left invisible', () => {
      const report = checkInvariants(finishedRun({
        sigterms: [
          { pid: 7, sentAt, exitedAt: sentAt + 500, exitCode: 1, signal: null, released: [], invisibleAfterExit: [] },
          { pid: 8, sentAt, exitedAt: sentAt + 500, exitCode: null, signal: 'SIGKILL', released: [], invisibleAfterExit: [] },
          { pid: 9, sentAt, exitedAt: sentAt + 9000, exitCode: 0, signal: null, released: ['m-good-3'], invisibleAfterExit: ['m-good-3'] },
        ],
      }));
      expect(report.violations).toEqual([
        'worker 7 exited with 1 after SIGTERM, expected 0',
        'worker 8 exited with SIGKILL after SIGTERM, expected 0',
        'worker 9 took 9000 ms to exit after SIGTERM (grace 5 s)',
        'message m-good-3 handed back by worker 9 was still invisible after it exited',
      ]);
    });
  });
});
