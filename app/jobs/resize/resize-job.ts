import sharp, { type Sharp, type SharpOptions } from 'sharp';
import { DeadlineExceededError, WorkerError } from '../../../shared/errors';
import { InvalidImageError, PixelLimitError } from './image-errors';
import type { LogFields } from '../../../shared/log/logger';
import type { BytesOutput, JobContext, JobSource, ObjectInput, ObjectJob, PlannedOutput } from '../../src/job/object-job';
import { isSimpleLossyWebp, planDecode, type DecodeStrategy, type ImageHeader } from './decode-plan';
import type { MemoryBudget } from './memory-budget';
import type { InputFormat, ResizeConfig, Size } from './resize-config';
import { OUTPUT_FORMATS, resizeOutputName } from './resize-output-key';


/** libvips's loader names, as `metadata().format` reports them, for each INPUT_FORMATS entry. */
const LOADER_FORMATS: Readonly<Record<InputFormat, readonly string[]>> = {
  jpeg: ['jpeg'], png: ['png'], webp: ['webp'], gif: ['gif'], tiff: ['tiff'], avif: ['heif', 'avif'], heif: ['heif'], svg: ['svg'],
};

interface SizedSpec {
  /** A path segment such as `224x224`. */
  readonly name: string;
  readonly extension: string;
  readonly contentType: string;
  readonly size: Size;
}

/** One size rendered, before it is named after its source. */
interface Rendered {
  readonly spec: SizedSpec;
  readonly body: Buffer;
  readonly info: Readonly<Record<string, number>>;
}

/**
 * Resizes one image to every configured size, within the task's memory budget. The header is read first (no pixel
 * decoded): the format must be one INPUT_FORMATS accepts (libvips picks its loader from the content, so a `.jpg`
 * may be an SVG), the pixel count within MAX_INPUT_PIXELS, and the estimated decode memory is admitted by the
 * budget before any decode starts. Baseline JPEG and WebP render each size from the encoded bytes, so shrink-on-load
 * picks the cheapest decode scale per size; formats that decode whole are decoded once and every size is cut from
 * one reduced copy. Every render has RENDER_TIMEOUT_SECONDS. Outputs carry no EXIF/GPS metadata.
 */
export class ResizeJob implements ObjectJob {
  readonly name = 'resize';
  readonly consumes = 'bytes' as const;
  private readonly specs: readonly SizedSpec[];
  private readonly acceptedLoaders: ReadonlySet<string>;

  /** Without a budget (benchmarks, tests of the transform alone), every image is admitted. */
  constructor(private readonly config: ResizeConfig, private readonly budget?: MemoryBudget) {
    const format = OUTPUT_FORMATS[config.format];
    this.specs = config.sizes.map((size) => ({ name: `${size.width}x${size.height}`, size, ...format }));
    this.acceptedLoaders = new Set(config.inputFormats.flatMap((name) => LOADER_FORMATS[name]));
  }

  plannedOutputs(source: Pick<JobSource, 'relativeKey'>): readonly PlannedOutput[] {
    return this.specs.map((spec) => ({ name: resizeOutputName(source.relativeKey, spec.name, spec.extension) }));
  }

  describe(): LogFields {
    return {
      sizes: this.config.sizes.map((size) => `${size.width}x${size.height}`).join(','),
      format: this.config.format,
      inputFormats: this.config.inputFormats.join(','),
      ...(this.budget !== undefined ? { memoryBudgetMiB: Math.round(this.budget.totalBytes / (1024 * 1024)) } : {}),
    };
  }

  async process(input: ObjectInput, context?: Pick<JobContext, 'signal'>): Promise<BytesOutput[]> {
    if (input.kind !== 'bytes') throw new TypeError(`the resize job consumes bytes, not a ${input.kind}`);
    const rendered = await this.render(input.bytes, input.source.key, context?.signal);
    return rendered.map(({ spec, body, info }) => ({
      name: resizeOutputName(input.source.relativeKey, spec.name, spec.extension),
      contentType: spec.contentType,
      body,
      info,
    }));
  }

  private async render(bytes: Buffer, key: string, signal?: AbortSignal): Promise<Rendered[]> {
    if (bytes.length === 0) throw new InvalidImageError('empty-file', `${key} is empty (0 bytes)`);
    try {
      const header = await this.readHeader(bytes, key);
      const plan = planDecode(header, this.config.sizes);
      const lease = await this.budget?.acquire(plan.estimatedBytes, key, signal);
      const rendering = this.renderAll(bytes, plan.strategy);
      // The memory stays leased until libvips has really finished, even when the message has been failed already.
      rendering.then(() => lease?.release(), () => lease?.release());
      return await withinRenderTimeout(rendering, this.config.renderTimeoutSeconds, key);
    } catch (error) {
      throw imageError(error, key, this.config.renderTimeoutSeconds);
    }
  }

  private async readHeader(bytes: Buffer, key: string): Promise<ImageHeader> {
    const metadata = await sharp(bytes, { failOn: this.config.failOn }).metadata();
    const format: string = metadata.format ?? 'unknown';
    if (!this.acceptedLoaders.has(format)) {
      throw new InvalidImageError(
        'format-not-accepted',
        `${key} is ${format === 'unknown' ? 'of an unrecognised format' : `a ${format.toUpperCase()} file`}; INPUT_FORMATS accepts ${this.config.inputFormats.join(', ')}`,
      );
    }
    const { width, height } = metadata;
    if (width === undefined || height === undefined) throw new InvalidImageError('corrupt-image', `${key} has no dimensions in its header`);
    if (width * height > this.config.maxInputPixels) {
      throw new PixelLimitError(`${key} declares ${width}x${height} pixels, more than MAX_INPUT_PIXELS (${this.config.maxInputPixels}) allows`);
    }
    return {
      format, width, height,
      channels: metadata.channels ?? 4,
      depth: metadata.depth ?? 'uchar',
      isProgressive: metadata.isProgressive ?? false,
      ...(metadata.orientation !== undefined ? { orientation: metadata.orientation } : {}),
      ...(format === 'webp' ? { webpSimpleLossy: isSimpleLossyWebp(bytes) } : {}),
    };
  }

  private async renderAll(bytes: Buffer, strategy: DecodeStrategy): Promise<Rendered[]> {
    const { failOn, maxInputPixels } = this.config;
    // failOn rejects truncated and corrupt files instead of writing half-grey outputs; the pixel limit is checked
    // from the header again by libvips itself.
    const encoded: SharpOptions = { failOn, limitInputPixels: maxInputPixels, animated: false, sequentialRead: true };
    if (strategy.kind === 'per-size') {
      return allRendered(this.specs.map((spec) => this.encode(sharp(bytes, encoded).rotate(), spec)));
    }
    const reduced = await this.withTimeout(
      sharp(bytes, encoded).rotate().resize(strategy.width, strategy.height, { fit: 'fill' }).toColourspace('srgb').raw({ depth: 'uchar' }),
    ).toBuffer({ resolveWithObject: true });
    const raw = { width: reduced.info.width, height: reduced.info.height, channels: reduced.info.channels };
    return allRendered(this.specs.map((spec) => this.encode(sharp(reduced.data, { raw }), spec)));
  }

  private async encode(source: Sharp, spec: SizedSpec): Promise<Rendered> {
    const { fit, background, quality, format } = this.config;
    let pipeline = source
      .resize(spec.size.width, spec.size.height, { fit, position: 'centre', background, withoutEnlargement: false })
      .toColourspace('srgb');
    if (format === 'jpeg') pipeline = pipeline.flatten({ background }).jpeg({ quality, mozjpeg: false });
    else if (format === 'webp') pipeline = pipeline.webp({ quality });
    else pipeline = pipeline.png();
    const { data, info } = await this.withTimeout(pipeline).toBuffer({ resolveWithObject: true });
    return { spec, body: data, info: { width: info.width, height: info.height, bytes: data.length, channels: info.channels } };
  }

  /** libvips checks the timeout as it computes, so a render that would run for hours stops itself. */
  private withTimeout(pipeline: Sharp): Sharp {
    return pipeline.timeout({ seconds: this.config.renderTimeoutSeconds });
  }
}

/**
 * libvips checks sharp's timeout only while it writes output pixels, so a format that decodes whole (a huge
 * interlaced PNG) can run far past it inside the decoder. The message is failed on time all the same; the native
 * work cannot be interrupted and finishes in the background, still holding its memory lease and its thread.
 */
function withinRenderTimeout<T>(rendering: Promise<T>, seconds: number, key: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(renderTimeoutError(key, seconds)), seconds * 1000);
  });
  return Promise.race([rendering, timeout]).finally(() => clearTimeout(timer));
}

function renderTimeoutError(key: string, seconds: number, cause?: unknown): DeadlineExceededError {
  return new DeadlineExceededError('render-timeout', `${key} took more than RENDER_TIMEOUT_SECONDS (${seconds}) to render`, cause === undefined ? undefined : { cause });
}

/**
 * Like Promise.all, but settles only once every render has stopped: the memory lease is held until then, so a size
 * that fails first does not free the budget while the others still decode.
 */
async function allRendered(renders: readonly Promise<Rendered>[]): Promise<Rendered[]> {
  const results = await Promise.allSettled(renders);
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<Rendered>).value);
}

/** Every sharp/libvips failure on input becomes an error with a reason; this is the one place that maps them. */
export function imageError(error: unknown, key: string, renderTimeoutSeconds: number): Error {
  if (error instanceof WorkerError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/^timeout:/i.test(message)) return renderTimeoutError(key, renderTimeoutSeconds, error);
  if (/exceeds pixel limit/i.test(message)) {
    return new PixelLimitError(`${key} declares more pixels than MAX_INPUT_PIXELS allows`, { cause: error });
  }
  if (/empty/i.test(message)) return new InvalidImageError('empty-file', `${key} is empty`, { cause: error });
  if (/unsupported image format/i.test(message)) {
    return new InvalidImageError('unsupported-format', `${key} is not a supported image format (JPEG, PNG, WebP, GIF, AVIF, TIFF, SVG)`, { cause: error });
  }
  return new InvalidImageError('corrupt-image', `${key} could not be decoded: ${message}`, { cause: error });
}
