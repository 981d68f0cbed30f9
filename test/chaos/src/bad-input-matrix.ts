import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import {
  alphaPng, animatedGif, cmykJpeg, corruptJpeg, exifRotatedJpeg, grayscaleJpeg, pixelBombPng, plainJpeg, png16, textAsJpg, truncated,
} from '../../../app/test/factories';
import { buildS3Event } from '../../../shared/events/s3-event-shape';
import { endlessSvg, heavyPng16, heavyProgressiveJpeg, keyOfBytes, slowOlderVersion } from './heavy-inputs';

/** What must become of an input: outputs for every size, acknowledged without output, or dead-lettered. */
export type ExpectedOutcome = 'processed' | 'skipped' | 'dlq';

/** The source bucket and the worker settings the matrix's expectations are written against. */
export const MATRIX_SOURCE_BUCKET = 'source';
/** Above the decode-heavy images (a 10000x10000 16-bit PNG is about 4.3 MB), so they are refused by nothing but memory. */
export const MATRIX_MAX_INPUT_BYTES = 8_000_000;

/**
 * The chaos run has two passes. `main` runs with the worker's default RENDER_TIMEOUT_SECONDS (60): decode-heavy
 * images at full size take several seconds to render on a loaded machine and must not be mistaken for endless ones.
 * `slow-render` runs the images meant to outlive the render timeout with this short one, next to a few small good
 * images that finish in milliseconds.
 */
export type MatrixPass = 'main' | 'slow-render';
export const SLOW_RENDER_SETTINGS = { RENDER_TIMEOUT_SECONDS: '2' } as const;
/** A 16-bit RGBA interlaced PNG this large decodes whole for about 4 s even on an idle core: twice the short timeout. */
export const SLOW_RENDER_SIDE = 10_000;

/**
 * Written into message bodies wherever a body carries free text, so the log check can prove no body content reaches a
 * log line (keys and bucket names are logged on purpose and are not body content in that sense).
 */
export const BODY_CANARY = 'chaos-body-canary-7f3a';

export interface UploadedObject {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
}

export interface MatrixObject {
  readonly key: string;
  readonly bytes: () => Promise<Buffer>;
  /** This object's own outcome when it differs from the case's (one bad record in a message of good ones). */
  readonly expected?: ExpectedOutcome;
  readonly reason?: string;
}

/**
 * How a case reaches the queue:
 * - `event`: its objects are uploaded and each gets the S3 notification AWS would send;
 * - `deleted-before-processing`: uploaded, notified, then deleted before any worker starts;
 * - `raw-body`: the given body is sent as it is, after the objects (if any) are uploaded without notifications.
 */
export type Delivery =
  | { readonly kind: 'event' }
  | { readonly kind: 'deleted-before-processing' }
  | { readonly kind: 'raw-body'; readonly body: (uploaded: readonly UploadedObject[]) => string }
  /**
   * The key is written twice, the older version first (`objects`), then `newer`, and both events are queued, the
   * older version's last, as S3's unordered delivery can do. `before-workers`: both versions are stored before any
   * worker runs. `while-processing`: the older version's event is queued alone, and the newer version is written the
   * moment a worker has read the older one, while it renders it (its event, then the older event again, are queued then).
   */
  | { readonly kind: 'overwrite-race'; readonly newer: () => Promise<Buffer>; readonly when: 'before-workers' | 'while-processing' };

export interface MatrixCase {
  readonly id: string;
  readonly title: string;
  readonly objects: readonly MatrixObject[];
  readonly delivery: Delivery;
  readonly expected: ExpectedOutcome;
  /** For `dlq`: the reason the worker's `failed` log line must give. */
  readonly reason?: string;
  /** Why this outcome is the right one, for the README table. */
  readonly why: string;
  /** Which pass of the chaos run carries the case (default `main`). */
  readonly pass?: MatrixPass;
  /** The chaos run SIGTERMs the worker that renders this case's object, 0.7 s into its first attempt. */
  readonly sigtermWhileRendering?: boolean;
}

const photo = () => plainJpeg(64, 48);
const otherPhoto = () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#aa2211' } }).jpeg().toBuffer();
const event = { kind: 'event' } as const;
/** 6 bytes of `32x32/` in front make its output key 1026 bytes: one past S3's limit, while the source key itself is legal. */
export const OVERLONG_KEY = keyOfBytes('matrix/long/', 1020, 'k', '.jpg');
/** About 300 CJK characters, 920 bytes: legal as a key and as an output key, but 2.7 KB URL-encoded. */
export const CJK_KEY = keyOfBytes('matrix/cjk/', 920, '漢', '.jpg');

export const BAD_INPUT_MATRIX: readonly MatrixCase[] = [
  { id: 'corrupt-jpeg', title: 'Corrupt JPEG (scan data overwritten)', objects: [{ key: 'matrix/corrupt.jpg', bytes: corruptJpeg }], delivery: event, expected: 'dlq', reason: 'corrupt-image', why: 'FAIL_ON=warning refuses to guess through a broken scan' },
  { id: 'truncated-png', title: 'Truncated PNG (half the file)', objects: [{ key: 'matrix/truncated.png', bytes: () => truncated(alphaPng(64, 64)) }], delivery: event, expected: 'dlq', reason: 'corrupt-image', why: 'no half-grey output is written' },
  { id: 'zero-byte', title: 'Zero-byte file', objects: [{ key: 'matrix/empty.jpg', bytes: async () => Buffer.alloc(0) }], delivery: event, expected: 'dlq', reason: 'empty-file', why: 'nothing to decode, ever' },
  { id: 'text-as-jpg', title: 'Text file named .jpg', objects: [{ key: 'matrix/text.jpg', bytes: async () => textAsJpg() }], delivery: event, expected: 'dlq', reason: 'unsupported-format', why: 'the bytes, not the name, decide' },
  { id: 'pixel-bomb', title: 'PNG declaring 30000x30000 pixels in a tiny file', objects: [{ key: 'matrix/bomb.png', bytes: async () => pixelBombPng() }], delivery: event, expected: 'dlq', reason: 'pixel-limit-exceeded', why: 'refused from the header by MAX_INPUT_PIXELS before any pixel is decoded' },
  { id: 'over-max-input-bytes', title: `Valid PNG over MAX_INPUT_BYTES (${MATRIX_MAX_INPUT_BYTES})`, objects: [{ key: 'matrix/too-big.png', bytes: oversizedPng }], delivery: event, expected: 'dlq', reason: 'input-too-large', why: 'refused from the object size before the body is read' },
  { id: 'unsupported-format', title: 'Unsupported format (BMP)', objects: [{ key: 'matrix/bitmap.bmp', bytes: async () => bmp(4, 4) }], delivery: event, expected: 'dlq', reason: 'unsupported-format', why: 'libvips as shipped with sharp has no BMP loader' },
  { id: 'animated-gif', title: 'Animated GIF', objects: [{ key: 'matrix/animated.gif', bytes: () => animatedGif(64, 48) }], delivery: event, expected: 'processed', why: 'the first frame is resized' },
  { id: 'cmyk-jpeg', title: 'CMYK JPEG', objects: [{ key: 'matrix/cmyk.jpg', bytes: () => cmykJpeg(64, 48) }], delivery: event, expected: 'processed', why: 'converted to sRGB' },
  { id: 'png-16-bit', title: '16-bit PNG', objects: [{ key: 'matrix/deep.png', bytes: () => png16(64, 48) }], delivery: event, expected: 'processed', why: 'reduced to 8 bits for JPEG output' },
  { id: 'exif-rotated', title: 'EXIF-rotated JPEG (orientation 6)', objects: [{ key: 'matrix/rotated.jpg', bytes: () => exifRotatedJpeg(64, 48) }], delivery: event, expected: 'processed', why: 'rotated upright before resizing' },
  { id: 'grayscale', title: 'Grayscale JPEG', objects: [{ key: 'matrix/gray.jpg', bytes: () => grayscaleJpeg(64, 48) }], delivery: event, expected: 'processed', why: 'written as sRGB JPEG' },
  { id: 'alpha-png', title: 'PNG with alpha, output JPEG', objects: [{ key: 'matrix/alpha.png', bytes: () => alphaPng(64, 48) }], delivery: event, expected: 'processed', why: 'flattened on BACKGROUND' },
  { id: 'key-spaces', title: 'Key with spaces', objects: [{ key: 'matrix/with spaces/a photo.jpg', bytes: photo }], delivery: event, expected: 'processed', why: '`+` in the event decodes to a space' },
  { id: 'key-plus', title: 'Key with +', objects: [{ key: 'matrix/a+b.jpg', bytes: photo }], delivery: event, expected: 'processed', why: '`%2B` decodes to a plus, not a space' },
  { id: 'key-percent', title: 'Key with %', objects: [{ key: 'matrix/100%25 off%.jpg', bytes: photo }], delivery: event, expected: 'processed', why: 'a literal % survives encoding and decoding' },
  { id: 'key-unicode', title: 'Key with unicode', objects: [{ key: 'matrix/ünïcödé/日本語 ☃.jpg', bytes: photo }], delivery: event, expected: 'processed', why: 'UTF-8 percent-encoding round-trips' },
  { id: 'key-deep', title: 'Deep folders', objects: [{ key: 'matrix/a/b/c/d/e/f/g/h/i/j/deep.jpg', bytes: photo }], delivery: event, expected: 'processed', why: 'folders are kept in the output key' },
  { id: 'deleted-before-processing', title: 'Object deleted before it is processed (task role with s3:ListBucket, as the infra grants)', objects: [{ key: 'matrix/deleted.jpg', bytes: photo }], delivery: { kind: 'deleted-before-processing' }, expected: 'skipped', why: 'S3 (the strict front) answers 404, not 403: acknowledged and logged as source missing, never retried' },
  { id: 'malformed-json', title: 'Malformed JSON body', objects: [], delivery: { kind: 'raw-body', body: () => `{"Records": [ ${BODY_CANARY}` }, expected: 'dlq', reason: 'malformed-message', why: 'can never parse' },
  { id: 'non-s3-json', title: 'JSON that is not an S3 event', objects: [], delivery: { kind: 'raw-body', body: () => JSON.stringify({ hello: BODY_CANARY, orderId: 42 }) }, expected: 'dlq', reason: 'malformed-message', why: 'no Records, not a test event' },
  { id: 'foreign-bucket', title: 'Event naming a bucket outside ALLOWED_SOURCE_BUCKETS', objects: [], delivery: { kind: 'raw-body', body: () => buildS3Event([{ bucket: 'someone-elses-bucket', key: 'x.jpg', size: 1, etag: 'abc' }]) }, expected: 'dlq', reason: 'malformed-message', why: 'the worker never reads a bucket it was not given' },
  { id: 's3-test-event', title: 's3:TestEvent', objects: [], delivery: { kind: 'raw-body', body: () => JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Time: new Date().toISOString(), Bucket: MATRIX_SOURCE_BUCKET, RequestId: BODY_CANARY, HostId: BODY_CANARY }) }, expected: 'skipped', why: 'sent once when notifications are configured; deleted' },
  { id: 'sns-wrapped', title: 'SNS-wrapped S3 event', objects: [{ key: 'matrix/via-sns.jpg', bytes: photo }], delivery: { kind: 'raw-body', body: snsWrapped }, expected: 'processed', why: 'the S3 notification is unwrapped from the SNS envelope' },
  { id: 'several-records', title: 'One message with three records', objects: [1, 2, 3].map((n) => ({ key: `matrix/batch/record-${n}.jpg`, bytes: photo })), delivery: { kind: 'raw-body', body: (uploaded) => notification(uploaded) }, expected: 'processed', why: 'every record is processed before the message is deleted' },
  {
    id: 'several-records-one-bad',
    title: 'One message with three records, the second corrupt',
    objects: [
      { key: 'matrix/mixed/good-1.jpg', bytes: photo },
      { key: 'matrix/mixed/bad.jpg', bytes: corruptJpeg, expected: 'dlq', reason: 'corrupt-image' },
      { key: 'matrix/mixed/good-2.jpg', bytes: photo },
    ],
    delivery: { kind: 'raw-body', body: (uploaded) => notification(uploaded) },
    expected: 'processed',
    why: 'each record on its own: the good ones get outputs, a dead letter holds the bad record only',
  },
  { id: 'overwrite-race-queued', title: 'Key overwritten before processing, the older event delivered last', objects: [{ key: 'matrix/race/queued.jpg', bytes: photo }], delivery: { kind: 'overwrite-race', newer: otherPhoto, when: 'before-workers' }, expected: 'processed', why: 'outputs carry the newer version\'s ETag, never the older one\'s' },
  { id: 'overwrite-race-live', title: 'Key overwritten while a worker renders its older version (a slower interlaced PNG)', objects: [{ key: 'matrix/race/live.jpg', bytes: slowOlderVersion }], delivery: { kind: 'overwrite-race', newer: otherPhoto, when: 'while-processing' }, expected: 'processed', why: 'the worker reads the source back after writing and redoes a changed one: outputs converge on the newer ETag' },
  { id: 'output-key-too-long', title: 'Source key of 1020 bytes (its output key would be 1026)', objects: [{ key: OVERLONG_KEY, bytes: photo }], delivery: event, expected: 'dlq', reason: 'output-key-too-long', why: 'refused before any work: S3 keys are at most 1024 bytes' },
  { id: 'key-cjk-900-bytes', title: 'Key of 300 CJK characters (920 bytes)', objects: [{ key: CJK_KEY, bytes: photo }], delivery: event, expected: 'processed', why: 'legal; URL-encoded it would pass 2 KB of metadata, so outputs name it in `source-key-base64url`' },
  { id: 'decode-heavy-png16', title: '16-bit RGBA interlaced PNG (decodes whole)', objects: [{ key: 'matrix/heavy/png16.png', bytes: () => heavyPng16(1200) }], delivery: event, expected: 'processed', why: 'admitted by the memory budget from its header; the chaos run adds full-size ones under a 4 GiB memory cgroup' },
  { id: 'decode-heavy-progressive-jpeg', title: 'Progressive JPEG (decodes whole)', objects: [{ key: 'matrix/heavy/progressive.jpg', bytes: () => heavyProgressiveJpeg(1200) }], delivery: event, expected: 'processed', why: 'no shrink-on-load for a progressive scan: decoded once for every size' },
  { id: 'svg-as-jpg', title: 'SVG named .jpg that would render for hours', objects: [{ key: 'matrix/endless.jpg', bytes: async () => endlessSvg() }], delivery: event, expected: 'dlq', reason: 'format-not-accepted', why: 'INPUT_FORMATS (default without svg) is judged from the content, before any render' },
  { id: 'render-timeout', title: '10000x10000 16-bit interlaced PNG, RENDER_TIMEOUT_SECONDS=2 (slow-render pass)', objects: [{ key: 'slow/render.png', bytes: () => heavyPng16(SLOW_RENDER_SIDE) }], delivery: event, expected: 'dlq', reason: 'render-timeout', why: 'stopped at the timeout, tried once more, then dead-lettered', pass: 'slow-render' },
  { id: 'sigterm-during-render', title: 'The same image, its worker SIGTERMed 0.7 s into the render (slow-render pass)', objects: [{ key: 'slow/sigterm.png', bytes: () => heavyPng16(SLOW_RENDER_SIDE) }], delivery: event, expected: 'dlq', reason: 'render-timeout', why: 'the worker exits 0 within the grace period and hands the message back; its next attempts time out', pass: 'slow-render', sigtermWhileRendering: true },
];

/** The cases of one pass of the chaos run. */
export function matrixCases(pass: MatrixPass): MatrixCase[] {
  return BAD_INPUT_MATRIX.filter((c) => (c.pass ?? 'main') === pass);
}

/** The S3 notification for uploaded objects, with the canary in the fields a worker has no reason to log. */
export function notification(uploaded: readonly UploadedObject[]): string {
  const event = JSON.parse(buildS3Event(uploaded.map((object) => ({ bucket: MATRIX_SOURCE_BUCKET, ...object })))) as { Records: Record<string, unknown>[] };
  for (const record of event.Records) {
    record.userIdentity = { principalId: `AWS:${BODY_CANARY}` };
    record.responseElements = { 'x-amz-request-id': BODY_CANARY, 'x-amz-id-2': BODY_CANARY };
  }
  return JSON.stringify(event);
}

function snsWrapped(uploaded: readonly UploadedObject[]): string {
  return JSON.stringify({
    Type: 'Notification',
    MessageId: BODY_CANARY,
    TopicArn: 'arn:aws:sns:us-east-1:123456789012:uploads',
    Subject: 'Amazon S3 Notification',
    Message: notification(uploaded),
    Timestamp: new Date().toISOString(),
    SignatureVersion: '1',
    Signature: BODY_CANARY,
  });
}

/** Stored without compression, a valid PNG's size is known in advance: this one is just over the byte limit. */
async function oversizedPng(): Promise<Buffer> {
  const side = Math.ceil(Math.sqrt(MATRIX_MAX_INPUT_BYTES / 3)) + 16;
  return sharp(randomBytes(side * 3), { raw: { width: side, height: 1, channels: 3 } }).resize(side, side, { kernel: 'nearest' }).png({ compressionLevel: 0 }).toBuffer();
}

/** A valid 24-bit Windows bitmap: a real image format that libvips (as shipped with sharp) cannot load. */
export function bmp(width: number, height: number): Buffer {
  const rowBytes = Math.ceil((width * 3) / 4) * 4;
  const pixels = Buffer.alloc(rowBytes * height, 0x80);
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'ascii');
  header.writeUInt32LE(54 + pixels.length, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(width, 18);
  header.writeInt32LE(height, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(pixels.length, 34);
  return Buffer.concat([header, pixels]);
}

/** The matrix as the Markdown table README-chaos.md carries; a test keeps the two identical. */
export function matrixTable(): string {
  const outcome = (expected: ExpectedOutcome, reason: string | undefined) => `${expected}${reason !== undefined ? ` (\`${reason}\`)` : ''}`;
  const rows = BAD_INPUT_MATRIX.map((c) => {
    const own = c.objects.filter((o) => o.expected !== undefined).map((o) => `; \`${o.key.split('/').pop() ?? o.key}\`: ${outcome(o.expected!, o.reason)}`);
    return `| ${c.title} | ${outcome(c.expected, c.reason)}${own.join('')} | ${c.why} |`;
  });
  return ['| Input | Expected outcome | Why |', '| --- | --- | --- |', ...rows].join('\n');
}
