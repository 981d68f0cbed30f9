/**
 * Levels in dB relative to digital full scale. Silence has no finite level and JSON has no -Infinity, so every level is
 * clamped to a floor below the noise of any real recording (16-bit quantisation noise sits near -101 dBFS, the best
 * 24-bit converters near -120).
 */
export const FLOOR_DBFS = -120;

/** 20·log10 of an amplitude (RMS or peak, full scale = 1). A full-scale sine reads 0 dBFS peak, -3.01 dBFS RMS. */
export function amplitudeToDbfs(amplitude: number): number {
  return amplitude > 0 ? Math.max(FLOOR_DBFS, 20 * Math.log10(amplitude)) : FLOOR_DBFS;
}

/** 10·log10 of a mean square (a power), on the same scale as amplitudeToDbfs. */
export function powerToDbfs(power: number): number {
  return power > 0 ? Math.max(FLOOR_DBFS, 10 * Math.log10(power)) : FLOOR_DBFS;
}

/** Rounds for output; never yields -0, which JSON.stringify writes as 0 but CSV writers print as "-0". */
export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  const rounded = Math.round(value * factor) / factor;
  return rounded === 0 ? 0 : rounded;
}
