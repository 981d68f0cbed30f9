import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeDemoSet } from '../demo-set';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'demo-set-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('writes decodable photos in both orientations, some EXIF-rotated, with awkward keys, plus broken files', async () => {
  expect(await writeDemoSet(dir)).toEqual({ good: 40, broken: 3 });
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((path) => statSync(join(dir, path)).isFile());
  expect(files).toHaveLength(43);
  expect(files).toEqual(expect.arrayContaining(['holiday/beach 01.jpg', 'holiday/sunset+sea.jpg', 'cats/写真/neko.jpg', 'dogs/a/b/c/puppy.jpg']));

  const good = files.filter((path) => !path.startsWith('broken'));
  const metadata = await Promise.all(good.map((path) => sharp(readFileSync(join(dir, path))).metadata()));
  expect(metadata.some((meta) => meta.height > meta.width)).toBe(true);
  expect(metadata.some((meta) => meta.width > meta.height)).toBe(true);
  expect(metadata.some((meta) => meta.orientation === 6)).toBe(true);
  expect(new Set(metadata.map((meta) => meta.format))).toEqual(new Set(['jpeg', 'png']));

  for (const broken of ['broken/empty.jpg', 'broken/notes.jpg', 'broken/truncated.jpg']) {
    // An empty buffer is refused by the constructor itself, the others when decoded.
    await expect((async () => sharp(readFileSync(join(dir, broken)), { failOn: 'warning' }).toBuffer())()).rejects.toThrow();
  }
});

it('leaves files already there untouched on a second call', async () => {
  const before = statSync(join(dir, 'cats/tabby.jpg')).mtimeMs;
  await writeDemoSet(dir);
  expect(statSync(join(dir, 'cats/tabby.jpg')).mtimeMs).toBe(before);
});
