/**
 * Fitting the audio anomaly model from feature vectors of normal clips. Pure: the caller supplies the features.
 *
 * - scaler: each feature's mean and population standard deviation over the training clips, the std floored at
 *   STD_FLOOR_FRACTION of the mean's magnitude (and at MIN_STD) so a feature that barely varies in training cannot
 *   turn a tiny deviation into a huge z-score;
 * - rule: the threshold is the given percentile (99 by default, nearest rank) of the training clips' own scores,
 *   times a margin (1.5 by default). The percentile alone would flag about 1% of normal clips by definition, and a
 *   few hundred training clips estimate that tail poorly (a held-out set went 1.6% over it); the margin buys a
 *   false-alarm rate near zero for normal clips like the training ones, at the cost of missing anomalies subtler than
 *   that. Lower the percentile or the margin to catch more and flag more normal clips.
 *
 * Numbers are rounded to 6 significant digits before the threshold is computed from them: the artifact stays small
 * and readable, the threshold is learned from exactly the scaler that is stored, and the file is the same bytes on
 * every machine.
 */
import type { AudioFeatures, FeatureName } from './audio-features';
import { rmsZScore } from './anomaly-score';
import { ARTIFACT_FORMAT, artifactVersion, type ModelArtifact } from './model-artifact';

export const DEFAULT_PERCENTILE = 99;
export const DEFAULT_MARGIN = 1.5;
const STD_FLOOR_FRACTION = 1e-3;
const MIN_STD = 1e-6;

export interface FitOptions {
  readonly features: readonly FeatureName[];
  readonly percentile?: number;
  readonly margin?: number;
  /** Recorded in the artifact for people (seed, clip count, sample rate). */
  readonly training?: Readonly<Record<string, number | string>>;
}

export function fitAudioAnomalyModel(rows: readonly AudioFeatures[], options: FitOptions): ModelArtifact {
  const percentile = options.percentile ?? DEFAULT_PERCENTILE;
  const margin = options.margin ?? DEFAULT_MARGIN;
  if (rows.length < 2) throw new RangeError(`fitting needs at least 2 training clips, got ${rows.length}`);
  if (!(percentile > 0 && percentile <= 100)) throw new RangeError(`the percentile must be in (0, 100], got ${percentile}`);
  if (!(margin >= 1 && Number.isFinite(margin))) throw new RangeError(`the margin must be a finite number of at least 1, got ${margin}`);
  const mean: number[] = [];
  const std: number[] = [];
  for (const name of options.features) {
    const values = rows.map((row) => row[name]);
    const average = values.reduce((sum, value) => sum + value, 0) / values.length;
    const variance = values.reduce((sum, value) => sum + (value - average) ** 2, 0) / values.length;
    mean.push(significant(average));
    std.push(significant(Math.max(Math.sqrt(variance), Math.abs(average) * STD_FLOOR_FRACTION, MIN_STD)));
  }
  const scaler = { mean, std };
  const scores = rows.map((row) => rmsZScore(row, { features: options.features, scaler })).sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((percentile / 100) * scores.length));
  // Rounded up, so the training clip at the percentile itself stays at or below the threshold.
  const threshold = Math.ceil(scores[rank - 1] * margin * 1e4) / 1e4;
  const rule = { kind: 'rms-z-score' as const, threshold, percentile, margin };
  const features = [...options.features];
  return {
    format: ARTIFACT_FORMAT,
    version: artifactVersion({ features, scaler, rule }),
    features,
    scaler,
    rule,
    ...(options.training !== undefined ? { training: { ...options.training } } : {}),
  };
}

const significant = (value: number) => Number(value.toPrecision(6));
