import { WorkerError, InputTooLargeError } from '../../../../../shared/errors';
import { UndecodableAudioError } from '../undecodable-audio-error';
import { decodeWavToMono } from '../wav-decoding';
import type { WavSampleFormat } from '../wav-encoding';
import { HEADER, patched, RATE, tone, wav } from './factories';
import { seededRandom } from '../seeded-random';

const LIMITS = { maxFrames: 1_000_000, minFrames: 1024 };

describe('decodeWavToMono', () => {
  const reference = tone(440, 0.25);

  it.each<[WavSampleFormat, boolean, number]>([
    ['pcm8', false, 1 / 64],
    ['pcm16', false, 1e-4],
    ['pcm24', false, 1e-6],
    ['pcm24', true, 1e-6],
    ['pcm32', false, 1e-6],
    ['float32', false, 1e-7],
    ['float32', true, 1e-7],
    ['float64', false, 1e-7],
  ])('decodes %s (extensible: %s) to the same samples within the format\'s resolution', (format, extensible, tolerance) => {
    const audio = decodeWavToMono(wav(reference, { format, extensible }), LIMITS);
    expect(audio).toMatchObject({ sampleRate: RATE, channels: 1, sampleFormat: format });
    expect(audio.samples.length).toBe(reference.length);
    let worst = 0;
    for (let n = 0; n < reference.length; n++) worst = Math.max(worst, Math.abs(audio.samples[n] - reference[n]));
    expect(worst).toBeLessThan(tolerance);
  });

  it('mixes stereo to mono by averaging the channels', () => {
    const left = new Float32Array(2048).fill(0.5);
    const right = new Float32Array(2048).fill(-0.25);
    const audio = decodeWavToMono(wav([left, right]), LIMITS);
    expect(audio.channels).toBe(2);
    expect(audio.samples[100]).toBeCloseTo(0.125, 3);
  });

  const valid = wav(tone(440, 0.2));
  const nanClip = (() => {
    const samples = tone(440, 0.2);
    samples[1000] = Number.NaN;
    return wav(samples, { format: 'float32' });
  })();
  const hugeFloat64 = (() => {
    const samples = new Float64Array(4000).fill(1e300);
    const bytes = wav(new Float32Array(4000), { format: 'float64' });
    new Uint8Array(bytes.buffer).set(new Uint8Array(samples.buffer), bytes.length - samples.byteLength);
    return bytes;
  })();

  it.each<[string, Uint8Array, RegExp]>([
    ['an empty file', new Uint8Array(0), /empty file/],
    ['text renamed .wav', new TextEncoder().encode('hello, this is not audio at all, but it is long enough'), /not a WAV file/],
    ['a bare RIFF header', valid.slice(0, 12), /no fmt chunk/],
    ['a header cut inside fmt', valid.slice(0, 30), /fmt chunk declares 16 bytes/],
    ['a truncated data chunk', valid.slice(0, 2000), /truncated WAV: the data chunk declares 6400 bytes, the file holds 1956/],
    ['a huge declared data size', patched(valid, HEADER.dataSize, 0xffffffff, 4), /declares 4294967295 bytes/],
    ['0 channels', patched(valid, HEADER.channels, 0, 2), /channel count: 0/],
    ['a sample rate of 0', patched(valid, HEADER.sampleRate, 0, 4), /sample rate: 0 Hz/],
    ['an absurd sample rate', patched(valid, HEADER.sampleRate, 0xffffffff, 4), /sample rate: 4294967295 Hz/],
    ['12-bit PCM', patched(valid, HEADER.bitsPerSample, 12, 2), /12-bit PCM/],
    ['a compressed format (ADPCM)', patched(valid, HEADER.audioFormat, 2, 2), /format code 2/],
    ['a block align that disagrees', patched(valid, HEADER.blockAlign, 3, 2), /block align 3, expected 2/],
    ['a big-endian RIFX file', (() => { const b = valid.slice(); b.set([0x52, 0x49, 0x46, 0x58], 0); return b; })(), /RIFX/],
    ['too few samples', wav(tone(440, 0.01)), /too short: 160 sample frames, at least 1024/],
    ['NaN float samples', nanClip, /NaN.*at 0\.063 s/],
    ['float64 samples beyond float32 range', hugeFloat64, /beyond float32 range/],
  ])('refuses %s with an UndecodableAudioError naming the problem', (_name, bytes, message) => {
    const attempt = () => decodeWavToMono(bytes, LIMITS);
    expect(attempt).toThrow(UndecodableAudioError);
    expect(attempt).toThrow(message);
  });

  it('refuses audio longer than the limit as input-too-large, before unpacking it', () => {
    const attempt = () => decodeWavToMono(wav(tone(440, 1)), { maxFrames: 8000, minFrames: 1024 });
    expect(attempt).toThrow(InputTooLargeError);
    expect(attempt).toThrow(/16000 sample frames \(1\.0 s\), over the limit of 8000/);
  });

  it('never echoes file content in its messages', () => {
    const secret = new TextEncoder().encode('RIFF\0\0\0\0WAVEpassword=hunter2 and more text to fill the file up');
    expect(() => decodeWavToMono(secret, LIMITS)).toThrow(UndecodableAudioError);
    try {
      decodeWavToMono(secret, LIMITS);
    } catch (error) {
      expect((error as Error).message).not.toMatch(/hunter2|password/);
    }
  });

  it('answers every prefix and every random corruption of a valid file with audio or a WorkerError, quickly', () => {
    const stereo = wav([tone(300, 0.1), tone(500, 0.1)], { format: 'pcm24', extensible: true });
    const candidates: Uint8Array[] = [];
    for (let length = 0; length <= 120; length++) candidates.push(stereo.slice(0, length));
    const random = seededRandom(13);
    for (let trial = 0; trial < 500; trial++) {
      const copy = stereo.slice();
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) copy[Math.floor(random() * 80)] = Math.floor(random() * 256);
      candidates.push(copy);
    }
    const started = Date.now();
    for (const bytes of candidates) {
      try {
        decodeWavToMono(bytes, LIMITS);
      } catch (error) {
        expect(error).toBeInstanceOf(WorkerError);
      }
    }
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
