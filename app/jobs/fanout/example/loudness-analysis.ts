/**
 * Loudness and activity per second of mono audio: pure functions of the samples, no I/O, so the numbers are tested
 * on synthetic signals without files.
 */
import { amplitudeToDbfs, FLOOR_DBFS, powerToDbfs, round } from './decibels';

/** About the level of quiet speech a metre away on a typical recorder: below it, a second counts as silence. */
export const DEFAULT_ACTIVITY_THRESHOLD_DBFS = -45;

export interface LoudnessSecond {
  /** 0 for the first second; the last one may be partial. */
  readonly second: number;
  readonly sampleCount: number;
  /** Mean of the squared samples: kept unrounded so the whole file's level is exact. */
  readonly meanSquare: number;
  readonly rmsDbfs: number;
  readonly peakDbfs: number;
  /** The RMS level is strictly above the threshold. */
  readonly active: boolean;
}

export interface LoudnessSummary {
  readonly seconds: number;
  readonly activity_threshold_dbfs: number;
  /** The energy average over the whole file (an equivalent continuous level, Leq), not the mean of the dB values. */
  readonly mean_rms_dbfs: number;
  readonly max_peak_dbfs: number;
  readonly active_seconds: number;
  readonly active_fraction: number;
}

export function loudnessPerSecond(samples: Float32Array, sampleRate: number, thresholdDbfs = DEFAULT_ACTIVITY_THRESHOLD_DBFS): LoudnessSecond[] {
  const rows: LoudnessSecond[] = [];
  for (let start = 0, second = 0; start < samples.length; start += sampleRate, second++) {
    const end = Math.min(start + sampleRate, samples.length);
    let sumSquares = 0;
    let peak = 0;
    for (let i = start; i < end; i++) {
      const value = samples[i];
      sumSquares += value * value;
      peak = Math.max(peak, Math.abs(value));
    }
    const meanSquare = sumSquares / (end - start);
    const rmsDbfs = powerToDbfs(meanSquare);
    rows.push({ second, sampleCount: end - start, meanSquare, rmsDbfs, peakDbfs: amplitudeToDbfs(peak), active: rmsDbfs > thresholdDbfs });
  }
  return rows;
}

export function loudnessSummary(rows: readonly LoudnessSecond[], thresholdDbfs: number): LoudnessSummary {
  const samples = rows.reduce((sum, row) => sum + row.sampleCount, 0);
  const energy = rows.reduce((sum, row) => sum + row.meanSquare * row.sampleCount, 0);
  const active = rows.filter((row) => row.active).length;
  return {
    seconds: rows.length,
    activity_threshold_dbfs: thresholdDbfs,
    mean_rms_dbfs: round(powerToDbfs(samples > 0 ? energy / samples : 0), 2),
    max_peak_dbfs: round(rows.reduce((max, row) => Math.max(max, row.peakDbfs), FLOOR_DBFS), 2),
    active_seconds: active,
    active_fraction: rows.length > 0 ? round(active / rows.length, 4) : 0,
  };
}
