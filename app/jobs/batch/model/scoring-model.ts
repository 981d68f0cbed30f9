import type { PermanentError } from '../../../../shared/errors';

/** One record's input, fetched from S3: the bytes of its audio file. */
export interface ScoringInput {
  readonly id: string;
  readonly bytes: Uint8Array;
}

/**
 * One record's score, or why its input can never be scored (undecodable, not audio, too short): a PermanentError
 * that dead-letters that record alone, never the rest of the batch.
 */
export type ScoreOutcome =
  | { readonly ok: true; readonly score: number; readonly details?: Readonly<Record<string, number | string>> }
  | { readonly ok: false; readonly error: PermanentError };

/**
 * The model the batch job calls once per batch, loaded once at start from an artifact file. The shipped one is a
 * small audio anomaly model (model/audio-anomaly-model.ts), a stand-in for a user's own: anything implementing this
 * port plugs in (see the batch README, "Your own model").
 */
export interface ScoringModel {
  /** Stored with every result, so a newer model's scores can be told from an older one's. */
  readonly version: string;
  /** One outcome per input, in order. Throws only when the whole call failed (then every record is retried). */
  score(inputs: readonly ScoringInput[], signal: AbortSignal): Promise<readonly ScoreOutcome[]>;
}
