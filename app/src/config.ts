import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../shared/errors';
import { detectCpuCount } from './runtime/cpu-count';
import { detectMemoryLimit } from './runtime/memory-limit';

/** The worker's configuration: read once from the environment, validated, frozen. */
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

export interface WorkerConfig {
  /** QUEUE_URL: an SQS URL (http/https) or a local queue location (a path or file: URL to the SQLite file). */
  readonly queueUrl: string;
  readonly queueKind: 'sqs' | 'local';
  /**
   * DLQ_URL: the dead-letter queue's URL, required with an SQS queue: the worker sends what cannot succeed there
   * itself, with its reasons. A local queue file holds its own DLQ.
   */
  readonly deadLetterQueueUrl: string;
  /** MAX_RECEIVE_COUNT (default 5): the redrive policy's maxReceiveCount, so the last attempt dead-letters with its reason. */
  readonly maxReceiveCount: number;
  /** MESSAGE_DEADLINE_SECONDS (default 300): active work one message may take before it is given up. */
  readonly messageDeadlineSeconds: number;
  /** OUTAGE_WAIT_SECONDS (default 900): how long a message may wait out an S3 outage before it is handed back. */
  readonly outageWaitSeconds: number;
  /** DEST_BUCKET (required). */
  readonly destBucket: string;
  /** DEST_PREFIX (default ''): outputs land at DEST_PREFIX/<size>/<source key minus SOURCE_PREFIX>. */
  readonly destPrefix: string;
  /** SOURCE_PREFIX (default ''). */
  readonly sourcePrefix: string;
  /** ALLOWED_SOURCE_BUCKETS (optional, comma list): events naming any other bucket are malformed. */
  readonly allowedSourceBuckets?: readonly string[];
  /** CONCURRENCY: messages processed at once (default: 2 x the vCPUs the cgroup grants). */
  readonly concurrency: number;
  /** RECEIVE_BATCH_SIZE 1..10 (default 10). */
  readonly receiveBatchSize: number;
  /** WAIT_SECONDS 0..20 long-poll wait (default 20). */
  readonly waitSeconds: number;
  /** IDLE_POLLS (default 2): exit after this many consecutive empty long polls with nothing in flight. */
  readonly idlePolls: number;
  /** VISIBILITY_TIMEOUT_SECONDS (default 60): the heartbeat keeps in-progress messages invisible this long ahead. */
  readonly visibilityTimeoutSeconds: number;
  /** SHUTDOWN_GRACE_SECONDS (default 100, under ECS's 120 s stopTimeout). */
  readonly shutdownGraceSeconds: number;
  /** MAX_INPUT_BYTES (default 104857600 = 100 MiB). */
  readonly maxInputBytes: number;
  /** TRANSIENT_RETRIES (default 3): in-process retries with backoff before the message is released for redelivery. */
  readonly transientRetries: number;
  /** THROUGHPUT_LOG_SECONDS (default 60). */
  readonly throughputLogSeconds: number;
  /** METRICS_NAMESPACE (default `S3QueueWorker`). */
  readonly metricsNamespace: string;
  /** LOG_LEVEL: DEBUG, INFO (default), WARN, ERROR. */
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * MEMORY_BUDGET_MIB: the memory decodes in flight may use together. Default: 70% of the task's real memory limit
   * (its cgroup, else TASK_MEMORY_MIB, else the host) less 128 MiB for Node, the SDK and the bodies in flight.
   */
  readonly memoryBudgetBytes: number;
  readonly resize: ResizeConfig;
}

/**
 * Reads and validates every variable at once, so a bad deployment shows all its mistakes in one start, each naming
 * the variable, what it got, and the form expected.
 */
export function loadConfig(env: NodeJS.ProcessEnv, cpuCount: number = detectCpuCount(), memoryLimitBytes: number = detectMemoryLimit(env).bytes): WorkerConfig {
  const read = new EnvReader(env);
  const queueUrl = read.required('QUEUE_URL', 'an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>) or a local queue file path');
  const queueKind: WorkerConfig['queueKind'] = /^https?:\/\//i.test(queueUrl) ? 'sqs' : 'local';
  const config: WorkerConfig = {
    queueUrl: queueKind === 'local' && queueUrl.startsWith('file:') ? fileURLToPath(queueUrl) : queueUrl,
    queueKind,
    deadLetterQueueUrl: queueKind === 'sqs' ? read.required('DLQ_URL', 'the dead-letter queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>-dlq)') : '',
    maxReceiveCount: read.int('MAX_RECEIVE_COUNT', 5, 1, 1000),
    messageDeadlineSeconds: read.int('MESSAGE_DEADLINE_SECONDS', 300, 1, 43_200),
    outageWaitSeconds: read.int('OUTAGE_WAIT_SECONDS', 900, 0, 43_200),
    destBucket: read.required('DEST_BUCKET', 'the destination bucket name'),
    destPrefix: normalisePrefix(env.DEST_PREFIX),
    sourcePrefix: normalisePrefix(env.SOURCE_PREFIX),
    ...(read.list('ALLOWED_SOURCE_BUCKETS') !== undefined ? { allowedSourceBuckets: read.list('ALLOWED_SOURCE_BUCKETS') } : {}),
    concurrency: read.int('CONCURRENCY', 2 * cpuCount, 1, 256),
    receiveBatchSize: read.int('RECEIVE_BATCH_SIZE', 10, 1, 10),
    waitSeconds: read.int('WAIT_SECONDS', 20, 0, 20),
    idlePolls: read.int('IDLE_POLLS', 2, 1, 1000),
    visibilityTimeoutSeconds: read.int('VISIBILITY_TIMEOUT_SECONDS', 60, 10, 43200),
    shutdownGraceSeconds: read.int('SHUTDOWN_GRACE_SECONDS', 100, 0, 110),
    maxInputBytes: read.int('MAX_INPUT_BYTES', 100 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    transientRetries: read.int('TRANSIENT_RETRIES', 3, 0, 10),
    throughputLogSeconds: read.int('THROUGHPUT_LOG_SECONDS', 60, 1, 3600),
    metricsNamespace: env.METRICS_NAMESPACE?.trim() || 'S3QueueWorker',
    logLevel: read.oneOf('LOG_LEVEL', ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const, 'INFO'),
    memoryBudgetBytes: read.int('MEMORY_BUDGET_MIB', defaultMemoryBudgetMib(memoryLimitBytes), 16, 1024 * 1024) * MIB,
    resize: {
      sizes: read.sizes('SIZES', '224x224'),
      fit: read.oneOf('FIT', ['cover', 'contain', 'inside'] as const, 'cover'),
      format: read.oneOf('FORMAT', ['jpeg', 'webp', 'png'] as const, 'jpeg'),
      quality: read.int('QUALITY', 85, 1, 100),
      background: read.colour('BACKGROUND', '#ffffff'),
      maxInputPixels: read.int('MAX_INPUT_PIXELS', 100_000_000, 1, Number.MAX_SAFE_INTEGER),
      failOn: read.oneOf('FAIL_ON', ['none', 'truncated', 'error', 'warning'] as const, 'warning'),
      inputFormats: read.subsetOf('INPUT_FORMATS', INPUT_FORMATS, DEFAULT_INPUT_FORMATS),
      renderTimeoutSeconds: read.int('RENDER_TIMEOUT_SECONDS', 60, 1, 3600),
    },
  };
  read.throwIfInvalid();
  return deepFreeze(config);
}

const MIB = 1024 * 1024;

export function defaultMemoryBudgetMib(memoryLimitBytes: number): number {
  return Math.max(64, Math.floor((memoryLimitBytes * 0.7) / MIB) - 128);
}

/** `in` and `in/` mean the same folder; '' stays the bucket root. */
function normalisePrefix(value: string | undefined): string {
  const trimmed = (value ?? '').trim().replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

class EnvReader {
  private readonly problems: string[] = [];
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  required(name: string, expected: string): string {
    const value = this.env[name]?.trim();
    if (value === undefined || value === '') {
      this.problems.push(`${name} is missing: expected ${expected}`);
      return '';
    }
    return value;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.present(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < min || value > max) {
      this.invalid(name, raw, max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.present(name);
    if (raw === undefined) return fallback;
    const match = allowed.find((option) => option.toLowerCase() === raw.toLowerCase());
    if (match === undefined) this.invalid(name, raw, `one of ${allowed.join(', ')}`);
    return match ?? fallback;
  }

  subsetOf<T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[] {
    const items = this.list(name);
    if (items === undefined) return [...fallback];
    const chosen = items.map((item) => allowed.find((option) => option === item.toLowerCase()));
    if (chosen.some((item) => item === undefined)) {
      this.invalid(name, items.join(','), `a comma-separated list of ${allowed.join(', ')}`);
      return [...fallback];
    }
    return [...new Set(chosen as T[])];
  }

  list(name: string): string[] | undefined {
    const raw = this.present(name);
    if (raw === undefined) return undefined;
    const items = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    return items.length > 0 ? items : undefined;
  }

  sizes(name: string, fallback: string): Size[] {
    const raw = this.present(name) ?? fallback;
    const sizes = raw.split(',').map((item) => /^\s*(\d{1,5})x(\d{1,5})\s*$/i.exec(item));
    const valid = sizes.every((match) => match !== null && inRange(Number(match[1])) && inRange(Number(match[2])));
    if (!valid) {
      this.invalid(name, raw, 'a comma-separated list of WIDTHxHEIGHT (each 1 to 10000) such as 224x224,299x299');
      return [{ width: 224, height: 224 }];
    }
    const unique = new Map(sizes.map((match) => [`${Number(match![1])}x${Number(match![2])}`, { width: Number(match![1]), height: Number(match![2]) }]));
    return [...unique.values()];
  }

  colour(name: string, fallback: string): string {
    const raw = this.present(name);
    if (raw === undefined) return fallback;
    if (!/^#[0-9a-f]{6}$/i.test(raw)) this.invalid(name, raw, 'a hex colour #rrggbb such as #ffffff');
    return /^#[0-9a-f]{6}$/i.test(raw) ? raw.toLowerCase() : fallback;
  }

  throwIfInvalid(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems.join('\n'));
  }

  private present(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  private invalid(name: string, raw: string, expected: string): void {
    this.problems.push(`${name}="${raw}" is invalid: expected ${expected}`);
  }
}

function inRange(side: number): boolean {
  return side >= 1 && side <= 10_000;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
