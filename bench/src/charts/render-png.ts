import sharp from 'sharp';

/** Rasterises an SVG with sharp's librsvg; the fonts come from fontconfig (DejaVu on Debian). */
export async function writeSvgAsPng(svg: string, path: string): Promise<void> {
  await sharp(Buffer.from(svg), { density: 96 }).png({ compressionLevel: 9 }).toFile(path);
}
