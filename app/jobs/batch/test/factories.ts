import { PermanentError } from '../../../../shared/errors';
import type { ScoreOutcome, ScoringInput, ScoringModel } from '../model/scoring-model';
import { recordMessageBody, type RecordMessage } from '../record-message';
import type { ResultStore, ScoredResult, WriteOutcome } from '../result-store';

/** Builders for the batch job's tests: records, a model and a result store whose behaviour a test steers. */

export const AUDIO_BUCKET = 'recordings';

export function record(n: number, overrides: Partial<RecordMessage> = {}): RecordMessage {
  const id = `rec-${String(n).padStart(5, '0')}`;
  return { id, bucket: AUDIO_BUCKET, key: `2026/12/01/${id}.wav`, date: '2026-12-01', ...overrides };
}

export const recordBody = (n: number, overrides: Partial<RecordMessage> = {}) => recordMessageBody(record(n, overrides));

class NotAudioError extends PermanentError {
  override readonly name = 'NotAudioError';
  readonly reason = 'undecodable-audio';
}

/** Scores an input by its length; `broken` bytes are undecodable. Counts its calls and the inputs each held. */
export class FakeModel implements ScoringModel {
  readonly version = 'fake-1';
  readonly calls: string[][] = [];
  /** Runs before each call: a test's way to delay, hang or fail the model. */
  beforeCall: (inputs: readonly ScoringInput[], signal: AbortSignal) => Promise<void> = async () => undefined;

  async score(inputs: readonly ScoringInput[], signal: AbortSignal): Promise<readonly ScoreOutcome[]> {
    this.calls.push(inputs.map((input) => input.id));
    await this.beforeCall(inputs, signal);
    return inputs.map((input): ScoreOutcome => (Buffer.from(input.bytes).toString() === 'broken'
      ? { ok: false, error: new NotAudioError(`record ${input.id}'s input is not audio`) }
      : { ok: true, score: input.bytes.length }));
  }
}

/**
 * Results in a map, one per id (latest wins), as the real adapters keep them. `failWrite` makes the next write store
 * only its first `storeFirst` results and then fail the rest (reported, or thrown as an adapter must not).
 */
export class MemoryResultStore implements ResultStore {
  readonly name = 'memory';
  readonly maxWriteBatch = 25;
  readonly maxReadBatch = 100;
  readonly results = new Map<string, ScoredResult>();
  readonly writes: string[][] = [];
  existingCalls = 0;
  failWrite?: { storeFirst: number; mode: 'report' | 'throw' };
  failExisting?: Error;

  async existing(ids: readonly string[]): Promise<Set<string>> {
    this.existingCalls++;
    if (this.failExisting !== undefined) throw this.failExisting;
    return new Set(ids.filter((id) => this.results.has(id)));
  }

  async write(results: readonly ScoredResult[]): Promise<WriteOutcome> {
    this.writes.push(results.map((result) => result.id));
    const failing = this.failWrite;
    this.failWrite = undefined;
    const stored = failing === undefined ? results : results.slice(0, failing.storeFirst);
    for (const result of stored) this.results.set(result.id, result);
    if (failing?.mode === 'throw') throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    return {
      written: stored.map((result) => result.id),
      failed: results.slice(stored.length).map((result) => ({ id: result.id, reason: 'throttled' })),
    };
  }
}
