import { classifyFailure, InvalidImageError, MalformedMessageError, PixelLimitError, SourceMissingError, TransientError } from '../src/errors';

const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, ...(status !== undefined ? { $metadata: { httpStatusCode: status } } : {}), ...extra });

describe('classifyFailure', () => {
  it.each([
    [new MalformedMessageError('bad body'), 'permanent', 'malformed-message'],
    [new InvalidImageError('corrupt-image', 'bad jpeg'), 'permanent', 'corrupt-image'],
    [new PixelLimitError('too many pixels'), 'permanent', 'pixel-limit-exceeded'],
    [new SourceMissingError('gone'), 'missing', 'source-missing'],
    [new TransientError('network', 'reset'), 'transient', 'network'],
    [sdkError('NoSuchKey', 404), 'missing', 'source-missing'],
    [sdkError('NotFound', 404), 'missing', 'source-missing'],
    [sdkError('SlowDown', 503), 'transient', 'throttled'],
    [sdkError('ThrottlingException', 400), 'transient', 'throttled'],
    [sdkError('InternalError', 500), 'transient', 'server-error'],
    [sdkError('TimeoutError'), 'transient', 'timeout'],
    [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'transient', 'network'],
    [sdkError('AccessDenied', 403), 'transient', 'unexpected-error'],
    ['a string was thrown', 'transient', 'unexpected-error'],
  ])('%s -> %s (%s)', (error, kind, reason) => {
    expect(classifyFailure(error)).toMatchObject({ kind, reason });
  });

  it('does not call a missing bucket a missing object: that is a deployment error, retried and then dead-lettered', () => {
    expect(classifyFailure(sdkError('NoSuchBucket', 404)).kind).toBe('transient');
  });
});
