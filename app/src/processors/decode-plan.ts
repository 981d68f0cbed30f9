import type { Size } from '../config';

/** What the image header says, as sharp's `metadata()` reports it (nothing decoded yet). */
export interface ImageHeader {
  readonly format: string;
  readonly width: number;
  readonly height: number;
  /** Bands: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA or CMYK, ... */
  readonly channels: number;
  /** libvips band format: uchar, ushort, float, ... */
  readonly depth: string;
  /** Progressive JPEG or interlaced (Adam7) PNG. */
  readonly isProgressive: boolean;
  /** EXIF orientation 1..8; 5..8 swap width and height. */
  readonly orientation?: number;
}

export type DecodeStrategy =
  /** One pipeline per size from the encoded bytes: the decoder shrinks on load, so each decode is small. */
  | { readonly kind: 'per-size' }
  /**
   * The image decodes whole whatever the target: decode it once, reduce it to `width`x`height` (still at least twice
   * every output), and render every size from that.
   */
  | { readonly kind: 'decode-once'; readonly width: number; readonly height: number };

export interface DecodePlan {
  readonly strategy: DecodeStrategy;
  /** Conservative peak memory of the whole render, all sizes included. */
  readonly estimatedBytes: number;
}

const BYTES_PER_SAMPLE: Readonly<Record<string, number>> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, complex: 8, double: 8, dpcomplex: 16 };
/**
 * Measured peak over the decoded pixels on 3000x3000 and 6000x4000 inputs (interlaced PNG 1.4, progressive JPEG 1.0,
 * 16-bit and plain PNG 0.6, TIFF 0.7): 1.5 stays above all of them.
 */
const WHOLE_DECODE_FACTOR = 1.5;
/** libvips buffers, the encoder's output, the pipeline's own state: per render, whatever the size. */
const PER_RENDER_OVERHEAD_BYTES = 4 * 1024 * 1024;
/** The largest JPEG shrink-on-load factor libjpeg offers. */
const MAX_JPEG_SHRINK = 8;

/**
 * How to render one image and how much memory it will need, from its header alone. Baseline JPEG and WebP decode
 * at a fraction of their size for small outputs; everything else (PNG, progressive JPEG, TIFF, GIF, AVIF/HEIF, SVG)
 * decodes whole, so rendering each size from the encoded bytes would decode it whole once per size, at once.
 */
export function planDecode(header: ImageHeader, sizes: readonly Size[]): DecodePlan {
  const swap = (header.orientation ?? 1) >= 5;
  const width = swap ? header.height : header.width;
  const height = swap ? header.width : header.height;
  const bytesPerPixel = header.channels * (BYTES_PER_SAMPLE[header.depth] ?? 8);
  const outputs = sizes.reduce((total, size) => total + size.width * size.height * 4, 0);

  if (shrinksOnLoad(header)) {
    const perSize = sizes.reduce((total, size) => {
      const shrink = jpegShrink(width, height, size);
      return total + Math.ceil(width / shrink) * Math.ceil(height / shrink) * bytesPerPixel * WHOLE_DECODE_FACTOR + PER_RENDER_OVERHEAD_BYTES;
    }, 0);
    return { strategy: { kind: 'per-size' }, estimatedBytes: Math.ceil(perSize + outputs) };
  }

  const scale = Math.min(1, 2 * Math.max(...sizes.map((size) => Math.max(size.width / width, size.height / height))));
  const reduced = { width: Math.max(1, Math.ceil(width * scale)), height: Math.max(1, Math.ceil(height * scale)) };
  // Twice the larger of the two ratios keeps enough pixels for any fit: cover needs the larger, contain the smaller.
  const whole = width * height * bytesPerPixel * WHOLE_DECODE_FACTOR;
  const intermediate = reduced.width * reduced.height * Math.min(4, header.channels);
  const estimatedBytes = Math.ceil(whole + intermediate * (1 + sizes.length) + PER_RENDER_OVERHEAD_BYTES * (1 + sizes.length) + outputs);
  return { strategy: { kind: 'decode-once', ...reduced }, estimatedBytes };
}

function shrinksOnLoad(header: ImageHeader): boolean {
  return (header.format === 'jpeg' && !header.isProgressive) || header.format === 'webp';
}

/** The shrink libjpeg will use at most: the output still has at least twice the target's pixels on each side. */
function jpegShrink(width: number, height: number, size: Size): number {
  let shrink = 1;
  while (shrink < MAX_JPEG_SHRINK && width / (shrink * 2) >= size.width * 2 && height / (shrink * 2) >= size.height * 2) shrink *= 2;
  return shrink;
}
