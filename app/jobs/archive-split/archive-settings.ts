import { ARCHIVE_KNOBS, type ArchiveKnob } from '../../../shared/archive-split/archive-knobs';
import { EnvReader, deepFreeze } from '../../src/job/env-reader';

/** The archive-split job's settings, read once at start; every bad variable is named in one ConfigError. */
export interface ArchiveSettings {
  /** BATCH_SIZE (1 to 100000, default 2000): manifest rows per batch ZIP. */
  readonly batchSize: number;
  /** MANIFEST_NAME (default `manifest.csv`): the manifest's file name, found case-insensitively at any depth. */
  readonly manifestName: string;
  /** IMAGE_COLUMN (default `image`): the manifest column naming each row's image, matched case-insensitively. */
  readonly imageColumn: string;
  /** OUTPUT_PREFIX (default `batch/`; set to empty for the bucket root): where batch ZIPs go, in the archive's bucket. */
  readonly outputPrefix: string;
  /** ARCHIVE_PREFIX (optional, a folder: `in` means `in/`): uploads under it are split; unset, S3 events are refused. */
  readonly archivePrefix?: string;
  /** CALLBACK_QUEUE_URL (required with ARCHIVE_PREFIX): where the outcome of a split started by an upload goes. */
  readonly callbackQueueUrl?: string;
  /** ALLOWED_CALLBACK_QUEUES (comma list) plus CALLBACK_QUEUE_URL: the queues a request may name for its outcome. */
  readonly allowedCallbackQueues: readonly string[];
  /** ALLOWED_BUCKETS (comma list): the buckets a request may name; empty, every request message is refused. */
  readonly allowedBuckets: readonly string[];
  /** MAX_MANIFEST_BYTES (default 64 MiB): the manifest is read into memory whole. */
  readonly maxManifestBytes: number;
  /** MAX_MANIFEST_ROWS (default 200,000): a manifest with more data rows is refused before it is planned. */
  readonly maxManifestRows: number;
  /** MAX_ARCHIVE_ENTRIES (default 200,000): an archive listing more entries is refused. */
  readonly maxArchiveEntries: number;
}

export const DEFAULT_OUTPUT_PREFIX = 'batch/';
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Queue URLs are SQS URLs or, locally, queue file paths: any text without spaces or control characters. */
// eslint-disable-next-line no-control-regex
const QUEUE_URL = /^[^\s\u0000-\u001f\u007f]+$/;

export function readArchiveSettings(env: NodeJS.ProcessEnv): ArchiveSettings {
  const read = new EnvReader(env);
  const knob = (name: ArchiveKnob) => read.int(name, ARCHIVE_KNOBS[name].fallback, ARCHIVE_KNOBS[name].min, ARCHIVE_KNOBS[name].max);
  const batchSize = knob('BATCH_SIZE');
  const manifestName = read.parsed('MANIFEST_NAME', 'manifest.csv', parseFileName, 'a file name (no "/" or "\\", no control characters, at most 255 bytes)');
  const imageColumn = read.parsed('IMAGE_COLUMN', 'image', (raw) => (CONTROL.test(raw) || raw.length > 256 ? undefined : raw), 'a column name of at most 256 characters');
  // An empty OUTPUT_PREFIX is a choice (the bucket root), not an unset variable.
  const outputPrefix = env.OUTPUT_PREFIX !== undefined && env.OUTPUT_PREFIX.trim() === ''
    ? ''
    : read.parsed('OUTPUT_PREFIX', DEFAULT_OUTPUT_PREFIX, (raw) => (raw.endsWith('/') ? parseFolder(raw) : undefined),
      'a folder ending with "/" (e.g. batch/), without a leading "/", ".." or empty segments, or empty for the bucket root');
  const archivePrefix = read.parsed('ARCHIVE_PREFIX', undefined as string | undefined, (raw) => {
    const folder = parseFolder(raw.endsWith('/') ? raw : `${raw}/`);
    // Batch ZIPs written inside the watched folder would be uploads too, each split again, without end.
    return folder !== undefined && !outputPrefix.startsWith(folder) ? folder : undefined;
  }, `a folder (e.g. uploads/), without a leading "/", ".." or empty segments, that does not contain OUTPUT_PREFIX ("${outputPrefix}"): batch ZIPs written inside it would be split again`);
  const callbackQueueUrl = archivePrefix !== undefined
    ? read.required('CALLBACK_QUEUE_URL', 'the queue URL for the outcome of splits started by uploads (required with ARCHIVE_PREFIX)')
    : read.present('CALLBACK_QUEUE_URL');
  if (callbackQueueUrl !== undefined && callbackQueueUrl !== '') {
    read.parsed('CALLBACK_QUEUE_URL', '', (raw) => (QUEUE_URL.test(raw) ? raw : undefined), 'a queue URL without spaces or control characters');
  }
  const allowedCallbackQueues = read.parsed('ALLOWED_CALLBACK_QUEUES', [] as string[], (raw) => {
    const items = splitList(raw);
    return items.every((item) => QUEUE_URL.test(item)) ? items : undefined;
  }, 'a comma-separated list of queue URLs');
  const allowedBuckets = read.parsed('ALLOWED_BUCKETS', [] as string[], (raw) => {
    const items = splitList(raw);
    return items.every(isBucketName) ? items : undefined;
  }, 'a comma-separated list of S3 bucket names (3-63 of a-z, 0-9, "." and "-")');
  const maxManifestBytes = knob('MAX_MANIFEST_BYTES');
  const maxManifestRows = knob('MAX_MANIFEST_ROWS');
  const maxArchiveEntries = knob('MAX_ARCHIVE_ENTRIES');
  read.throwIfInvalid();
  return deepFreeze({
    batchSize,
    manifestName,
    imageColumn,
    outputPrefix,
    ...(archivePrefix !== undefined ? { archivePrefix } : {}),
    ...(callbackQueueUrl !== undefined ? { callbackQueueUrl } : {}),
    allowedCallbackQueues: [...new Set([...(callbackQueueUrl !== undefined ? [callbackQueueUrl] : []), ...allowedCallbackQueues])],
    allowedBuckets: [...new Set(allowedBuckets)],
    maxManifestBytes,
    maxManifestRows,
    maxArchiveEntries,
  });
}

/** S3's rules for new buckets: 3-63 of a-z, 0-9, `.` and `-`, a letter or digit at each end, no `..`, not an IP. */
export function isBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name)
    && !name.includes('..')
    && !/^\d+\.\d+\.\d+\.\d+$/.test(name)
    && !/^(xn--|sthree-|amzn-s3-demo-)/.test(name)
    && !/(-s3alias|--ol-s3|\.mrap|--x-s3)$/.test(name);
}

function parseFileName(raw: string): string | undefined {
  const valid = !raw.includes('/') && !raw.includes('\\') && raw !== '.' && raw !== '..' && !CONTROL.test(raw) && Buffer.byteLength(raw) <= 255;
  return valid ? raw : undefined;
}

/** A folder prefix ending in `/`: relative, and every segment a real name, so it means the same to S3 and to people. */
function parseFolder(raw: string): string | undefined {
  const segments = raw.slice(0, -1).split('/');
  const valid = segments.every((segment) => segment !== '' && segment !== '.' && segment !== '..') && !CONTROL.test(raw) && Buffer.byteLength(raw) <= 1000;
  return valid ? raw : undefined;
}

function splitList(raw: string): string[] {
  return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
}
