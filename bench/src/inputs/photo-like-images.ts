import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/**
 * Deterministic photo-like inputs. A flat colour would make JPEG decode unrealistically cheap, so each image is a
 * smooth low-resolution colour field upscaled (large-scale structure) plus per-pixel grain (the high-frequency
 * detail that sets a real photo's file size and decode time). Same seed, same bytes, on any machine.
 */
export interface BenchInput {
  readonly path: string;
  readonly format: 'jpeg' | 'png';
  readonly width: number;
  readonly height: number;
}

export interface InputSetOptions {
  readonly width: number;
  readonly height: number;
  readonly jpegCount: number;
  /** PNGs with an alpha channel, to exercise the flatten path. */
  readonly pngCount: number;
}

/** Bumped whenever the generator changes, so a cached set is never mistaken for the new one. */
const GENERATOR_VERSION = 1;

/** mulberry32: tiny, fast, and good enough to look like sensor noise. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

export async function photoLikeImage(
  width: number,
  height: number,
  seed: number,
  format: 'jpeg' | 'png',
): Promise<Buffer> {
  const random = seededRandom(seed);
  const channels = format === 'png' ? 4 : 3;
  // Scene: a few broad colour regions. Texture: mid-size light and shade shared by all channels, as in a photo.
  const scene = await upscaledField(8, 6, channels, width, height, (channel) =>
    channels === 4 && channel === 3 ? (random() < 0.35 ? 0 : 255) : 40 + Math.floor(random() * 176),
  );
  const texture = await upscaledField(Math.round(width / 30), Math.round(height / 30), 1, width, height, () =>
    Math.floor(random() * 256),
  );
  const grain = format === 'png' ? 2 : 24;
  const pixels = width * height;
  for (let pixel = 0; pixel < pixels; pixel++) {
    const shade = (texture[pixel]! - 128) * 0.45 + (random() - 0.5) * grain;
    for (let channel = 0; channel < 3; channel++) {
      const index = pixel * channels + channel;
      const value = scene[index]! + shade;
      scene[index] = value < 0 ? 0 : value > 255 ? 255 : value;
    }
  }
  const image = sharp(scene, { raw: { width, height, channels } });
  return format === 'png' ? image.png({ compressionLevel: 6 }).toBuffer() : image.jpeg({ quality: 90 }).toBuffer();
}

export async function upscaledField(
  fieldWidth: number,
  fieldHeight: number,
  channels: 1 | 3 | 4,
  width: number,
  height: number,
  sample: (channel: number) => number,
): Promise<Buffer> {
  const field = Buffer.alloc(Math.max(2, fieldWidth) * Math.max(2, fieldHeight) * channels);
  for (let i = 0; i < field.length; i++) field[i] = sample(i % channels);
  return sharp(field, { raw: { width: Math.max(2, fieldWidth), height: Math.max(2, fieldHeight), channels } })
    .resize(width, height, { kernel: 'cubic' })
    .raw()
    .toBuffer();
}

/**
 * Writes the set into `directory` once and reuses it on later runs (generation costs more than some measurements).
 * Files are written under a temporary name and renamed, so an interrupted run never leaves a half-written input.
 */
export async function ensureInputSet(directory: string, options: InputSetOptions): Promise<BenchInput[]> {
  const setDirectory = join(directory, `v${GENERATOR_VERSION}-${options.width}x${options.height}`);
  mkdirSync(setDirectory, { recursive: true });
  const wanted: { name: string; format: 'jpeg' | 'png'; seed: number }[] = [];
  for (let i = 0; i < options.jpegCount; i++) wanted.push({ name: `photo-${pad(i)}.jpg`, format: 'jpeg', seed: 1000 + i });
  for (let i = 0; i < options.pngCount; i++) wanted.push({ name: `cutout-${pad(i)}.png`, format: 'png', seed: 5000 + i });
  const inputs: BenchInput[] = [];
  for (const item of wanted) {
    const path = join(setDirectory, item.name);
    if (!existsSync(path)) {
      const bytes = await photoLikeImage(options.width, options.height, item.seed, item.format);
      writeFileSync(`${path}.partial`, bytes);
      renameSync(`${path}.partial`, path);
    }
    inputs.push({ path, format: item.format, width: options.width, height: options.height });
  }
  return inputs;
}

function pad(index: number): string {
  return String(index).padStart(4, '0');
}
