import { MongoBulkWriteError, MongoServerError, type AnyBulkWriteOperation, type Collection, type WithoutId, type WriteError } from 'mongodb';
import { chunks, type ResultStore, type ScoredResult, type WriteOutcome } from './result-store';

/** A stored result: the record id is `_id`, so MongoDB's own unique index on `_id` keeps one result per record. */
export interface ResultDocument {
  readonly _id: string;
  readonly score: number;
  readonly modelVersion: string;
  readonly scoredAt: string;
  readonly details?: Readonly<Record<string, number | string>>;
}

/**
 * Chunk sizes: MongoDB takes up to 100,000 operations per bulk write, but 500 (the job's default batch) keeps one
 * failed call's blast radius small and its fallback, one write per result, short. `$in` lists of 1,000 ids stay far
 * below the 16 MB command limit for any sane id.
 */
const MAX_WRITE_BATCH = 500;
const MAX_READ_BATCH = 1000;
const DUPLICATE_KEY = 11000;

type Failure = { id: string; reason: string };

/**
 * Results in a MongoDB collection keyed by `_id` = record id. A write is a replace with upsert, so the latest write
 * wins whole (no field of an older model version lingers) and a redelivery writes the same document again.
 *
 * Duplicate keys: two upserts of the same new `_id` racing can make one of them fail with E11000 although the other
 * writer's result is durable. That op is retried once, alone: the document now exists, so the retry replaces it and
 * this writer's result (perhaps a newer model version's) is the one kept. An id is reported `written` only when this
 * call's own result for it is durable; if the retry fails too, it is `failed` and its message stays for redelivery.
 *
 * Error shapes: real MongoDB with `ordered: false` writes every op it can and throws a `MongoBulkWriteError` listing
 * the failed ones by index; only those are failed. jongodb (the test server) runs bulk writes ordered and all-or-
 * nothing: a duplicate fails the whole call with a top-level 11000 and no `writeErrors`, so the chunk is written
 * again one result at a time (replaces are idempotent, so rewriting ops that did land is harmless). Any other error
 * leaves the chunk's outcome unknown: all its ids are failed, never written.
 */
export class MongoDbResultStore implements ResultStore {
  readonly name = 'mongodb';
  readonly maxWriteBatch = MAX_WRITE_BATCH;
  readonly maxReadBatch = MAX_READ_BATCH;

  constructor(private readonly collection: Collection<ResultDocument>) {}

  async existing(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const chunk of chunks([...new Set(ids)], MAX_READ_BATCH)) {
      const documents = await this.collection.find({ _id: { $in: chunk } }, { projection: { _id: 1 } }).toArray();
      for (const document of documents) found.add(document._id);
    }
    return found;
  }

  async write(results: readonly ScoredResult[]): Promise<WriteOutcome> {
    // One op per id: the last result given for an id is the one written, as in the DynamoDB adapter.
    const latest = new Map(results.map((result) => [result.id, result]));
    const written: string[] = [];
    const failed: Failure[] = [];
    for (const chunk of chunks([...latest.values()], MAX_WRITE_BATCH)) {
      const outcome = await this.writeChunk(chunk);
      written.push(...outcome.written);
      failed.push(...outcome.failed);
    }
    return { written, failed };
  }

  private async writeChunk(chunk: readonly ScoredResult[]): Promise<WriteOutcome> {
    const ids = chunk.map((result) => result.id);
    try {
      await this.collection.bulkWrite(chunk.map(replaceOp), { ordered: false });
      return { written: ids, failed: [] };
    } catch (error) {
      const concern = error instanceof MongoBulkWriteError ? error.result?.getWriteConcernError() : undefined;
      if (concern !== undefined) {
        // Applied on the primary but not acknowledged at the write concern asked for: not known durable.
        const reason = `write concern not satisfied: ${concern.code ?? 'no code'} ${concern.errmsg ?? 'no message'}`;
        return { written: [], failed: ids.map((id) => ({ id, reason })) };
      }
      const perIndex = writeErrorsOf(error);
      if (perIndex.length > 0) return this.settlePartial(chunk, perIndex);
      if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return this.writeOneByOne(chunk);
      return { written: [], failed: ids.map((id) => ({ id, reason: describe(error) })) };
    }
  }

  /** Real MongoDB's unordered result: every op not named in `writeErrors` was applied. */
  private async settlePartial(chunk: readonly ScoredResult[], writeErrors: readonly WriteError[]): Promise<WriteOutcome> {
    const byIndex = new Map(writeErrors.map((writeError) => [writeError.index, writeError]));
    const written: string[] = [];
    const failed: Failure[] = [];
    // Once a retry finds the server unreachable, the other retries would each wait out the same timeout.
    let unreachable: string | undefined;
    for (const [index, result] of chunk.entries()) {
      const writeError = byIndex.get(index);
      if (writeError === undefined) {
        written.push(result.id);
      } else if (writeError.code !== DUPLICATE_KEY) {
        failed.push({ id: result.id, reason: `MongoDB write error ${writeError.code}: ${writeError.errmsg ?? 'no message'}` });
      } else if (unreachable !== undefined) {
        failed.push({ id: result.id, reason: unreachable });
      } else {
        const problem = await this.writeOne(result);
        if (problem === undefined) written.push(result.id);
        else failed.push({ id: result.id, reason: problem.reason });
        if (problem?.unknown === true) unreachable = problem.reason;
      }
    }
    return { written, failed };
  }

  private async writeOneByOne(chunk: readonly ScoredResult[]): Promise<WriteOutcome> {
    const written: string[] = [];
    const failed: Failure[] = [];
    for (const [index, result] of chunk.entries()) {
      const problem = await this.writeOne(result);
      if (problem === undefined) {
        written.push(result.id);
      } else if (problem.unknown) {
        failed.push(...chunk.slice(index).map((rest) => ({ id: rest.id, reason: problem.reason })));
        break;
      } else {
        failed.push({ id: result.id, reason: problem.reason });
      }
    }
    return { written, failed };
  }

  /**
   * One result, with one retry on a duplicate key. Undefined when durable; otherwise why not, and whether the
   * failure says nothing about the server's state (`unknown`: not a server's answer about this document).
   */
  private async writeOne(result: ScoredResult): Promise<{ reason: string; unknown: boolean } | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.collection.replaceOne({ _id: result.id }, toDocument(result), { upsert: true });
        return undefined;
      } catch (error) {
        const duplicate = error instanceof MongoServerError && error.code === DUPLICATE_KEY;
        if (duplicate && attempt === 0) continue;
        return { reason: duplicate ? `duplicate key after one retry: ${describe(error)}` : describe(error), unknown: !(error instanceof MongoServerError) };
      }
    }
  }
}

function replaceOp(result: ScoredResult): AnyBulkWriteOperation<ResultDocument> {
  return { replaceOne: { filter: { _id: result.id }, replacement: toDocument(result), upsert: true } };
}

/** The document without `_id`: an upsert takes it from the filter, and a replace may not change it. */
function toDocument(result: ScoredResult): WithoutId<ResultDocument> {
  const { id: _id, ...rest } = result;
  return rest;
}

/** The driver types one WriteError or an array of them (its WriteError class is not exported at run time). */
function writeErrorsOf(error: unknown): WriteError[] {
  if (!(error instanceof MongoBulkWriteError)) return [];
  const writeErrors: unknown = error.writeErrors;
  return Array.isArray(writeErrors) ? [...(writeErrors as WriteError[])] : writeErrors === undefined ? [] : [writeErrors as WriteError];
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${error.name}${code === undefined ? '' : ` ${String(code)}`}: ${error.message}`;
}
