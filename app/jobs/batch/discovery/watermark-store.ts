/**
 * How far discovery got for each date: the greatest record id whose message (or existing result) is known to be in
 * place, together with every id before it. Adapters: DynamoDB (dynamodb-watermark-store.ts).
 */
export interface WatermarkStore {
  read(date: string): Promise<string | undefined>;
  /**
   * Moves the date's watermark up to `id`. Never moves it backwards: a lower or equal id (a backfill, a slower run
   * racing a faster one) leaves it where it is, without an error, so callers need not read before they write.
   */
  advance(date: string, id: string): Promise<void>;
}
