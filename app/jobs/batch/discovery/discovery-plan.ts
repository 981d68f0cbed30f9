import type { RecordMessage } from '../record-message';

/**
 * The decisions of a discovery run, free of I/O, so the watermark's guarantee can be checked without a database:
 * where a run starts, what a chunk sends, and where the watermark goes once that send succeeded.
 */

/** SQS takes 10 messages per SendMessageBatch: one chunk is one call, and the most a crash can send twice. */
export const CHUNK_SIZE = 10;

/**
 * Where the scan starts. A backfill starts from the beginning to find records below the watermark that still have no
 * result (a lost message, a dead-lettered record fixed since); a normal run trusts the watermark.
 */
export function startAfter(watermark: string | undefined, backfill: boolean): string | undefined {
  return backfill ? undefined : watermark;
}

export interface ChunkPlan {
  /** The chunk's records without a result, in order: one SendMessageBatch. */
  readonly send: readonly RecordMessage[];
  readonly skippedWithResult: number;
  /** The id to advance the stored watermark to after the send succeeded; undefined when it would not move up. */
  readonly advanceTo: string | undefined;
  /** The watermark once this chunk is done. */
  readonly watermark: string | undefined;
}

/**
 * Pure: what one chunk does. Its last id becomes the watermark only once every record before it is in the queue or
 * has a result, and never moves backwards, so a backfill below the watermark leaves it alone.
 */
export function planChunk(chunk: readonly RecordMessage[], withResult: ReadonlySet<string>, watermark: string | undefined): ChunkPlan {
  if (chunk.length === 0 || chunk.length > CHUNK_SIZE) throw new RangeError(`a discovery chunk holds 1 to ${CHUNK_SIZE} records, got ${chunk.length}`);
  const send = chunk.filter((record) => !withResult.has(record.id));
  const last = chunk[chunk.length - 1]!.id;
  const moves = watermark === undefined || isAfter(last, watermark);
  return { send, skippedWithResult: chunk.length - send.length, advanceTo: moves ? last : undefined, watermark: moves ? last : watermark };
}

/**
 * Pure: throws unless the ids are strictly ascending and after `afterId`. The watermark means "everything up to here
 * is done" only if the source keeps its order promise; a source breaking it must stop the run, not lose records.
 */
export function checkOrder(ids: readonly string[], afterId: string | undefined): void {
  let previous = afterId;
  for (const id of ids) {
    if (previous !== undefined && !isAfter(id, previous)) {
      throw new Error(`the record source broke its order: id "${id}" came after "${previous}"; the watermark would skip records`);
    }
    previous = id;
  }
}

/**
 * Ids are compared as DynamoDB compares sort keys (by UTF-8 bytes), so the plan and the store's conditional write agree
 * on "after" for any id; for the ASCII ids record messages allow this is plain string order.
 */
export function isAfter(id: string, other: string): boolean {
  return Buffer.compare(Buffer.from(id, 'utf8'), Buffer.from(other, 'utf8')) > 0;
}
