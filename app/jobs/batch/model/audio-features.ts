/**
 * A clip's feature vector: a few robust numbers that describe how a machine sounds, from the WAV bytes. Pure: no I/O.
 *
 * Level and shape over time come from the samples: RMS level, crest factor (peak over RMS: clicks and bursts raise it),
 * zero-crossing rate, and the spread of the level between 32 ms blocks (dropouts and bursts raise it, a steady hum
 * keeps it low). Spectral shape comes from the power spectrum averaged over Hann-windowed frames of FRAME_SIZE
 * samples at 50% overlap: centroid, flatness and the share of energy above HIGH_BAND_HZ (a squeal raises the three).
 * Ratios are in dB so their spread is closer to normal, which is what a z-score assumes.
 */
import FFT from 'fft.js';
import { decodeWavToMono, type DecodeLimits } from './wav-decoding';
import { UndecodableAudioError } from './undecodable-audio-error';

export const FEATURE_NAMES = [
  'rms_dbfs', 'crest_factor_db', 'zero_crossings_per_s', 'level_spread_db', 'spectral_centroid_hz', 'spectral_flatness_db', 'high_band_ratio_db',
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];
export type AudioFeatures = Readonly<Record<FeatureName, number>>;

export const FRAME_SIZE = 1024;
export const LEVEL_BLOCK_SECONDS = 0.032;
export const HIGH_BAND_HZ = 2000;
/** The floor of every dB value: far below 16-bit audio's last bit (about -96 dBFS), so only silence reaches it. */
export const FLOOR_DB = -120;

/** Ten minutes at 16 kHz, three and a half at 48 kHz: 40 MB of mono samples at most per clip. */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxFrames: 10_000_000, minFrames: FRAME_SIZE };

/** Bound once: the hot loops below would otherwise look up a global per sample, which is slow in a vm context (jest). */
const { abs, log } = Math;

export function extractAudioFeatures(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): AudioFeatures {
  const audio = decodeWavToMono(bytes, { ...limits, minFrames: Math.max(limits.minFrames, FRAME_SIZE) });
  const features = featuresOfSamples(audio.samples, audio.sampleRate);
  // Finite samples of absurd size (a float file at 1e30) could still overflow a sum: never hand a NaN to the model.
  for (const name of FEATURE_NAMES) {
    if (!Number.isFinite(features[name])) throw new UndecodableAudioError(`audio features not computable: ${name} is not finite (sample values out of range)`);
  }
  return features;
}

const decibels = (ratio: number, factor = 10) => (ratio > 0 ? Math.max(FLOOR_DB, factor * Math.log10(ratio)) : FLOOR_DB);

/** Needs at least FRAME_SIZE samples; extractAudioFeatures guarantees it. */
export function featuresOfSamples(samples: Float32Array, sampleRate: number): AudioFeatures {
  let sumSquares = 0;
  let peak = 0;
  let crossings = 0;
  for (let n = 0; n < samples.length; n++) {
    const value = samples[n];
    sumSquares += value * value;
    const magnitude = abs(value);
    if (magnitude > peak) peak = magnitude;
    // A sample of exactly 0 counts with the positives, so silence and a DC offset give no crossings.
    if (n > 0 && (value < 0) !== (samples[n - 1] < 0)) crossings++;
  }
  const meanSquare = sumSquares / samples.length;
  const rms = Math.sqrt(meanSquare);
  const spectrum = spectralShape(samples, sampleRate);
  return {
    rms_dbfs: decibels(meanSquare),
    crest_factor_db: rms > 0 ? decibels(peak / rms, 20) : 0,
    zero_crossings_per_s: (crossings * sampleRate) / samples.length,
    level_spread_db: levelSpread(samples, Math.max(1, Math.round(LEVEL_BLOCK_SECONDS * sampleRate))),
    spectral_centroid_hz: spectrum.centroidHz,
    spectral_flatness_db: spectrum.flatnessDb,
    high_band_ratio_db: spectrum.highBandRatioDb,
  };
}

/** The standard deviation of the blocks' RMS levels in dB; a last partial block is left out (its level is noisier). */
function levelSpread(samples: Float32Array, blockSize: number): number {
  const blocks = Math.floor(samples.length / blockSize);
  if (blocks < 2) return 0;
  let sum = 0;
  let sumSquares = 0;
  for (let block = 0; block < blocks; block++) {
    let energy = 0;
    for (let n = block * blockSize; n < (block + 1) * blockSize; n++) energy += samples[n] * samples[n];
    const level = decibels(energy / blockSize);
    sum += level;
    sumSquares += level * level;
  }
  const mean = sum / blocks;
  return Math.sqrt(Math.max(0, sumSquares / blocks - mean * mean));
}

interface SpectralShape {
  readonly centroidHz: number;
  readonly flatnessDb: number;
  readonly highBandRatioDb: number;
}

/** Keeps log() finite on an exactly silent bin, far below anything audible. */
const TINY_POWER = 1e-20;

/** Built once: the FFT's twiddle table and the window cost as much as a short clip's transforms. */
const fft = new FFT(FRAME_SIZE);
const window = Float64Array.from({ length: FRAME_SIZE }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / FRAME_SIZE));

function spectralShape(samples: Float32Array, sampleRate: number): SpectralShape {
  const frame = new Float64Array(FRAME_SIZE);
  const out = fft.createComplexArray() as number[];
  const bins = FRAME_SIZE / 2;
  const power = new Float64Array(bins + 1);
  const hop = FRAME_SIZE / 2;
  let frames = 0;
  for (let start = 0; start + FRAME_SIZE <= samples.length; start += hop, frames++) {
    for (let n = 0; n < FRAME_SIZE; n++) frame[n] = samples[start + n] * window[n];
    fft.realTransform(out, frame);
    for (let bin = 0; bin <= bins; bin++) power[bin] += out[2 * bin] * out[2 * bin] + out[2 * bin + 1] * out[2 * bin + 1];
  }
  // The DC bin is left out: an offset is not a sound.
  const binHz = sampleRate / FRAME_SIZE;
  let total = 0;
  let weighted = 0;
  let high = 0;
  let logSum = 0;
  for (let bin = 1; bin <= bins; bin++) {
    const value = power[bin] / frames;
    total += value;
    weighted += value * bin * binHz;
    if (bin * binHz >= HIGH_BAND_HZ) high += value;
    logSum += log(value + TINY_POWER);
  }
  if (total <= TINY_POWER * bins) return { centroidHz: 0, flatnessDb: 0, highBandRatioDb: FLOOR_DB };
  const geometricMean = Math.exp(logSum / bins);
  return {
    centroidHz: weighted / total,
    flatnessDb: decibels(geometricMean / (total / bins)),
    highBandRatioDb: decibels(high / total),
  };
}
