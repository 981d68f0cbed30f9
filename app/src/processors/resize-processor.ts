import sharp from 'sharp';
import type { OutputFormat, ResizeConfig, Size } from '../config';
import { InvalidImageError, PixelLimitError } from '../errors';
import type { OutputSpec, Processor, ProcessorInput, ProcessorOutput } from '../ports/processor';

const FORMATS: Record<OutputFormat, { extension: string; contentType: string }> = {
  jpeg: { extension: '.jpg', contentType: 'image/jpeg' },
  webp: { extension: '.webp', contentType: 'image/webp' },
  png: { extension: '.png', contentType: 'image/png' },
};

/**
 * Resizes one image to every configured size. Each size is its own libvips pipeline from the encoded bytes, so JPEG
 * shrink-on-load picks the cheapest decode scale for that size (decoding 4000x3000 once at full size and scaling from
 * there would be several times slower). Outputs carry no EXIF/GPS metadata: stripping it is the privacy-safe default.
 */
export class ResizeProcessor implements Processor {
  readonly name = 'resize';
  private readonly specs: readonly (OutputSpec & { size: Size })[];

  constructor(private readonly config: ResizeConfig) {
    const format = FORMATS[config.format];
    this.specs = config.sizes.map((size) => ({ name: `${size.width}x${size.height}`, size, ...format }));
  }

  plannedOutputs(): readonly OutputSpec[] {
    return this.specs.map(({ name, extension, contentType }) => ({ name, extension, contentType }));
  }

  async process(input: ProcessorInput): Promise<ProcessorOutput[]> {
    if (input.bytes.length === 0) throw new InvalidImageError('empty-file', `${input.source.key} is empty (0 bytes)`);
    try {
      return await Promise.all(this.specs.map((spec) => this.render(input.bytes, spec)));
    } catch (error) {
      throw imageError(error, input.source.key);
    }
  }

  private async render(bytes: Buffer, spec: OutputSpec & { size: Size }): Promise<ProcessorOutput> {
    const { fit, background, quality, maxInputPixels, format, failOn } = this.config;
    // failOn rejects truncated and corrupt files instead of writing half-grey outputs; the pixel limit is checked
    // from the header, before any pixel is decoded, so a decompression bomb costs nothing.
    let pipeline = sharp(bytes, { failOn, limitInputPixels: maxInputPixels, animated: false, sequentialRead: true })
      .rotate()
      .resize(spec.size.width, spec.size.height, { fit, position: 'centre', background, withoutEnlargement: false })
      .toColourspace('srgb');
    if (format === 'jpeg') pipeline = pipeline.flatten({ background }).jpeg({ quality, mozjpeg: false });
    else if (format === 'webp') pipeline = pipeline.webp({ quality });
    else pipeline = pipeline.png();
    const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
    return {
      name: spec.name,
      extension: spec.extension,
      contentType: spec.contentType,
      body: data,
      info: { width: info.width, height: info.height, bytes: data.length, channels: info.channels },
    };
  }
}

/** Every sharp/libvips failure on input becomes a permanent error with a reason; this is the one place that maps them. */
export function imageError(error: unknown, key: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/exceeds pixel limit/i.test(message)) {
    return new PixelLimitError(`${key} declares more pixels than MAX_INPUT_PIXELS allows`, { cause: error });
  }
  if (/empty/i.test(message)) return new InvalidImageError('empty-file', `${key} is empty`, { cause: error });
  if (/unsupported image format/i.test(message)) {
    return new InvalidImageError('unsupported-format', `${key} is not a supported image format (JPEG, PNG, WebP, GIF, AVIF, TIFF, SVG)`, { cause: error });
  }
  return new InvalidImageError('corrupt-image', `${key} could not be decoded: ${message}`, { cause: error });
}
