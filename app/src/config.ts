/** The worker's configuration: read once from the environment, validated, frozen. */
export type FitMode = 'cover' | 'contain' | 'inside';
export type OutputFormat = 'jpeg' | 'webp' | 'png';

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
}

export interface WorkerConfig {
  /** QUEUE_URL: an SQS URL (http/https) or a local queue location (a path or file: URL to the SQLite file). */
  readonly queueUrl: string;
  readonly queueKind: 'sqs' | 'local';
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
  readonly resize: ResizeConfig;
}

/** Throws ConfigError naming the variable and the expected form. */
export function loadConfig(_env: NodeJS.ProcessEnv, _cpuCount?: number): WorkerConfig {
  throw new Error('loadConfig: not implemented yet');
}
