/**
 * The audio anomaly model's artifact: what fitting learned, in a small JSON file the worker loads once at start.
 *
 * ```json
 * {"format":"audio-anomaly-model","version":"audio-anomaly-1-3f9c2a1b","features":["rms_dbfs",…],
 *  "scaler":{"mean":[…],"std":[…]},"rule":{"kind":"rms-z-score","threshold":2.6,"percentile":99,"margin":1.5},
 *  "training":{"clips":400,"seed":20261213,"sampleRate":16000}}
 * ```
 * Parsing is strict and names the bad field, so a hand-edited or truncated artifact stops the worker at start
 * rather than scoring a night's records with nonsense.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../../../../shared/errors';
import { FEATURE_NAMES, type FeatureName } from './audio-features';

export const ARTIFACT_FORMAT = 'audio-anomaly-model';

/** Root-mean-square of the standardised features: a diagonal Mahalanobis distance divided by √(feature count). */
export const RULE_KINDS = ['rms-z-score'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export interface ModelArtifact {
  readonly format: typeof ARTIFACT_FORMAT;
  readonly version: string;
  readonly features: readonly FeatureName[];
  readonly scaler: { readonly mean: readonly number[]; readonly std: readonly number[] };
  /** `percentile` and `margin` record how the threshold was chosen (see fit-model.ts); only `threshold` is used. */
  readonly rule: { readonly kind: RuleKind; readonly threshold: number; readonly percentile?: number; readonly margin?: number };
  /** How it was fitted, for people; never read by the model. */
  readonly training?: Readonly<Record<string, number | string>>;
}

/**
 * The version follows from what the model computes (features, scaler, rule), so a refit that changes nothing keeps
 * it and any change gives a new one: results stored with it tell which model scored them.
 */
export function artifactVersion(artifact: Pick<ModelArtifact, 'features' | 'scaler' | 'rule'>): string {
  const digest = createHash('sha256').update(JSON.stringify([artifact.features, artifact.scaler, artifact.rule])).digest('hex');
  return `audio-anomaly-1-${digest.slice(0, 8)}`;
}

const VERSION = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export function parseModelArtifact(json: unknown, source = 'the model artifact'): ModelArtifact {
  const bad = (field: string, expected: string) => new ConfigError(`${source}: field "${field}" must be ${expected}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`${source} must be a JSON object`);
  const root = json as Record<string, unknown>;
  if (root.format !== ARTIFACT_FORMAT) throw bad('format', `"${ARTIFACT_FORMAT}"`);
  if (typeof root.version !== 'string' || !VERSION.test(root.version)) throw bad('version', 'a version string (letters, digits, . _ : -; at most 64)');
  if (!Array.isArray(root.features) || root.features.length === 0) throw bad('features', `a non-empty list of feature names (${FEATURE_NAMES.join(', ')})`);
  const features = root.features.map((name, index) => {
    if (typeof name !== 'string' || !(FEATURE_NAMES as readonly string[]).includes(name)) throw bad(`features[${index}]`, `one of ${FEATURE_NAMES.join(', ')}`);
    return name as FeatureName;
  });
  if (new Set(features).size !== features.length) throw bad('features', 'a list without repeats');
  const scaler = objectField(root.scaler, () => bad('scaler', 'an object with "mean" and "std"'));
  const numbers = (field: string, value: unknown, valid: (n: number) => boolean, expected: string): number[] => {
    if (!Array.isArray(value) || value.length !== features.length) throw bad(field, `a list of ${features.length} numbers, one per feature`);
    return value.map((n, index) => {
      if (typeof n !== 'number' || !valid(n)) throw bad(`${field}[${index}]`, expected);
      return n;
    });
  };
  const mean = numbers('scaler.mean', scaler.mean, Number.isFinite, 'a finite number');
  // A zero std would divide by zero: fitting floors it, so a zero here is a damaged artifact.
  const std = numbers('scaler.std', scaler.std, (n) => Number.isFinite(n) && n > 0, 'a finite number above 0');
  const rule = objectField(root.rule, () => bad('rule', 'an object with "kind" and "threshold"'));
  if (typeof rule.kind !== 'string' || !(RULE_KINDS as readonly string[]).includes(rule.kind)) throw bad('rule.kind', `one of ${RULE_KINDS.join(', ')}`);
  if (typeof rule.threshold !== 'number' || !Number.isFinite(rule.threshold) || rule.threshold <= 0) throw bad('rule.threshold', 'a finite number above 0');
  if (rule.percentile !== undefined && (typeof rule.percentile !== 'number' || !(rule.percentile > 0 && rule.percentile <= 100))) throw bad('rule.percentile', 'a number in (0, 100]');
  if (rule.margin !== undefined && (typeof rule.margin !== 'number' || !(rule.margin >= 1 && Number.isFinite(rule.margin)))) throw bad('rule.margin', 'a finite number of at least 1');
  let training: Record<string, number | string> | undefined;
  if (root.training !== undefined) {
    training = {};
    for (const [key, value] of Object.entries(objectField(root.training, () => bad('training', 'an object')))) {
      if (typeof value !== 'number' && typeof value !== 'string') throw bad(`training.${key}`, 'a number or a string');
      training[key] = value;
    }
  }
  return {
    format: ARTIFACT_FORMAT,
    version: root.version,
    features,
    scaler: { mean, std },
    rule: {
      kind: rule.kind as RuleKind,
      threshold: rule.threshold,
      ...(rule.percentile !== undefined ? { percentile: rule.percentile as number } : {}),
      ...(rule.margin !== undefined ? { margin: rule.margin as number } : {}),
    },
    ...(training !== undefined ? { training } : {}),
  };
}

function objectField(value: unknown, fail: () => Error): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail();
  return value as Record<string, unknown>;
}

/** Two-space JSON with a final newline: the committed file is exactly this, so a refit can be compared byte for byte. */
export function serialiseModelArtifact(artifact: ModelArtifact): string {
  return `${JSON.stringify(artifact, null, 2)}\n`;
}
