import { PermanentError } from '../../../shared/errors';
import { S3_MAX_KEY_BYTES } from '../../../shared/naming/s3-limits';

/**
 * One record to score, as discovery enqueues it (normalised, whatever the source table's shape):
 *
 * ```json
 * {"kind":"batch-record","v":1,"id":"rec-000123","bucket":"recordings","key":"2026/12/01/rec-000123.wav","date":"2026-12-01"}
 * ```
 * `id` is the record's natural id: its result is stored under it, once.
 */
export interface RecordMessage {
  readonly id: string;
  readonly bucket: string;
  readonly key: string;
  readonly date: string;
}

export class RecordMessageError extends PermanentError {
  override readonly name = 'RecordMessageError';
  readonly reason = 'invalid-record';
}

/** Ids become store keys (a DynamoDB partition key, a MongoDB _id): printable, at most 256 bytes. */
const RECORD_ID = /^[A-Za-z0-9][A-Za-z0-9._:\-/]{0,255}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

export function recordMessageBody(record: RecordMessage): string {
  return JSON.stringify({ kind: 'batch-record', v: 1, id: record.id, bucket: record.bucket, key: record.key, date: record.date });
}

/** Pure: a record message, or a RecordMessageError naming the field (never echoing more than a short prefix of it). */
export function parseRecordMessage(body: string): RecordMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new RecordMessageError('a record message must be JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RecordMessageError('a record message must be a JSON object');
  const fields = parsed as Record<string, unknown>;
  if (fields.kind !== 'batch-record' || fields.v !== 1) throw new RecordMessageError('a record message needs "kind": "batch-record" and "v": 1');
  const text = (name: string, valid: (value: string) => boolean, expected: string): string => {
    const value = fields[name];
    if (typeof value !== 'string' || !valid(value)) throw new RecordMessageError(`record message field "${name}" must be ${expected}`);
    return value;
  };
  return {
    id: text('id', (value) => RECORD_ID.test(value), 'a record id (letters, digits, . _ : - /; at most 256)'),
    bucket: text('bucket', (value) => BUCKET.test(value), 'an S3 bucket name'),
    // Control characters are legal in S3 keys but no recording is named with them; they would only reach logs.
    key: text('key', (value) => value !== '' && !value.endsWith('/') && !CONTROL.test(value) && Buffer.byteLength(value) <= S3_MAX_KEY_BYTES,
      `an object key of at most ${S3_MAX_KEY_BYTES} bytes, without control characters`),
    date: text('date', (value) => DATE.test(value), 'a date YYYY-MM-DD'),
  };
}
