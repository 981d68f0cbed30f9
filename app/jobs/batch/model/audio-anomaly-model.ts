/**
 * The shipped ScoringModel: an audio anomaly detector for machine recordings, a stand-in for a user's own model.
 * Each clip's features (audio-features.ts) are standardised with the artifact's scaler; the score is the RMS of the
 * z-scores, and a clip is anomalous above the artifact's threshold (a high percentile of the training clips' scores).
 *
 * Feature extraction is synchronous CPU work (about a millisecond per second of 16 kHz audio), so score() yields to
 * the event loop between inputs: heartbeats, receives and the stop signal keep running during a batch, and the
 * caller's batch timeout can abort it between two clips.
 */
import { readFile } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import { ConfigError, PermanentError } from '../../../../shared/errors';
import { DEFAULT_DECODE_LIMITS, extractAudioFeatures } from './audio-features';
import { rmsZScore } from './anomaly-score';
import { parseModelArtifact, type ModelArtifact } from './model-artifact';
import type { ScoreOutcome, ScoringInput, ScoringModel } from './scoring-model';
import { UndecodableAudioError } from './undecodable-audio-error';
import type { DecodeLimits } from './wav-decoding';

export class AudioAnomalyModel implements ScoringModel {
  readonly version: string;

  constructor(
    readonly artifact: ModelArtifact,
    private readonly limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
  ) {
    this.version = artifact.version;
  }

  async score(inputs: readonly ScoringInput[], signal: AbortSignal): Promise<readonly ScoreOutcome[]> {
    const outcomes: ScoreOutcome[] = [];
    for (const input of inputs) {
      // The caller's reason (its batch timeout, the stop signal) is what it expects back.
      signal.throwIfAborted();
      outcomes.push(this.scoreOne(input));
      await setImmediate();
    }
    signal.throwIfAborted();
    return outcomes;
  }

  private scoreOne(input: ScoringInput): ScoreOutcome {
    let features;
    try {
      features = extractAudioFeatures(input.bytes, this.limits);
    } catch (error) {
      if (error instanceof PermanentError) return { ok: false, error };
      // Decoding is a pure function of the bytes: a failure it did not foresee would recur on every retry, so it is
      // this input's, not the batch's. The original is kept as the cause for the logs.
      const name = error instanceof Error ? error.name : typeof error;
      return { ok: false, error: new UndecodableAudioError(`audio decoding failed unexpectedly (${name})`, { cause: error }) };
    }
    // Compared once rounded, so a stored score and its verdict never disagree.
    const score = round(rmsZScore(features, this.artifact));
    const { threshold } = this.artifact.rule;
    const details: Record<string, number | string> = { anomalous: score > threshold ? 'yes' : 'no', threshold };
    for (const name of this.artifact.features) details[name] = round(features[name]);
    return { ok: true, score, details };
  }
}

/** Four decimals: well below any meaningful difference, and stored results stay short. */
const round = (value: number) => Math.round(value * 1e4) / 1e4;

/** Reads and validates the artifact once, at start: a bad one stops the worker with the field named. */
export async function loadAudioAnomalyModel(path: string, limits?: DecodeLimits): Promise<AudioAnomalyModel> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ConfigError(`cannot read the model artifact ${path}: ${typeof code === 'string' ? code : 'unknown error'}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`the model artifact ${path} is not valid JSON`);
  }
  return new AudioAnomalyModel(parseModelArtifact(json, `the model artifact ${path}`), limits);
}
