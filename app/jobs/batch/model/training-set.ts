/**
 * The shipped model's training recipe: a deterministic set of normal machine clips, encoded as 16-bit WAV and decoded
 * again so their features pass through exactly the path a scored record takes (quantisation included). Changing any
 * number here changes the artifact: run `npm run model:fit` and commit both.
 */
import { extractAudioFeatures, FEATURE_NAMES } from './audio-features';
import { fitAudioAnomalyModel } from './fit-model';
import { machineSound } from './machine-sounds';
import type { ModelArtifact } from './model-artifact';
import { between, seededRandom } from './seeded-random';
import { encodeWav } from './wav-encoding';

/**
 * Every feature but the zero-crossing rate: on a hum with a little noise it counts the noise's extra crossings near
 * each of the hum's, which grows steeply with the noise level, so normal clips reached z-scores of 8-9 on it alone
 * (about 1 in 700 of them over the threshold); the centroid, flatness and high band describe the same change robustly.
 */
export const MODEL_FEATURES = FEATURE_NAMES.filter((name) => name !== 'zero_crossings_per_s');

export const TRAINING = { seed: 20261213, clips: 400, sampleRate: 16000, minSeconds: 1, maxSeconds: 2, percentile: 99, margin: 1.5 } as const;

export function fitShippedModel(): ModelArtifact {
  const random = seededRandom(TRAINING.seed);
  const rows = Array.from({ length: TRAINING.clips }, () => {
    const seconds = Math.round(between(random, TRAINING.minSeconds, TRAINING.maxSeconds) * 100) / 100;
    const samples = machineSound('normal', random, { sampleRate: TRAINING.sampleRate, seconds });
    return extractAudioFeatures(encodeWav([samples], TRAINING.sampleRate));
  });
  return fitAudioAnomalyModel(rows, {
    features: MODEL_FEATURES,
    percentile: TRAINING.percentile,
    margin: TRAINING.margin,
    training: { clips: TRAINING.clips, seed: TRAINING.seed, sampleRate: TRAINING.sampleRate, source: 'synthetic machine hum (machine-sounds.ts)' },
  });
}
