import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROKEN_WAVS, DEFAULT_WAV_DEMO_COUNT, MIN_WAV_DEMO_COUNT, WAV_DEMO_EXPECTATIONS, writeWavDemoSet, type WavDemoSet } from '../demo-set';
import { decodeWav, WavInputError } from '../wav-input';

let dir: string;
let full: WavDemoSet;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wav-demo-set-'));
  full = await writeWavDemoSet(join(dir, 'full'));
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the default set: 240 files, the broken ones under audio/broken/, every key unique', () => {
  expect(DEFAULT_WAV_DEMO_COUNT).toBe(240);
  expect(full.keys).toHaveLength(240);
  expect(new Set(full.keys).size).toBe(240);
  expect(full.broken).toBe(BROKEN_WAVS.length);
  expect(full.good).toBe(240 - BROKEN_WAVS.length);
  expect(full.brokenKeys).toEqual(BROKEN_WAVS.map(({ key }) => key));
  expect(full.brokenKeys.every((key) => key.startsWith('audio/broken/'))).toBe(true);
  expect(full.keys.every((key) => key.startsWith('audio/') && key.endsWith('.wav'))).toBe(true);
  expect(full.keys).toEqual(expect.arrayContaining(WAV_DEMO_EXPECTATIONS.map(({ key }) => key)));
});

test('keys that trip naive pipelines: spaces, plus, percent, unicode, deep folders', () => {
  for (const pattern of [/ /, /\+/, /%/, /[^ -~]/, /\/a\/b\/c\//]) expect(full.keys.some((key) => pattern.test(key))).toBe(true);
});

test('every good file decodes, 1-3 s long, in a mix of layouts; every broken one is refused', async () => {
  const formats = new Map<string, number>();
  for (const key of full.keys) {
    const bytes = await readFile(join(dir, 'full', key));
    if (full.brokenKeys.includes(key)) {
      expect(() => decodeWav(bytes)).toThrow(WavInputError);
      continue;
    }
    const audio = decodeWav(bytes);
    expect(audio.durationSeconds).toBeGreaterThanOrEqual(1);
    expect(audio.durationSeconds).toBeLessThanOrEqual(3);
    const layout = `${audio.channels}ch ${audio.sampleRate} ${audio.sampleFormat}`;
    formats.set(layout, (formats.get(layout) ?? 0) + 1);
  }
  // Mostly 16 kHz mono 16-bit, as in a real collection, and a few of every other layout.
  expect(formats.get('1ch 16000 pcm16')).toBeGreaterThan(full.good * 0.7);
  for (const other of ['2ch 16000 pcm16', '1ch 44100 pcm16', '1ch 16000 pcm24', '1ch 16000 float32', '1ch 8000 pcm8']) {
    expect(formats.get(other)).toBeGreaterThan(0);
  }
}, 120_000);

test('every kind of signal is there', () => {
  for (const kind of ['tone', 'chirp', 'noise', 'burst', 'silence']) {
    expect(full.keys.filter((key) => key.startsWith(`audio/set/${kind}/`)).length).toBeGreaterThan(5);
  }
});

test('is deterministic: the same bytes every time, and a smaller set is a prefix of the larger one', async () => {
  const small = await writeWavDemoSet(join(dir, 'small'), { count: MIN_WAV_DEMO_COUNT + 20 });
  expect(small.keys).toHaveLength(MIN_WAV_DEMO_COUNT + 20);
  const goodSmall = small.keys.filter((key) => !small.brokenKeys.includes(key));
  expect(full.keys.slice(0, goodSmall.length)).toEqual(goodSmall);
  // Buffer.equals rather than toEqual: Jest compares buffers byte by byte through its generic equality, slowly.
  for (const key of small.keys) expect({ key, same: (await readFile(join(dir, 'small', key))).equals(await readFile(join(dir, 'full', key))) }).toEqual({ key, same: true });
});

test('is written once: files that exist are kept', async () => {
  const target = join(dir, 'full', 'audio/tones/sine 1000 Hz.wav');
  await writeFile(target, 'edited');
  const again = await writeWavDemoSet(join(dir, 'full'));
  expect(again).toEqual(full);
  expect(await readFile(target, 'utf8')).toBe('edited');
});

test('a count below the showcase and broken files, or not whole, is refused', async () => {
  await expect(writeWavDemoSet(join(dir, 'tiny'), { count: MIN_WAV_DEMO_COUNT - 1 })).rejects.toThrow(RangeError);
  await expect(writeWavDemoSet(join(dir, 'tiny'), { count: 30.5 })).rejects.toThrow(`count must be a whole number of at least ${MIN_WAV_DEMO_COUNT}`);
});
