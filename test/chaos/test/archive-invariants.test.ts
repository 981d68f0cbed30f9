import { classifyArchiveCall } from '../src/archive-chaos';
import { checkArchiveInvariants, markerKey, type ArchiveInvariantInput, type BatchZipFound, type ExportTruth, type TruthRow } from '../src/archive-invariants';

const PREFIX = 'batch/';
const HEADER = ['record_id', 'image', 'caption'];
const sha = (name: string) => `sha-of-${name}`;
/** Five rows, batches of two: the third row's image is missing. */
const rows: TruthRow[] = [1, 2, 3, 4, 5].map((n) => ({
  values: [`r${n}`, `photos/${n}.jpg`, `caption, "${n}"`], image: `photos/${n}.jpg`, ...(n === 3 ? {} : { sha256: sha(`photos/${n}.jpg`) }),
}));
const good: ExportTruth = { downloadId: 'dl-a', file: 'a.zip', stem: 'a', expect: 'success', header: HEADER, rows };
const notArchive: ExportTruth = { downloadId: 'dl-n', file: 'n.zip', stem: 'n', expect: 'not-an-archive' };
const noManifest: ExportTruth = { downloadId: 'dl-m', file: 'm.zip', stem: 'm', expect: 'manifest-missing' };
const parts = ['batch/a-part1.zip', 'batch/a-part2.zip', 'batch/a-part3.zip'];
const DEDUP = { a: 'a'.repeat(64), n: 'b'.repeat(64), m: 'c'.repeat(64) };

const successBody = (overrides: Record<string, unknown> = {}) => JSON.stringify({
  downloadId: 'dl-a', status: 'success', batchFiles: parts, batchFileCount: 3, rows: 5, images: 4, problems: [], problemCount: 1, problemsByKind: {}, deduplicationId: DEDUP.a, ...overrides,
});
const failureBody = (downloadId: string, deduplicationId: string, reason: string) => JSON.stringify({
  downloadId, status: 'failure', batchFiles: [], batchFileCount: 0, rows: 0, images: 0, problems: [], problemCount: 0, problemsByKind: {}, deduplicationId, reason,
});
const request = (downloadId: string) => JSON.stringify({ downloadId, file: 'x.zip', exportPath: 'exports/', totalSize: 1, updatesQueueUrl: '/q', s3Bucket: 'source' });

function zipOf(key: string, slice: readonly TruthRow[], firstRow: number): BatchZipFound {
  const present = slice.filter((row) => row.sha256 !== undefined);
  return {
    key,
    entries: [{ name: 'manifest.csv', sha256: 'm' }, { name: 'problems.csv', sha256: 'p' }, ...present.map((row) => ({ name: row.image, sha256: row.sha256! }))],
    manifest: [HEADER, ...slice.map((row) => [...row.values])],
    problems: [['kind', 'row', 'image', 'entry', 'detail'], ...slice.flatMap((row, i) => (row.sha256 === undefined ? [['missing-file', String(firstRow + i), row.image, '', 'no such file in the archive']] : []))],
  };
}

/** A run where everything held: a split in three parts (called back twice, one marker), n and m failed and dead-lettered. */
function healthy(): ArchiveInvariantInput {
  return {
    exports: [good, notArchive, noManifest],
    batchSize: 2,
    outputPrefix: PREFIX,
    callbacks: [successBody(), successBody(), failureBody('dl-n', DEDUP.n, 'not an archive'), failureBody('dl-m', DEDUP.m, 'no manifest')],
    deadLetters: [{ messageId: 'm-n', body: request('dl-n'), reasons: ['not-an-archive'] }, { messageId: 'm-m', body: request('dl-m'), reasons: ['manifest-missing'] }],
    left: [],
    outputKeys: [...parts, markerKey(PREFIX, 'a', 'success', DEDUP.a), markerKey(PREFIX, 'n', 'failure', DEDUP.n), markerKey(PREFIX, 'm', 'failure', DEDUP.m)],
    batchZips: new Map(parts.map((key, i) => [key, zipOf(key, rows.slice(i * 2, i * 2 + 2), i * 2 + 1)])),
    partWrites: new Map(parts.map((key) => [key, { completed: 1, distinctBodies: 1 }])),
    workDirs: [{ path: '/work/101-x', contents: [], known: true }, { path: '/work/102-y', contents: ['msg-1/tmp/entry-4'], known: true, killedAt: 2000 }],
    strays: [],
    lastWorkerStartAt: 1000,
    disk: { budgetBytes: 100, loggedHighWaterBytes: 90, observedHighWaterBytes: 80 },
  };
}

const withZip = (input: ArchiveInvariantInput, key: string, change: (zip: BatchZipFound) => BatchZipFound): ArchiveInvariantInput =>
  ({ ...input, batchZips: new Map([...input.batchZips].map(([k, zip]) => [k, k === key ? change(zip) : zip])) });

describe('checkArchiveInvariants', () => {
  it('holds for a run where every upload ended as it should, a callback repeated behind its marker, a killed worker awaiting a sweep', () => {
    const { violations, counts } = checkArchiveInvariants(healthy());
    expect(violations).toEqual([]);
    expect(counts).toMatchObject({
      exports: 3, good: 1, broken: 2, succeeded: 1, failedAndDeadLettered: 2, lost: 0, callbacks: 4, callbacksTwice: 1,
      partsExpected: 3, partsChecked: 3, rowsChecked: 5, imagesChecked: 4, finishedPartsRebuilt: 0, partUploadsCompleted: 3, emptyProcessDirs: 1, awaitingSweep: 1,
    });
  });

  it('counts an export with no success callback and no dead letter as lost', () => {
    const input = { ...healthy(), callbacks: healthy().callbacks.filter((body) => !body.includes('"dl-a"')) };
    const report = checkArchiveInvariants(input);
    expect(report.counts.lost).toBe(1);
    expect(report.violations).toEqual([
      'export a.zip (dl-a): lost (0 success and 0 failure callbacks, 0 dead letters)',
      `an object no export accounts for under the output prefix: ${markerKey(PREFIX, 'a', 'success', DEDUP.a)}`,
    ]);
  });

  it('counts a broken upload dead-lettered without its failure callback as lost', () => {
    const input = { ...healthy(), callbacks: healthy().callbacks.filter((body) => !body.includes('"dl-n"')) };
    const report = checkArchiveInvariants(input);
    expect(report.counts.lost).toBe(1);
    expect(report.violations).toEqual(expect.arrayContaining([
      'broken upload (not-an-archive) n.zip (dl-n): lost (0 success and 0 failure callbacks, 1 dead letters)',
      'broken upload (not-an-archive) n.zip (dl-n): no failure callback',
    ]));
  });

  it('flags an export both called back as a success and dead-lettered, and one with a failure callback as well', () => {
    const input = { ...healthy(), deadLetters: [...healthy().deadLetters, { messageId: 'm-a', body: request('dl-a'), reasons: ['corrupt-archive'] }], callbacks: [...healthy().callbacks, failureBody('dl-a', 'd'.repeat(64), 'corrupt')] };
    const { violations } = checkArchiveInvariants(input);
    expect(violations).toEqual(expect.arrayContaining([
      'export a.zip (dl-a): called back as a success, yet its message is in the DLQ (corrupt-archive)',
      'export a.zip (dl-a): both a success and a failure callback (corrupt)',
      'export a.zip (dl-a): a failure callback (corrupt)',
    ]));
  });

  it('flags a callback sent three times, callbacks with different deduplication ids, a callback with no marker', () => {
    const thrice = { ...healthy(), callbacks: [...healthy().callbacks, successBody()] };
    expect(checkArchiveInvariants(thrice).violations).toEqual(['export a.zip (dl-a): 3 success callbacks, at most 2 allowed']);
    const differing = { ...healthy(), callbacks: [successBody(), successBody({ deduplicationId: 'e'.repeat(64) }), ...healthy().callbacks.slice(2)] };
    expect(checkArchiveInvariants(differing).violations).toEqual([
      'export a.zip (dl-a): its success callbacks carry 2 different deduplication ids',
      `export a.zip (dl-a): no marker ${markerKey(PREFIX, 'a', 'success', 'e'.repeat(64))} for its success callback`,
    ]);
    const unmarked = { ...healthy(), outputKeys: healthy().outputKeys.filter((key) => !key.includes('a.callback')) };
    expect(checkArchiveInvariants(unmarked).violations).toEqual([`export a.zip (dl-a): no marker ${markerKey(PREFIX, 'a', 'success', DEDUP.a)} for its success callback`]);
  });

  it('flags a callback whose batch files or counts are not the export\'s', () => {
    const input = { ...healthy(), callbacks: [successBody({ rows: 4, batchFiles: parts.slice(0, 2), batchFileCount: 2 }), ...healthy().callbacks.slice(2)] };
    expect(checkArchiveInvariants(input).violations).toEqual([
      `export a.zip (dl-a): its callback says batchFiles ${parts.slice(0, 2).join(',')}, the export has ${parts.join(',')}`,
      'export a.zip (dl-a): its callback says batchFileCount 2, the export has 3',
      'export a.zip (dl-a): its callback says rows 4, the export has 5',
    ]);
  });

  it('flags a batch ZIP that does not exist, fails unzip -t, or is an extra part', () => {
    const gone = { ...healthy(), outputKeys: healthy().outputKeys.filter((key) => key !== parts[1]) };
    expect(checkArchiveInvariants(gone).violations).toEqual(['export a.zip (dl-a): its batch ZIP batch/a-part2.zip does not exist']);
    const damaged = withZip(healthy(), parts[0]!, (zip) => ({ ...zip, unzipError: 'bad CRC 1234abcd (should be 0000)' }));
    expect(checkArchiveInvariants(damaged).violations).toEqual(['batch/a-part1.zip: unzip -t fails: bad CRC 1234abcd (should be 0000)']);
    const extra = { ...healthy(), outputKeys: [...healthy().outputKeys, 'batch/a-part4.zip'] };
    expect(checkArchiveInvariants(extra).violations).toEqual(['export a.zip (dl-a): an extra batch ZIP batch/a-part4.zip (3 expected)']);
  });

  it('flags manifest rows that are not the batch\'s: another header, a changed value, a row too many', () => {
    const header = withZip(healthy(), parts[0]!, (zip) => ({ ...zip, manifest: [['id', 'image', 'caption'], ...zip.manifest!.slice(1)] }));
    expect(checkArchiveInvariants(header).violations).toEqual(['batch/a-part1.zip: manifest.csv header is ["id","image","caption"], expected ["record_id","image","caption"]']);
    const changed = withZip(healthy(), parts[1]!, (zip) => ({ ...zip, manifest: [zip.manifest![0]!, zip.manifest![1]!, ['r4', 'photos/4.jpg', 'caption, 4']] }));
    expect(checkArchiveInvariants(changed).violations).toEqual(['batch/a-part2.zip: manifest.csv rows differ from the export\'s at 1 places, first row 4: ["r4","photos/4.jpg","caption, 4"] instead of ["r4","photos/4.jpg","caption, \\"4\\""]']);
    const longer = withZip(healthy(), parts[2]!, (zip) => ({ ...zip, manifest: [...zip.manifest!, ['r6', 'photos/6.jpg', '']] }));
    expect(checkArchiveInvariants(longer).violations).toEqual(['batch/a-part3.zip: manifest.csv holds 2 rows, expected 1']);
  });

  it('flags images that are missing, extra, stored twice or not the export\'s bytes', () => {
    const input = withZip(healthy(), parts[0]!, (zip) => ({
      ...zip,
      entries: [...zip.entries.filter((entry) => entry.name !== 'photos/2.jpg').map((entry) => (entry.name === 'photos/1.jpg' ? { ...entry, sha256: 'other' } : entry)), { name: 'photos/9.jpg', sha256: 'x' }, { name: 'problems.csv', sha256: 'p' }],
    }));
    expect(checkArchiveInvariants(input).violations).toEqual([
      'batch/a-part1.zip: entries stored twice: problems.csv',
      'batch/a-part1.zip: 1 entries the batch\'s rows do not name: photos/9.jpg',
      'batch/a-part1.zip: 1 of its rows\' images missing: photos/2.jpg',
      'batch/a-part1.zip: 1 images whose bytes are not the export\'s: photos/1.jpg',
    ]);
  });

  it('flags a problems.csv that misses a row without its image, or names a row that has it', () => {
    const silent = withZip(healthy(), parts[1]!, (zip) => ({ ...zip, problems: zip.problems!.slice(0, 1) }));
    expect(checkArchiveInvariants(silent).violations).toEqual(['batch/a-part2.zip: problems.csv does not name 1 rows whose image the export lacks: rows 3']);
    const wrong = withZip(healthy(), parts[0]!, (zip) => ({ ...zip, problems: [...zip.problems!, ['missing-file', '2', 'photos/2.jpg', '', ''], ['duplicate-row', '1', '', '', '']] }));
    expect(checkArchiveInvariants(wrong).violations).toEqual([
      'batch/a-part1.zip: problems.csv names 1 rows whose image the export has: rows 2',
      'batch/a-part1.zip: problems.csv lists 1 problems the export does not have: duplicate-row row 1',
    ]);
  });

  it('flags a broken upload with a success callback, out of the DLQ, or dead-lettered for another reason', () => {
    const input = {
      ...healthy(),
      callbacks: [...healthy().callbacks.slice(0, 3), successBody({ downloadId: 'dl-m', deduplicationId: DEDUP.m })],
      deadLetters: [{ messageId: 'm-n', body: request('dl-n'), reasons: ['transient-exhausted'] }],
      outputKeys: [...healthy().outputKeys.filter((key) => !key.startsWith('batch/m.')), markerKey(PREFIX, 'm', 'success', DEDUP.m)],
    };
    expect(checkArchiveInvariants(input).violations).toEqual([
      'broken upload (not-an-archive) n.zip (dl-n): dead-lettered for transient-exhausted, expected not-an-archive',
      'broken upload (manifest-missing) m.zip (dl-m): a success callback for an upload that is no export',
      'broken upload (manifest-missing) m.zip (dl-m): no failure callback',
      'broken upload (manifest-missing) m.zip (dl-m): its message is not in the DLQ',
    ]);
  });

  it('flags messages left, unknown callbacks and dead letters, objects no export accounts for', () => {
    const input = {
      ...healthy(),
      left: [{ messageId: 'm-x', body: request('dl-a') }],
      callbacks: [...healthy().callbacks, 'not json', failureBody('dl-zz', 'f'.repeat(64), 'who')],
      deadLetters: [...healthy().deadLetters, { messageId: 'm-q', body: '{}', reasons: [] }],
      outputKeys: [...healthy().outputKeys, 'batch/stray.txt'],
    };
    expect(checkArchiveInvariants(input).violations).toEqual([
      'the callback queue holds a message that is no callback: not json',
      'a callback names download "dl-zz", which no request asked for',
      'the DLQ holds message m-q, which is no request\'s (no reason)',
      'the work queue still holds message m-x (download dl-a)',
      'an object no export accounts for under the output prefix: batch/stray.txt',
    ]);
  });

  it('flags a finished part uploaded again, and a part written with different bytes', () => {
    const input = { ...healthy(), partWrites: new Map([[parts[0]!, { completed: 2, distinctBodies: 2 }], [parts[1]!, { completed: 1, distinctBodies: 1 }]]) };
    const report = checkArchiveInvariants(input);
    expect(report.violations).toEqual([
      'batch/a-part1.zip was uploaded whole 2 times: a finished part was rebuilt, not kept',
      'batch/a-part1.zip was written with 2 different bodies: the same plan must give the same bytes',
    ]);
    expect(report.counts.finishedPartsRebuilt).toBe(1);
  });

  it('flags work left by a worker that exited, a killed worker\'s directory not swept, foreign directories and strays', () => {
    const input = {
      ...healthy(),
      workDirs: [
        { path: '/work/101-x', contents: ['msg-a/tmp/entry-7'], known: true },
        { path: '/work/102-y', contents: [], known: true, killedAt: 500 },
        { path: '/work/999-z', contents: [], known: false },
      ],
      strays: ['/tmp/worker-tmp/upload-123'],
    };
    expect(checkArchiveInvariants(input).violations).toEqual([
      'a worker that exited on its own left its work behind: /work/101-x holding msg-a/tmp/entry-7',
      'a killed worker\'s directory was not swept by the workers started after the kill: /work/102-y (empty)',
      'a directory under WORK_DIR of no worker of the run (empty): /work/999-z',
      'left on disk after every worker exited: /tmp/worker-tmp/upload-123',
    ]);
  });

  it('flags spilling over DISK_BUDGET_MIB, logged or seen on disk', () => {
    const input = { ...healthy(), disk: { budgetBytes: 100, loggedHighWaterBytes: 101, observedHighWaterBytes: 150 } };
    expect(checkArchiveInvariants(input).violations).toEqual([
      'a TAR pass spilled 101 bytes, over DISK_BUDGET_MIB (100 bytes)',
      'one worker\'s directory held 150 bytes at once, over DISK_BUDGET_MIB (100 bytes)',
    ]);
  });

  it('flags a run that did not finish', () => {
    expect(checkArchiveInvariants({ ...healthy(), unfinished: 'deadline' }).violations).toEqual(['the run did not finish: deadline']);
  });
});

describe('classifyArchiveCall', () => {
  const stemOf = (file: string) => (file === 'survey-01.tar.gz' ? 'survey-01' : undefined);
  it('tells the archive\'s reads, a part\'s HEAD, single and multipart uploads, and the marker apart', () => {
    expect(classifyArchiveCall('HEAD', '/source/exports/survey-01.tar.gz', stemOf)).toEqual({ kind: 'archive-head', key: 'exports/survey-01.tar.gz', stem: 'survey-01' });
    expect(classifyArchiveCall('GET', '/source/exports/survey-01.tar.gz?x-id=GetObject', stemOf)).toMatchObject({ kind: 'archive-get', stem: 'survey-01' });
    expect(classifyArchiveCall('HEAD', '/source/batch/survey-01-part2.zip', stemOf)).toEqual({ kind: 'part-head', stem: 'survey-01', key: 'batch/survey-01-part2.zip' });
    expect(classifyArchiveCall('PUT', '/source/batch/survey-01-part2.zip?x-id=PutObject', stemOf)).toMatchObject({ kind: 'part-put' });
    expect(classifyArchiveCall('POST', '/source/batch/survey-01-part2.zip?uploads', stemOf)).toMatchObject({ kind: 'multipart-create' });
    expect(classifyArchiveCall('PUT', '/source/batch/survey-01-part2.zip?partNumber=2&uploadId=u1&x-id=UploadPart', stemOf)).toMatchObject({ kind: 'multipart-part' });
    expect(classifyArchiveCall('POST', '/source/batch/survey-01-part2.zip?uploadId=u1', stemOf)).toMatchObject({ kind: 'multipart-complete' });
    expect(classifyArchiveCall('DELETE', '/source/batch/survey-01-part2.zip?uploadId=u1&x-id=AbortMultipartUpload', stemOf)).toMatchObject({ kind: 'multipart-abort' });
    const marker = `/source/batch/survey-01.callback-success-${'0123456789abcdef'.repeat(2)}.json`;
    expect(classifyArchiveCall('HEAD', marker, stemOf)).toMatchObject({ kind: 'marker-head', stem: 'survey-01' });
    expect(classifyArchiveCall('PUT', `${marker}?x-id=PutObject`, stemOf)).toMatchObject({ kind: 'marker-put', stem: 'survey-01' });
    expect(classifyArchiveCall('GET', '/destination/other.zip', stemOf)).toEqual({ kind: 'other' });
    expect(classifyArchiveCall('HEAD', '/source/exports/unknown.zip', stemOf)).toEqual({ kind: 'archive-head', key: 'exports/unknown.zip' });
  });
});
