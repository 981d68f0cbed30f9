/**
 * Synthetic test signals, full scale = ±1, for the demo set and the tests. Deterministic: noise comes from a seeded
 * generator, so the same arguments give the same samples on every machine.
 */

/** mulberry32: a small, well-distributed 32-bit generator; the same seed gives the same sequence everywhere. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const frames = (seconds: number, sampleRate: number) => Math.round(seconds * sampleRate);

/** A plain loop: Float32Array.from with a mapping function is several times slower on long signals. */
function generate(seconds: number, sampleRate: number, sample: (n: number) => number): Float32Array {
  const samples = new Float32Array(frames(seconds, sampleRate));
  for (let n = 0; n < samples.length; n++) samples[n] = sample(n);
  return samples;
}

export function sine(frequencyHz: number, seconds: number, sampleRate: number, amplitude = 0.5): Float32Array {
  return generate(seconds, sampleRate, (n) => amplitude * Math.sin((2 * Math.PI * frequencyHz * n) / sampleRate));
}

/** A linear sweep: the instantaneous frequency goes from startHz to endHz at a constant rate. */
export function chirp(startHz: number, endHz: number, seconds: number, sampleRate: number, amplitude = 0.5): Float32Array {
  const rate = (endHz - startHz) / seconds;
  return generate(seconds, sampleRate, (n) => {
    const t = n / sampleRate;
    return amplitude * Math.sin(2 * Math.PI * (startHz * t + (rate * t * t) / 2));
  });
}

/** Uniform white noise in [-amplitude, amplitude]: its RMS is amplitude/√3. */
export function whiteNoise(seed: number, seconds: number, sampleRate: number, amplitude = 0.5): Float32Array {
  const random = seededRandom(seed);
  return generate(seconds, sampleRate, () => amplitude * (2 * random() - 1));
}

export function silence(seconds: number, sampleRate: number): Float32Array {
  return new Float32Array(frames(seconds, sampleRate));
}

/** A tone that sounds for the first onSeconds of every period and is silent for the rest. */
export function toneBurst(frequencyHz: number, onSeconds: number, periodSeconds: number, seconds: number, sampleRate: number, amplitude = 0.5): Float32Array {
  const tone = sine(frequencyHz, seconds, sampleRate, amplitude);
  const period = frames(periodSeconds, sampleRate);
  const on = frames(onSeconds, sampleRate);
  return tone.map((value, n) => (n % period < on ? value : 0));
}

/** Sample-wise sum of signals of the same length (the caller keeps the sum within full scale). */
export function mix(...signals: Float32Array[]): Float32Array {
  return signals[0].map((_, n) => signals.reduce((sum, signal) => sum + signal[n], 0));
}

/** The amplitude whose sine has the given RMS level in dBFS. */
export const sineAmplitudeForDbfs = (dbfs: number) => Math.SQRT2 * 10 ** (dbfs / 20);
