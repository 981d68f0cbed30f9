/** One batch of a run: its number and the object keys in it (stored at run-layout's `batchKey`). */
export interface Batch {
  readonly index: number;
  readonly keys: readonly string[];
}

export const DEFAULT_BATCH_SIZE = 50;

/** Pure: the keys in order, `size` at a time; the last batch holds the rest. */
export function planBatches(keys: readonly string[], size: number = DEFAULT_BATCH_SIZE): Batch[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`a batch size must be a positive integer, got ${size}`);
  const batches: Batch[] = [];
  for (let start = 0; start < keys.length; start += size) batches.push({ index: batches.length, keys: keys.slice(start, start + size) });
  return batches;
}
