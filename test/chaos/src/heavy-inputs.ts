import sharp from 'sharp';
import { planDecode } from '../../../app/jobs/resize/decode-plan';

/**
 * Inputs that are cheap to store and expensive to handle: images that decode whole (16-bit RGBA interlaced PNG,
 * progressive JPEG), an SVG dressed as a JPEG, and keys at S3's byte limits. Images are made once per process and
 * shared: a 10000x10000 16-bit PNG takes several seconds to encode.
 */
const made = new Map<string, Promise<Buffer>>();

function once(name: string, make: () => Promise<Buffer>): Promise<Buffer> {
  let bytes = made.get(name);
  if (bytes === undefined) {
    bytes = make();
    made.set(name, bytes);
  }
  return bytes;
}

/** A solid 16-bit RGBA interlaced (Adam7) PNG: a few MB on disk, side x side x 8 bytes once decoded, with no shrink-on-load. */
export function heavyPng16(side: number): Promise<Buffer> {
  return once(`png16-${side}`, () =>
    sharp({ create: { width: side, height: side, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } }).toColourspace('rgb16').png({ progressive: true }).toBuffer(),
  );
}

/** A progressive JPEG: decodes whole too (libjpeg cannot shrink a progressive scan on load). */
export function heavyProgressiveJpeg(side: number): Promise<Buffer> {
  return once(`pjpeg-${side}`, () => sharp({ create: { width: side, height: side, channels: 3, background: '#cc6633' } }).jpeg({ progressive: true, quality: 80 }).toBuffer());
}

/**
 * The older version of a raced key: an interlaced PNG that takes a worker a good fraction of a second to render, so
 * the newer version, written as soon as the worker has read the older one, lands between the worker's GET and its
 * check of the source after writing.
 */
export function slowOlderVersion(): Promise<Buffer> {
  return once('race-older', () => sharp({ create: { width: 2400, height: 2400, channels: 3, background: '#2266aa' } }).png({ progressive: true }).toBuffer());
}

/** The worker's own estimate of the memory an image needs to render, for the report (see decode-plan.ts). */
export async function estimatedDecodeBytes(bytes: Buffer, sizes: readonly { width: number; height: number }[]): Promise<number> {
  const meta = await sharp(bytes).metadata();
  return planDecode(
    { format: meta.format ?? 'unknown', width: meta.width ?? 0, height: meta.height ?? 0, channels: meta.channels ?? 4, depth: meta.depth ?? 'uchar', isProgressive: meta.isProgressive ?? false },
    sizes,
  ).estimatedBytes;
}

/**
 * An SVG named .jpg whose render would take practically forever (a 9000x9000 canvas of ten-octave turbulence under a
 * huge blur): libvips would pick its SVG loader from the content whatever the name says.
 */
export function endlessSvg(): Buffer {
  return Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" width="9000" height="9000"><defs><filter id="f" x="0" y="0" width="1" height="1">' +
      '<feTurbulence baseFrequency="0.9" numOctaves="10" seed="7"/><feGaussianBlur stdDeviation="400"/><feMorphology operator="dilate" radius="200"/>' +
      '</filter></defs><rect width="9000" height="9000" filter="url(#f)"/></svg>\n',
  );
}

/**
 * A key of exactly `totalBytes` UTF-8 bytes made of `unit` (ASCII or one CJK character), in folders of at most
 * `segmentBytes`: s3rver keeps each key segment as a file name, which the file system limits to 255 bytes.
 */
export function keyOfBytes(prefix: string, totalBytes: number, unit: string, extension: string, segmentBytes = 198): string {
  const unitBytes = Buffer.byteLength(unit, 'utf8');
  let key = prefix;
  let segment = 0;
  while (Buffer.byteLength(key, 'utf8') + unitBytes + Buffer.byteLength(extension) <= totalBytes) {
    if (segment + unitBytes > segmentBytes && Buffer.byteLength(key, 'utf8') + 1 + unitBytes + Buffer.byteLength(extension) <= totalBytes) {
      key += '/';
      segment = 0;
    }
    key += unit;
    segment += unitBytes;
  }
  // ASCII fill to the exact length (a multi-byte unit may leave up to two bytes short).
  while (Buffer.byteLength(key, 'utf8') + Buffer.byteLength(extension) < totalBytes) key += 'x';
  return `${key}${extension}`;
}
