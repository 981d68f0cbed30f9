import {
  evaluatePreconditions, evaluateReadPreconditions, keyLockName, lockedKeyCount, lockKey, normaliseEtag, readPreconditions, readReadPreconditions, type KeyWrite,
} from '../src/conditional-writes';
import { mapRequest } from '../src/strict-s3-front';

describe('which requests are key writes, and what they need', () => {
  const keyWrite = (method: string, url: string, headers: Record<string, string> = {}) => {
    const request = mapRequest(method, url, headers);
    return request.kind === 'mapped' ? request.keyWrite : request.kind;
  };
  const actions = (method: string, url: string, headers: Record<string, string> = {}) => {
    const request = mapRequest(method, url, headers);
    return request.kind === 'mapped' ? request.checks.map((check) => `${check.action} ${check.resource}`) : request.kind;
  };

  it('PutObject, CopyObject, CompleteMultipartUpload and DeleteObject write the key; parts, uploads and sub-resources do not', () => {
    expect(keyWrite('PUT', '/b/k?x-id=PutObject')).toBe('put');
    expect(keyWrite('PUT', '/b/k', { 'x-amz-copy-source': 'src/a' })).toBe('put');
    expect(keyWrite('POST', '/b/k?uploadId=u')).toBe('complete');
    expect(keyWrite('DELETE', '/b/k')).toBe('delete');
    expect(keyWrite('DELETE', '/b/k?versionId=v')).toBe('delete');
    expect(keyWrite('PUT', '/b/k?partNumber=1&uploadId=u')).toBeUndefined();
    expect(keyWrite('PUT', '/b/k?partNumber=1&uploadId=u', { 'x-amz-copy-source': 'src/a' })).toBeUndefined();
    expect(keyWrite('POST', '/b/k?uploads')).toBeUndefined();
    expect(keyWrite('DELETE', '/b/k?uploadId=u')).toBeUndefined();
    expect(keyWrite('PUT', '/b/k?tagging')).toBeUndefined();
    expect(keyWrite('GET', '/b/k', { 'if-none-match': '*' })).toBeUndefined();
    expect(keyWrite('HEAD', '/b/k')).toBeUndefined();
    expect(keyWrite('PUT', '/b')).toBeUndefined();
  });

  it('a write with If-Match needs s3:GetObject on the key too; If-None-Match and a delete with If-Match: * do not', () => {
    expect(actions('PUT', '/b/k', { 'if-match': '"e"' })).toEqual(['s3:PutObject arn:aws:s3:::b/k', 's3:GetObject arn:aws:s3:::b/k']);
    expect(actions('PUT', '/b/k', { 'if-match': '"e"', 'x-amz-copy-source': 'src/a' })).toEqual([
      's3:PutObject arn:aws:s3:::b/k', 's3:GetObject arn:aws:s3:::b/k', 's3:GetObject arn:aws:s3:::src/a',
    ]);
    expect(actions('POST', '/b/k?uploadId=u', { 'if-match': 'e' })).toEqual(['s3:PutObject arn:aws:s3:::b/k', 's3:GetObject arn:aws:s3:::b/k']);
    expect(actions('DELETE', '/b/k', { 'if-match': 'e' })).toEqual(['s3:DeleteObject arn:aws:s3:::b/k', 's3:GetObject arn:aws:s3:::b/k']);
    expect(actions('DELETE', '/b/k', { 'if-match': '*' })).toEqual(['s3:DeleteObject arn:aws:s3:::b/k']);
    expect(actions('PUT', '/b/k', { 'if-none-match': '*' })).toEqual(['s3:PutObject arn:aws:s3:::b/k']);
    expect(actions('PUT', '/b/k?partNumber=1&uploadId=u', { 'if-match': 'e' })).toEqual(['s3:PutObject arn:aws:s3:::b/k']);
  });
});

describe('readPreconditions', () => {
  const read = (write: KeyWrite, headers: Record<string, string>) => readPreconditions(write, headers);

  it('reads If-None-Match: * and If-Match (quoted or not) on puts and completions', () => {
    for (const write of ['put', 'complete'] as const) {
      expect(read(write, {})).toEqual({ kind: 'none' });
      expect(read(write, { 'if-none-match': '*' })).toEqual({ kind: 'if-none-match' });
      expect(read(write, { 'if-none-match': ' * ' })).toEqual({ kind: 'if-none-match' });
      expect(read(write, { 'if-match': '"abc"' })).toEqual({ kind: 'if-match', etag: 'abc' });
      expect(read(write, { 'if-match': 'abc-2' })).toEqual({ kind: 'if-match', etag: 'abc-2' });
      expect(read(write, { 'if-match': '*' })).toEqual({ kind: 'if-match', etag: '*' });
    }
  });

  it('answers 501 for an If-None-Match other than *, and for both headers at once', () => {
    expect(read('put', { 'if-none-match': '"abc"' })).toEqual({ kind: 'not-implemented', header: 'If-None-Match', detail: expect.stringMatching(/accept only \*/) });
    expect(read('complete', { 'if-none-match': 'abc' })).toMatchObject({ kind: 'not-implemented' });
    expect(read('put', { 'if-none-match': '*', 'if-match': 'abc' })).toMatchObject({ kind: 'not-implemented', detail: expect.stringMatching(/together/) });
  });

  it('reads only If-Match on a delete', () => {
    expect(read('delete', { 'if-none-match': '*' })).toEqual({ kind: 'none' });
    expect(read('delete', { 'if-match': '"abc"' })).toEqual({ kind: 'if-match', etag: 'abc' });
  });

  it('normalises ETags by their quotes only', () => {
    expect(normaliseEtag('"abc"')).toBe('abc');
    expect(normaliseEtag(' abc ')).toBe('abc');
    expect(normaliseEtag('"abc-12"')).toBe('abc-12');
    expect(normaliseEtag('W/"abc"')).toBe('W/"abc"');
  });
});

describe('evaluatePreconditions', () => {
  const present = { etag: '"e1"' };

  it('If-None-Match: * holds only for a missing key', () => {
    expect(evaluatePreconditions({ kind: 'if-none-match' }, 'k', undefined)).toBeUndefined();
    expect(evaluatePreconditions({ kind: 'if-none-match' }, 'k', present)).toEqual({
      status: 412, code: 'PreconditionFailed', message: 'At least one of the pre-conditions you specified did not hold', extra: { Condition: 'If-None-Match' }, detail: expect.any(String),
    });
  });

  it('If-Match holds for the current ETag or *, is 412 for another and 404 NoSuchKey for a missing key', () => {
    expect(evaluatePreconditions({ kind: 'if-match', etag: 'e1' }, 'k', present)).toBeUndefined();
    expect(evaluatePreconditions({ kind: 'if-match', etag: '*' }, 'k', present)).toBeUndefined();
    expect(evaluatePreconditions({ kind: 'if-match', etag: 'e0' }, 'k', present)).toMatchObject({ status: 412, code: 'PreconditionFailed', extra: { Condition: 'If-Match' } });
    expect(evaluatePreconditions({ kind: 'if-match', etag: 'e1' }, 'a/k', undefined)).toMatchObject({ status: 404, code: 'NoSuchKey', extra: { Key: 'a/k' } });
    expect(evaluatePreconditions({ kind: 'if-match', etag: '*' }, 'k', undefined)).toMatchObject({ status: 404, code: 'NoSuchKey' });
  });

  it('no precondition always holds', () => {
    expect(evaluatePreconditions({ kind: 'none' }, 'k', present)).toBeUndefined();
    expect(evaluatePreconditions({ kind: 'none' }, 'k', undefined)).toBeUndefined();
  });
});

describe('read preconditions (GetObject, HeadObject)', () => {
  it('reads If-Match and If-None-Match as lists of ETags, quotes removed; a weak tag is weak only for If-None-Match', () => {
    expect(readReadPreconditions({})).toBeUndefined();
    expect(readReadPreconditions({ 'if-match': '"e1"' })).toEqual({ ifMatch: ['e1'] });
    expect(readReadPreconditions({ 'if-match': '"e1", e2 ,*' })).toEqual({ ifMatch: ['e1', 'e2', '*'] });
    expect(readReadPreconditions({ 'if-none-match': 'W/"e1", "e2"' })).toEqual({ ifNoneMatch: ['e1', 'e2'] });
    expect(readReadPreconditions({ 'if-match': 'W/"e1"', 'if-none-match': 'e3' })).toEqual({ ifMatch: ['W/"e1"'], ifNoneMatch: ['e3'] });
  });

  it('If-Match: 412 unless one listed ETag (or *) is the object\'s; a weak tag never matches', () => {
    expect(evaluateReadPreconditions({ ifMatch: ['e1'] }, '"e1"')).toBeUndefined();
    expect(evaluateReadPreconditions({ ifMatch: ['e0', 'e1'] }, '"e1"')).toBeUndefined();
    expect(evaluateReadPreconditions({ ifMatch: ['*'] }, '"e1"')).toBeUndefined();
    expect(evaluateReadPreconditions({ ifMatch: ['e0'] }, '"e1"')).toEqual({
      kind: 'precondition-failed',
      answer: { status: 412, code: 'PreconditionFailed', message: 'At least one of the pre-conditions you specified did not hold', extra: { Condition: 'If-Match' }, detail: expect.stringMatching(/e0.*e1/) },
    });
    expect(evaluateReadPreconditions(readReadPreconditions({ 'if-match': 'W/"e1"' })!, '"e1"')).toMatchObject({ kind: 'precondition-failed' });
  });

  it('If-None-Match: 304 when a listed ETag (or *) is the object\'s; If-Match is judged first', () => {
    expect(evaluateReadPreconditions({ ifNoneMatch: ['e1'] }, '"e1"')).toEqual({ kind: 'not-modified' });
    expect(evaluateReadPreconditions({ ifNoneMatch: ['*'] }, '"e1"')).toEqual({ kind: 'not-modified' });
    expect(evaluateReadPreconditions({ ifNoneMatch: ['e0'] }, '"e1"')).toBeUndefined();
    expect(evaluateReadPreconditions({ ifMatch: ['e0'], ifNoneMatch: ['e1'] }, '"e1"')).toMatchObject({ kind: 'precondition-failed' });
    expect(evaluateReadPreconditions({ ifMatch: ['e1'], ifNoneMatch: ['e1'] }, '"e1"')).toEqual({ kind: 'not-modified' });
  });
});

describe('the key lock', () => {
  it('names a key by the server origin, bucket and key, unambiguously', () => {
    expect(keyLockName('http://127.0.0.1:4568', 'b', 'k')).toBe(keyLockName('http://127.0.0.1:4568/', 'b', 'k'));
    expect(keyLockName('http://127.0.0.1:4568', 'b', 'k')).not.toBe(keyLockName('http://127.0.0.1:4569', 'b', 'k'));
    expect(keyLockName('http://h', 'a', 'b/c')).not.toBe(keyLockName('http://h', 'a/b', 'c'));
  });

  it('grants one holder at a time per key, first come first served, and other keys at once', async () => {
    const order: string[] = [];
    const first = await lockKey('one');
    const second = lockKey('one').then((release) => (order.push('second'), release));
    const third = lockKey('one').then((release) => (order.push('third'), release));
    const other = await lockKey('two');
    order.push('other');
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['other']);
    first();
    first(); // a second release changes nothing
    (await second)();
    (await third)();
    other();
    expect(order).toEqual(['other', 'second', 'third']);
    expect(lockedKeyCount()).toBe(0);
  });

  it('keeps 200 contending holders mutually exclusive', async () => {
    let inside = 0;
    let most = 0;
    await Promise.all(Array.from({ length: 200 }, async () => {
      const release = await lockKey('busy');
      inside++;
      most = Math.max(most, inside);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
      inside--;
      release();
    }));
    expect(most).toBe(1);
    expect(lockedKeyCount()).toBe(0);
  });
});
