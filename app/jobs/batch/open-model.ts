import { AudioAnomalyModel, loadAudioAnomalyModel } from './model/audio-anomaly-model';
import { parseModelArtifact } from './model/model-artifact';
import type { ScoringModel } from './model/scoring-model';
import shippedArtifact from './model/audio-anomaly-model.json';

/**
 * The model, loaded once at start: MODEL_PATH's artifact, or the shipped one (bundled into the worker, so the image
 * needs no extra file). A user's own model replaces this function's body (see the batch README, "Your own model").
 */
export async function openModel(modelPath: string | undefined): Promise<ScoringModel> {
  if (modelPath !== undefined) return loadAudioAnomalyModel(modelPath);
  return new AudioAnomalyModel(parseModelArtifact(shippedArtifact, 'the shipped model artifact'));
}
