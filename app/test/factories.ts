import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** Test inputs built in code (lovell/sharp's own style); only deliberately broken files are hand-made. */
const rgb = (width: number, height: number, colour = '#3366cc') => sharp({ create: { width, height, channels: 3, background: colour } });

/** A two-tone image: a left half and a right half in different colours, so crops and rotations are visible. */
export function halvesJpeg(width: number, height: number, left = '#ff0000', right = '#0000ff'): Promise<Buffer> {
  return rgb(width, height, left)
    .composite([{ input: { create: { width: Math.ceil(width / 2), height, channels: 3, background: right } }, left: Math.floor(width / 2), top: 0 }])
    .jpeg()
    .toBuffer();
}

export const plainJpeg = (width: number, height: number) => rgb(width, height).jpeg().toBuffer();

/** Landscape pixels stored with EXIF orientation 6: viewers show it rotated 90° clockwise, i.e. portrait. */
export const exifRotatedJpeg = (width: number, height: number) => rgb(width, height).jpeg().withMetadata({ orientation: 6 }).toBuffer();

export const alphaPng = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();

export const grayscaleJpeg = (width: number, height: number) => rgb(width, height, '#808080').grayscale().jpeg().toBuffer();

export const cmykJpeg = (width: number, height: number) => rgb(width, height, '#ff8800').toColourspace('cmyk').jpeg().toBuffer();

export const interlacedPng = (width: number, height: number) => rgb(width, height, '#3366cc').png({ progressive: true }).toBuffer();
export const progressiveJpeg = (width: number, height: number) => rgb(width, height, '#cc6633').jpeg({ progressive: true }).toBuffer();
export const png16 = (width: number, height: number) => rgb(width, height, '#22aa44').toColourspace('rgb16').png().toBuffer();

/** Two frames, red then green: the processor must take the first. */
export async function animatedGif(width: number, height: number): Promise<Buffer> {
  const frames = await Promise.all(['#ff0000', '#00ff00'].map((colour) => rgb(width, height, colour).raw().toBuffer()));
  return sharp(Buffer.concat(frames), { raw: { width, height: height * 2, channels: 3, pageHeight: height } }).gif().toBuffer();
}

export async function truncated(image: Promise<Buffer>, keep = 0.5): Promise<Buffer> {
  const bytes = await image;
  return bytes.subarray(0, Math.floor(bytes.length * keep));
}

export async function corruptJpeg(): Promise<Buffer> {
  const bytes = Buffer.from(await halvesJpeg(256, 256));
  // Overwrite the entropy-coded data after the headers with noise: the markers survive, the scan does not.
  for (let i = Math.floor(bytes.length / 2); i < bytes.length - 2; i += 3) bytes[i] = 0xff;
  return bytes;
}

export const textAsJpg = () => Buffer.from('this is a text file that happens to be named photo.jpg\n');

/** A valid PNG header declaring width x height pixels with a tiny body: a decompression bomb that must be refused unread. */
export function pixelBombPng(width = 30_000, height = 30_000): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed) >>> 0);
    return Buffer.concat([length, typed, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
