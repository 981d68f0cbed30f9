/**
 * The worker's error hierarchy. Whether a failure is worth retrying is a property of the error, decided here
 * and nowhere else (`classifyFailure`), so the queue loop only asks "permanent, transient or missing?".
 */
export type FailureKind = 'permanent' | 'transient' | 'missing';

export abstract class WorkerError extends Error {
  abstract readonly kind: FailureKind;
  /** A short machine-readable reason for logs and metrics, e.g. `corrupt-image`. */
  abstract readonly reason: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
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

export class InvalidImageError extends PermanentError {
  override readonly name = 'InvalidImageError';
  readonly reason: string;
  /** reason: `corrupt-image`, `unsupported-format`, `empty-file`, ... */
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export class InputTooLargeError extends PermanentError {
  override readonly name = 'InputTooLargeError';
  readonly reason = 'input-too-large';
}

export class PixelLimitError extends PermanentError {
  override readonly name = 'PixelLimitError';
  readonly reason = 'pixel-limit-exceeded';
}

/** The source object is gone (deleted after upload): acknowledged and logged as skipped, never retried. */
export class SourceMissingError extends WorkerError {
  override readonly name = 'SourceMissingError';
  readonly kind = 'missing' as const;
  readonly reason = 'source-missing';
}

/** Throttling, 5xx, timeouts, resets: retried with backoff, and by redelivery after that. */
export class TransientError extends WorkerError {
  override readonly name = 'TransientError';
  readonly kind = 'transient' as const;
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
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
  'AbortError',
]);

export interface Classified {
  readonly kind: FailureKind;
  readonly reason: string;
  readonly message: string;
}

/**
 * Every failure the worker sees goes through here. Anything unrecognised is transient: retrying a failure that is
 * really permanent costs a few receives before redrive puts it in the DLQ, while calling a transient one permanent
 * would dead-letter good work.
 */
export function classifyFailure(error: unknown): Classified {
  if (error instanceof WorkerError) return { kind: error.kind, reason: error.reason, message: error.message };
  const e = (error ?? {}) as {
    name?: string; code?: string; message?: string; $fault?: string; $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const message = typeof e.message === 'string' ? e.message : String(error);
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'NoSuchKey' || e.name === 'NotFound' || (status === 404 && e.name !== 'NoSuchBucket')) {
    return { kind: 'missing', reason: 'source-missing', message };
  }
  if (
    e.$retryable !== undefined || e.$fault === 'server' || (status !== undefined && (status >= 500 || status === 429)) ||
    (e.name !== undefined && TRANSIENT_ERROR_NAMES.has(e.name)) || (e.code !== undefined && TRANSIENT_NETWORK_CODES.has(e.code))
  ) {
    return { kind: 'transient', reason: transientReason(e.name, e.code, status), message };
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
