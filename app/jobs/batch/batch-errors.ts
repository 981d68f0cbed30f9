import { PermanentError, TransientError } from '../../../shared/errors';

/** The record's audio file is not there (or not readable as the role sees it): no retry brings it back. */
export class InputMissingError extends PermanentError {
  override readonly name = 'InputMissingError';
  readonly reason = 'input-missing';
}

/** The record names a bucket outside ALLOWED_SOURCE_BUCKETS: a bad or hostile record, not a missing file. */
export class BucketNotAllowedError extends PermanentError {
  override readonly name = 'BucketNotAllowedError';
  readonly reason = 'bucket-not-allowed';
}

/** A download outlived DOWNLOAD_TIMEOUT_MS: the record is retried on its own, the rest of its batch goes on. */
export class DownloadTimeoutError extends TransientError {
  override readonly name = 'DownloadTimeoutError';
  constructor(message: string) {
    super('download-timeout', message);
  }
}

/** The model call failed or outlived INFERENCE_TIMEOUT_MS: every record it held is retried. */
export class InferenceError extends TransientError {
  override readonly name = 'InferenceError';
  constructor(reason: 'inference-timeout' | 'inference-failed', message: string, options?: { cause?: unknown }) {
    super(reason, message, options);
  }
}

/** The model's result for this record cannot be stored (a non-finite number, too large an item): never will be. */
export class InvalidResultError extends PermanentError {
  override readonly name = 'InvalidResultError';
  readonly reason = 'invalid-result';
}

/** The store did not take this record's result: its message stays, and a redelivery writes it. */
export class ResultNotDurableError extends TransientError {
  override readonly name = 'ResultNotDurableError';
  constructor(message: string) {
    super('result-not-durable', message);
  }
}
