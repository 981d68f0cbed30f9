import { classifyFailure, PermanentError } from '../../../../shared/errors';
import {
  CorruptArchiveError, ManifestError, ManifestMissingError, NotAnArchiveError, SizeMismatchError, SplitRequestError,
} from '../archive-errors';

describe('archive-split errors', () => {
  it.each([
    [new SplitRequestError('x'), 'SplitRequestError', 'invalid-request'],
    [new ManifestError('x'), 'ManifestError', 'manifest-invalid'],
    [new ManifestMissingError('x'), 'ManifestMissingError', 'manifest-missing'],
    [new NotAnArchiveError('x'), 'NotAnArchiveError', 'not-an-archive'],
    [new CorruptArchiveError('x'), 'CorruptArchiveError', 'corrupt-archive'],
    [new SizeMismatchError('x'), 'SizeMismatchError', 'size-mismatch'],
  ])('%s is permanent, named %s, reason %s', (error, name, reason) => {
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.name).toBe(name);
    expect(classifyFailure(error)).toEqual({ kind: 'permanent', reason, message: 'x' });
  });

  it('a bad request keeps what could be read of its id and callback queue, for a failure callback', () => {
    const error = new SplitRequestError('bad', { downloadId: 'dl-1', callbackQueueUrl: 'q' });
    expect(error).toMatchObject({ downloadId: 'dl-1', callbackQueueUrl: 'q' });
    expect(new SplitRequestError('bad').downloadId).toBeUndefined();
  });
});
