import type { ScoredResult } from '../../result-store';
import { parseRecordMessage, type RecordMessage } from '../../record-message';
import type { MessageSender } from '../../../../src/ports/message-sender';

/** A source-table item in the default shape. */
export function sourceItem(date: string, n: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const id = recordId(n, date);
  return { date, id, bucket: 'recordings', key: `${date.replace(/-/g, '/')}/${id}.wav`, ...overrides };
}

/**
 * Zero-padded so string order is numeric order, as natural ids in a sort key usually are; unique across dates, as
 * natural ids are, since results are keyed by id alone.
 */
export function recordId(n: number, date = '2026-12-01'): string {
  return `rec-${date.replace(/-/g, '')}-${String(n).padStart(6, '0')}`;
}

export function scoredResult(id: string): ScoredResult {
  return { id, score: 0.5, modelVersion: 'v1', scoredAt: '2026-12-02T00:00:00.000Z' };
}

/** Keeps every body sent, in order, one entry per sendAll call. */
export class RecordingSender implements Pick<MessageSender, 'sendAll'> {
  readonly calls: { queueUrl: string; records: RecordMessage[] }[] = [];

  async sendAll(queueUrl: string, bodies: readonly string[]): Promise<void> {
    this.calls.push({ queueUrl, records: bodies.map(parseRecordMessage) });
  }

  ids(): string[] {
    return this.calls.flatMap((call) => call.records.map((record) => record.id));
  }
}

/** How many times each id was sent. */
export function sendCounts(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}
