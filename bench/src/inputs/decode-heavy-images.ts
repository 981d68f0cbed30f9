import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { resizeJobModule } from '../../../app/jobs/resize';
import { loadConfig } from '../../../app/src/config';
import { seededRandom, upscaledField } from './photo-like-images';

/**
 * Valid images that are small on disk but expensive to hold in memory: libvips cannot shrink them while decoding
 * (no shrink-on-load), so a pipeline holds width x height x bands x bytes per sample, and the worker runs one
 * pipeline per output size. Adam7-interlaced PNG must be decoded whole before the first row is known; a 16-bit PNG
 * doubles the bytes per sample; a progressive JPEG buffers every DCT coefficient of the image before any pixel.
 * Smooth content keeps the files small (deflate and JPEG compress it well), as a cheap upload that costs a lot to
 * decode would be. Generated with sharp, deterministic, cached; each is checked against the worker's default
 * MAX_INPUT_PIXELS and MAX_INPUT_BYTES so every one is an input the worker must accept.
 */
export interface DecodeHeavySpec {
  readonly format: 'png' | 'jpeg';
  readonly width: number;
  readonly height: number;
  /** 3 (RGB) or 4 (RGBA; PNG only). */
  readonly channels: 3 | 4;
  /** 16 is PNG only. */
  readonly bitsPerSample: 8 | 16;
  /** Adam7 for PNG, progressive for JPEG. */
  readonly interlaced: boolean;
}

export interface DecodeHeavyInput extends DecodeHeavySpec {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  /** One whole decode: width x height x channels x bytes per sample. */
  readonly decodedMiB: number;
}

/** Bumped whenever the generator changes, so a cached file is never mistaken for the new one. */
const GENERATOR_VERSION = 1;

export function decodeHeavyName(spec: DecodeHeavySpec): string {
  const layout = `${spec.channels === 4 ? 'rgba' : 'rgb'}${spec.bitsPerSample}`;
  const order = spec.interlaced ? (spec.format === 'png' ? '-adam7' : '-progressive') : '';
  return `${spec.format}-${spec.width}x${spec.height}-${layout}${order}`;
}

export function decodedMiB(spec: DecodeHeavySpec): number {
  return (spec.width * spec.height * spec.channels * (spec.bitsPerSample / 8)) / 2 ** 20;
}

/** The worker's defaults for what it accepts, read through its own config loader so they cannot drift. */
export function workerInputLimits(): { maxInputPixels: number; maxInputBytes: number } {
  const config = loadConfig({ QUEUE_URL: 'bench-queue.db', DEST_BUCKET: 'bench' }, 1);
  const resize = resizeJobModule.readSettings({}, { cpuCount: 1, memoryLimitBytes: 4 * 1024 ** 3 }).resize;
  return { maxInputPixels: resize.maxInputPixels, maxInputBytes: config.maxInputBytes };
}

export async function decodeHeavyImage(spec: DecodeHeavySpec, seed: number): Promise<Buffer> {
  if (spec.format === 'jpeg' && (spec.channels !== 3 || spec.bitsPerSample !== 8)) throw new Error('a JPEG here is 8-bit RGB');
  const random = seededRandom(seed);
  const { width, height, channels } = spec;
  // A few broad colour regions; alpha, when there is one, mostly opaque with soft transparent areas.
  const pixels = await upscaledField(8, 6, channels, width, height, (channel) =>
    channel === 3 ? (random() < 0.7 ? 255 : Math.floor(random() * 128)) : 40 + Math.floor(random() * 176),
  );
  let image = sharp(pixels, { raw: { width, height, channels } });
  if (spec.format === 'jpeg') return image.jpeg({ quality: 90, progressive: spec.interlaced }).toBuffer();
  if (spec.bitsPerSample === 16) image = image.toColourspace('rgb16');
  return image.png({ progressive: spec.interlaced, compressionLevel: 6 }).toBuffer();
}

/**
 * Writes each spec's file into `directory` once and reuses it later; checks that what was written is what the spec
 * says (format, size, depth, interlacing) and within the worker's default limits.
 */
export async function ensureDecodeHeavySet(directory: string, specs: readonly DecodeHeavySpec[]): Promise<DecodeHeavyInput[]> {
  const setDirectory = join(directory, `decode-heavy-v${GENERATOR_VERSION}`);
  mkdirSync(setDirectory, { recursive: true });
  const limits = workerInputLimits();
  const inputs: DecodeHeavyInput[] = [];
  for (const spec of specs) {
    const name = decodeHeavyName(spec);
    if (spec.width * spec.height > limits.maxInputPixels) {
      throw new Error(`${name} has more pixels than the worker's default MAX_INPUT_PIXELS (${limits.maxInputPixels})`);
    }
    const path = join(setDirectory, `${name}.${spec.format === 'png' ? 'png' : 'jpg'}`);
    if (!existsSync(path)) {
      const bytes = await decodeHeavyImage(spec, seedFor(name));
      writeFileSync(`${path}.partial`, bytes);
      renameSync(`${path}.partial`, path);
    }
    const bytes = statSync(path).size;
    if (bytes > limits.maxInputBytes) throw new Error(`${name} is ${bytes} bytes, over the worker's default MAX_INPUT_BYTES`);
    await assertMatches(path, spec, name);
    inputs.push({ ...spec, name, path, bytes, decodedMiB: decodedMiB(spec) });
  }
  return inputs;
}

/** The same file for the same spec, wherever it appears in a plan. */
function seedFor(name: string): number {
  let hash = 2166136261;
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  return hash;
}

async function assertMatches(path: string, spec: DecodeHeavySpec, name: string): Promise<void> {
  const metadata = await sharp(path).metadata();
  const expected = {
    format: spec.format,
    width: spec.width,
    height: spec.height,
    channels: spec.channels,
    depth: spec.bitsPerSample === 16 ? 'ushort' : 'uchar',
    isProgressive: spec.interlaced,
  };
  const actual = {
    format: metadata.format,
    width: metadata.width,
    height: metadata.height,
    channels: metadata.channels,
    depth: metadata.depth,
    isProgressive: metadata.isProgressive ?? false,
  };
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${name}: generated file reads back as ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
}
