import { classifyFailure, S3LimitError } from '../../../../shared/errors';
import { SplitRequestError } from '../archive-errors';
import { batchKey, isSplitRequestBody, parseSplitRequest, splitRequestFromEvent } from '../split-request';
import { archiveSettings, BUCKET, requestBody, UPDATES_QUEUE, UPLOADS_QUEUE, uploadSettings } from './factories';

function refusal(run: () => unknown): SplitRequestError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SplitRequestError);
    expect(classifyFailure(error)).toMatchObject({ kind: 'permanent', reason: 'invalid-request' });
    return error as SplitRequestError;
  }
  throw new Error('expected a SplitRequestError');
}

describe('isSplitRequestBody', () => {
  it('is true for a JSON object with a downloadId key, whatever its value', () => {
    expect(isSplitRequestBody(requestBody())).toBe(true);
    expect(isSplitRequestBody('{"downloadId":null}')).toBe(true);
  });

  it('is false for S3 events, other JSON and non-JSON', () => {
    expect(isSplitRequestBody(JSON.stringify({ Records: [{ s3: { bucket: { name: 'b' }, object: { key: 'downloadId.zip' } } }] }))).toBe(false);
    expect(isSplitRequestBody('{"Records":[],"note":"\\"downloadId\\""}')).toBe(false);
    expect(isSplitRequestBody('[{"downloadId":"x"}]')).toBe(false);
    expect(isSplitRequestBody('{"downloadId":')).toBe(false);
    expect(isSplitRequestBody('')).toBe(false);
  });
});

describe('parseSplitRequest', () => {
  const settings = archiveSettings();

  it('reads a request: the archive is exportPath joined with file, batches are named after the stem', () => {
    expect(parseSplitRequest(requestBody(), settings)).toEqual({
      downloadId: 'dl-42', source: { bucket: BUCKET, key: 'exports/2026/export.zip' }, expectedSize: 123_456, stem: 'export',
      outputBucket: BUCKET, callbackQueueUrl: UPDATES_QUEUE, origin: 'request',
    });
  });

  it.each([
    ['', 'export.zip', 'export.zip'],
    ['exports', 'export.zip', 'exports/export.zip'],
    ['exports/', 'export.zip', 'exports/export.zip'],
    ['a/b/c', 'x y.zip', 'a/b/c/x y.zip'],
  ])('joins exportPath %j and file %j as %j', (exportPath, file, key) => {
    expect(parseSplitRequest(requestBody({ exportPath, file }), settings).source.key).toBe(key);
  });

  it.each([
    ['photos.zip', 'photos'],
    ['Photos.ZIP', 'Photos'],
    ['photos.tar.gz', 'photos'],
    ['photos.TAR.GZ', 'photos'],
    ['photos.tgz', 'photos'],
    ['photos.2026.tar.gz', 'photos.2026'],
    ['.zip.zip', '.zip'],
  ])('takes the stem of %j as %j', (file, stem) => {
    expect(parseSplitRequest(requestBody({ file }), settings).stem).toBe(stem);
  });

  it('matches the callback queue after trimming and ignores unknown fields', () => {
    const request = parseSplitRequest(requestBody({ updatesQueueUrl: `  ${UPDATES_QUEUE}\n`, extra: { anything: true } }), settings);
    expect(request.callbackQueueUrl).toBe(UPDATES_QUEUE);
  });

  it('accepts a totalSize of 0 and returns a frozen request', () => {
    const request = parseSplitRequest(requestBody({ totalSize: 0 }), settings);
    expect(request.expectedSize).toBe(0);
    expect(Object.isFrozen(request)).toBe(true);
    expect(Object.isFrozen(request.source)).toBe(true);
  });

  it('names every bad field with its reason in one error', () => {
    const error = refusal(() => parseSplitRequest(requestBody({
      downloadId: '', file: 'export.rar', exportPath: '/abs/path', totalSize: -1, updatesQueueUrl: 'https://sqs.example/other', s3Bucket: 'Not_A_Bucket',
    }), settings));
    expect(error.message).toMatch(/^split request has 6 bad fields: /);
    expect(error.message).toContain('downloadId must be a non-empty string');
    expect(error.message).toContain('file must be a file name (no "/") ending in .zip, .tar.gz or .tgz; got "export.rar"');
    expect(error.message).toContain('exportPath must be a folder path ("" for the bucket root) without a leading "/"');
    expect(error.message).toContain('totalSize must be a whole number of bytes, 0 or more; got -1');
    expect(error.message).toContain(`updatesQueueUrl must be one of the 1 allowed callback queues (ALLOWED_CALLBACK_QUEUES): ${UPDATES_QUEUE}; got "https://sqs.example/other"`);
    expect(error.message).toContain('s3Bucket must be an S3 bucket name');
    expect(error.downloadId).toBeUndefined();
    expect(error.callbackQueueUrl).toBeUndefined();
  });

  it('keeps the valid downloadId and callback queue on the error, so the failure can still be reported', () => {
    const error = refusal(() => parseSplitRequest(requestBody({ file: 'export.rar' }), settings));
    expect(error).toMatchObject({ downloadId: 'dl-42', callbackQueueUrl: UPDATES_QUEUE });
    expect(error.message).toMatch(/^split request has 1 bad field: file/);
  });

  it('names missing fields and wrong types without echoing objects', () => {
    const error = refusal(() => parseSplitRequest(JSON.stringify({ downloadId: 42, file: ['a.zip'], exportPath: null, totalSize: '12', s3Bucket: { name: 'x' } }), settings));
    expect(error.message).toMatch(/^split request has 6 bad fields/);
    expect(error.message).toContain('downloadId must be a non-empty string of at most 1024 characters, without control characters; got 42');
    expect(error.message).toContain('got a list');
    expect(error.message).toContain('exportPath must be a folder path ("" for the bucket root) without a leading "/", ".", ".." or empty segments, or control characters; got null');
    expect(error.message).toContain('totalSize must be a whole number of bytes, 0 or more; got "12"');
    // Absent: nothing to echo.
    expect(error.message).toContain(`updatesQueueUrl must be one of the 1 allowed callback queues (ALLOWED_CALLBACK_QUEUES): ${UPDATES_QUEUE}; s3Bucket`);
    expect(error.message).toContain('s3Bucket must be an S3 bucket name (3-63 of a-z, 0-9, "." and "-"); got an object');
  });

  it.each([
    ['totalSize', 1.5], ['totalSize', 2 ** 53], ['file', 'a/b.zip'], ['file', '.zip'], ['file', 'tar.gz'], ['file', 'a\u0000.zip'], ['exportPath', 'a//b'],
    ['exportPath', 'a/../b'], ['exportPath', './a'], ['exportPath', '/'], ['downloadId', 'a\nb'],
  ])('refuses %s %j', (name, value) => {
    expect(refusal(() => parseSplitRequest(requestBody({ [name]: value }), settings)).message).toMatch(new RegExp(`^split request has 1 bad field: ${name} `));
  });

  it('refuses a downloadId over 1024 characters', () => {
    expect(refusal(() => parseSplitRequest(requestBody({ downloadId: 'x'.repeat(1025) }), settings)).message).toMatch(/^split request has 1 bad field: downloadId .*\(1025 characters\)$/);
  });

  it('never echoes more than 100 characters of a bad value', () => {
    const hostile = `${'A'.repeat(100)}${'Ω'.repeat(5000)}.rar`;
    const { message } = refusal(() => parseSplitRequest(requestBody({ file: hostile, updatesQueueUrl: 'Q'.repeat(5000) }), settings));
    expect(message).toContain(`got "${'A'.repeat(100)}"… (5104 characters)`);
    expect(message).not.toContain('Ω');
    expect(message).not.toContain('Q'.repeat(101));
    expect(message.length).toBeLessThan(1000);
  });

  it('refuses a bucket that is not allowed, and every bucket while ALLOWED_BUCKETS is empty (naming the variable)', () => {
    expect(refusal(() => parseSplitRequest(requestBody({ s3Bucket: 'someone-elses' }), settings)).message).toContain('s3Bucket must be one of ALLOWED_BUCKETS: exports; got "someone-elses"');
    const none = archiveSettings({ ALLOWED_BUCKETS: '' });
    expect(refusal(() => parseSplitRequest(requestBody(), none)).message).toContain('s3Bucket cannot be accepted: ALLOWED_BUCKETS is empty');
  });

  it('refuses every callback queue while none is allowed, naming the variables', () => {
    const none = archiveSettings({ ALLOWED_CALLBACK_QUEUES: '' });
    expect(refusal(() => parseSplitRequest(requestBody(), none)).message).toContain('no callback queue is allowed (set ALLOWED_CALLBACK_QUEUES or CALLBACK_QUEUE_URL)');
  });

  it('refuses an archive key over 1024 bytes of UTF-8', () => {
    const exportPath = `${'ü'.repeat(508)}/`; // 1016 bytes + "/" + file
    const { message } = refusal(() => parseSplitRequest(requestBody({ exportPath, file: 'export.zip' }), settings));
    expect(message).toMatch(/exportPath and file make a 1027-byte key; S3 keys are at most 1024 bytes/);
  });

  it('refuses a file whose batch keys would be over 1024 bytes, counting the widest part number', () => {
    // The widest part for 64 MiB and 2000 rows a batch is 16778 (five digits): "batch/" + stem + "-part16778.zip".
    const fits = `${'s'.repeat(1024 - 'batch/'.length - '-part16778.zip'.length)}.zip`;
    expect(parseSplitRequest(requestBody({ exportPath: '', file: fits }), settings).stem).toHaveLength(1004);
    const { message } = refusal(() => parseSplitRequest(requestBody({ exportPath: '', file: `s${fits}` }), settings));
    expect(message).toContain('file would name batch ZIPs with keys of up to 1025 bytes');
  });

  it('refuses a body that is not a JSON object', () => {
    expect(refusal(() => parseSplitRequest('not json', settings)).message).toBe('split request is not JSON (8 bytes)');
    expect(refusal(() => parseSplitRequest('[]', settings)).message).toBe('split request must be a JSON object');
  });
});

describe('splitRequestFromEvent', () => {
  const settings = uploadSettings();
  const upload = { bucket: BUCKET, key: 'uploads/2026/Export Photos.TGZ', size: 5_000_000, etag: 'abc123' };

  it('splits an upload under ARCHIVE_PREFIX: the key is the downloadId, the outcome goes to CALLBACK_QUEUE_URL', () => {
    expect(splitRequestFromEvent(upload, settings)).toEqual({
      downloadId: 'uploads/2026/Export Photos.TGZ', source: { bucket: BUCKET, key: 'uploads/2026/Export Photos.TGZ' }, expectedSize: 5_000_000,
      expectedEtag: 'abc123', stem: 'Export Photos', outputBucket: BUCKET, callbackQueueUrl: UPLOADS_QUEUE, origin: 'event',
    });
  });

  it('leaves size and ETag out when the event had none', () => {
    const request = splitRequestFromEvent({ bucket: BUCKET, key: 'uploads/a.zip' }, settings);
    expect(request).not.toHaveProperty('expectedSize');
    expect(request).not.toHaveProperty('expectedEtag');
  });

  it('refuses an upload outside ARCHIVE_PREFIX or without an archive extension, naming the key', () => {
    const outside = refusal(() => splitRequestFromEvent({ ...upload, key: 'elsewhere/a.zip' }, settings));
    expect(outside.message).toMatch(/key "elsewhere\/a.zip" cannot be split: the key is outside ARCHIVE_PREFIX "uploads\/"/);
    expect(outside).toMatchObject({ downloadId: 'elsewhere/a.zip', callbackQueueUrl: UPLOADS_QUEUE });
    expect(refusal(() => splitRequestFromEvent({ ...upload, key: 'uploads/a.rar' }, settings)).message).toMatch(/"uploads\/a.rar".*does not end with a file name ending in .zip, .tar.gz or .tgz/);
    expect(refusal(() => splitRequestFromEvent({ ...upload, key: 'uploads/.zip' }, settings)).message).toMatch(/does not end with/);
    expect(refusal(() => splitRequestFromEvent({ ...upload, key: 'uploads/folder.zip/' }, settings)).message).toMatch(/does not end with/);
  });

  it('refuses a key with control characters, showing it escaped', () => {
    expect(refusal(() => splitRequestFromEvent({ ...upload, key: 'uploads/a\u001b.zip' }, settings)).message).toMatch(/"uploads\/a\\u001b.zip".*control characters/);
  });

  it('refuses every event when ARCHIVE_PREFIX is not set', () => {
    expect(refusal(() => splitRequestFromEvent(upload, archiveSettings())).message).toMatch(/only when ARCHIVE_PREFIX \(and CALLBACK_QUEUE_URL\) are set/);
  });

  it('checks the bucket against ALLOWED_BUCKETS only when it is set', () => {
    expect(refusal(() => splitRequestFromEvent({ ...upload, bucket: 'other-bucket' }, settings)).message).toMatch(/the bucket is not in ALLOWED_BUCKETS/);
    expect(splitRequestFromEvent({ ...upload, bucket: 'other-bucket' }, uploadSettings({ ALLOWED_BUCKETS: '' })).outputBucket).toBe('other-bucket');
  });

  it('refuses an upload whose batch keys would be over 1024 bytes', () => {
    expect(refusal(() => splitRequestFromEvent({ ...upload, key: `uploads/${'n'.repeat(1005)}.zip` }, settings)).message).toMatch(/keys of up to 1025 bytes/);
  });
});

describe('batchKey', () => {
  it('is OUTPUT_PREFIX + stem + -part{n}.zip, n from 1', () => {
    expect(batchKey({ stem: 'export' }, { outputPrefix: 'batch/' }, 1)).toBe('batch/export-part1.zip');
    expect(batchKey({ stem: 'Export Photos' }, { outputPrefix: '' }, 12)).toBe('Export Photos-part12.zip');
  });

  it('throws an S3LimitError for a key over 1024 bytes and a RangeError for a part that is not 1, 2, ...', () => {
    const stem = 'ü'.repeat(505); // 1010 bytes: "-part1.zip" makes 1020, "-part100000.zip" 1025
    expect(batchKey({ stem }, { outputPrefix: '' }, 1)).toHaveLength(515);
    expect(() => batchKey({ stem }, { outputPrefix: '' }, 100_000)).toThrow(S3LimitError);
    expect(() => batchKey({ stem }, { outputPrefix: '' }, 100_000)).toThrow(/1025-byte key; S3 keys are at most 1024 bytes/);
    expect(() => batchKey({ stem: 'x' }, { outputPrefix: '' }, 0)).toThrow(RangeError);
    expect(() => batchKey({ stem: 'x' }, { outputPrefix: '' }, 1.5)).toThrow(RangeError);
  });
});
