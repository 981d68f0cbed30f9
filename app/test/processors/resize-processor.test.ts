import sharp from 'sharp';
import type { ResizeConfig } from '../../src/config';
import { InvalidImageError, PixelLimitError } from '../../src/errors';
import { ResizeProcessor } from '../../src/processors/resize-processor';
import {
  alphaPng, animatedGif, cmykJpeg, corruptJpeg, exifRotatedJpeg, grayscaleJpeg, halvesJpeg, pixelBombPng, plainJpeg, png16, textAsJpg, truncated,
} from '../factories';

const config: ResizeConfig = {
  sizes: [{ width: 224, height: 224 }],
  fit: 'cover',
  format: 'jpeg',
  quality: 85,
  background: '#ffffff',
  maxInputPixels: 100_000_000,
  failOn: 'warning',
};

const source = { bucket: 'src', key: 'in/photo.jpg', etag: 'e', size: 1 };

async function run(bytes: Buffer, overrides: Partial<ResizeConfig> = {}) {
  const outputs = await new ResizeProcessor({ ...config, ...overrides }).process({ bytes, source });
  return Promise.all(
    outputs.map(async (output) => ({ output, meta: await sharp(output.body).metadata(), stats: await sharp(output.body).stats() })),
  );
}

async function rejection(bytes: Buffer, overrides: Partial<ResizeConfig> = {}): Promise<Error> {
  try {
    await new ResizeProcessor({ ...config, ...overrides }).process({ bytes, source });
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the processor to reject');
}

describe('ResizeProcessor', () => {
  it('yields one output per size, named WIDTHxHEIGHT, at exactly that size', async () => {
    const results = await run(await plainJpeg(800, 600), { sizes: [{ width: 224, height: 224 }, { width: 299, height: 299 }] });
    expect(results.map(({ output, meta }) => [output.name, output.extension, output.contentType, meta.width, meta.height, meta.format])).toEqual([
      ['224x224', '.jpg', 'image/jpeg', 224, 224, 'jpeg'],
      ['299x299', '.jpg', 'image/jpeg', 299, 299, 'jpeg'],
    ]);
  });

  it('plans the same outputs it produces, so redeliveries can be checked before any work', () => {
    expect(new ResizeProcessor({ ...config, format: 'webp' }).plannedOutputs()).toEqual([{ name: '224x224', extension: '.webp', contentType: 'image/webp' }]);
  });

  it('cover crops the centre: a wide red|blue image keeps both colours at the edges of a square', async () => {
    const [result] = await run(await halvesJpeg(800, 200));
    const { data } = await sharp(result!.output.body).raw().toBuffer({ resolveWithObject: true });
    const left = [data[0]!, data[2]!];
    const right = [data[(224 - 1) * 3]!, data[(224 - 1) * 3 + 2]!];
    expect(left[0]).toBeGreaterThan(200);
    expect(right[1]).toBeGreaterThan(200);
  });

  it.each([
    ['contain', 224, 224],
    ['inside', 224, 56],
  ] as const)('fit %s on an 800x200 input gives %ix%i', async (fit, width, height) => {
    const [result] = await run(await plainJpeg(800, 200), { fit });
    expect([result!.meta.width, result!.meta.height]).toEqual([width, height]);
  });

  it('contain pads with the background colour', async () => {
    const [result] = await run(await plainJpeg(800, 200), { fit: 'contain', background: '#00ff00' });
    const { data } = await sharp(result!.output.body).raw().toBuffer({ resolveWithObject: true });
    expect([data[0]!, data[1]!, data[2]!].map((v) => Math.round(v / 32))).toEqual([0, 8, 0]);
  });

  it('honours EXIF orientation: 400x200 stored with orientation 6 fits inside 100x100 as 50x100', async () => {
    const [result] = await run(await exifRotatedJpeg(400, 200), { fit: 'inside', sizes: [{ width: 100, height: 100 }] });
    expect([result!.meta.width, result!.meta.height, result!.meta.orientation]).toEqual([50, 100, undefined]);
  });

  it('flattens alpha onto the background for JPEG', async () => {
    const [result] = await run(await alphaPng(300, 300), { background: '#ff0000' });
    expect(result!.meta.channels).toBe(3);
    expect(result!.stats.channels.map((channel) => Math.round(channel.mean))).toEqual([expect.any(Number), 0, 0]);
    expect(result!.stats.channels[0]!.mean).toBeGreaterThan(240);
  });

  it.each([
    ['grayscale JPEG', grayscaleJpeg],
    ['CMYK JPEG', cmykJpeg],
    ['16-bit PNG', png16],
  ])('turns a %s into an 8-bit sRGB output', async (_name, build) => {
    const [result] = await run(await build(320, 240));
    expect({ space: result!.meta.space, depth: result!.meta.depth, channels: result!.meta.channels }).toEqual({ space: 'srgb', depth: 'uchar', channels: 3 });
  });

  it('takes the first frame of an animated GIF', async () => {
    const [result] = await run(await animatedGif(64, 48), { format: 'png' });
    expect([result!.meta.width, result!.meta.height, result!.meta.pages]).toEqual([224, 224, undefined]);
    const means = result!.stats.channels.map((channel) => Math.round(channel.mean));
    expect(means[0]).toBeGreaterThan(200);
    expect(means[1]).toBeLessThan(30);
  });

  it('writes WebP and PNG when asked', async () => {
    expect((await run(await plainJpeg(300, 300), { format: 'webp' }))[0]!.meta.format).toBe('webp');
    expect((await run(await plainJpeg(300, 300), { format: 'png' }))[0]!.meta.format).toBe('png');
  });

  it('strips EXIF and other metadata from outputs', async () => {
    const [result] = await run(await exifRotatedJpeg(200, 100));
    expect(result!.meta.exif).toBeUndefined();
  });

  it.each([
    ['a zero-byte file', async () => Buffer.alloc(0), 'empty-file'],
    ['a text file named .jpg', async () => textAsJpg(), 'unsupported-format'],
    ['a truncated JPEG', () => truncated(plainJpeg(640, 480), 0.3), 'corrupt-image'],
    ['a truncated PNG', () => truncated(png16(200, 200), 0.5), 'corrupt-image'],
    ['a JPEG with a corrupt scan', corruptJpeg, 'corrupt-image'],
  ] as const)('rejects %s as InvalidImageError(%s)', async (name, build, reason) => {
    void name;
    const error = await rejection(await build());
    expect(error).toBeInstanceOf(InvalidImageError);
    expect((error as InvalidImageError).reason).toBe(reason);
    expect(error.message).toContain('in/photo.jpg');
  });

  it('with FAIL_ON=error accepts a JPEG whose scan libvips can decode through, and still rejects a truncated one', async () => {
    expect(await run(await corruptJpeg(), { failOn: 'error' })).toHaveLength(1);
    expect((await rejection(await truncated(plainJpeg(640, 480), 0.3), { failOn: 'error' })).message).toMatch(/could not be decoded/);
  });

  it('refuses a tiny PNG that declares 30000x30000 pixels without decoding it', async () => {
    const bomb = pixelBombPng();
    expect(bomb.length).toBeLessThan(2000);
    const before = process.memoryUsage().rss;
    const error = await rejection(bomb);
    expect(error).toBeInstanceOf(PixelLimitError);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });
});
