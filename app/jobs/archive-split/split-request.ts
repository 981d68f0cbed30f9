import { S3LimitError } from '../../../shared/errors';
import { S3_MAX_KEY_BYTES, keyBytes } from '../../../shared/naming/s3-limits';
import { SplitRequestError } from './archive-errors';
import { isBucketName, type ArchiveSettings } from './archive-settings';

/**
 * What to split and where its outcome goes, whichever way the work arrived: the original system's request message
 *
 * ```json
 * {"downloadId":"dl-42","file":"export.zip","exportPath":"exports/2026/","totalSize":123456,
 *  "updatesQueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/updates","s3Bucket":"exports"}
 * ```
 * or an S3 event for an upload under ARCHIVE_PREFIX, whose `downloadId` is the object's key.
 */
export interface SplitRequest {
  readonly downloadId: string;
  readonly source: { readonly bucket: string; readonly key: string };
  /** The request's `totalSize`, or the event's size: the orchestration compares it with the object's. */
  readonly expectedSize?: number;
  /** From an event only (without quotes): the version the event announced. */
  readonly expectedEtag?: string;
  /** The archive's file name without `.zip`, `.tar.gz` or `.tgz`: batch ZIPs are named after it. */
  readonly stem: string;
  /** Batch ZIPs go next to their source, in its bucket. */
  readonly outputBucket: string;
  readonly callbackQueueUrl: string;
  readonly origin: 'request' | 'event';
}

/** Longest-first, so `x.tar.gz` is not taken for a `.gz` of something else. */
const ARCHIVE_EXTENSIONS = ['.tar.gz', '.tgz', '.zip'] as const;
/** Enough of a bad value to recognise it, never a whole hostile one. */
const ECHO_CHARS = 100;
const MAX_DOWNLOAD_ID_CHARS = 1024;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Whether a body is a request message rather than an S3 event: asked before a body is read as an event. */
export function isSplitRequestBody(body: string): boolean {
  // A cheap look first: S3 events are also JSON objects, and the queue may carry many.
  if (!body.includes('"downloadId"')) return false;
  try {
    const parsed: unknown = JSON.parse(body);
    return isObject(parsed) && Object.prototype.hasOwnProperty.call(parsed, 'downloadId');
  } catch {
    return false;
  }
}

/** Pure: a request message's body in, a frozen SplitRequest out, or one SplitRequestError naming every bad field. */
export function parseSplitRequest(body: string, settings: ArchiveSettings): SplitRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new SplitRequestError(`split request is not JSON (${Buffer.byteLength(body)} bytes)`);
  }
  if (!isObject(parsed)) throw new SplitRequestError('split request must be a JSON object');
  const problems: string[] = [];
  const field = <T>(name: string, check: (value: unknown) => string | undefined, value: unknown = parsed[name]): T | undefined => {
    const problem = check(value);
    if (problem !== undefined) problems.push(`${name} ${problem}${value === undefined ? '' : `; got ${echo(value)}`}`);
    return problem === undefined ? (value as T) : undefined;
  };

  const downloadId = field<string>('downloadId', (value) => (typeof value === 'string' && value !== '' && value.length <= MAX_DOWNLOAD_ID_CHARS && !CONTROL.test(value)
    ? undefined : `must be a non-empty string of at most ${MAX_DOWNLOAD_ID_CHARS} characters, without control characters`));
  const file = field<string>('file', (value) => fileProblem(value));
  const exportPath = field<string>('exportPath', (value) => exportPathProblem(value));
  const totalSize = field<number>('totalSize', (value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? undefined : 'must be a whole number of bytes, 0 or more'));
  const queue = typeof parsed.updatesQueueUrl === 'string' ? parsed.updatesQueueUrl.trim() : parsed.updatesQueueUrl;
  const callbackQueueUrl = field<string>('updatesQueueUrl', (value) => queueProblem(value, settings), queue);
  const bucket = field<string>('s3Bucket', (value) => bucketProblem(value, settings.allowedBuckets, 'ALLOWED_BUCKETS is empty, so no request may name a bucket'));

  let key: string | undefined;
  if (file !== undefined && exportPath !== undefined) {
    key = exportPath === '' ? file : `${exportPath.replace(/\/$/, '')}/${file}`;
    if (keyBytes(key) > S3_MAX_KEY_BYTES) problems.push(`exportPath and file make a ${keyBytes(key)}-byte key; S3 keys are at most ${S3_MAX_KEY_BYTES} bytes`);
    const widest = widestBatchKeyBytes(stemOf(file)!, settings);
    if (widest > S3_MAX_KEY_BYTES) problems.push(`file would name batch ZIPs with keys of up to ${widest} bytes (OUTPUT_PREFIX + name + -partN.zip); S3 keys are at most ${S3_MAX_KEY_BYTES} bytes`);
  }
  if (problems.length > 0) {
    throw new SplitRequestError(`split request has ${problems.length} bad field${problems.length === 1 ? '' : 's'}: ${problems.join('; ')}`, {
      ...(downloadId !== undefined ? { downloadId } : {}),
      ...(callbackQueueUrl !== undefined ? { callbackQueueUrl } : {}),
    });
  }
  return Object.freeze({
    downloadId: downloadId!,
    source: Object.freeze({ bucket: bucket!, key: key! }),
    expectedSize: totalSize!,
    stem: stemOf(file!)!,
    outputBucket: bucket!,
    callbackQueueUrl: callbackQueueUrl!,
    origin: 'request' as const,
  });
}

/**
 * Pure: an upload under ARCHIVE_PREFIX (its key already decoded from the event's form) in, a SplitRequest out. Its
 * `downloadId` is the key, the one name the uploader and the callback's reader both know.
 */
export function splitRequestFromEvent(
  object: { readonly bucket: string; readonly key: string; readonly size?: number; readonly etag?: string },
  settings: ArchiveSettings,
): SplitRequest {
  const where = `upload to bucket ${object.bucket} with key ${echo(object.key)}`;
  if (settings.archivePrefix === undefined || settings.callbackQueueUrl === undefined) {
    throw new SplitRequestError(`${where}: this worker splits uploads only when ARCHIVE_PREFIX (and CALLBACK_QUEUE_URL) are set`);
  }
  const problems: string[] = [];
  if (!object.key.startsWith(settings.archivePrefix)) problems.push(`the key is outside ARCHIVE_PREFIX "${settings.archivePrefix}"`);
  const file = object.key.slice(object.key.lastIndexOf('/') + 1);
  const stem = stemOf(file);
  if (stem === undefined) problems.push('the key does not end with a file name ending in .zip, .tar.gz or .tgz');
  // Legal in S3 keys, but the name goes into batch keys and logs, where a control character only does harm.
  if (CONTROL.test(object.key)) problems.push('the key holds control characters');
  // The worker's ALLOWED_SOURCE_BUCKETS already guards events; ALLOWED_BUCKETS narrows them further only when set.
  if (settings.allowedBuckets.length > 0 && !settings.allowedBuckets.includes(object.bucket)) problems.push('the bucket is not in ALLOWED_BUCKETS');
  if (stem !== undefined && widestBatchKeyBytes(stem, settings) > S3_MAX_KEY_BYTES) {
    problems.push(`its batch ZIPs would have keys of up to ${widestBatchKeyBytes(stem, settings)} bytes; S3 keys are at most ${S3_MAX_KEY_BYTES} bytes`);
  }
  if (problems.length > 0) {
    throw new SplitRequestError(`${where} cannot be split: ${problems.join('; ')}`, { downloadId: object.key, callbackQueueUrl: settings.callbackQueueUrl });
  }
  return Object.freeze({
    downloadId: object.key,
    source: Object.freeze({ bucket: object.bucket, key: object.key }),
    ...(object.size !== undefined ? { expectedSize: object.size } : {}),
    ...(object.etag !== undefined ? { expectedEtag: object.etag } : {}),
    stem: stem!,
    outputBucket: object.bucket,
    callbackQueueUrl: settings.callbackQueueUrl,
    origin: 'event' as const,
  });
}

/** `{OUTPUT_PREFIX}{stem}-part{n}.zip`, n from 1; an S3LimitError when the key would be longer than S3 allows. */
export function batchKey(request: Pick<SplitRequest, 'stem'>, settings: Pick<ArchiveSettings, 'outputPrefix'>, part: number): string {
  if (!Number.isSafeInteger(part) || part < 1) throw new RangeError(`batch part must be a whole number from 1, got ${part}`);
  const key = `${settings.outputPrefix}${request.stem}-part${part}.zip`;
  if (keyBytes(key) > S3_MAX_KEY_BYTES) {
    throw new S3LimitError('output-key-too-long', `batch ${part} would have a ${keyBytes(key)}-byte key; S3 keys are at most ${S3_MAX_KEY_BYTES} bytes of UTF-8 (shorten OUTPUT_PREFIX or the archive's name)`);
  }
  return key;
}

/** The file name without its archive extension, or undefined when it has none (or nothing before it). */
function stemOf(file: string): string | undefined {
  const lower = file.toLowerCase();
  const extension = ARCHIVE_EXTENSIONS.find((candidate) => lower.endsWith(candidate));
  const stem = extension === undefined ? '' : file.slice(0, file.length - extension.length);
  return stem === '' ? undefined : stem;
}

/**
 * The longest batch key a split of this archive can need: a manifest of MAX_MANIFEST_BYTES holds at most one row per
 * two bytes (a character and a line end), so checking that many parts now means no batch key fails half-way.
 */
function widestBatchKeyBytes(stem: string, settings: Pick<ArchiveSettings, 'outputPrefix' | 'batchSize' | 'maxManifestBytes'>): number {
  const parts = Math.max(1, Math.ceil(Math.ceil(settings.maxManifestBytes / 2) / settings.batchSize));
  return keyBytes(`${settings.outputPrefix}${stem}-part${parts}.zip`);
}

function fileProblem(value: unknown): string | undefined {
  const expected = 'must be a file name (no "/") ending in .zip, .tar.gz or .tgz';
  if (typeof value !== 'string' || value.includes('/') || CONTROL.test(value)) return expected;
  return stemOf(value) === undefined ? expected : undefined;
}

function exportPathProblem(value: unknown): string | undefined {
  const expected = 'must be a folder path ("" for the bucket root) without a leading "/", ".", ".." or empty segments, or control characters';
  if (typeof value !== 'string' || CONTROL.test(value)) return expected;
  if (value === '') return undefined;
  const segments = value.replace(/\/$/, '').split('/');
  return segments.every((segment) => segment !== '' && segment !== '.' && segment !== '..') ? undefined : expected;
}

function queueProblem(value: unknown, settings: ArchiveSettings): string | undefined {
  if (settings.allowedCallbackQueues.length === 0) return 'cannot be accepted: no callback queue is allowed (set ALLOWED_CALLBACK_QUEUES or CALLBACK_QUEUE_URL)';
  if (typeof value === 'string' && settings.allowedCallbackQueues.includes(value)) return undefined;
  return `must be one of the ${settings.allowedCallbackQueues.length} allowed callback queues (ALLOWED_CALLBACK_QUEUES): ${settings.allowedCallbackQueues.join(', ')}`;
}

function bucketProblem(value: unknown, allowed: readonly string[], noneAllowed: string): string | undefined {
  if (typeof value !== 'string' || !isBucketName(value)) return 'must be an S3 bucket name (3-63 of a-z, 0-9, "." and "-")';
  if (allowed.length === 0) return `cannot be accepted: ${noneAllowed}`;
  return allowed.includes(value) ? undefined : `must be one of ALLOWED_BUCKETS: ${allowed.join(', ')}`;
}

/** A bad value for an error message: strings cut to ECHO_CHARS, other types named rather than shown. */
function echo(value: unknown): string {
  if (typeof value === 'string') return value.length <= ECHO_CHARS ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, ECHO_CHARS))}… (${value.length} characters)`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  // What is left in parsed JSON is a list or an object: named, never shown.
  return Array.isArray(value) ? 'a list' : 'an object';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
