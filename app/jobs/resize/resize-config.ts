import type { EnvReader } from '../../src/job/env-reader';

/** The resize job's settings, read from the environment with the worker's and validated with them. */
export type FitMode = 'cover' | 'contain' | 'inside';
export type OutputFormat = 'jpeg' | 'webp' | 'png';
export const INPUT_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif', 'svg'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];
/** SVG is off by default: a tiny file can render for hours or pull in external references. */
const DEFAULT_INPUT_FORMATS: readonly InputFormat[] = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif'];

export interface Size {
  readonly width: number;
  readonly height: number;
}

export interface ResizeConfig {
  /** SIZES, e.g. `224x224,299x299`. */
  readonly sizes: readonly Size[];
  /** FIT: cover (centre crop, default), contain (letterbox on BACKGROUND), inside (keep aspect, fit within). */
  readonly fit: FitMode;
  /** FORMAT: jpeg (default), webp, png. */
  readonly format: OutputFormat;
  /** QUALITY 1..100 (default 85) for jpeg/webp. */
  readonly quality: number;
  /** BACKGROUND: `#rrggbb` (default `#ffffff`), used to flatten alpha for JPEG and to pad for contain. */
  readonly background: string;
  /** MAX_INPUT_PIXELS: sharp's limitInputPixels (default 100000000). */
  readonly maxInputPixels: number;
  /**
   * FAIL_ON: how strict decoding is (sharp's failOn). `warning` (default) rejects corrupt data libvips can only guess
   * through, so no garbled image reaches a training set; `error` accepts those and rejects only what cannot be decoded.
   */
  readonly failOn: 'none' | 'truncated' | 'error' | 'warning';
  /**
   * INPUT_FORMATS: the formats accepted, judged from the content (default every raster format: jpeg, png, webp, gif,
   * tiff, avif, heif; add svg to accept SVG). Anything else is dead-lettered as `format-not-accepted`.
   */
  readonly inputFormats: readonly InputFormat[];
  /** RENDER_TIMEOUT_SECONDS (default 60): one image's render is stopped after this long (`render-timeout`). */
  readonly renderTimeoutSeconds: number;
}

export interface ResizeJobConfig {
  readonly resize: ResizeConfig;
  /**
   * MEMORY_BUDGET_MIB: the memory decodes in flight may use together. Default: 70% of the task's real memory limit
   * (its cgroup, else TASK_MEMORY_MIB, else the host) less 128 MiB for Node, the SDK and the bodies in flight.
   */
  readonly memoryBudgetBytes: number;
}

const MIB = 1024 * 1024;

export function readResizeJobConfig(read: EnvReader, memoryLimitBytes: number): ResizeJobConfig {
  return {
    memoryBudgetBytes: read.int('MEMORY_BUDGET_MIB', defaultMemoryBudgetMib(memoryLimitBytes), 16, 1024 * 1024) * MIB,
    resize: {
      sizes: read.parsed('SIZES', [{ width: 224, height: 224 }], parseSizes, 'a comma-separated list of WIDTHxHEIGHT (each 1 to 10000) such as 224x224,299x299'),
      fit: read.oneOf('FIT', ['cover', 'contain', 'inside'] as const, 'cover'),
      format: read.oneOf('FORMAT', ['jpeg', 'webp', 'png'] as const, 'jpeg'),
      quality: read.int('QUALITY', 85, 1, 100),
      background: read.parsed('BACKGROUND', '#ffffff', (raw) => (/^#[0-9a-f]{6}$/i.test(raw) ? raw.toLowerCase() : undefined), 'a hex colour #rrggbb such as #ffffff'),
      maxInputPixels: read.int('MAX_INPUT_PIXELS', 100_000_000, 1, Number.MAX_SAFE_INTEGER),
      failOn: read.oneOf('FAIL_ON', ['none', 'truncated', 'error', 'warning'] as const, 'warning'),
      inputFormats: read.subsetOf('INPUT_FORMATS', INPUT_FORMATS, DEFAULT_INPUT_FORMATS),
      renderTimeoutSeconds: read.int('RENDER_TIMEOUT_SECONDS', 60, 1, 3600),
    },
  };
}

export function defaultMemoryBudgetMib(memoryLimitBytes: number): number {
  return Math.max(64, Math.floor((memoryLimitBytes * 0.7) / MIB) - 128);
}

function parseSizes(raw: string): Size[] | undefined {
  const sizes = raw.split(',').map((item) => /^\s*(\d{1,5})x(\d{1,5})\s*$/i.exec(item));
  const valid = sizes.every((match) => match !== null && inRange(Number(match[1])) && inRange(Number(match[2])));
  if (!valid) return undefined;
  const unique = new Map(sizes.map((match) => [`${Number(match![1])}x${Number(match![2])}`, { width: Number(match![1]), height: Number(match![2]) }]));
  return [...unique.values()];
}

function inRange(side: number): boolean {
  return side >= 1 && side <= 10_000;
}
