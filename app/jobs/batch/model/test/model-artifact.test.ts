import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../../../shared/errors';
import { loadAudioAnomalyModel } from '../audio-anomaly-model';
import { parseModelArtifact } from '../model-artifact';
import { validArtifactJson } from './factories';

describe('parseModelArtifact', () => {
  it('accepts a valid artifact', () => {
    expect(parseModelArtifact(validArtifactJson())).toMatchObject({ version: 'test-1', rule: { threshold: 2.5 } });
  });

  const change = (edit: (json: Record<string, any>) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const json = validArtifactJson();
    edit(json);
    return json;
  };

  it.each<[string, unknown, RegExp]>([
    ['not an object', [], /must be a JSON object/],
    ['another format', change((json) => { json.format = 'onnx'; }), /field "format" must be "audio-anomaly-model"/],
    ['no version', change((json) => { delete json.version; }), /field "version"/],
    ['an unknown feature', change((json) => { json.features[1] = 'loudness'; }), /field "features\[1\]" must be one of rms_dbfs/],
    ['a repeated feature', change((json) => { json.features[1] = 'rms_dbfs'; }), /field "features" must be a list without repeats/],
    ['a short mean', change((json) => { json.scaler.mean = [1]; }), /field "scaler.mean" must be a list of 2 numbers/],
    ['a zero std', change((json) => { json.scaler.std[1] = 0; }), /field "scaler.std\[1\]" must be a finite number above 0/],
    ['a string in mean', change((json) => { json.scaler.mean[0] = '1'; }), /field "scaler.mean\[0\]"/],
    ['no scaler', change((json) => { delete json.scaler; }), /field "scaler"/],
    ['an unknown rule', change((json) => { json.rule.kind = 'isolation-forest'; }), /field "rule.kind" must be one of rms-z-score/],
    ['a negative threshold', change((json) => { json.rule.threshold = -1; }), /field "rule.threshold"/],
    ['a margin below 1', change((json) => { json.rule.margin = 0.5; }), /field "rule.margin"/],
    ['nested training info', change((json) => { json.training = { seed: { a: 1 } }; }), /field "training.seed"/],
  ])('refuses %s, naming the field', (_name, json, message) => {
    expect(() => parseModelArtifact(json)).toThrow(ConfigError);
    expect(() => parseModelArtifact(json)).toThrow(message);
  });
});

describe('loadAudioAnomalyModel', () => {
  it('names the file that is missing or not JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'artifact-'));
    await expect(loadAudioAnomalyModel(join(dir, 'missing.json'))).rejects.toThrow(/cannot read the model artifact .*missing\.json: ENOENT/);
    await writeFile(join(dir, 'cut.json'), '{"format": "audio-anom');
    await expect(loadAudioAnomalyModel(join(dir, 'cut.json'))).rejects.toThrow(/cut\.json is not valid JSON/);
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ ...validArtifactJson(), rule: { kind: 'rms-z-score' } }));
    await expect(loadAudioAnomalyModel(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json: field "rule.threshold"/);
  });

  it('takes its version from the artifact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'artifact-'));
    await writeFile(join(dir, 'model.json'), JSON.stringify(validArtifactJson()));
    expect((await loadAudioAnomalyModel(join(dir, 'model.json'))).version).toBe('test-1');
  });
});
