import { checkInvariants } from '../src/invariants';
import { at, commandInput, commandOutputsFor, commandRun, finishedRun, goodInput, logLine, outputsFor, runWithNewClasses } from './factories';

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
      'output 48x40/good/img-1.jpg is stale: it carries source ETag other, the source is now etag-1',
    ]);
  });

  it('reports a bad input that is not in the DLQ, one with no reason logged, and one with an output', () => {
    const run = finishedRun();
    expect(checkInvariants({ ...run, deadLetters: [] }).violations).toEqual([expect.stringContaining('expected in the DLQ, not there')]);
    expect(checkInvariants({ ...run, deadLetters: [] }).counts.lost).toBe(1);
    const wrongReason = run.logLines.map((line) => (line.message === 'failed' ? { ...line, reason: 'empty-file' } : line));
    expect(checkInvariants({ ...run, logLines: wrongReason }).violations).toEqual([expect.stringContaining('no failed log line with reason corrupt-image (saw empty-file)')]);
    const badOutput = { key: '32x32/matrix/corrupt.jpg', sourceEtag: 'e-bad', sourceKey: 'matrix/corrupt.jpg', width: 32, height: 32 };
    expect(checkInvariants({ ...run, outputs: [...run.outputs, badOutput] }).violations).toEqual([
      expect.stringContaining('bad input has an output 32x32/matrix/corrupt.jpg'),
      expect.stringContaining('output 32x32/matrix/corrupt.jpg belongs to no good input'),
    ]);
  });

  it('reports a good input in the DLQ, unknown dead letters and invented outputs', () => {
    const run = finishedRun();
    const report = checkInvariants({
      ...run,
      deadLetters: [...run.deadLetters, { messageId: 'm-good-2', keys: ['good/img-2.jpg'] }, { messageId: 'm-stranger' }],
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
    expect(checkInvariants({ ...run, deadLetters: [...run.deadLetters, { messageId: 'm-gone', keys: ['matrix/deleted.jpg'] }] }).violations).toEqual(
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
          { pid: 9, sentAt, exitedAt: sentAt + 11_000, exitCode: 0, signal: null, released: ['m-good-3'], invisibleAfterExit: ['m-good-3'] },
        ],
      }));
      expect(report.violations).toEqual([
        'worker 7 exited with 1 after SIGTERM, expected 0',
        'worker 8 exited with SIGKILL after SIGTERM, expected 0',
        'worker 9 took 11000 ms to exit after SIGTERM (grace 5 s)',
        'message m-good-3 handed back by worker 9 was still invisible after it exited',
      ]);
    });
  });

  it('allows a worker held by a native render the supervisor\'s 3 s after its grace period, plus 2 s of slack', () => {
    const sentAt = Date.parse(at(10));
    const term = { pid: 7, sentAt, exitCode: 0, signal: null, released: ['m-good-1'], invisibleAfterExit: [] };
    expect(checkInvariants(finishedRun({ sigterms: [{ ...term, exitedAt: sentAt + 9_900 }] })).violations).toEqual([]);
    expect(checkInvariants(finishedRun({ sigterms: [{ ...term, exitedAt: sentAt + 10_100 }] })).violations).toEqual(['worker 7 took 10100 ms to exit after SIGTERM (grace 5 s)']);
  });

  describe('hostile S3 behaviour', () => {
    it('passes a run where the new classes ended as written down, and counts them', () => {
      const report = checkInvariants(runWithNewClasses());
      expect(report.violations).toEqual([]);
      expect(report.counts).toMatchObject({
        inputs: 12, lost: 0, stale: 0, deadLetters: 4, sourceChangedReprocessings: 1, oomKills: 0,
        byClass: { good: 3, 'several-records-one-bad': 3, 'overwrite-race': 1, 'render-timeout': 1 },
      });
    });

    it('reports a good record of a multi-record message in the DLQ, and a dead letter holding it', () => {
      const run = runWithNewClasses();
      const deadLetters = run.deadLetters.map((letter) => (letter.messageId === 'm-mixed' ? { ...letter, keys: ['mixed/good-1.jpg', 'mixed/bad.jpg'] } : letter));
      expect(checkInvariants({ ...run, deadLetters }).violations).toEqual([
        'several-records-one-bad "mixed/good-1.jpg": good input is in the DLQ',
        'dead letter m-mixed holds "mixed/good-1.jpg", which is no bad input of that message',
      ]);
    });

    it('reports the bad record missing from the DLQ although its message has a dead letter, and a dead letter with the wrong reason', () => {
      const run = runWithNewClasses();
      const onlyGood = run.deadLetters.map((letter) => (letter.messageId === 'm-mixed' ? { ...letter, keys: ['mixed/good-2.jpg'] } : letter));
      const report = checkInvariants({ ...run, deadLetters: onlyGood });
      expect(report.violations).toEqual(expect.arrayContaining([
        'several-records-one-bad "mixed/bad.jpg": expected in the DLQ, not there',
        'several-records-one-bad "mixed/good-2.jpg": good input is in the DLQ',
      ]));
      expect(report.counts.lost).toBe(1);
      const wrongReason = run.deadLetters.map((letter) => (letter.messageId === 'm-long' ? { ...letter, reasons: ['key-too-long'] } : letter));
      expect(checkInvariants({ ...run, deadLetters: wrongReason }).violations).toEqual([
        'output-key-too-long "long/key.jpg": its dead letter gives reasons key-too-long, expected output-key-too-long',
      ]);
    });

    it('finds a re-queued record\'s last failed line by key, and reports a timeout that was only ever retried', () => {
      const run = runWithNewClasses();
      const retriedOnly = run.logLines.filter((line) => !(line.key === 'slow/render.png' && line.outcome === 'dead-lettered'));
      expect(checkInvariants({ ...run, logLines: retriedOnly }).violations).toEqual([
        'render-timeout "slow/render.png": no failed log line with reason render-timeout (saw none)',
      ]);
    });

    it('reports a stale output: an older version\'s ETag on an output of an overwritten key', () => {
      const run = runWithNewClasses();
      const outputs = run.outputs.map((output) => (output.sourceKey === 'race/a.jpg' ? { ...output, sourceEtag: 'e-old' } : output));
      const report = checkInvariants({ ...run, outputs });
      expect(report.violations).toEqual([
        'overwrite-race "race/a.jpg": output 32x32/race/a.jpg carries source ETag e-old, expected e-new',
        'overwrite-race "race/a.jpg": output 48x40/race/a.jpg carries source ETag e-old, expected e-new',
        'output 32x32/race/a.jpg is stale: it carries source ETag e-old, the source is now e-new',
        'output 48x40/race/a.jpg is stale: it carries source ETag e-old, the source is now e-new',
      ]);
      expect(report.counts.stale).toBe(2);
    });

    it('allows an overwritten key as many contents as it had versions, and any other key one', () => {
      const run = runWithNewClasses();
      const [raced] = outputsFor({ ...goodInput(0), key: 'race/a.jpg' });
      const [plain] = outputsFor(goodInput(1));
      expect(checkInvariants({ ...run, distinctWritesByKey: { ...run.distinctWritesByKey, [raced.key]: 3, [plain.key]: 2 } }).violations).toEqual([
        `output ${plain.key} was written with 2 different contents`,
        `output ${raced.key} was written with 3 different contents (its source had 2 versions)`,
      ]);
    });

    it('reports an output whose metadata names another source key, or none', () => {
      const run = runWithNewClasses();
      const [first, second, ...rest] = run.outputs;
      const { sourceKey: _dropped, ...nameless } = second;
      expect(checkInvariants({ ...run, outputs: [{ ...first, sourceKey: 'good/img-9.jpg' }, nameless, ...rest] }).violations).toEqual([
        'good "good/img-1.jpg": output 32x32/good/img-1.jpg names source key "good/img-9.jpg" in its metadata',
        'good "good/img-1.jpg": output 48x40/good/img-1.jpg names source key nothing in its metadata',
      ]);
    });

    it('reports an OOM kill and a worker that used its whole memory limit', () => {
      const run = runWithNewClasses();
      const limitBytes = 4096 * 1024 * 1024;
      const report = checkInvariants({
        ...run,
        memory: [
          { worker: '1-1', limitBytes, peakBytes: limitBytes, oomKills: 1 },
          { worker: '1-2', limitBytes, peakBytes: limitBytes, oomKills: 0 },
          { worker: '1-3', limitBytes, peakBytes: limitBytes - 1, oomKills: 0 },
        ],
      });
      expect(report.violations).toEqual([
        'worker 1-1 was OOM-killed 1 time(s) under its 4096 MiB limit',
        'worker 1-2 used its whole 4096 MiB limit (peak 4096 MiB)',
      ]);
      expect(report.counts.oomKills).toBe(1);
    });

    it('reports every request the strict S3 front had to refuse', () => {
      expect(checkInvariants(runWithNewClasses({ frontRefusals: ['PUT s3://destination/x: 400 MetadataTooLarge'] })).violations).toEqual([
        'S3 would have refused a worker request: PUT s3://destination/x: 400 MetadataTooLarge',
      ]);
    });

    it('reports a render-timeout reported long after its receive: the render was not stopped at the timeout', () => {
      const run = runWithNewClasses();
      const slowLines = [
        logLine('received', { pid: 300, messageId: 'm-slow', receiveCount: 1, timestamp: at(10) }),
        logLine('failed', { pid: 300, messageId: 'm-slow', receiveCount: 1, key: 'slow/render.png', kind: 'transient', reason: 'render-timeout', outcome: 'retry', timestamp: at(14) }),
        logLine('received', { pid: 301, messageId: 'm-slow-part', receiveCount: 1, timestamp: at(20) }),
        logLine('failed', { pid: 301, messageId: 'm-slow-part', receiveCount: 1, key: 'slow/render.png', kind: 'transient', reason: 'render-timeout', outcome: 'dead-lettered', timestamp: at(32) }),
      ];
      const others = run.logLines.filter((line) => line.reason !== 'render-timeout');
      expect(checkInvariants({ ...run, logLines: [...others, ...slowLines] }).violations).toEqual([]);
      expect(checkInvariants({ ...run, logLines: [...others, ...slowLines], renderTimeoutSeconds: 2 }).violations).toEqual([
        'render-timeout "slow/render.png": reported 12.0 s after its receive 1 (RENDER_TIMEOUT_SECONDS 2): the render was not stopped at its timeout',
      ]);
      expect(checkInvariants({ ...run, logLines: [...others, ...slowLines], renderTimeoutSeconds: 10 }).violations).toEqual([]);
    });
  });

  describe('the command job', () => {
    it('passes a run where every file ended as written down: stats.json (and a large file\'s copy) under the source key', () => {
      const report = checkInvariants(commandRun());
      expect(report.violations).toEqual([]);
      expect(report.counts).toMatchObject({ inputs: 5, expected: { processed: 3, dlq: 1, skipped: 1 }, outputs: 4, deadLetters: 1, lost: 0, stale: 0 });
    });

    it('reports a missing stats.json (lost when it was the only output) and a large file without its copy', () => {
      const run = commandRun();
      const noStats = checkInvariants({ ...run, outputs: run.outputs.filter((output) => output.key !== 'good/item-1.geojson/stats.json') });
      expect(noStats.violations).toEqual(['good "good/item-1.geojson": output good/item-1.geojson/stats.json is missing']);
      expect(noStats.counts.lost).toBe(1);
      const noCopy = checkInvariants({ ...run, outputs: run.outputs.filter((output) => !output.key.endsWith('source-copy.geojson')) });
      expect(noCopy.violations).toEqual(['large-multipart "large/big-0.geojson": output large/big-0.geojson/source-copy.geojson is missing']);
      expect(noCopy.counts.lost).toBe(0);
    });

    it('reports outputs that carry the right ETag but describe other bytes: a feature count or a copy that is not the newest version\'s', () => {
      const run = commandRun();
      const outputs = run.outputs.map((output) =>
        output.key === 'good/item-2.geojson/stats.json' ? { ...output, facts: { featureCount: 7 } } : output.key.endsWith('source-copy.geojson') ? { ...output, facts: { md5: 'older' } } : output);
      expect(checkInvariants({ ...run, outputs }).violations).toEqual([
        'good "good/item-2.geojson": output good/item-2.geojson/stats.json says featureCount 7, expected 2 (the source\'s newest version)',
        'large-multipart "large/big-0.geojson": output large/big-0.geojson/source-copy.geojson says md5 "older", expected "etag-3" (the source\'s newest version)',
      ]);
    });

    it('reports a stale stats.json, one naming another source, and a file nobody expected under a good key', () => {
      const run = commandRun();
      const outputs = run.outputs.map((output) => (output.key === 'good/item-1.geojson/stats.json' ? { ...output, sourceEtag: 'e-old' } : output));
      const extra = { key: 'good/item-2.geojson/debug.log', sourceEtag: 'etag-2', sourceKey: 'good/item-2.geojson' };
      expect(checkInvariants({ ...run, outputs: [...outputs, extra] }).violations).toEqual([
        'good "good/item-1.geojson": output good/item-1.geojson/stats.json carries source ETag e-old, expected etag-1',
        'output good/item-2.geojson/debug.log belongs to no good input (invented)',
        'output good/item-1.geojson/stats.json is stale: it carries source ETag e-old, the source is now etag-1',
      ]);
    });

    it('reports any output under a dead-lettered or skipped file\'s key, whatever its name', () => {
      const run = commandRun();
      const strays = [
        { key: 'broken/notes.geojson/partial.json', sourceEtag: 'e-broken', sourceKey: 'broken/notes.geojson' },
        { key: 'matrix/deleted.geojson/stats.json', sourceEtag: 'e-gone', sourceKey: 'matrix/deleted.geojson' },
      ];
      expect(checkInvariants({ ...run, outputs: [...run.outputs, ...strays] }).violations).toEqual([
        'broken-notes "broken/notes.geojson": bad input has an output broken/notes.geojson/partial.json',
        'deleted-before-processing "matrix/deleted.geojson": skipped input has an output matrix/deleted.geojson/stats.json',
        'output broken/notes.geojson/partial.json belongs to no good input (invented)',
        'output matrix/deleted.geojson/stats.json belongs to no good input (invented)',
      ]);
    });

    it('reports a broken file whose failed line does not name exit 65 or the program\'s reason', () => {
      const run = commandRun();
      const logLines = run.logLines.map((line) => (line.reason === 'command-failed' ? { ...line, detail: 'COMMAND was killed by SIGSEGV after 0.1 s: permanent (stderr was empty)' } : line));
      expect(checkInvariants({ ...run, logLines }).violations).toEqual([
        'broken-notes "broken/notes.geojson": its failed log line does not say "exited with code 65"',
        'broken-notes "broken/notes.geojson": its failed log line does not say "not valid JSON"',
      ]);
    });

    it('reports a program that outlived its worker\'s graceful stop', () => {
      const sentAt = Date.parse(at(10));
      const term = { pid: 7, sentAt, exitedAt: sentAt + 1200, exitCode: 0, signal: null, released: [], invisibleAfterExit: [] };
      expect(checkInvariants(commandRun({ sigterms: [{ ...term, programsAlive: [] }] })).violations).toEqual([]);
      expect(checkInvariants(commandRun({ sigterms: [{ ...term, programsAlive: [4242] }] })).violations).toEqual([
        'program 4242 of worker 7 still ran after the worker exited on SIGTERM',
      ]);
    });

    it('reports work directories and programs left after the run', () => {
      const report = checkInvariants(commandRun({ leftovers: { workDirs: ['/w/123-abc/msg-x'], programs: ['pid 77: node geojson-stats.js in out'] } }));
      expect(report.violations).toEqual([
        'work directory left behind after the run: /w/123-abc/msg-x',
        'program still running after the run: pid 77: node geojson-stats.js in out',
      ]);
    });

    it('keeps the resize rules for resize runs: a command-shaped output there is invented, and dimensions still count', () => {
      const run = finishedRun();
      const [first, ...rest] = run.outputs;
      const { width: _width, height: _height, ...sizeless } = first;
      expect(checkInvariants({ ...run, outputs: [sizeless, ...rest, ...commandOutputsFor({ ...commandInput(1), key: 'good/img-1.jpg' })] }).violations).toEqual([
        'good "good/img-1.jpg": output 32x32/good/img-1.jpg is ?x?, expected 32x32',
        'output good/img-1.jpg/stats.json belongs to no good input (invented)',
      ]);
    });
  });
});
