import sharp from 'sharp';
import { isSimpleLossyWebp, planDecode, type ImageHeader } from '../decode-plan';

const sizes = [{ width: 224, height: 224 }, { width: 299, height: 299 }];
const header = (overrides: Partial<ImageHeader>): ImageHeader => ({ format: 'jpeg', width: 4000, height: 3000, channels: 3, depth: 'uchar', isProgressive: false, ...overrides });
const MIB = 1024 * 1024;

describe('planDecode', () => {
  it('renders a baseline JPEG per size from the bytes (shrink-on-load), for a few MiB', () => {
    const plan = planDecode(header({}), sizes);
    expect(plan.strategy).toEqual({ kind: 'per-size' });
    expect(plan.estimatedBytes).toBeLessThan(16 * MIB);
  });

  it('decodes a progressive JPEG once, whole, and reduces it to twice the largest output', () => {
    const plan = planDecode(header({ width: 6000, height: 4000, isProgressive: true }), sizes);
    // cover needs max(299/6000, 299/4000) of each side; twice that keeps quality: 897x598.
    expect(plan.strategy).toEqual({ kind: 'decode-once', width: 897, height: 598 });
    expect(plan.estimatedBytes).toBeGreaterThan(6000 * 4000 * 3);
  });

  it('counts bytes per sample and bands: a 16-bit RGBA PNG needs 8 bytes a pixel', () => {
    const rgb8 = planDecode(header({ format: 'png', width: 3000, height: 3000 }), sizes).estimatedBytes;
    const rgba16 = planDecode(header({ format: 'png', width: 3000, height: 3000, channels: 4, depth: 'ushort' }), sizes).estimatedBytes;
    expect(rgba16 / rgb8).toBeGreaterThan(2);
    expect(rgba16).toBeGreaterThan(3000 * 3000 * 8);
  });

  it('does not multiply whole decodes by the number of sizes', () => {
    const one = planDecode(header({ format: 'png' }), [sizes[0]!]).estimatedBytes;
    const two = planDecode(header({ format: 'png' }), sizes).estimatedBytes;
    expect(two / one).toBeLessThan(1.25);
  });

  it('swaps sides for EXIF orientations 5 to 8', () => {
    const plan = planDecode(header({ format: 'png', width: 4000, height: 1000, orientation: 6 }), [{ width: 100, height: 100 }]);
    expect(plan.strategy).toEqual({ kind: 'decode-once', width: 200, height: 800 });
  });

  it('never enlarges the intermediate beyond the source', () => {
    const plan = planDecode(header({ format: 'gif', width: 64, height: 48 }), sizes);
    expect(plan.strategy).toEqual({ kind: 'decode-once', width: 64, height: 48 });
  });

  it('shrinks only a plain lossy WebP on load: lossless and alpha WebP decode whole, once', () => {
    expect(planDecode(header({ format: 'webp', webpSimpleLossy: true }), sizes).strategy).toEqual({ kind: 'per-size' });
    const lossless = planDecode(header({ format: 'webp', channels: 4, webpSimpleLossy: false }), sizes);
    expect(lossless.strategy.kind).toBe('decode-once');
    expect(lossless.estimatedBytes).toBeGreaterThan(4000 * 3000 * 4);
  });

  it('allows AVIF/HEIF the several bytes per pixel libheif needs beside libvips', () => {
    // Measured: about 19 bytes a pixel for a 24-megapixel RGB AVIF.
    expect(planDecode(header({ format: 'heif', width: 6000, height: 4000 }), sizes).estimatedBytes).toBeGreaterThan(6000 * 4000 * 19);
  });
});

describe('isSimpleLossyWebp', () => {
  const image = () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } });

  it('tells plain lossy WebP from lossless and alpha WebP by the first chunk', async () => {
    expect(isSimpleLossyWebp(await image().webp({ quality: 80 }).toBuffer())).toBe(true);
    expect(isSimpleLossyWebp(await image().webp({ lossless: true }).toBuffer())).toBe(false);
    expect(isSimpleLossyWebp(await image().ensureAlpha(0.5).webp({ quality: 80 }).toBuffer())).toBe(false);
    expect(isSimpleLossyWebp(Buffer.from('RIFF'))).toBe(false);
  });
});
