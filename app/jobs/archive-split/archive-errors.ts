import { PermanentError } from '../../../shared/errors';

/**
 * The archive-split job's failures. Permanent ones end with a failure callback and the message in the DLQ; a replaced
 * archive is shared/errors.ts's ObjectChangedError (transient: the split starts again from the beginning).
 */

/**
 * A split request (a request message or an S3 event) that can never be carried out: every bad field is named in one
 * message. What could be read of `downloadId` and the callback queue is kept, so a failure callback can still be sent
 * when they were valid.
 */
export class SplitRequestError extends PermanentError {
  override readonly name = 'SplitRequestError';
  readonly reason = 'invalid-request';
  readonly downloadId?: string;
  readonly callbackQueueUrl?: string;
  constructor(message: string, context: { readonly downloadId?: string; readonly callbackQueueUrl?: string } = {}) {
    super(message);
    if (context.downloadId !== undefined) this.downloadId = context.downloadId;
    if (context.callbackQueueUrl !== undefined) this.callbackQueueUrl = context.callbackQueueUrl;
  }
}

/** The archive's manifest cannot be used: not CSV, too large, no image column, or more than one candidate file. */
export class ManifestError extends PermanentError {
  override readonly name = 'ManifestError';
  readonly reason = 'manifest-invalid';
}

/** The archive holds no file named MANIFEST_NAME at any depth. */
export class ManifestMissingError extends PermanentError {
  override readonly name = 'ManifestMissingError';
  readonly reason = 'manifest-missing';
}

/** The object's bytes are neither a ZIP nor a gzip-compressed TAR, whatever its name says. */
export class NotAnArchiveError extends PermanentError {
  override readonly name = 'NotAnArchiveError';
  readonly reason = 'not-an-archive';
}

/** The archive starts as one but its structure is broken (bad central directory, truncated stream, bad CRC). */
export class CorruptArchiveError extends PermanentError {
  override readonly name = 'CorruptArchiveError';
  readonly reason = 'corrupt-archive';
}

/** The request's `totalSize` is not the archive object's size: the request describes some other upload. */
export class SizeMismatchError extends PermanentError {
  override readonly name = 'SizeMismatchError';
  readonly reason = 'size-mismatch';
}
