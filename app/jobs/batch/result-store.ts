/**
 * Where a record's score goes, keyed by the record's natural id: writing the same id twice (a redelivery, two tasks
 * racing) leaves one result. The latest write wins, so a newer model version's score replaces an older one; the
 * result carries its `modelVersion` to tell them apart. Adapters: DynamoDB (dynamodb-result-store.ts).
 */
export interface ScoredResult {
  readonly id: string;
  readonly score: number;
  readonly modelVersion: string;
  readonly scoredAt: string;
  /** A few named figures worth keeping beside the score (features, the threshold); never the input's content. */
  readonly details?: Readonly<Record<string, number | string>>;
}

export interface WriteOutcome {
  /** Ids whose results are durable now: their messages may be deleted. */
  readonly written: readonly string[];
  /** Ids the store did not take after its retries; their messages stay for a redelivery. */
  readonly failed: readonly { readonly id: string; readonly reason: string }[];
}

export interface ResultStore {
  readonly name: string;
  /** The store's own limits, which the job's chunks stay within. */
  readonly maxWriteBatch: number;
  readonly maxReadBatch: number;
  /** Which of these ids already have a result (any number of ids; read in chunks). */
  existing(ids: readonly string[]): Promise<Set<string>>;
  /** Writes the results (any number; in chunks). Never throws for a partial failure: it is in `failed`. */
  write(results: readonly ScoredResult[]): Promise<WriteOutcome>;
}

/** Pure: the items `size` at a time. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`a chunk size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}
