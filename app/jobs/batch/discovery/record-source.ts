import type { RecordMessage } from '../record-message';

/**
 * Where discovery finds the records of a date. The order is the watermark's contract: records come in ascending id
 * order, strictly after `afterId`, so "everything up to id X is enqueued" is one stored string per date.
 * Adapters: DynamoDB (dynamodb-record-source.ts).
 */
export interface RecordSource {
  page(date: string, afterId: string | undefined, limit: number): Promise<SourcePage>;
}

export interface SourcePage {
  /** The valid records of the page, ascending by id, each normalised into the message discovery enqueues. */
  readonly records: readonly RecordMessage[];
  /** Whether records may follow this page. */
  readonly more: boolean;
  /**
   * Records of the page that cannot become a message (bucket or key missing, a field in the wrong form), reported by
   * id so none disappears silently. They count towards `limit`.
   */
  readonly invalid: readonly InvalidSourceRecord[];
  /**
   * The greatest id the page covered, valid or not: the next page starts after it. Without it a page holding only
   * invalid records could not be stepped over.
   */
  readonly lastId: string | undefined;
}

export interface InvalidSourceRecord {
  readonly id: string;
  /** What is wrong, naming the source attribute; never the attribute's value beyond a short prefix. */
  readonly problem: string;
}
