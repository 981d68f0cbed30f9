/**
 * The worker's error hierarchy. Whether a failure is worth retrying is a property of the error, decided here
 * and nowhere else (`classifyFailure`), so the queue loop only asks "permanent, transient or missing?".
 */
export type FailureKind = 'permanent' | 'transient' | 'missing';

export abstract class WorkerError extends Error {
  abstract readonly kind: FailureKind;
  /** A short machine-readable reason for logs and metrics, e.g. `corrupt-image`. */
  abstract readonly reason: string;
  /** See `Classified.attemptsAllowed`. */
  readonly attemptsAllowed?: number;
  constructor(message: string, options?: { cause?: unknown; attemptsAllowed?: number }) {
    super(message, options);
    if (options?.attemptsAllowed !== undefined) this.attemptsAllowed = options.attemptsAllowed;
  }
}

/** Input that will never succeed however often it is retried: it must end in the DLQ with its reason logged. */
export abstract class PermanentError extends WorkerError {
  readonly kind = 'permanent' as const;
}

export class MalformedMessageError extends PermanentError {
  override readonly name = 'MalformedMessageError';
  readonly reason = 'malformed-message';
}

export class InputTooLargeError extends PermanentError {
  override readonly name = 'InputTooLargeError';
  readonly reason = 'input-too-large';
}

/** The source object is gone (deleted after upload): acknowledged and logged as skipped, never retried. */
export class SourceMissingError extends WorkerError {
  override readonly name = 'SourceMissingError';
  readonly kind = 'missing' as const;
  readonly reason = 'source-missing';
}

/** Throttling, 5xx, timeouts, resets: retried with backoff, and by redelivery after that. */
export class TransientError extends WorkerError {
  override readonly name: string = 'TransientError';
  readonly kind = 'transient' as const;
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown; attemptsAllowed?: number }) {
    super(message, options);
    this.reason = reason;
  }
}

/**
 * The object was replaced while it was being read: a read pinned to the ETag first seen (If-Match) got 412. What was
 * already read belongs to another version, so the work is retried from the start against the new one.
 */
export class ObjectChangedError extends TransientError {
  override readonly name = 'ObjectChangedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('source-changed', message, options);
  }
}

/** An output key or its metadata would break an S3 limit: known before any work, and no retry can change it. */
export class S3LimitError extends PermanentError {
  override readonly name = 'S3LimitError';
  readonly reason: 'output-key-too-long' | 'metadata-too-large';
  constructor(reason: 'output-key-too-long' | 'metadata-too-large', message: string) {
    super(message);
    this.reason = reason;
  }
}

/**
 * A message outlived MESSAGE_DEADLINE_SECONDS of active work (time spent waiting out an outage does not count), or
 * one render outlived its timeout. Worth one more attempt on a quieter task, then permanent: input that takes this
 * long twice is the input, not the machine.
 */
export class DeadlineExceededError extends TransientError {
  override readonly name = 'DeadlineExceededError';
  constructor(reason: 'deadline-exceeded' | 'render-timeout', message: string, options?: { cause?: unknown }) {
    super(reason, message, { ...options, attemptsAllowed: 2 });
  }
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT',
]);
const TRANSIENT_ERROR_NAMES = new Set([
  'TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'SlowDown', 'Throttling', 'ThrottlingException',
  'ThrottledException', 'RequestThrottled', 'TooManyRequestsException', 'ServiceUnavailable', 'InternalError',
  'AbortError', 'KMS.ThrottlingException', 'KmsThrottled',
  // 4xx answers that a later attempt can pass: credentials refreshed, a clock resynchronised, a conflicting request
  // finished, bytes damaged in transit.
  'RequestTimeTooSkewed', 'ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired', 'OperationAborted',
  'ConditionalRequestConflict', 'BadDigest', 'XAmzContentSHA256Mismatch', 'IncompleteBody',
]);

/**
 * S3 answers that no retry can change, with the reason logged and the limit named. A 4xx not listed here is
 * permanent too (`s3-rejected`), except the transient names above.
 */
const PERMANENT_S3_ANSWERS: Readonly<Record<string, { reason: string; explain: string }>> = {
  KeyTooLongError: { reason: 'key-too-long', explain: 'S3 keys are at most 1024 bytes of UTF-8' },
  MetadataTooLarge: { reason: 'metadata-too-large', explain: 'S3 user metadata is at most 2 KB in all' },
  NoSuchBucket: { reason: 'bucket-missing', explain: 'the bucket does not exist (a deployment error, not a deleted file)' },
  AccessDenied: {
    reason: 'access-denied',
    explain: 'the role may not do this; for a GET or HEAD, S3 also answers 403 for a missing key when the role lacks s3:ListBucket',
  },
  Forbidden: {
    reason: 'access-denied',
    explain: 'the role may not do this; for a HEAD, S3 also answers 403 for a missing key when the role lacks s3:ListBucket',
  },
  AllAccessDisabled: { reason: 'access-denied', explain: 'all access to this object has been disabled' },
  EntityTooLarge: { reason: 'entity-too-large', explain: 'a single PUT is at most 5 GB' },
  InvalidObjectState: { reason: 'object-archived', explain: 'the object is in an archive storage class and must be restored first' },
  'KMS.DisabledException': { reason: 'kms-key-disabled', explain: 'the object\'s KMS key is disabled' },
  NotImplemented: { reason: 's3-rejected', explain: 'the S3 endpoint does not implement this request' },
};

export interface Classified {
  readonly kind: FailureKind;
  readonly reason: string;
  readonly message: string;
  /**
   * A transient failure that is worth this many attempts in all, then permanent (a render timeout: once may be a
   * busy CPU, twice is the input). Absent: transient until the queue's receive limit.
   */
  readonly attemptsAllowed?: number;
}

/**
 * Every failure the worker sees goes through here. An unrecognised error that is not an HTTP 4xx is transient:
 * retrying a failure that is really permanent costs a few receives before it reaches the DLQ, while calling a
 * transient one permanent would dead-letter good work. A 4xx is S3's own verdict on the request, and a retry sends
 * the same request again, so it is permanent unless it is one of the known passing ones.
 */
export function classifyFailure(error: unknown): Classified {
  if (error instanceof WorkerError) {
    return { kind: error.kind, reason: error.reason, message: error.message, ...(error.attemptsAllowed !== undefined ? { attemptsAllowed: error.attemptsAllowed } : {}) };
  }
  const e = (error ?? {}) as {
    name?: string; code?: string; Code?: string; message?: string; $fault?: string; $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const message = typeof e.message === 'string' ? e.message : String(error);
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? e.Code;
  // Only S3's own names for a missing key: an unnamed 404 (from a PUT, or a proxy) must not pass for a deleted source,
  // or its message would be acknowledged without outputs.
  if (name === 'NoSuchKey' || (name === 'NotFound' && status === 404)) {
    return { kind: 'missing', reason: 'source-missing', message };
  }
  const known = name !== undefined ? PERMANENT_S3_ANSWERS[name] : undefined;
  if (known !== undefined) return { kind: 'permanent', reason: known.reason, message: `${message} (${name}: ${known.explain})` };
  if (
    e.$retryable !== undefined || (e.$fault === 'server' && status !== 501) || (status !== undefined && (status >= 500 || status === 429 || status === 408)) ||
    (name !== undefined && (TRANSIENT_ERROR_NAMES.has(name) || /thrott/i.test(name))) || (e.code !== undefined && TRANSIENT_NETWORK_CODES.has(e.code))
  ) {
    return { kind: 'transient', reason: transientReason(name, e.code, status), message };
  }
  if (status === 403) {
    // A HEAD answer has no body, so the SDK cannot name it (name "Unknown"): a bare 403 is S3's access denial.
    const explain = PERMANENT_S3_ANSWERS.AccessDenied;
    return { kind: 'permanent', reason: explain.reason, message: `${message} (HTTP 403: ${explain.explain})` };
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return { kind: 'permanent', reason: 's3-rejected', message: `${message} (${name ?? `HTTP ${status}`}: S3 refuses this request as sent; retrying cannot change that)` };
  }
  return { kind: 'transient', reason: 'unexpected-error', message };
}

function transientReason(name?: string, code?: string, status?: number): string {
  if (name === 'SlowDown' || /thrott|toomanyrequests/i.test(name ?? '') || status === 429) return 'throttled';
  if (code !== undefined && TRANSIENT_NETWORK_CODES.has(code)) return 'network';
  if (name === 'TimeoutError' || /timeout/i.test(name ?? '')) return 'timeout';
  if (status !== undefined && status >= 500) return 'server-error';
  return 'transient';
}
