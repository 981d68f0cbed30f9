import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FEATURE_NAMES, type AudioFeatures } from '../audio-features';
import { fitAudioAnomalyModel } from '../fit-model';
import { parseModelArtifact, serialiseModelArtifact } from '../model-artifact';
import { fitShippedModel } from '../training-set';

const row = (rms: number, centroid: number): AudioFeatures =>
  Object.fromEntries(FEATURE_NAMES.map((name) => [name, name === 'rms_dbfs' ? rms : name === 'spectral_centroid_hz' ? centroid : 1])) as AudioFeatures;

describe('fitAudioAnomalyModel', () => {
  it('learns each feature\'s mean and population std, and the threshold from the percentile of training scores times the margin', () => {
    const rows = Array.from({ length: 100 }, (_, index) => row(-20 + (index % 2 === 0 ? 5 : -5), 100 + (index - 49.5)));
    const artifact = fitAudioAnomalyModel(rows, { features: ['rms_dbfs', 'spectral_centroid_hz'], percentile: 90, margin: 1 });
    expect(artifact.scaler.mean).toEqual([-20, 100]);
    expect(artifact.scaler.std[0]).toBe(5);
    expect(artifact.scaler.std[1]).toBeCloseTo(28.866, 3);
    // z of rms is ±1 for every row; z of the centroid runs evenly over ±1.715: the 90th percentile score sits in the top tenth.
    const scores = rows.map((r) => Math.sqrt((1 + ((r.spectral_centroid_hz - 100) / artifact.scaler.std[1]) ** 2) / 2)).sort((a, b) => a - b);
    expect(artifact.rule.threshold).toBeCloseTo(scores[89], 3);
    expect(fitAudioAnomalyModel(rows, { features: ['rms_dbfs', 'spectral_centroid_hz'], percentile: 90, margin: 2 }).rule.threshold).toBeCloseTo(2 * scores[89], 3);
    expect(() => parseModelArtifact(JSON.parse(serialiseModelArtifact(artifact)))).not.toThrow();
  });

  it('floors the std of a feature that never varies, so the artifact stays valid', () => {
    const artifact = fitAudioAnomalyModel([row(-20, 100), row(-20, 100), row(-20, 101)], { features: ['rms_dbfs', 'spectral_centroid_hz'] });
    expect(artifact.scaler.std[0]).toBeCloseTo(0.02, 6);
    expect(() => parseModelArtifact(JSON.parse(serialiseModelArtifact(artifact)))).not.toThrow();
  });

  it('changes the version when the model changes, and only then', () => {
    const rows = [row(-20, 100), row(-25, 120), row(-15, 90)];
    const a = fitAudioAnomalyModel(rows, { features: ['rms_dbfs'], training: { seed: 1 } });
    expect(fitAudioAnomalyModel(rows, { features: ['rms_dbfs'], training: { seed: 2 } }).version).toBe(a.version);
    expect(fitAudioAnomalyModel(rows, { features: ['rms_dbfs'], margin: 2 }).version).not.toBe(a.version);
  });
});

describe('the committed artifact', () => {
  it('is exactly what `npm run model:fit` regenerates', () => {
    const committed = readFileSync(join(__dirname, '..', 'audio-anomaly-model.json'), 'utf8');
    expect(serialiseModelArtifact(fitShippedModel())).toBe(committed);
  });
});
