import { PermanentError } from '../../../shared/errors';

/** What the resize job refuses, each a PermanentError with its reason, so the worker dead-letters it at once. */
export class InvalidImageError extends PermanentError {
  override readonly name = 'InvalidImageError';
  readonly reason: string;
  /** reason: `corrupt-image`, `unsupported-format`, `empty-file`, ... */
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export class PixelLimitError extends PermanentError {
  override readonly name = 'PixelLimitError';
  readonly reason = 'pixel-limit-exceeded';
}

/** The work would need more memory than the task can ever give it, even alone. */
export class MemoryBudgetError extends PermanentError {
  override readonly name = 'MemoryBudgetError';
  readonly reason = 'decode-memory-exceeded';
}
