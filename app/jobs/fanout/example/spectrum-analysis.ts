/**
 * The dominant frequency band per second of mono audio, from averaged FFT power spectra: pure functions of the
 * samples, no I/O. fft.js does the transforms; the framing, windowing, band sums and summary statistics are here.
 *
 * Each second is cut into frames of FRAME_SIZE samples, hopping by half a frame (with a Hann window, 50% overlap weighs
 * every sample about equally). The frames' power spectra are averaged, scaled so that a band's energy is the mean
 * square of the signal's content in that band: a full-scale sine reads -3.01 dB, the same as its RMS level in the
 * loudness program. A second shorter than a frame (the tail of a file) is analysed with the frame that ends where the
 * audio ends; only a file shorter than one frame is zero-padded, which lowers its band energies.
 */
import FFT from 'fft.js';
import { FLOOR_DBFS, powerToDbfs, round } from './decibels';

export const FRAME_SIZE = 2048;
/** The band of a second whose strongest band is below SILENCE_FLOOR_DBFS. */
export const NO_BAND = 'none';
/** About the level of the last bit of 16-bit audio: a second whose strongest band is quieter has no dominant band. */
export const SILENCE_FLOOR_DBFS = -90;

export interface OctaveBand {
  readonly label: string;
  readonly centreHz: number;
  readonly lowHz: number;
  readonly highHz: number;
}

/** Octave bands on the base-2 series around 1 kHz, labelled with their nominal centres (IEC 61260). */
export const OCTAVE_BANDS: readonly OctaveBand[] = ([
  ['31.5', 31.25], ['63', 62.5], ['125', 125], ['250', 250], ['500', 500], ['1k', 1000], ['2k', 2000], ['4k', 4000], ['8k', 8000], ['16k', 16000],
] as const).map(([label, centreHz]) => ({ label, centreHz, lowHz: centreHz / Math.SQRT2, highHz: centreHz * Math.SQRT2 }));

export interface SpectrumSecond {
  readonly second: number;
  /** The strongest single frequency, refined between bins; 0 when the second has no dominant band. */
  readonly dominantHz: number;
  /** An OCTAVE_BANDS label, or NO_BAND. */
  readonly dominantBand: string;
  /** The dominant band's energy in dBFS (FLOOR_DBFS at the least). */
  readonly bandEnergyDb: number;
  /** The power-weighted mean frequency; 0 when the second has no dominant band. */
  readonly centroidHz: number;
  /** Geometric over arithmetic mean of the power spectrum: near 1 for white noise, near 0 for a tone; 0 when silent. */
  readonly flatness: number;
}

export interface SpectrumSummary {
  readonly seconds: number;
  readonly frame_size: number;
  readonly silent_seconds: number;
  /** The band dominant in most seconds, seconds without one left out ("none" only when every second is silent). */
  readonly dominant_band: string;
  readonly dominant_band_seconds: number;
  readonly dominant_hz_median: number;
  readonly spectral_centroid_hz_mean: number;
  readonly spectral_flatness_mean: number;
  readonly max_band_energy_db: number;
}

/** Keeps log() finite on an exactly silent bin: far below the floor, so it never changes a result that is shown. */
const TINY_POWER = 1e-30;

export function dominantBandPerSecond(samples: Float32Array, sampleRate: number, frameSize = FRAME_SIZE): SpectrumSecond[] {
  const analyser = new SpectrumAnalyser(sampleRate, frameSize);
  const rows: SpectrumSecond[] = [];
  for (let start = 0, second = 0; start < samples.length; start += sampleRate, second++) {
    rows.push({ second, ...analyser.describe(analyser.meanPower(samples, start, Math.min(start + sampleRate, samples.length))) });
  }
  return rows;
}

export function spectrumSummary(rows: readonly SpectrumSecond[], frameSize = FRAME_SIZE): SpectrumSummary {
  const voiced = rows.filter((row) => row.dominantBand !== NO_BAND);
  const counts = new Map<string, number>();
  for (const row of voiced) counts.set(row.dominantBand, (counts.get(row.dominantBand) ?? 0) + 1);
  // Ties go to the lower band: OCTAVE_BANDS is in ascending order and only a strictly larger count replaces the choice.
  let dominant = NO_BAND;
  let dominantSeconds = 0;
  for (const { label } of OCTAVE_BANDS) {
    const count = counts.get(label) ?? 0;
    if (count > dominantSeconds) [dominant, dominantSeconds] = [label, count];
  }
  const mean = (values: number[]) => (values.length > 0 ? values.reduce((sum, value) => sum + value, 0) / values.length : 0);
  return {
    seconds: rows.length,
    frame_size: frameSize,
    silent_seconds: rows.length - voiced.length,
    dominant_band: dominant,
    dominant_band_seconds: dominantSeconds,
    dominant_hz_median: round(median(voiced.map((row) => row.dominantHz)), 1),
    spectral_centroid_hz_mean: round(mean(voiced.map((row) => row.centroidHz)), 1),
    spectral_flatness_mean: round(mean(voiced.map((row) => row.flatness)), 4),
    max_band_energy_db: round(rows.reduce((max, row) => Math.max(max, row.bandEnergyDb), FLOOR_DBFS), 2),
  };
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The per-rate tables (window, bin → band), built once per file and reused for every frame. */
class SpectrumAnalyser {
  private readonly fft: FFT;
  private readonly window: Float64Array;
  private readonly frame: Float64Array;
  private readonly spectrum: number[];
  /** Turns |X[k]|² into the mean square the bin holds: 2 for the one-sided spectrum, N·Σw² for the window. */
  private readonly powerScale: number;
  /** Band index of each bin, -1 outside every band (DC, below 22 Hz, above 22.6 kHz, and the Nyquist bin). */
  private readonly bandOfBin: Int16Array;
  private readonly binHz: number;

  constructor(sampleRate: number, private readonly frameSize: number) {
    this.fft = new FFT(frameSize);
    // The periodic Hann window: its 50%-overlapped copies sum to a constant, so no part of a second is favoured.
    this.window = Float64Array.from({ length: frameSize }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / frameSize));
    this.frame = new Float64Array(frameSize);
    this.spectrum = this.fft.createComplexArray();
    this.powerScale = 2 / (frameSize * this.window.reduce((sum, w) => sum + w * w, 0));
    this.binHz = sampleRate / frameSize;
    this.bandOfBin = new Int16Array(frameSize / 2).fill(-1);
    for (let bin = 1; bin < frameSize / 2; bin++) {
      const hz = bin * this.binHz;
      this.bandOfBin[bin] = OCTAVE_BANDS.findIndex((band) => hz >= band.lowHz && hz < band.highHz);
    }
  }

  /** The average power spectrum (bins 0..N/2-1) of the frames covering samples[start, end). */
  meanPower(samples: Float32Array, start: number, end: number): Float64Array {
    const { frameSize } = this;
    const hop = frameSize / 2;
    const starts: number[] = [];
    for (let at = start; at + frameSize <= end; at += hop) starts.push(at);
    if (starts.length === 0) starts.push(Math.max(0, end - frameSize));
    const power = new Float64Array(frameSize / 2);
    for (const at of starts) {
      for (let n = 0; n < frameSize; n++) this.frame[n] = at + n < samples.length ? samples[at + n] * this.window[n] : 0;
      this.fft.realTransform(this.spectrum, this.frame);
      for (let bin = 0; bin < frameSize / 2; bin++) {
        const re = this.spectrum[2 * bin];
        const im = this.spectrum[2 * bin + 1];
        power[bin] += (re * re + im * im) * this.powerScale;
      }
    }
    return power.map((value) => value / starts.length);
  }

  describe(power: Float64Array): Omit<SpectrumSecond, 'second'> {
    const bandPower = new Float64Array(OCTAVE_BANDS.length);
    let total = 0;
    let weighted = 0;
    let logSum = 0;
    let bins = 0;
    let peakBin = -1;
    for (let bin = 0; bin < power.length; bin++) {
      const band = this.bandOfBin[bin];
      if (band < 0) continue;
      bandPower[band] += power[bin];
      total += power[bin];
      weighted += power[bin] * bin * this.binHz;
      logSum += Math.log(power[bin] + TINY_POWER);
      bins++;
      if (peakBin < 0 || power[bin] > power[peakBin]) peakBin = bin;
    }
    let strongest = 0;
    bandPower.forEach((value, band) => (strongest = value > bandPower[strongest] ? band : strongest));
    const bandEnergyDb = round(powerToDbfs(bandPower[strongest]), 2);
    if (peakBin < 0 || bandEnergyDb <= SILENCE_FLOOR_DBFS) {
      return { dominantHz: 0, dominantBand: NO_BAND, bandEnergyDb, centroidHz: 0, flatness: 0 };
    }
    return {
      dominantHz: round(this.refinedHz(power, peakBin), 1),
      dominantBand: OCTAVE_BANDS[strongest].label,
      bandEnergyDb,
      centroidHz: round(weighted / total, 1),
      flatness: round(Math.exp(logSum / bins) / (total / bins), 4),
    };
  }

  /**
   * A tone between two bins spreads over both: fitting a parabola through the log power of the peak and its
   * neighbours finds the frequency to a small fraction of a bin for a Hann window.
   */
  private refinedHz(power: Float64Array, bin: number): number {
    if (bin <= 0 || bin >= power.length - 1) return bin * this.binHz;
    const [before, at, after] = [power[bin - 1], power[bin], power[bin + 1]].map((value) => Math.log(value + TINY_POWER));
    const curvature = before - 2 * at + after;
    const offset = curvature < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (before - after)) / curvature)) : 0;
    return (bin + offset) * this.binHz;
  }
}
