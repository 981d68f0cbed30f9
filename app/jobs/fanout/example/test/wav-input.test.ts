import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chirp, sine } from '../signals';
import { decodeWav, InputFileError, readWavFile, WavInputError } from '../wav-input';
import { encodeWav, type WavSampleFormat } from '../wav-writer';
import { chunk, fmtChunk, goodWav, pcm16, riff, uint32 } from './factories';

const RATE = 16000;

/** The reason decodeWav gives, checked to be one line. */
function refusal(bytes: Uint8Array): string {
  try {
    decodeWav(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(WavInputError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('decodeWav accepted the file');
}

describe('decodes every supported encoding to ±1 full scale', () => {
  // PCM: half a step of rounding, plus up to one step because writers scale by 2^(bits-1) - 1 and readers divide by
  // 2^(bits-1) (so that -full scale is exactly -1). Float formats are exact to float32.
  const step = (bits: number) => 1 / 2 ** (bits - 1);
  test.each<[WavSampleFormat, boolean, number]>([
    ['pcm8', false, 1.5 * step(8)], ['pcm16', false, 1.5 * step(16)], ['pcm24', false, 1.5 * step(24)], ['pcm32', false, 1e-7],
    ['float32', false, 1e-7], ['float64', false, 1e-7], ['pcm24', true, 1.5 * step(24)], ['float32', true, 1e-7], ['float64', true, 1e-7],
  ])('%s (extensible: %s)', (format, extensible, tolerance) => {
    const signal = chirp(100, 3000, 0.5, RATE, 0.9);
    const audio = decodeWav(encodeWav([signal], RATE, { format, extensible }));
    expect(audio).toMatchObject({ sampleRate: RATE, channels: 1, sampleFormat: format, durationSeconds: 0.5 });
    expect(audio.mono).toHaveLength(signal.length);
    let worst = 0;
    signal.forEach((value, i) => (worst = Math.max(worst, Math.abs(audio.mono[i] - value))));
    expect(worst).toBeLessThanOrEqual(tolerance);
  });

  test('full scale in 16-bit reads ±1 (the negative end exactly -1)', () => {
    const audio = decodeWav(riff(fmtChunk(), chunk('data', pcm16([32767, -32768, 0, 16384]))));
    expect(Array.from(audio.mono)).toEqual([32767 / 32768, -1, 0, 0.5]);
  });
});

test('channels are averaged into mono', () => {
  const left = sine(1000, 0.1, RATE, 0.5);
  const right = new Float32Array(left.length).fill(0.25);
  const audio = decodeWav(encodeWav([left, right], RATE));
  expect(audio.channels).toBe(2);
  audio.mono.forEach((value, i) => expect(Math.abs(value - (left[i] + 0.25) / 2)).toBeLessThan(1e-4));
});

test('a long stereo file decodes across the block boundaries (65536 frames) without a seam', () => {
  const left = sine(440, 5, RATE, 0.5);
  const audio = decodeWav(encodeWav([left, left], RATE, { format: 'pcm24' }));
  expect(audio.mono).toHaveLength(80000);
  for (const i of [65535, 65536, 65537, 79999]) expect(audio.mono[i]).toBeCloseTo(left[i], 5);
});

test('chunks other than fmt and data are skipped, odd sizes padded, a missing final pad tolerated', () => {
  const list = chunk('LIST', Buffer.concat([Buffer.from('INFOISFT'), uint32(13), Buffer.from('Lavf58.76.10\0')]));
  const odd = chunk('junk', Buffer.from('abc')); // 3 bytes + 1 pad byte
  const withExtras = riff(fmtChunk(), list, odd, chunk('data', pcm16([100, 200])), chunk('id3 ', Buffer.from('xyz')));
  expect(Array.from(decodeWav(withExtras).mono)).toEqual([100 / 32768, 200 / 32768]);
  // 8-bit mono with 3 samples: an odd data chunk whose pad byte the writer left out.
  const unpadded = riff(fmtChunk({ bitsPerSample: 8 }), Buffer.concat([Buffer.from('data'), uint32(3), Buffer.from([128, 255, 0])]));
  expect(Array.from(decodeWav(unpadded).mono)).toEqual([0, 127 / 128, -1]);
});

test('a trailing partial frame is dropped', () => {
  const audio = decodeWav(riff(fmtChunk({ channels: 2 }), chunk('data', Buffer.concat([pcm16([1000, 3000]), Buffer.from([1, 2])]))));
  expect(Array.from(audio.mono)).toEqual([2000 / 32768]);
});

describe('refuses, in one line naming the problem', () => {
  const fullHeader = goodWav();
  test.each<[string, () => Uint8Array, string]>([
    ['an empty file', () => Buffer.alloc(0), 'empty file (0 bytes)'],
    ['a text file', () => Buffer.from('hello, not audio\n'), 'not a WAV file: no RIFF header'],
    ['a file shorter than a RIFF header', () => Buffer.from('RIFF'), 'not a WAV file: no RIFF header'],
    ['an MP3 with a .wav name', () => Buffer.concat([Buffer.from('ID3\x04\0\0'), Buffer.alloc(100)]), 'not a WAV file: no RIFF header'],
    ['a RIFF file of another kind', () => Buffer.concat([Buffer.from('RIFF'), uint32(4), Buffer.from('AVI ')]), 'not a WAV file: a RIFF file of another form type (not WAVE)'],
    ['big-endian RIFX', () => Buffer.concat([Buffer.from('RIFX'), fullHeader.subarray(4)]), 'unsupported WAV container: RIFX'],
    ['RF64', () => Buffer.concat([Buffer.from('RF64'), fullHeader.subarray(4)]), 'unsupported WAV container: RF64'],
    ['no fmt chunk', () => riff(chunk('data', pcm16([1, 2]))), 'not a WAV file: the data chunk comes before any fmt chunk'],
    ['no chunk at all', () => riff(), 'not a WAV file: no fmt chunk'],
    ['no data chunk', () => riff(fmtChunk()), 'not a WAV file: no data chunk'],
    ['a truncated data chunk', () => fullHeader.subarray(0, 44 + 1000), 'truncated WAV: data chunk declares 32000 bytes, file holds 1000'],
    ['a streaming writer\'s unknown size', () => riff(fmtChunk(), chunk('data', pcm16([1, 2]), 0xffffffff)), 'truncated WAV: data chunk declares 4294967295 bytes, file holds 4'],
    ['a fmt chunk too short to hold a format', () => riff(chunk('fmt ', Buffer.alloc(8)), chunk('data', pcm16([1]))), 'not a WAV file: a fmt chunk of 8 bytes, under the 16 every format needs'],
    ['a truncated fmt chunk', () => fullHeader.subarray(0, 30), 'truncated WAV: fmt chunk declares 16 bytes, file holds 10'],
    ['Microsoft ADPCM', () => riff(fmtChunk({ audioFormat: 2, bitsPerSample: 4, blockAlign: 256 }), chunk('data', Buffer.alloc(256))), 'unsupported WAV encoding: format code 2 (Microsoft ADPCM, compressed); only PCM and IEEE float are supported'],
    ['mu-law', () => riff(fmtChunk({ audioFormat: 7, bitsPerSample: 8 }), chunk('data', Buffer.alloc(8))), 'format code 7 (mu-law, compressed)'],
    ['MP3 in WAV', () => riff(fmtChunk({ audioFormat: 0x55, bitsPerSample: 0, blockAlign: 1 }), chunk('data', Buffer.alloc(8))), 'format code 85 (MPEG Layer III (MP3), compressed)'],
    ['an unknown code', () => riff(fmtChunk({ audioFormat: 0x1234 }), chunk('data', Buffer.alloc(8))), 'unsupported WAV encoding: format code 4660; only'],
    ['12-bit PCM', () => riff(fmtChunk({ bitsPerSample: 12, blockAlign: 2 }), chunk('data', Buffer.alloc(8))), 'unsupported WAV encoding: 12-bit PCM; supported: 8, 16, 24, 32 bits'],
    ['16-bit float', () => riff(fmtChunk({ audioFormat: 3, bitsPerSample: 16 }), chunk('data', Buffer.alloc(8))), 'unsupported WAV encoding: 16-bit float; supported: 32, 64 bits'],
    ['zero channels', () => riff(fmtChunk({ channels: 0, blockAlign: 2 }), chunk('data', Buffer.alloc(8))), 'unsupported channel count: 0 (1 to 32)'],
    ['a 4 Hz sample rate', () => riff(fmtChunk({ sampleRate: 4 }), chunk('data', pcm16([1, 2]))), 'unsupported sample rate: 4 Hz (1000 to 384000)'],
    ['a 10 MHz sample rate', () => riff(fmtChunk({ sampleRate: 10_000_000 }), chunk('data', pcm16([1, 2]))), 'unsupported sample rate: 10000000 Hz'],
    ['a block align that disagrees', () => riff(fmtChunk({ channels: 2, blockAlign: 2 }), chunk('data', pcm16([1, 2]))), 'inconsistent WAV header: block align 2, expected 4 for 2 channels of 16 bits'],
    ['an empty data chunk', () => riff(fmtChunk(), chunk('data', Buffer.alloc(0))), 'no audio: the data chunk is empty'],
    ['less than one frame', () => riff(fmtChunk({ channels: 2 }), chunk('data', Buffer.alloc(2))), 'no audio: the data chunk holds 2 bytes, less than one sample frame (4 bytes)'],
    ['a NaN float sample', () => riff(fmtChunk({ audioFormat: 3, bitsPerSample: 32 }), chunk('data', Buffer.from(new Float32Array([0, NaN]).buffer))), 'invalid float samples: NaN or infinity at 0.000 s'],
  ])('%s', (_, make, reason) => {
    expect(refusal(make())).toContain(reason);
  });

  test('the extensible subformat is what counts', () => {
    const extensible = encodeWav([sine(1000, 0.01, RATE)], RATE, { format: 'pcm16', extensible: true });
    expect(decodeWav(extensible).sampleFormat).toBe('pcm16');
    const adpcm = Buffer.from(extensible);
    adpcm.writeUInt32LE(2, 12 + 8 + 24); // the subformat GUID's first field
    expect(refusal(adpcm)).toContain('format code 2 (Microsoft ADPCM');
  });
});

describe('readWavFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wav-input-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('reads and decodes a file', async () => {
    await writeFile(join(dir, 'ok.wav'), goodWav());
    expect((await readWavFile(join(dir, 'ok.wav'))).durationSeconds).toBe(1);
  });

  test('refuses a file over the limit before reading it', async () => {
    await writeFile(join(dir, 'big.wav'), goodWav());
    await expect(readWavFile(join(dir, 'big.wav'), 1000)).rejects.toThrow(new WavInputError('file too large: 32044 bytes, over the limit of 1000 (WAV_MAX_BYTES)'));
  });

  test('a missing file or a directory is an input problem, not a data problem', async () => {
    await expect(readWavFile(join(dir, 'nope.wav'))).rejects.toThrow(new InputFileError('input file not found'));
    await expect(readWavFile(dir)).rejects.toThrow(new InputFileError('the input is not a regular file'));
  });
});
