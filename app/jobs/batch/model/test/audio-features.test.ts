import { extractAudioFeatures, FLOOR_DB, HIGH_BAND_HZ } from '../audio-features';
import { seededRandom } from '../seeded-random';
import { UndecodableAudioError } from '../undecodable-audio-error';
import { RATE, tone, wav } from './factories';

describe('extractAudioFeatures', () => {
  it.each([250, 1000, 4000])('puts a pure %d Hz tone\'s centroid and zero crossings at its frequency', (frequency) => {
    const features = extractAudioFeatures(wav(tone(frequency, 1)));
    expect(Math.abs(features.spectral_centroid_hz - frequency) / frequency).toBeLessThan(0.03);
    // Two crossings per period.
    expect(features.zero_crossings_per_s / 2).toBeCloseTo(frequency, -1);
    expect(features.spectral_flatness_db).toBeLessThan(-40);
    expect(features.level_spread_db).toBeLessThan(0.1);
  });

  it('reads a half-scale sine at its RMS level (-9 dBFS) and a sine\'s crest factor (3 dB)', () => {
    const features = extractAudioFeatures(wav(tone(440, 1, 0.5)));
    expect(features.rms_dbfs).toBeCloseTo(20 * Math.log10(0.5 / Math.SQRT2), 1);
    expect(features.crest_factor_db).toBeCloseTo(3.01, 1);
  });

  it('sees clipping as a crest factor near 0 dB: a sine driven far past full scale is nearly square', () => {
    const features = extractAudioFeatures(wav(tone(200, 1, 20)));
    expect(features.crest_factor_db).toBeLessThan(0.3);
    expect(features.rms_dbfs).toBeGreaterThan(-0.3);
  });

  it('gives silence the floor level, no crossings and no high band, with finite numbers throughout', () => {
    const features = extractAudioFeatures(wav(new Float32Array(RATE)));
    expect(features).toEqual({
      rms_dbfs: FLOOR_DB, crest_factor_db: 0, zero_crossings_per_s: 0, level_spread_db: 0,
      spectral_centroid_hz: 0, spectral_flatness_db: 0, high_band_ratio_db: FLOOR_DB,
    });
  });

  it('finds white noise flat, with the high band\'s share of the bandwidth', () => {
    const random = seededRandom(5);
    const noise = Float32Array.from({ length: RATE }, () => 0.3 * (2 * random() - 1));
    const features = extractAudioFeatures(wav(noise, { format: 'float32' }));
    expect(features.spectral_flatness_db).toBeGreaterThan(-3);
    expect(features.spectral_centroid_hz).toBeCloseTo(RATE / 4, -2);
    expect(features.high_band_ratio_db).toBeCloseTo(10 * Math.log10(1 - HIGH_BAND_HZ / (RATE / 2)), 0);
  });

  it('sees a dropout as a spread of the level between blocks', () => {
    const steady = tone(100, 1, 0.3);
    const broken = steady.slice();
    broken.fill(0, 4000, 6000);
    expect(extractAudioFeatures(wav(steady)).level_spread_db).toBeLessThan(0.5);
    expect(extractAudioFeatures(wav(broken)).level_spread_db).toBeGreaterThan(20);
  });

  it('is the same for stereo with both channels alike as for mono', () => {
    const mono = extractAudioFeatures(wav(tone(700, 0.5)));
    const stereo = extractAudioFeatures(wav([tone(700, 0.5), tone(700, 0.5)]));
    expect(stereo).toEqual(mono);
  });

  it('refuses undecodable bytes with an UndecodableAudioError', () => {
    expect(() => extractAudioFeatures(new TextEncoder().encode('not audio'))).toThrow(UndecodableAudioError);
  });
});
