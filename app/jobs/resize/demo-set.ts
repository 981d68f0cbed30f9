import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

/** Keys chosen to show what trips up naive pipelines: spaces, plus signs, unicode and deep folders. */
const GOOD_NAMES = [
  'holiday/beach 01.jpg', 'holiday/beach 02.jpg', 'holiday/sunset+sea.jpg', 'holiday/città/duomo.jpg',
  'cats/tabby.jpg', 'cats/ginger.png', 'cats/写真/neko.jpg', 'dogs/a/b/c/puppy.jpg', 'dogs/portrait.jpg',
  'scans/page 1.png', 'scans/page+2.png', 'misc/ümlaut.jpeg', 'misc/100% real.jpg', 'misc/wide.jpg',
];
const GOOD_COUNT = 40;

/** Generated, never downloaded: smooth colour fields with grain look enough like photos to time realistically. */
async function photoLike(seed: number, width: number, height: number, png: boolean, exifOrientation?: number): Promise<Buffer> {
  let state = seed * 2654435761;
  const random = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const small = Buffer.alloc(8 * 6 * 3);
  for (let i = 0; i < small.length; i++) small[i] = Math.floor(random() * 256);
  const image = sharp(small, { raw: { width: 8, height: 6, channels: 3 } }).resize(width, height, { kernel: 'cubic' }).blur(1.5);
  // A camera held sideways stores the pixels unrotated and says so in EXIF: the worker must turn them upright.
  const tagged = exifOrientation === undefined ? image : image.withMetadata({ orientation: exifOrientation });
  return png ? tagged.png().toBuffer() : tagged.jpeg({ quality: 88 }).toBuffer();
}

/** Writes the demo set into `dir` once (about 40 images and 3 broken files) and returns how many good and bad. */
export async function writeDemoSet(dir: string): Promise<{ good: number; broken: number }> {
  const broken: Record<string, Buffer> = {
    'broken/empty.jpg': Buffer.alloc(0),
    'broken/notes.jpg': Buffer.from('this is a text file with a .jpg name\n'),
    'broken/truncated.jpg': (await photoLike(999, 640, 480, false)).subarray(0, 4000),
  };
  const files: [string, () => Promise<Buffer>][] = [];
  for (let i = 0; i < GOOD_COUNT; i++) {
    const name = GOOD_NAMES[i % GOOD_NAMES.length]!;
    const key = i < GOOD_NAMES.length ? name : name.replace(/(\.[a-z]+)$/, ` ${i}$1`);
    const portrait = i % 4 === 1;
    const width = 640 + (i % 5) * 160;
    const height = Math.round(width * (portrait ? 4 / 3 : 3 / 4));
    const sideways = i % 7 === 3 && !key.endsWith('.png') ? 6 : undefined;
    files.push([key, () => photoLike(i + 1, width, height, key.endsWith('.png'), sideways)]);
  }
  for (const [key, bytes] of Object.entries(broken)) files.push([key, async () => bytes]);
  for (const [key, make] of files) {
    const path = join(dir, key);
    if (existsSync(path)) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, await make());
  }
  return { good: GOOD_COUNT, broken: Object.keys(broken).length };
}
