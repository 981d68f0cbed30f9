/**
 * Synthetic machine sounds (full scale = ±1), the stand-in for a user's recordings: the training set, the demo set
 * and the tests are made of them. A normal machine hums: a fundamental of 50-120 Hz (mains and motor speeds) with a
 * few decaying harmonics, a little broadband noise, at a level that varies from clip to clip. The anomalies are the
 * faults a listener would flag: clicks and short bursts (a loose part), a squeal at 3-6 kHz (a dry bearing), and
 * dropouts (a failing sensor or cable). Deterministic for a given generator state.
 */
import { between, integerBetween, type Random } from './seeded-random';

/** Bound once: the hot loops below would otherwise look up a global per sample, which is slow in a vm context (jest). */
const { sin, exp } = Math;

export type MachineSoundKind = 'normal' | 'clicks' | 'squeal' | 'dropout';
export const ANOMALY_KINDS: readonly MachineSoundKind[] = ['clicks', 'squeal', 'dropout'];

export interface ClipShape {
  readonly sampleRate: number;
  readonly seconds: number;
}

export const DEFAULT_CLIP: ClipShape = { sampleRate: 16000, seconds: 1.5 };

export function machineSound(kind: MachineSoundKind, random: Random, shape: ClipShape = DEFAULT_CLIP): Float32Array {
  const { samples, amplitude } = hum(random, shape);
  if (kind === 'clicks') addClicks(samples, amplitude, random, shape.sampleRate);
  else if (kind === 'squeal') addSqueal(samples, amplitude, random, shape.sampleRate);
  else if (kind === 'dropout') addDropouts(samples, random, shape.sampleRate);
  return samples;
}

function hum(random: Random, { sampleRate, seconds }: ClipShape): { samples: Float32Array; amplitude: number } {
  const fundamentalHz = between(random, 50, 120);
  const amplitude = between(random, 0.05, 0.4);
  const harmonics = [1, ...Array.from({ length: 4 }, (_, index) => between(random, 0.15, 0.6) / (index + 1))];
  const phases = harmonics.map(() => between(random, 0, 2 * Math.PI));
  const noise = amplitude * between(random, 0.01, 0.04);
  const norm = amplitude / harmonics.reduce((sum, weight) => sum + weight, 0);
  const samples = new Float32Array(Math.round(seconds * sampleRate));
  const step = (2 * Math.PI * fundamentalHz) / sampleRate;
  for (let n = 0; n < samples.length; n++) {
    let value = 0;
    for (let h = 0; h < harmonics.length; h++) value += harmonics[h] * sin((h + 1) * step * n + phases[h]);
    samples[n] = norm * value + noise * (2 * random() - 1);
  }
  return { samples, amplitude };
}

/** A few impulses and bursts of noise, each a few milliseconds, well above the hum's peaks. */
function addClicks(samples: Float32Array, amplitude: number, random: Random, sampleRate: number): void {
  const count = integerBetween(random, 3, 8);
  for (let click = 0; click < count; click++) {
    const length = Math.round(between(random, 0.001, 0.008) * sampleRate);
    const start = integerBetween(random, 0, samples.length - length - 1);
    const level = Math.min(0.99, amplitude * between(random, 2.5, 5));
    for (let n = start; n < start + length; n++) samples[n] += level * (2 * random() - 1) * exp(-(n - start) / (length / 3));
  }
}

/** A tone of 3-6 kHz wavering by a few per cent, about as loud as the hum, over most of the clip. */
function addSqueal(samples: Float32Array, amplitude: number, random: Random, sampleRate: number): void {
  const centreHz = between(random, 3000, 6000);
  const level = amplitude * between(random, 0.3, 0.8);
  const start = integerBetween(random, 0, Math.floor(samples.length / 4));
  const wobbleHz = between(random, 2, 6);
  let phase = 0;
  for (let n = start; n < samples.length; n++) {
    phase += (2 * Math.PI * centreHz * (1 + 0.02 * sin((2 * Math.PI * wobbleHz * n) / sampleRate))) / sampleRate;
    samples[n] += level * sin(phase);
  }
}

/** One to three gaps of 80-300 ms where the signal drops to nothing. */
function addDropouts(samples: Float32Array, random: Random, sampleRate: number): void {
  const count = integerBetween(random, 1, 3);
  for (let gap = 0; gap < count; gap++) {
    const length = Math.round(between(random, 0.08, 0.3) * sampleRate);
    const start = integerBetween(random, 0, samples.length - length - 1);
    samples.fill(0, start, start + length);
  }
}
