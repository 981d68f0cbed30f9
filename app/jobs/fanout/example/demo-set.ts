import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chirp, mix, seededRandom, silence, sine, sineAmplitudeForDbfs, toneBurst, whiteNoise } from './signals';
import { encodeWav, type WavSampleFormat } from './wav-writer';

/**
 * The WAV demo set for the fan-out example families (loudness, spectrum): short files (1-3 s) under `audio/`, mostly
 * 16 kHz mono 16-bit, some stereo, 44.1 kHz, 8 kHz, 8/24-bit and float; tones, linear chirps, white noise, tone bursts
 * and silence, a few under keys that trip naive pipelines (spaces, plus signs, percent signs, unicode, deep folders),
 * and files under `audio/broken/` that both programs refuse with a reason they name. Every sample comes from fixed
 * seeds and formulas, so every run writes the same bytes.
 */

export interface DemoSetOptions {
  /** How many files in all, broken ones included (default 240; at least MIN_WAV_DEMO_COUNT). */
  readonly count?: number;
}

export interface WavDemoSet {
  /** Every key of the set, good files first, in a fixed order. */
  readonly keys: string[];
  readonly good: number;
  readonly broken: number;
  readonly brokenKeys: string[];
}

/** What the programs must report for a showcase file: a subset of each summary.json, for toMatchObject. */
export interface WavExpectation {
  readonly key: string;
  readonly loudness: Readonly<Record<string, number | string>>;
  readonly spectrum: Readonly<Record<string, number | string>>;
  /** The dominant band of each second, in order. */
  readonly bands: readonly string[];
}

export interface BrokenWav {
  readonly key: string;
  /** The exit code both programs give for the file. */
  readonly exitCode: number;
  /** Part of the one line both programs write on stderr for it: what the DLQ reason must contain. */
  readonly reason: string;
}

export const DEFAULT_WAV_DEMO_COUNT = 240;

interface Audio {
  readonly channels: Float32Array[];
  readonly sampleRate: number;
  readonly format?: WavSampleFormat;
}

const RATE = 16000;
const mono = (samples: Float32Array, sampleRate = RATE, format?: WavSampleFormat): Audio => ({ channels: [samples], sampleRate, format });

/** Files with known results: the tests and the fan-out's own checks rely on these keys and values. */
const SHOWCASE: (WavExpectation & { readonly make: () => Audio })[] = [
  {
    key: 'audio/tones/sine 1000 Hz.wav', make: () => mono(sine(1000, 2, RATE)), bands: ['1k', '1k'],
    loudness: { seconds: 2, active_seconds: 2, active_fraction: 1, sample_format: 'pcm16', channels: 1, sample_rate: RATE },
    spectrum: { seconds: 2, dominant_band: '1k', dominant_band_seconds: 2, silent_seconds: 0, dominant_hz_median: 1000 },
  },
  {
    key: 'audio/tones/sine 125 Hz.wav', make: () => mono(sine(125, 1, RATE)), bands: ['125'],
    loudness: { seconds: 1, active_seconds: 1 }, spectrum: { dominant_band: '125', dominant_hz_median: 125 },
  },
  {
    // Only the left channel sounds: the mono mix halves it, 6 dB below the 0.5 sine's -9.03 dBFS.
    key: 'audio/tones/sine 4000 Hz left only (stereo 44.1 kHz).wav',
    make: () => ({ channels: [sine(4000, 1.5, 44100), silence(1.5, 44100)], sampleRate: 44100 }), bands: ['4k', '4k'],
    loudness: { seconds: 2, channels: 2, sample_rate: 44100, mean_rms_dbfs: -15.05, active_seconds: 2 },
    spectrum: { dominant_band: '4k', dominant_band_seconds: 2 },
  },
  {
    key: 'audio/silence/silence 2 s.wav', make: () => mono(silence(2, RATE)), bands: ['none', 'none'],
    loudness: { seconds: 2, active_seconds: 0, active_fraction: 0, mean_rms_dbfs: -120, max_peak_dbfs: -120 },
    spectrum: { dominant_band: 'none', dominant_band_seconds: 0, silent_seconds: 2, dominant_hz_median: 0, max_band_energy_db: -120 },
  },
  {
    key: 'audio/bursts/burst 1 s on 2 s off.wav', make: () => mono(toneBurst(500, 1, 3, 3, RATE)), bands: ['500', 'none', 'none'],
    loudness: { seconds: 3, active_seconds: 1 }, spectrum: { dominant_band: '500', dominant_band_seconds: 1, silent_seconds: 2 },
  },
  {
    key: 'audio/noise/white noise seed 1.wav', make: () => mono(whiteNoise(1, 2, RATE)), bands: ['4k', '4k'],
    loudness: { seconds: 2, active_seconds: 2 }, spectrum: { dominant_band: '4k', silent_seconds: 0 },
  },
  {
    // 100 → 7000 Hz in 3 s: each second spends longest in a higher octave.
    key: 'audio/chirps/chirp 100-7000 Hz.wav', make: () => mono(chirp(100, 7000, 3, RATE)), bands: ['2k', '4k', '8k'],
    loudness: { seconds: 3, active_seconds: 3 }, spectrum: { silent_seconds: 0 },
  },
  {
    key: 'audio/formats/sine 1000 Hz 24-bit.wav', make: () => mono(sine(1000, 1, RATE), RATE, 'pcm24'), bands: ['1k'],
    loudness: { sample_format: 'pcm24', active_seconds: 1 }, spectrum: { dominant_band: '1k' },
  },
  {
    key: 'audio/formats/sine 1000 Hz float.wav', make: () => mono(sine(1000, 1, RATE), RATE, 'float32'), bands: ['1k'],
    loudness: { sample_format: 'float32', active_seconds: 1 }, spectrum: { dominant_band: '1k' },
  },
  {
    key: 'audio/formats/sine 500 Hz 8-bit 8 kHz.wav', make: () => mono(sine(500, 1, 8000), 8000, 'pcm8'), bands: ['500'],
    loudness: { sample_format: 'pcm8', sample_rate: 8000, active_seconds: 1 }, spectrum: { dominant_band: '500' },
  },
  {
    // -50 dBFS: below the activity threshold, yet well above the spectrum's silence floor.
    key: 'audio/levels/100% quiet -50 dB.wav', make: () => mono(sine(250, 1, RATE, sineAmplitudeForDbfs(-50))), bands: ['250'],
    loudness: { active_seconds: 0, mean_rms_dbfs: -50 }, spectrum: { dominant_band: '250' },
  },
  {
    key: 'audio/levels/quiet -40 dB.wav', make: () => mono(sine(250, 1, RATE, sineAmplitudeForDbfs(-40))), bands: ['250'],
    loudness: { active_seconds: 1, mean_rms_dbfs: -40 }, spectrum: { dominant_band: '250' },
  },
  {
    key: 'audio/field recordings/dawn chorus+wind.wav', make: () => mono(mix(sine(2000, 2, RATE, 0.4), whiteNoise(7, 2, RATE, 0.05))), bands: ['2k', '2k'],
    loudness: { active_seconds: 2 }, spectrum: { dominant_band: '2k' },
  },
  {
    key: 'audio/städte/köln straßenbahn.wav', make: () => mono(mix(sine(63, 2, RATE, 0.5), sine(250, 2, RATE, 0.1))), bands: ['63', '63'],
    loudness: { active_seconds: 2 }, spectrum: { dominant_band: '63' },
  },
  {
    key: 'audio/東京/駅 ambience.wav', make: () => mono(mix(whiteNoise(3, 1, RATE, 0.05), toneBurst(1000, 0.25, 0.5, 1, RATE, 0.3))), bands: ['1k'],
    loudness: { active_seconds: 1 }, spectrum: { dominant_band: '1k' },
  },
  {
    key: 'audio/a/b/c/deep folder tone.wav', make: () => mono(sine(8000 / Math.SQRT2 + 500, 1, RATE)), bands: ['8k'],
    loudness: { active_seconds: 1 }, spectrum: { dominant_band: '8k' },
  },
];

const BROKEN: (BrokenWav & { readonly make: () => Buffer })[] = [
  {
    // The header announces 2 s (64000 bytes of data); the upload stopped after a quarter second.
    key: 'audio/broken/truncated.wav', exitCode: 65, reason: 'truncated WAV: data chunk declares 64000 bytes, file holds 8000',
    make: () => encodeWav([sine(440, 2, RATE)], RATE).subarray(0, 44 + 8000),
  },
  { key: 'audio/broken/meeting notes.wav', exitCode: 65, reason: 'not a WAV file: no RIFF header', make: () => Buffer.from('Meeting notes, saved with a .wav name by mistake.\n') },
  { key: 'audio/broken/empty.wav', exitCode: 65, reason: 'empty file (0 bytes)', make: () => Buffer.alloc(0) },
  {
    key: 'audio/broken/adpcm compressed.wav', exitCode: 65, reason: 'unsupported WAV encoding: format code 2 (Microsoft ADPCM, compressed)',
    make: () => withFmt(encodeWav([sine(440, 1, RATE)], RATE), { audioFormat: 2, bitsPerSample: 4, blockAlign: 256 }),
  },
  { key: 'audio/broken/header only.wav', exitCode: 65, reason: 'no audio: the data chunk is empty', make: () => encodeWav([new Float32Array(0)], RATE) },
  {
    key: 'audio/broken/sample rate 4 Hz.wav', exitCode: 65, reason: 'unsupported sample rate: 4 Hz',
    make: () => withFmt(encodeWav([sine(440, 0.25, RATE)], RATE), { sampleRate: 4, byteRate: 8 }),
  },
  {
    key: 'audio/broken/video in disguise.wav', exitCode: 65, reason: 'not a WAV file: a RIFF file of another form type',
    make: () => Buffer.concat([Buffer.from('RIFF'), u32(16), Buffer.from('AVI LIST'), u32(4), Buffer.from('hdrl')]),
  },
];

export const MIN_WAV_DEMO_COUNT = SHOWCASE.length + BROKEN.length;
/** The showcase files with what each program must report for them. */
export const WAV_DEMO_EXPECTATIONS: readonly WavExpectation[] = SHOWCASE.map(({ key, loudness, spectrum, bands }) => ({ key, loudness, spectrum, bands }));
/** The broken files, each with the exit code and the reason both programs give. */
export const BROKEN_WAVS: readonly BrokenWav[] = BROKEN.map(({ key, exitCode, reason }) => ({ key, exitCode, reason }));

/** Writes the demo set into `dir` (files that exist are kept) and returns its keys. */
export async function writeWavDemoSet(dir: string, options: DemoSetOptions = {}): Promise<WavDemoSet> {
  const count = options.count ?? DEFAULT_WAV_DEMO_COUNT;
  if (!Number.isInteger(count) || count < MIN_WAV_DEMO_COUNT) throw new RangeError(`count must be a whole number of at least ${MIN_WAV_DEMO_COUNT}, got ${count}`);
  const generated = Array.from({ length: count - MIN_WAV_DEMO_COUNT }, (_, i) => generatedFile(i));
  const files: [string, () => Buffer][] = [
    ...SHOWCASE.map(({ key, make }): [string, () => Buffer] => [key, () => encodeAudio(make())]),
    ...generated.map(({ key, make }): [string, () => Buffer] => [key, () => encodeAudio(make())]),
    ...BROKEN.map(({ key, make }): [string, () => Buffer] => [key, make]),
  ];
  for (const [key, make] of files) {
    const path = join(dir, key);
    if (existsSync(path)) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, make());
  }
  const keys = files.map(([key]) => key);
  return { keys, good: keys.length - BROKEN.length, broken: BROKEN.length, brokenKeys: BROKEN.map(({ key }) => key) };
}

const encodeAudio = ({ channels, sampleRate, format }: Audio) => encodeWav(channels, sampleRate, { format });

/** Layouts for the generated files; the default one is most of them, as in a real collection. */
const LAYOUTS: { label: string; channels: number; sampleRate: number; format: WavSampleFormat }[] = [
  { label: 'stereo', channels: 2, sampleRate: RATE, format: 'pcm16' },
  { label: '44.1 kHz', channels: 1, sampleRate: 44100, format: 'pcm16' },
  { label: '24-bit', channels: 1, sampleRate: RATE, format: 'pcm24' },
  { label: 'float', channels: 1, sampleRate: RATE, format: 'float32' },
  { label: 'stereo 44.1 kHz 24-bit', channels: 2, sampleRate: 44100, format: 'pcm24' },
  { label: '8 kHz 8-bit', channels: 1, sampleRate: 8000, format: 'pcm8' },
];
const TONES_HZ = [63, 125, 250, 440, 500, 1000, 2000, 3000, 5000, 6000];
const KINDS = ['tone', 'tone', 'tone', 'chirp', 'chirp', 'noise', 'noise', 'burst', 'burst', 'silence'] as const;

/** The i-th generated file: everything about it is drawn from a generator seeded with i. */
function generatedFile(i: number): { key: string; make: () => Audio } {
  const random = seededRandom(1000 + i);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
  const layout = random() < 0.8 ? { label: '', channels: 1, sampleRate: RATE, format: 'pcm16' as const } : pick(LAYOUTS);
  const seconds = pick([1, 1.5, 2, 2.5, 3]);
  const levelDbfs = -6 - Math.round(random() * 44); // -6 .. -50: a few files fall under the activity threshold
  const amplitude = sineAmplitudeForDbfs(levelDbfs);
  // Below Nyquist with room to spare, so the 8 kHz files never alias.
  const ceilingHz = 0.45 * layout.sampleRate;
  const toneHz = Math.min(pick(TONES_HZ), ceilingHz);
  const kind = pick(KINDS);
  const rate = layout.sampleRate;
  const [detail, signal] = ((): [string, () => Float32Array] => {
    switch (kind) {
      case 'tone': return [`tone ${toneHz} Hz ${levelDbfs} dB`, () => sine(toneHz, seconds, rate, amplitude)];
      case 'chirp': {
        const startHz = 50 + Math.round(random() * 450);
        const endHz = Math.round(ceilingHz * (0.5 + random() / 2));
        return [`chirp ${startHz}-${endHz} Hz`, () => chirp(startHz, endHz, seconds, rate, amplitude)];
      }
      case 'noise': return [`noise seed ${i} ${levelDbfs} dB`, () => whiteNoise(i, seconds, rate, amplitude)];
      case 'burst': return [`burst ${toneHz} Hz`, () => toneBurst(toneHz, 0.5, 1, seconds, rate, amplitude)];
      case 'silence': return ['silence', () => silence(seconds, rate)];
    }
  })();
  const suffix = layout.label === '' ? '' : ` (${layout.label})`;
  return {
    key: `audio/set/${kind}/${String(i + 1).padStart(3, '0')} ${detail}${suffix}.wav`,
    make: () => {
      const samples = signal();
      return { channels: Array.from({ length: layout.channels }, () => samples), sampleRate: rate, format: layout.format };
    },
  };
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
}

/** Rewrites fields of the canonical 44-byte PCM header encodeWav writes: the fmt chunk's fields start at byte 20. */
function withFmt(wav: Buffer, fields: { audioFormat?: number; sampleRate?: number; byteRate?: number; blockAlign?: number; bitsPerSample?: number }): Buffer {
  const copy = Buffer.from(wav);
  if (fields.audioFormat !== undefined) copy.writeUInt16LE(fields.audioFormat, 20);
  if (fields.sampleRate !== undefined) copy.writeUInt32LE(fields.sampleRate, 24);
  if (fields.byteRate !== undefined) copy.writeUInt32LE(fields.byteRate, 28);
  if (fields.blockAlign !== undefined) copy.writeUInt16LE(fields.blockAlign, 32);
  if (fields.bitsPerSample !== undefined) copy.writeUInt16LE(fields.bitsPerSample, 34);
  return copy;
}
