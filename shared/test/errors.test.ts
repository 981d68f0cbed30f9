import { classifyFailure, DeadlineExceededError, MalformedMessageError, S3LimitError, SourceMissingError, TransientError } from '../errors';

const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, ...(status !== undefined ? { $metadata: { httpStatusCode: status } } : {}), ...extra });

describe('classifyFailure', () => {
  it.each([
    [new MalformedMessageError('bad body'), 'permanent', 'malformed-message'],
    [new S3LimitError('output-key-too-long', 'too long'), 'permanent', 'output-key-too-long'],
    [new SourceMissingError('gone'), 'missing', 'source-missing'],
    [new TransientError('network', 'reset'), 'transient', 'network'],
    [sdkError('NoSuchKey', 404), 'missing', 'source-missing'],
    [sdkError('NotFound', 404), 'missing', 'source-missing'],
    // An unnamed 404 is not S3 saying the key is gone: acknowledging it as a skip would drop the message unprocessed.
    [sdkError('Unknown', 404), 'permanent', 's3-rejected'],
    [sdkError('SlowDown', 503), 'transient', 'throttled'],
    [sdkError('ThrottlingException', 400), 'transient', 'throttled'],
    [sdkError('InternalError', 500), 'transient', 'server-error'],
    [sdkError('TimeoutError'), 'transient', 'timeout'],
    [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'transient', 'network'],
    [sdkError('AccessDenied', 403), 'permanent', 'access-denied'],
    [sdkError('Forbidden', 403), 'permanent', 'access-denied'],
    // What the SDK makes of a HEAD answered 403: no body, so no name.
    [sdkError('Unknown', 403, { $fault: 'client' }), 'permanent', 'access-denied'],
    [sdkError('KeyTooLongError', 400), 'permanent', 'key-too-long'],
    [sdkError('MetadataTooLarge', 400), 'permanent', 'metadata-too-large'],
    [sdkError('InvalidArgument', 400), 'permanent', 's3-rejected'],
    [sdkError('NotImplemented', 501, { $fault: 'server' }), 'permanent', 's3-rejected'],
    [sdkError('RequestTimeout', 400), 'transient', 'timeout'],
    [sdkError('ExpiredToken', 400), 'transient', 'transient'],
    [sdkError('RequestTimeTooSkewed', 403), 'transient', 'transient'],
    [sdkError('OperationAborted', 409), 'transient', 'transient'],
    [sdkError('KMS.ThrottlingException', 400), 'transient', 'throttled'],
    [sdkError('InvalidObjectState', 403), 'permanent', 'object-archived'],
    [new Error('cannot read properties of undefined'), 'transient', 'unexpected-error'],
    ['a string was thrown', 'transient', 'unexpected-error'],
  ])('%s -> %s (%s)', (error, kind, reason) => {
    expect(classifyFailure(error)).toMatchObject({ kind, reason });
  });

  it('does not call a missing bucket a missing object: that is a deployment error, dead-lettered with its reason', () => {
    expect(classifyFailure(sdkError('NoSuchBucket', 404))).toMatchObject({ kind: 'permanent', reason: 'bucket-missing' });
  });

  it('names the S3 limit in the message of a permanent S3 answer', () => {
    expect(classifyFailure(sdkError('KeyTooLongError', 400)).message).toMatch(/at most 1024 bytes/);
    expect(classifyFailure(sdkError('MetadataTooLarge', 400)).message).toMatch(/at most 2 KB/);
    expect(classifyFailure(sdkError('AccessDenied', 403)).message).toMatch(/s3:ListBucket/);
  });

  it('gives a render timeout one more attempt, then makes it permanent', () => {
    expect(classifyFailure(new DeadlineExceededError('render-timeout', 'slow'))).toMatchObject({ kind: 'transient', reason: 'render-timeout', attemptsAllowed: 2 });
  });
});
