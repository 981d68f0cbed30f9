import type { DeadLetter } from '../../../shared/queue/local-queue';
import type { DeadLetterRecord } from './invariants';

/**
 * A dead letter as the invariants see it: the first message's id (`source-message-id`, which re-queued parts carry
 * too), the keys of the records its body holds (the worker puts only the failed records there), and its reasons.
 * A body that is no S3 event (malformed, or not an event at all) names no keys.
 */
export function deadLetterRecord(letter: Pick<DeadLetter, 'messageId' | 'body' | 'attributes'>): DeadLetterRecord {
  const keys = recordKeys(letter.body);
  const reasons = letter.attributes['failure-reasons']?.split(',').filter((reason) => reason !== '');
  return {
    messageId: letter.attributes['source-message-id'] ?? letter.messageId,
    ...(keys !== undefined ? { keys } : {}),
    ...(reasons !== undefined ? { reasons } : {}),
  };
}

/** Keys as S3 events carry them: form-encoded per segment, `+` for a space. */
export function recordKeys(body: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const envelope = parsed as { Type?: unknown; Message?: unknown; Records?: unknown };
  if (envelope.Type === 'Notification' && typeof envelope.Message === 'string') return recordKeys(envelope.Message);
  if (!Array.isArray(envelope.Records)) return undefined;
  const keys: string[] = [];
  for (const record of envelope.Records as { s3?: { object?: { key?: unknown } } }[]) {
    const key = record.s3?.object?.key;
    if (typeof key !== 'string') return undefined;
    try {
      keys.push(decodeURIComponent(key.replace(/\+/g, ' ')));
    } catch {
      return undefined;
    }
  }
  return keys;
}
