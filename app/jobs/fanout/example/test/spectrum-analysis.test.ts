import { FLOOR_DBFS } from '../decibels';
import { chirp, mix, silence, sine, sineAmplitudeForDbfs, toneBurst, whiteNoise } from '../signals';
import { dominantBandPerSecond, NO_BAND, OCTAVE_BANDS, spectrumSummary, type SpectrumSecond } from '../spectrum-analysis';

/** Band edges are the textbook octave: centre/√2 to centre·√2. Tones sit at centres, well inside their band. */
const RATE = 16000;
const bandsOf = (rows: SpectrumSecond[]) => rows.map((row) => row.dominantBand);

test('the octave bands tile the spectrum: each band starts where the previous one ends', () => {
  expect(OCTAVE_BANDS.map((band) => band.label)).toEqual(['31.5', '63', '125', '250', '500', '1k', '2k', '4k', '8k', '16k']);
  for (let i = 1; i < OCTAVE_BANDS.length; i++) expect(OCTAVE_BANDS[i].lowHz).toBeCloseTo(OCTAVE_BANDS[i - 1].highHz, 9);
  expect(OCTAVE_BANDS.find((band) => band.label === '1k')).toMatchObject({ centreHz: 1000, lowHz: expect.closeTo(707.1, 1), highHz: expect.closeTo(1414.2, 1) });
});

test.each([
  [63, '63', RATE], [125, '125', RATE], [250, '250', RATE], [500, '500', RATE], [1000, '1k', RATE],
  [2000, '2k', RATE], [4000, '4k', RATE], [7000, '8k', RATE], [16000, '16k', 44100], [440, '500', 44100], [3000, '4k', 8000],
])('a %d Hz tone is dominant in band %s (at %d Hz)', (hz, band, rate) => {
  const rows = dominantBandPerSecond(sine(hz, 2, rate), rate);
  expect(bandsOf(rows)).toEqual([band, band]);
  for (const row of rows) expect(Math.abs(row.dominantHz - hz)).toBeLessThan(0.5);
});

test('a tone between two bins is located to a fraction of a bin (7.8 Hz here)', () => {
  const [row] = dominantBandPerSecond(sine(1234.5, 1, RATE), RATE);
  expect(Math.abs(row.dominantHz - 1234.5)).toBeLessThan(1);
});

test("a band's energy is the tone's RMS level, on the loudness program's scale", () => {
  for (const level of [-3.01, -20, -60]) {
    const [row] = dominantBandPerSecond(sine(1000, 1, RATE, sineAmplitudeForDbfs(level)), RATE);
    expect(row.bandEnergyDb).toBeCloseTo(level, 1);
  }
});

test('a chirp sweeps up through the bands, its dominant frequency rising every second', () => {
  // 100 → 7000 Hz in 3 s: the sweep spends most of second 0 in 1.4-2.4 kHz, of second 1 in 2.8-4.7 kHz, of second 2 above 5.7 kHz.
  const rows = dominantBandPerSecond(chirp(100, 7000, 3, RATE), RATE);
  expect(bandsOf(rows)).toEqual(['2k', '4k', '8k']);
  for (let i = 1; i < rows.length; i++) expect(rows[i].dominantHz).toBeGreaterThan(rows[i - 1].dominantHz);
  for (let i = 1; i < rows.length; i++) expect(rows[i].centroidHz).toBeGreaterThan(rows[i - 1].centroidHz);
});

test('silence has no dominant band: "none", 0 Hz, the floor', () => {
  const rows = dominantBandPerSecond(silence(2, RATE), RATE);
  expect(rows).toEqual([0, 1].map((second) => ({ second, dominantHz: 0, dominantBand: NO_BAND, bandEnergyDb: FLOOR_DBFS, centroidHz: 0, flatness: 0 })));
  expect(spectrumSummary(rows)).toEqual({
    seconds: 2, frame_size: 2048, silent_seconds: 2, dominant_band: NO_BAND, dominant_band_seconds: 0, dominant_hz_median: 0,
    spectral_centroid_hz_mean: 0, spectral_flatness_mean: 0, max_band_energy_db: FLOOR_DBFS,
  });
});

test('audio below -90 dBFS counts as silence, a quiet tone above it does not', () => {
  expect(bandsOf(dominantBandPerSecond(sine(1000, 1, RATE, sineAmplitudeForDbfs(-95)), RATE))).toEqual([NO_BAND]);
  expect(bandsOf(dominantBandPerSecond(sine(1000, 1, RATE, sineAmplitudeForDbfs(-80)), RATE))).toEqual(['1k']);
});

test('white noise is broadband: flat spectrum, centroid mid-band, the widest band dominant', () => {
  const rows = dominantBandPerSecond(whiteNoise(11, 2, RATE), RATE);
  for (const row of rows) {
    expect(row.flatness).toBeGreaterThan(0.8);
    expect(Math.abs(row.centroidHz - RATE / 4)).toBeLessThan(RATE / 40);
    // Equal power per hertz: the 4k octave (2.8-5.7 kHz) is wider than what is left of the 8k one below 8 kHz.
    expect(row.dominantBand).toBe('4k');
  }
  const [tone] = dominantBandPerSecond(sine(1000, 1, RATE), RATE);
  expect(tone.flatness).toBeLessThan(0.01);
});

test('a tone over quiet noise is still found', () => {
  const rows = dominantBandPerSecond(mix(sine(250, 1, RATE, 0.3), whiteNoise(2, 1, RATE, 0.05)), RATE);
  expect(bandsOf(rows)).toEqual(['250']);
  expect(Math.abs(rows[0].dominantHz - 250)).toBeLessThan(1);
});

test('a tail shorter than a frame is analysed with the frame that ends with the audio', () => {
  // 1.05 s: the second row covers 800 samples, fewer than a 2048-sample frame.
  const rows = dominantBandPerSecond(sine(500, 1.05, RATE), RATE);
  expect(bandsOf(rows)).toEqual(['500', '500']);
  expect(rows[1].bandEnergyDb).toBeCloseTo(rows[0].bandEnergyDb, 1);
});

test('a file shorter than one frame is zero-padded and still gets its band', () => {
  const rows = dominantBandPerSecond(sine(2000, 0.05, RATE), RATE);
  expect(bandsOf(rows)).toEqual(['2k']);
});

describe('the summary', () => {
  test('the most frequent band, silent seconds left out of it and of the statistics', () => {
    const rows = dominantBandPerSecond(toneBurst(500, 1, 3, 3, RATE), RATE);
    expect(bandsOf(rows)).toEqual(['500', NO_BAND, NO_BAND]);
    expect(spectrumSummary(rows)).toMatchObject({
      seconds: 3, silent_seconds: 2, dominant_band: '500', dominant_band_seconds: 1, dominant_hz_median: 500, spectral_centroid_hz_mean: expect.closeTo(500, 0),
    });
  });

  test('a tie goes to the lower band; the median is over the voiced seconds', () => {
    const row = (dominantBand: string, dominantHz: number): SpectrumSecond => ({ second: 0, dominantHz, dominantBand, bandEnergyDb: -10, centroidHz: dominantHz, flatness: 0.1 });
    const summary = spectrumSummary([row('4k', 4000), row('125', 125), row(NO_BAND, 0), row('4k', 4100), row('125', 130)]);
    expect(summary).toMatchObject({ dominant_band: '125', dominant_band_seconds: 2, silent_seconds: 1, dominant_hz_median: 2065, spectral_centroid_hz_mean: 2088.8 });
  });

  test('is flat: only numbers and strings', () => {
    const summary = spectrumSummary(dominantBandPerSecond(chirp(100, 7000, 3, RATE), RATE));
    for (const value of Object.values(summary)) expect(['number', 'string']).toContain(typeof value);
    expect(Object.values(summary).every((value) => typeof value !== 'number' || Number.isFinite(value))).toBe(true);
  });
});
