import sharp from 'sharp';
import type { ResizeConfig } from '../resize-config';
import { DeadlineExceededError } from '../../../../shared/errors';
import { InvalidImageError, MemoryBudgetError, PixelLimitError } from '../image-errors';
import { MemoryBudget } from '../memory-budget';
import { ResizeJob } from '../resize-job';
import {
  alphaPng, animatedGif, cmykJpeg, corruptJpeg, exifRotatedJpeg, grayscaleJpeg, halvesJpeg, interlacedPng, pixelBombPng, plainJpeg, png16, progressiveJpeg, textAsJpg,
  truncated,
} from '../../../test/factories';

const config: ResizeConfig = {
  sizes: [{ width: 224, height: 224 }],
  fit: 'cover',
  format: 'jpeg',
  quality: 85,
  background: '#ffffff',
  maxInputPixels: 100_000_000,
  failOn: 'warning',
  inputFormats: ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif'],
  renderTimeoutSeconds: 60,
};

const source = { bucket: 'src', key: 'in/photo.jpg', relativeKey: 'photo.jpg', etag: 'e', size: 1 };

async function run(bytes: Buffer, overrides: Partial<ResizeConfig> = {}) {
  const outputs = await new ResizeJob({ ...config, ...overrides }).process({ kind: 'bytes', bytes, source });
  return Promise.all(
    outputs.map(async (output) => ({ output, meta: await sharp(output.body).metadata(), stats: await sharp(output.body).stats() })),
  );
}

async function rejection(bytes: Buffer, overrides: Partial<ResizeConfig> = {}, budget?: MemoryBudget): Promise<Error> {
  try {
    await new ResizeJob({ ...config, ...overrides }, budget).process({ kind: 'bytes', bytes, source });
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the job to reject');
}

describe('ResizeJob', () => {
  it('yields one output per size, named WIDTHxHEIGHT, at exactly that size', async () => {
    const results = await run(await plainJpeg(800, 600), { sizes: [{ width: 224, height: 224 }, { width: 299, height: 299 }] });
    expect(results.map(({ output, meta }) => [output.name, output.contentType, meta.width, meta.height, meta.format])).toEqual([
      ['224x224/photo.jpg', 'image/jpeg', 224, 224, 'jpeg'],
      ['299x299/photo.jpg', 'image/jpeg', 299, 299, 'jpeg'],
    ]);
  });

  it('plans the same outputs it produces, so redeliveries can be checked before any work', () => {
    expect(new ResizeJob({ ...config, format: 'webp' }).plannedOutputs({ relativeKey: 'a/photo.jpg' })).toEqual([{ name: '224x224/a/photo.webp' }]);
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

  describe('images that decode whole (no shrink-on-load) are decoded once and every size cut from it', () => {
    const twoSizes = { sizes: [{ width: 224, height: 224 }, { width: 299, height: 299 }] };

    it('gives every size exactly from an interlaced PNG, a progressive JPEG and a 16-bit PNG', async () => {
      for (const bytes of [await interlacedPng(900, 700), await progressiveJpeg(900, 700), await png16(900, 700)]) {
        const results = await run(bytes, twoSizes);
        expect(results.map(({ meta }) => [meta.width, meta.height, meta.depth, meta.space])).toEqual([
          [224, 224, 'uchar', 'srgb'],
          [299, 299, 'uchar', 'srgb'],
        ]);
      }
    });

    it('keeps EXIF orientation and fit on that path: progressive 400x200 with orientation 6 fits inside 100x100 as 50x100', async () => {
      const bytes = await sharp(await plainJpeg(400, 200)).jpeg({ progressive: true }).withMetadata({ orientation: 6 }).toBuffer();
      const [result] = await run(bytes, { fit: 'inside', sizes: [{ width: 100, height: 100 }] });
      expect([result!.meta.width, result!.meta.height]).toEqual([50, 100]);
    });

    it('cover crops the centre on that path too', async () => {
      const wide = await sharp(await halvesJpeg(800, 200)).png({ progressive: true }).toBuffer();
      const [result] = await run(wide);
      const { data } = await sharp(result!.output.body).raw().toBuffer({ resolveWithObject: true });
      expect(data[0]!).toBeGreaterThan(200);
      expect(data[(224 - 1) * 3 + 2]!).toBeGreaterThan(200);
    });
  });

  describe('input formats are judged from the content', () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200"><rect width="300" height="200" fill="red"/></svg>');

    it('refuses an SVG named .jpg by default, naming the format and the setting', async () => {
      const error = await rejection(svg);
      expect(error).toBeInstanceOf(InvalidImageError);
      expect((error as InvalidImageError).reason).toBe('format-not-accepted');
      expect(error.message).toMatch(/in\/photo\.jpg is a SVG file; INPUT_FORMATS accepts jpeg, png/);
    });

    it('renders SVG when INPUT_FORMATS includes it, and refuses PNG when it does not', async () => {
      const [result] = await run(svg, { inputFormats: ['svg'] });
      expect([result!.meta.width, result!.meta.height]).toEqual([224, 224]);
      expect(((await rejection(await alphaPng(50, 50), { inputFormats: ['jpeg'] })) as InvalidImageError).reason).toBe('format-not-accepted');
    });
  });

  describe('memory budget', () => {
    it('refuses, before decoding, an image that could not fit the budget even alone', async () => {
      const budget = new MemoryBudget(8 * 1024 * 1024);
      const error = await rejection(await interlacedPng(2000, 2000), {}, budget);
      expect(error).toBeInstanceOf(MemoryBudgetError);
      expect(error.message).toMatch(/in\/photo\.jpg needs about \d+ MiB to decode, more than this task's decode budget of 8 MiB/);
      expect(budget.usedBytes).toBe(0);
    });

    it('admits decodes one after another when two would not fit together, and releases what it admitted', async () => {
      const bytes = await interlacedPng(1500, 1500);
      // Room for one such decode (about 20 MiB estimated), not two.
      const budget = new MemoryBudget(24 * 1024 * 1024);
      const processor = new ResizeJob(config, budget);
      let peak = 0;
      const watch = setInterval(() => (peak = Math.max(peak, budget.usedBytes)), 1);
      const results = await Promise.all([1, 2, 3].map(() => processor.process({ kind: 'bytes', bytes, source })));
      clearInterval(watch);
      expect(results.every((outputs) => outputs.length === 1)).toBe(true);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThanOrEqual(24 * 1024 * 1024);
      expect(budget.usedBytes).toBe(0);
    });
  });

  it('stops a render that outlives RENDER_TIMEOUT_SECONDS as a render-timeout worth one more attempt', async () => {
    // An 8000x8000 interlaced PNG of noise decodes whole and takes well over a second on any machine here.
    const width = 8000;
    const raw = Buffer.alloc(width * width * 3);
    for (let i = 0; i < raw.length; i += 7) raw[i] = (i * 31) % 251;
    const bytes = await sharp(raw, { raw: { width, height: width, channels: 3 } }).png({ progressive: true, compressionLevel: 0 }).toBuffer();
    const budget = new MemoryBudget(4 * 1024 ** 3);
    const started = Date.now();
    const error = await rejection(bytes, { renderTimeoutSeconds: 1 }, budget);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect((error as DeadlineExceededError).reason).toBe('render-timeout');
    expect((error as DeadlineExceededError).attemptsAllowed).toBe(2);
    expect(error.message).toMatch(/RENDER_TIMEOUT_SECONDS \(1\)/);
    // Its memory is given back once libvips has really stopped.
    while (budget.usedBytes > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }, 30_000);
});

describe('the render timeout when libvips does not check it', () => {
  it('fails the image on time while the native work goes on, and keeps its memory leased until that work ends', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      let finishNative: () => void = () => undefined;
      const budget = new MemoryBudget(1024 ** 3);
      const processor = new ResizeJob({ ...config, renderTimeoutSeconds: 5 }, budget);
      // A decode that never yields to libvips's timeout check: the render only ends when we say so.
      jest.spyOn(processor as unknown as { renderAll: () => Promise<unknown> }, 'renderAll').mockImplementation(
        () => new Promise((resolve) => { finishNative = () => resolve([]); }),
      );
      const outcome = processor.process({ kind: 'bytes', bytes: await plainJpeg(64, 64), source }).catch((error: unknown) => error);
      while (budget.usedBytes === 0) await new Promise((resolve) => setImmediate(resolve));
      jest.advanceTimersByTime(5_000);
      const error = await outcome;
      expect(error).toBeInstanceOf(DeadlineExceededError);
      expect((error as DeadlineExceededError).reason).toBe('render-timeout');
      expect(budget.usedBytes).toBeGreaterThan(0);
      finishNative();
      await new Promise((resolve) => setImmediate(resolve));
      expect(budget.usedBytes).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});
