/**
 * What happens to a message once its records are handled: pure, so every routing rule is tested without a queue.
 *
 * A record that failed permanently, or transiently for the last allowed time, goes to the dead-letter queue with its
 * reason, sent there by the worker itself: waiting for SQS's redrive would cost maxReceiveCount receives and lose
 * the reason. A message whose records all failed transiently goes back whole with a growing delay (SQS counts the
 * attempt). When some records are done and others must retry, only the ones to retry are re-queued, carrying the
 * attempts they already used, so done work is never redone and a redelivery repeats no HEADs.
 */
export interface RecordFailure {
  /** The record's index in the message (after duplicates were merged). */
  readonly index: number;
  readonly key?: string;
  readonly kind: 'permanent' | 'transient';
  readonly reason: string;
  readonly detail: string;
  /** See `Classified.attemptsAllowed`. */
  readonly attemptsAllowed?: number;
}

export interface SettlementInput {
  /** SQS ApproximateReceiveCount of this delivery. */
  readonly receiveCount: number;
  /** Attempts a re-queued message's records used before it was re-queued (its `attempts` attribute), else 0. */
  readonly carriedAttempts: number;
  /** The redrive policy's maxReceiveCount: the last attempt a transient failure gets. */
  readonly maxReceiveCount: number;
  /** Distinct records in the message. */
  readonly recordCount: number;
  readonly failures: readonly RecordFailure[];
}

export type Settlement =
  | { readonly action: 'delete' }
  | { readonly action: 'release'; readonly delaySeconds: number; readonly attempts: number }
  | {
      readonly action: 'reroute';
      /** Sent to the DLQ with their reasons. */
      readonly deadLetter: readonly RecordFailure[];
      /** Re-queued as a new message with `attempts` carried and a delay. */
      readonly retry: readonly RecordFailure[];
      readonly attempts: number;
      readonly delaySeconds: number;
    };

/** The message attribute a re-queued message carries its used attempts in. */
export const ATTEMPTS_ATTRIBUTE = 'attempts';
/** The id of the message S3 (or the producer) first sent, carried by re-queued parts and named by dead letters. */
export const ORIGIN_ATTRIBUTE = 'source-message-id';

/** The first message's id, however many times its records were re-queued since. */
export function originMessageId(message: { readonly messageId: string; readonly attributes: Readonly<Record<string, string>> }): string {
  return message.attributes[ORIGIN_ATTRIBUTE] ?? message.messageId;
}

/** Redelivery delay after a transient failure outlasted the in-process retries: grows with each attempt. */
export function transientReleaseDelaySeconds(attempts: number): number {
  return Math.min(900, 5 * 2 ** Math.max(0, attempts - 1));
}

export function planSettlement(input: SettlementInput): Settlement {
  if (input.failures.length === 0) return { action: 'delete' };
  const attempts = Math.max(1, input.carriedAttempts + input.receiveCount);
  const exhausted = (failure: RecordFailure) =>
    failure.kind === 'permanent' || attempts >= input.maxReceiveCount || (failure.attemptsAllowed !== undefined && attempts >= failure.attemptsAllowed);
  const deadLetter = input.failures.filter(exhausted);
  const retry = input.failures.filter((failure) => !exhausted(failure));
  const delaySeconds = transientReleaseDelaySeconds(attempts);
  if (deadLetter.length === 0 && retry.length === input.recordCount) return { action: 'release', delaySeconds, attempts };
  return { action: 'reroute', deadLetter, retry, attempts, delaySeconds };
}

/** Attempts carried by a re-queued message; anything unreadable counts as none (a fresh message). */
export function carriedAttempts(attributes: Readonly<Record<string, string>>): number {
  const value = Number(attributes[ATTEMPTS_ATTRIBUTE]);
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/** How many failures a dead letter describes in full: SQS allows 256 KB per message, attributes included. */
const DESCRIBED_FAILURES = 50;
const DETAIL_CHARS = 300;

/**
 * The attributes a dead letter carries: why each record failed (by its index in the dead letter's own body), from
 * which message, after how many attempts. Never the body's content.
 */
export function deadLetterAttributes(failures: readonly RecordFailure[], context: { messageId: string; attempts: number; at: Date }): Record<string, string> {
  return {
    'failure-reasons': [...new Set(failures.map((failure) => failure.reason))].join(','),
    failures: JSON.stringify(
      failures.slice(0, DESCRIBED_FAILURES).map((failure, record) => ({
        record,
        reason: failure.reason,
        kind: failure.kind,
        detail: failure.detail.length > DETAIL_CHARS ? `${failure.detail.slice(0, DETAIL_CHARS)}…` : failure.detail,
      })),
    ),
    'failed-records': String(failures.length),
    [ORIGIN_ATTRIBUTE]: context.messageId,
    'attempts-used': String(context.attempts),
    'dead-lettered-at': context.at.toISOString(),
  };
}
