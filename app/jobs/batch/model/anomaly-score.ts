/**
 * The model's arithmetic, shared by scoring and fitting so the threshold is learned from exactly the score that is
 * later compared with it.
 */
import type { AudioFeatures } from './audio-features';
import type { ModelArtifact } from './model-artifact';

/** √(mean of z²) over the artifact's features: about 1 for a typical training clip, whatever the feature count. */
export function rmsZScore(features: AudioFeatures, model: Pick<ModelArtifact, 'features' | 'scaler'>): number {
  let sum = 0;
  model.features.forEach((name, index) => {
    const z = (features[name] - model.scaler.mean[index]) / model.scaler.std[index];
    sum += z * z;
  });
  return Math.sqrt(sum / model.features.length);
}
