import type { Log, LogFields } from '../../../../shared/log/logger';
import type { MessageSender } from '../../../src/ports/message-sender';
import { recordMessageBody } from '../record-message';
import { chunks, type ResultStore } from '../result-store';
import { requireCalendarDate } from './discovery-date';
import { CHUNK_SIZE, checkOrder, isAfter, planChunk, startAfter } from './discovery-plan';
import type { RecordSource } from './record-source';
import type { WatermarkStore } from './watermark-store';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** Invalid ids named in the summary; every one of them is also logged on its own line. */
const INVALID_IDS_IN_SUMMARY = 20;

export interface DiscoverOptions {
  /** YYYY-MM-DD, a real calendar date. */
  readonly date: string;
  /** Scan from the beginning, not from the watermark; the watermark still never moves backwards. */
  readonly backfill?: boolean;
  readonly source: RecordSource;
  readonly watermarks: WatermarkStore;
  readonly results: Pick<ResultStore, 'existing'>;
  readonly sender: Pick<MessageSender, 'sendAll'>;
  readonly queueUrl: string;
  /** Records read per source page (1..1000); chunks of 10 within it. */
  readonly pageSize?: number;
  readonly log?: Log;
  /** Aborting stops the run between chunks, with the watermark at the last finished one. */
  readonly signal?: AbortSignal;
}

export interface DiscoverySummary extends LogFields {
  readonly date: string;
  readonly backfill: boolean;
  /** Records read from the source, valid or not. */
  readonly scanned: number;
  readonly skippedWithResult: number;
  readonly enqueued: number;
  /** SendMessageBatch calls (one per chunk with something to send). */
  readonly batches: number;
  readonly invalid: number;
  /** The first invalid ids (all of them are logged). */
  readonly invalidIds: readonly string[];
  /** Where the scan started: the stored watermark, or undefined (from the beginning). */
  readonly startedAfter: string | undefined;
  /** The watermark when the run ended. */
  readonly watermark: string | undefined;
  /** False when the run was stopped before the date's last record. */
  readonly complete: boolean;
}

/**
 * Enqueues the date's records that have no result yet, chunk by chunk, and moves the watermark past a chunk only
 * after its SendMessageBatch succeeded. A crash anywhere leaves the watermark at the last finished chunk, so the next
 * run sends again at most the one chunk that was in flight, and never skips a record.
 */
export async function discover(options: DiscoverOptions): Promise<DiscoverySummary> {
  const date = requireCalendarDate(options.date);
  const backfill = options.backfill ?? false;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) throw new RangeError(`pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${pageSize}`);
  const { source, watermarks, results, sender, queueUrl, log, signal } = options;

  const stored = await watermarks.read(date);
  const startedAfter = startAfter(stored, backfill);
  let watermark = stored;
  let after = startedAfter;
  let scanned = 0;
  let skippedWithResult = 0;
  let enqueued = 0;
  let batches = 0;
  const invalidIds: string[] = [];
  const summary = (complete: boolean): DiscoverySummary => ({
    date, backfill, scanned, skippedWithResult, enqueued, batches, invalid: invalidIds.length,
    invalidIds: invalidIds.slice(0, INVALID_IDS_IN_SUMMARY), startedAfter, watermark, complete,
  });

  for (;;) {
    if (signal?.aborted) return summary(false);
    const page = await source.page(date, after, pageSize);
    checkOrder(page.records.map((record) => record.id), after);
    const lastRecord = page.records[page.records.length - 1]?.id;
    if (lastRecord !== undefined && (page.lastId === undefined || isAfter(lastRecord, page.lastId))) {
      throw new Error(`the record source's page ends at "${String(page.lastId)}" but holds "${lastRecord}"`);
    }
    scanned += page.records.length + page.invalid.length;
    for (const bad of page.invalid) {
      invalidIds.push(bad.id);
      log?.warn('discovery invalid record', { date, id: bad.id, problem: bad.problem });
    }
    for (const chunk of chunks(page.records, CHUNK_SIZE)) {
      if (signal?.aborted) return summary(false);
      const plan = planChunk(chunk, await results.existing(chunk.map((record) => record.id)), watermark);
      if (plan.send.length > 0) {
        await sender.sendAll(queueUrl, plan.send.map(recordMessageBody));
        batches++;
        enqueued += plan.send.length;
      }
      skippedWithResult += plan.skippedWithResult;
      if (plan.advanceTo !== undefined) await watermarks.advance(date, plan.advanceTo);
      watermark = plan.watermark;
    }
    if (!page.more) return summary(true);
    if (page.lastId === undefined) throw new Error('the record source said more records follow but returned an empty page');
    after = page.lastId;
  }
}
