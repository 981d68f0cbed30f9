import { MalformedMessageError } from '../errors';

/** One object the message asks the worker to process, with its real (decoded) key. */
export interface ObjectEvent {
  readonly bucket: string;
  readonly key: string;
  readonly size?: number;
  /** Without quotes; absent when the event did not carry one. */
  readonly etag?: string;
  /** As AWS names it in records, e.g. `ObjectCreated:CompleteMultipartUpload`. */
  readonly eventName: string;
  readonly sequencer?: string;
}

/** One record of a message: each stands or fails on its own, so one bad record never strands the others. */
export type ParsedRecord =
  | { readonly ok: true; readonly object: ObjectEvent }
  | { readonly ok: false; readonly error: MalformedMessageError };

export interface ParsedRecords {
  readonly kind: 'records';
  readonly records: readonly ParsedRecord[];
  /**
   * The body of a message carrying only these records (by index), in the shape S3 sends, so a dead-lettered or
   * re-queued part parses exactly like the original and a redrive needs no translation. All of them: the original.
   */
  bodyFor(indices: readonly number[]): string;
}

export type ParsedMessage = { readonly kind: 'test-event' } | ParsedRecords;

/** Enough of an object key to recognise it in a log. */
const KEY_EXCERPT_CHARS = 200;

/**
 * Reads a queue message body the way S3 delivers it: a notification with any number of records, the
 * `s3:TestEvent` S3 sends when notifications are configured, the same notification wrapped by SNS, or an
 * EventBridge `Object Created` event. A body that is none of these throws a MalformedMessageError naming the
 * problem; a bad record inside a good notification is returned as that record's own failure.
 */
export function parseMessageBody(body: string, allowedBuckets?: readonly string[]): ParsedMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new MalformedMessageError(`message body is not JSON (${describe(body)})`);
  }
  const parsed = parseEnvelope(json, body);
  if (parsed.kind === 'test-event' || allowedBuckets === undefined || allowedBuckets.length === 0) return parsed;
  return {
    ...parsed,
    records: parsed.records.map((record): ParsedRecord =>
      record.ok && !allowedBuckets.includes(record.object.bucket)
        ? { ok: false, error: new MalformedMessageError(`event names bucket "${record.object.bucket}", which is not an allowed source bucket`) }
        : record,
    ),
  };
}

/** The objects a body names, skipping its bad records: for tools that read dead letters (status, accounting). */
export function objectsNamedIn(body: string): ObjectEvent[] {
  try {
    const parsed = parseMessageBody(body);
    return parsed.kind === 'records' ? parsed.records.flatMap((record) => (record.ok ? [record.object] : [])) : [];
  } catch {
    return [];
  }
}

function parseEnvelope(json: unknown, body: string): ParsedMessage {
  if (!isRecord(json)) throw new MalformedMessageError(`message body is JSON but not an object (${Array.isArray(json) ? 'an array' : typeof json})`);
  if (json.Type === 'Notification' && typeof json.Message === 'string') {
    // SNS fan-out: the S3 notification is a JSON string inside the SNS envelope.
    let inner: unknown;
    try {
      inner = JSON.parse(json.Message);
    } catch {
      throw new MalformedMessageError(`SNS notification's Message is not JSON (${describe(json.Message)})`);
    }
    return parseEnvelope(inner, body);
  }
  // A test event with records is not S3's own (S3 sends none with it): whoever added records wants them processed.
  const hasRecords = Array.isArray(json.Records) && json.Records.length > 0;
  if (json.Event === 's3:TestEvent' && !hasRecords) return { kind: 'test-event' };
  if (json.source === 'aws.s3' && typeof json['detail-type'] === 'string') {
    return { kind: 'records', records: [settle(() => parseEventBridge(json))], bodyFor: () => body };
  }
  if (Array.isArray(json.Records)) {
    const raw: readonly unknown[] = json.Records;
    if (raw.length === 0) throw new MalformedMessageError('S3 event notification has an empty Records list');
    return {
      kind: 'records',
      records: raw.map((record, index) => settle(() => parseRecord(record, `record ${index + 1} of ${raw.length}`))),
      bodyFor: (indices) => (indices.length === raw.length && indices.every((value, i) => value === i) ? body : JSON.stringify({ Records: indices.map((i) => raw[i]) })),
    };
  }
  throw new MalformedMessageError(`message is not an S3 event notification (no Records, not an s3:TestEvent; top-level fields: ${fieldNames(json)})`);
}

function settle(parse: () => ObjectEvent): ParsedRecord {
  try {
    return { ok: true, object: parse() };
  } catch (error) {
    if (error instanceof MalformedMessageError) return { ok: false, error };
    throw error;
  }
}

function parseRecord(record: unknown, where: string): ObjectEvent {
  if (!isRecord(record)) throw new MalformedMessageError(`${where} is not an object`);
  const eventName = typeof record.eventName === 'string' ? record.eventName.replace(/^s3:/, '') : undefined;
  if (record.eventSource !== undefined && record.eventSource !== 'aws:s3') {
    throw new MalformedMessageError(`${where} comes from "${String(record.eventSource)}", not aws:s3`);
  }
  if (eventName === undefined || !eventName.startsWith('ObjectCreated:')) {
    throw new MalformedMessageError(`${where} is a "${String(eventName)}" event; only ObjectCreated:* events are processed`);
  }
  const s3 = isRecord(record.s3) ? record.s3 : {};
  const bucket = isRecord(s3.bucket) ? s3.bucket.name : undefined;
  const object = isRecord(s3.object) ? s3.object : {};
  return objectEvent(where, {
    bucket,
    encodedKey: object.key,
    size: object.size,
    etag: object.eTag,
    eventName,
    sequencer: object.sequencer,
  });
}

/** EventBridge's S3 events carry keys encoded the same way as notifications, so both decode alike. */
function parseEventBridge(json: Record<string, unknown>): ObjectEvent {
  if (json['detail-type'] !== 'Object Created') {
    throw new MalformedMessageError(`EventBridge event is "${String(json['detail-type'])}"; only "Object Created" is processed`);
  }
  const detail = isRecord(json.detail) ? json.detail : {};
  const object = isRecord(detail.object) ? detail.object : {};
  const reason = typeof detail.reason === 'string' ? detail.reason : 'PutObject';
  return objectEvent('EventBridge event', {
    bucket: isRecord(detail.bucket) ? detail.bucket.name : undefined,
    encodedKey: object.key,
    size: object.size,
    etag: object.etag,
    eventName: `ObjectCreated:${reason.replace(/Object$/, '')}`,
    sequencer: object.sequencer,
  });
}

interface RawObjectFields {
  readonly bucket: unknown;
  readonly encodedKey: unknown;
  readonly size: unknown;
  readonly etag: unknown;
  readonly eventName: string;
  readonly sequencer: unknown;
}

function objectEvent(where: string, raw: RawObjectFields): ObjectEvent {
  if (typeof raw.bucket !== 'string' || raw.bucket === '') throw new MalformedMessageError(`${where} has no bucket name`);
  if (typeof raw.encodedKey !== 'string' || raw.encodedKey === '') throw new MalformedMessageError(`${where} has no object key`);
  const key = decodeS3EventKey(raw.encodedKey, where);
  return {
    bucket: raw.bucket,
    key,
    eventName: raw.eventName,
    ...(typeof raw.size === 'number' ? { size: raw.size } : {}),
    ...(typeof raw.etag === 'string' && raw.etag !== '' ? { etag: raw.etag.replace(/"/g, '') } : {}),
    ...(typeof raw.sequencer === 'string' ? { sequencer: raw.sequencer } : {}),
  };
}

/** The inverse of AWS's form encoding: `+` is a space, `%2B` a plus. */
export function decodeS3EventKey(encodedKey: string, where = 'event'): string {
  try {
    return decodeURIComponent(encodedKey.replace(/\+/g, ' '));
  } catch {
    throw new MalformedMessageError(`${where} has an object key that is not valid URL encoding: ${excerpt(encodedKey)}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function excerpt(text: string): string {
  return text.length <= KEY_EXCERPT_CHARS ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, KEY_EXCERPT_CHARS))}…`;
}

/** Errors end up in logs, and message bodies must not: describe a bad body by its shape, never its content. */
function describe(text: string): string {
  return `${Buffer.byteLength(text)} bytes`;
}

function fieldNames(json: Record<string, unknown>): string {
  const names = Object.keys(json).filter((name) => /^[A-Za-z][\w-]{0,40}$/.test(name)).slice(0, 10);
  return names.length > 0 ? names.join(', ') : 'none';
}
