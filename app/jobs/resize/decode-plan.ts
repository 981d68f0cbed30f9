import type { Size } from './resize-config';

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
  /**
   * WebP only: a plain lossy `VP8 ` bitstream, which libwebp decodes at a reduced scale. Lossless (`VP8L`) and lossy
   * with alpha decode at full size.
   */
  readonly webpSimpleLossy?: boolean;
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
 * Peak memory of a whole decode over its decoded pixels (width x height x bands x bytes per sample), per loader,
 * measured on 3000x3000 to 6000x4000 inputs with a margin: interlaced PNG 1.4, plain and 16-bit PNG 0.6, TIFF 0.7,
 * progressive JPEG 1.0 (1.3 at 4:4:4 and CMYK), GIF 1.1, lossless WebP 1.0, AVIF/HEIF
 * about 6 (libheif keeps its own planes beside libvips's).
 */
const WHOLE_DECODE_FACTORS: Readonly<Record<string, number>> = { png: 1.0, tiff: 1.0, jpeg: 2.0, gif: 1.75, webp: 1.5, heif: 7.0, avif: 7.0 };
const INTERLACED_PNG_FACTOR = 1.5;
const DEFAULT_WHOLE_DECODE_FACTOR = 1.5;
/** A shrink-on-load decode keeps its reduced image; 1.5 covers the decoder's own buffers. */
const SHRUNK_DECODE_FACTOR = 1.5;
/** libvips buffers, the encoder's output, the pipeline's own state: per render, whatever the size. */
const PER_RENDER_OVERHEAD_BYTES = 4 * 1024 * 1024;
/** The largest JPEG shrink-on-load factor libjpeg offers. */
const MAX_JPEG_SHRINK = 8;

/**
 * How to render one image and how much memory it will need, from its header alone. Baseline JPEG and WebP decode
 * at a fraction of their size for small outputs (WebP only when plain lossy); everything else (PNG, progressive JPEG, TIFF, GIF, AVIF/HEIF, SVG)
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
      return total + Math.ceil(width / shrink) * Math.ceil(height / shrink) * bytesPerPixel * SHRUNK_DECODE_FACTOR + PER_RENDER_OVERHEAD_BYTES;
    }, 0);
    return { strategy: { kind: 'per-size' }, estimatedBytes: Math.ceil(perSize + outputs) };
  }

  const scale = Math.min(1, 2 * Math.max(...sizes.map((size) => Math.max(size.width / width, size.height / height))));
  const reduced = { width: Math.max(1, Math.ceil(width * scale)), height: Math.max(1, Math.ceil(height * scale)) };
  // Twice the larger of the two ratios keeps enough pixels for any fit: cover needs the larger, contain the smaller.
  const whole = width * height * bytesPerPixel * wholeDecodeFactor(header);
  const intermediate = reduced.width * reduced.height * Math.min(4, header.channels);
  const estimatedBytes = Math.ceil(whole + intermediate * (1 + sizes.length) + PER_RENDER_OVERHEAD_BYTES * (1 + sizes.length) + outputs);
  return { strategy: { kind: 'decode-once', ...reduced }, estimatedBytes };
}

function shrinksOnLoad(header: ImageHeader): boolean {
  return (header.format === 'jpeg' && !header.isProgressive) || (header.format === 'webp' && header.webpSimpleLossy === true);
}

function wholeDecodeFactor(header: ImageHeader): number {
  if (header.format === 'png' && header.isProgressive) return INTERLACED_PNG_FACTOR;
  return WHOLE_DECODE_FACTORS[header.format] ?? DEFAULT_WHOLE_DECODE_FACTOR;
}

/** A WebP file's first chunk after `RIFF....WEBP`: `VP8 ` is plain lossy, `VP8L` lossless, `VP8X` extended (alpha...). */
export function isSimpleLossyWebp(bytes: Buffer): boolean {
  return bytes.length >= 16 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP' && bytes.toString('latin1', 12, 16) === 'VP8 ';
}

/** The shrink libjpeg will use at most: the output still has at least twice the target's pixels on each side. */
function jpegShrink(width: number, height: number, size: Size): number {
  let shrink = 1;
  while (shrink < MAX_JPEG_SHRINK && width / (shrink * 2) >= size.width * 2 && height / (shrink * 2) >= size.height * 2) shrink *= 2;
  return shrink;
}
