import { FLOOR_DBFS } from '../decibels';
import { DEFAULT_ACTIVITY_THRESHOLD_DBFS, loudnessPerSecond, loudnessSummary } from '../loudness-analysis';
import { silence, sine, sineAmplitudeForDbfs, toneBurst, whiteNoise } from '../signals';

/**
 * Expected levels are textbook figures, not computed with the code under test: a sine of amplitude A has RMS A/√2
 * (full scale: -3.01 dBFS), uniform noise in [-A, A] has RMS A/√3.
 */
const RATE = 16000;

test('a full-scale sine: RMS -3.01 dBFS, peak 0 dBFS, active every second', () => {
  const rows = loudnessPerSecond(sine(1000, 2, RATE, 1), RATE);
  expect(rows).toHaveLength(2);
  for (const row of rows) {
    expect(row.rmsDbfs).toBeCloseTo(-3.01, 2);
    expect(row.peakDbfs).toBeCloseTo(0, 2);
    expect(row.active).toBe(true);
  }
});

test.each([-6, -20, -40, -60])('a sine at %d dBFS RMS reads that level', (level) => {
  const [row] = loudnessPerSecond(sine(440, 1, RATE, sineAmplitudeForDbfs(level)), RATE);
  expect(row.rmsDbfs).toBeCloseTo(level, 2);
  expect(row.peakDbfs).toBeCloseTo(level + 3.01, 1);
});

test('silence reads the floor, never -Infinity, and is not active', () => {
  const rows = loudnessPerSecond(silence(3, RATE), RATE);
  expect(rows.map((row) => [row.rmsDbfs, row.peakDbfs, row.active])).toEqual([[FLOOR_DBFS, FLOOR_DBFS, false], [FLOOR_DBFS, FLOOR_DBFS, false], [FLOOR_DBFS, FLOOR_DBFS, false]]);
  const summary = loudnessSummary(rows, DEFAULT_ACTIVITY_THRESHOLD_DBFS);
  expect(summary).toEqual({
    seconds: 3, activity_threshold_dbfs: -45, mean_rms_dbfs: FLOOR_DBFS, max_peak_dbfs: FLOOR_DBFS, active_seconds: 0, active_fraction: 0,
  });
  expect(JSON.parse(JSON.stringify(summary))).toEqual(summary); // nothing JSON would turn into null
});

test('white noise is active, at the RMS of uniform noise', () => {
  const rows = loudnessPerSecond(whiteNoise(5, 2, RATE, 0.5), RATE);
  for (const row of rows) {
    expect(row.active).toBe(true);
    expect(Math.abs(row.rmsDbfs - 20 * Math.log10(0.5 / Math.sqrt(3)))).toBeLessThan(0.1);
    expect(row.peakDbfs).toBeLessThanOrEqual(20 * Math.log10(0.5) + 1e-6);
  }
});

test('a tone burst is active only in the seconds it sounds; the mean is the energy average, not the mean of dB', () => {
  const rows = loudnessPerSecond(toneBurst(500, 1, 3, 3, RATE, 0.5), RATE);
  expect(rows.map((row) => row.active)).toEqual([true, false, false]);
  const summary = loudnessSummary(rows, DEFAULT_ACTIVITY_THRESHOLD_DBFS);
  // One second at 0.5²/2 of power and two silent ones: 10·log10(0.125 / 3).
  expect(summary.mean_rms_dbfs).toBeCloseTo(10 * Math.log10(0.125 / 3), 1);
  expect(summary).toMatchObject({ seconds: 3, active_seconds: 1, active_fraction: 0.3333 });
  expect(summary.max_peak_dbfs).toBeCloseTo(-6.02, 1);
});

test('the threshold decides: a -50 dBFS tone is quiet by default, active under a -55 threshold', () => {
  const tone = sine(250, 1, RATE, sineAmplitudeForDbfs(-50));
  expect(loudnessPerSecond(tone, RATE)[0].active).toBe(false);
  expect(loudnessPerSecond(tone, RATE, -55)[0].active).toBe(true);
  expect(loudnessSummary(loudnessPerSecond(tone, RATE, -55), -55)).toMatchObject({ activity_threshold_dbfs: -55, active_seconds: 1 });
});

test('the last, partial second gets its own row over the samples it has', () => {
  const rows = loudnessPerSecond(sine(1000, 2.5, RATE, 0.5), RATE);
  expect(rows.map((row) => [row.second, row.sampleCount])).toEqual([[0, 16000], [1, 16000], [2, 8000]]);
  expect(rows[2].rmsDbfs).toBeCloseTo(rows[0].rmsDbfs, 1);
});

test('a file shorter than a second has one row', () => {
  const rows = loudnessPerSecond(sine(1000, 0.01, RATE, 0.5), RATE);
  expect(rows).toHaveLength(1);
  expect(rows[0].sampleCount).toBe(160);
});
