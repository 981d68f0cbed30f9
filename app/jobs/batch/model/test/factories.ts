import type { ScoringInput } from '../scoring-model';
import { encodeWav, type WavEncoding } from '../wav-encoding';

export const RATE = 16000;

export function tone(frequencyHz: number, seconds: number, amplitude = 0.5, sampleRate = RATE): Float32Array {
  const samples = new Float32Array(Math.round(seconds * sampleRate));
  for (let n = 0; n < samples.length; n++) samples[n] = amplitude * Math.sin((2 * Math.PI * frequencyHz * n) / sampleRate);
  return samples;
}

export function wav(samples: Float32Array | readonly Float32Array[], encoding?: WavEncoding, sampleRate = RATE): Uint8Array {
  return encodeWav(samples instanceof Float32Array ? [samples] : samples, sampleRate, encoding);
}

export const input = (id: string, bytes: Uint8Array): ScoringInput => ({ id, bytes });

/** A copy of a valid clip with a little-endian field overwritten at a byte offset of the canonical header. */
export function patched(bytes: Uint8Array, offset: number, value: number, size: 2 | 4): Uint8Array {
  const copy = bytes.slice();
  const view = new DataView(copy.buffer);
  if (size === 2) view.setUint16(offset, value, true);
  else view.setUint32(offset, value, true);
  return copy;
}

/** The canonical PCM layout's offsets (wav-encoding.ts): fmt fields from byte 20, data size at 40. */
export const HEADER = { audioFormat: 20, channels: 22, sampleRate: 24, blockAlign: 32, bitsPerSample: 34, dataSize: 40, riffSize: 4 } as const;

export function validArtifactJson(): Record<string, unknown> {
  return {
    format: 'audio-anomaly-model',
    version: 'test-1',
    features: ['rms_dbfs', 'spectral_centroid_hz'],
    scaler: { mean: [-20, 100], std: [5, 25] },
    rule: { kind: 'rms-z-score', threshold: 2.5, percentile: 99, margin: 1.5 },
  };
}
