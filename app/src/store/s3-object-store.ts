import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, ListObjectsCommand, PutObjectCommand, type GetObjectCommandOutput, type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { InputTooLargeError, ObjectChangedError, SourceMissingError, TransientError } from '../../../shared/errors';
import { assertKeyWithinLimit, assertMetadataWithinLimit } from '../../../shared/naming/s3-limits';
import { readBody } from './read-body';
import { BODY_STALL_MS, withStallTimeout } from './stall-guard';
import type {
  ByteRange, DownloadOptions, GetOptions, ListedObject, ObjectHead, ObjectRef, ObjectStore, OpenedObject, OpenReadOptions, PutOptions, RangeReadOptions,
  StoredObject,
} from '../ports/object-store';

/** The object-store port over S3 (or any S3-protocol server). Transient SDK errors propagate for the caller to classify. */
export class S3ObjectStore implements ObjectStore {
  /** `bodyStallMs`: how long a response body may send nothing before the read is given up (transient). */
  constructor(private readonly s3: S3Client, private readonly bodyStallMs: number = BODY_STALL_MS) {}

  async get(ref: ObjectRef, options: GetOptions): Promise<StoredObject> {
    let response;
    try {
      response = await this.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }), { abortSignal: options.signal });
    } catch (error) {
      if (isNotFound(error)) throw new SourceMissingError(`s3://${ref.bucket}/${ref.key} no longer exists`, { cause: error });
      throw error;
    }
    const size = response.ContentLength ?? 0;
    if (size > options.maxBytes) {
      response.Body?.transformToWebStream().cancel().catch(() => undefined);
      throw new InputTooLargeError(`s3://${ref.bucket}/${ref.key} is ${size} bytes, over MAX_INPUT_BYTES (${options.maxBytes})`);
    }
    const body = response.Body === undefined
      ? Buffer.alloc(0)
      : await readBody(withStallTimeout(response.Body as AsyncIterable<Uint8Array>, `s3://${ref.bucket}/${ref.key}`, this.bodyStallMs), size, options.maxBytes, `s3://${ref.bucket}/${ref.key}`);
    return { body, size: body.length, etag: unquote(response.ETag), contentType: response.ContentType, metadata: lowerKeys(response.Metadata) };
  }

  async head(ref: ObjectRef): Promise<ObjectHead | undefined> {
    try {
      const response = await this.s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      return { etag: unquote(response.ETag), size: response.ContentLength ?? 0, contentType: response.ContentType, metadata: lowerKeys(response.Metadata) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async put(ref: ObjectRef, body: Buffer, options: PutOptions): Promise<void> {
    // What S3 would refuse with a 400 is refused here, before a byte is sent, with the limit named.
    assertKeyWithinLimit(ref.key, `s3://${ref.bucket}/…`);
    assertMetadataWithinLimit(options.metadata, `s3://${ref.bucket}/${ref.key}`);
    // No ServerSideEncryption here: the bucket's default encryption (SSE-S3 or KMS, set by the infra) applies, so
    // switching the bucket to KMS needs no worker change.
    await this.s3.send(
      new PutObjectCommand({ Bucket: ref.bucket, Key: ref.key, Body: body, ContentType: options.contentType, Metadata: { ...options.metadata } }),
    );
  }

  async createIfAbsent(ref: ObjectRef, body: Buffer, options: PutOptions): Promise<boolean> {
    assertKeyWithinLimit(ref.key, `s3://${ref.bucket}/…`);
    assertMetadataWithinLimit(options.metadata, `s3://${ref.bucket}/${ref.key}`);
    try {
      await this.s3.send(
        new PutObjectCommand({ Bucket: ref.bucket, Key: ref.key, Body: body, ContentType: options.contentType, Metadata: { ...options.metadata }, IfNoneMatch: '*' }),
      );
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412) return false;
      // S3's answer when another conditional write to the key is under way: which one wins is not known yet.
      if (status === 409) throw new TransientError('conditional-write-conflict', `s3://${ref.bucket}/${ref.key}: a concurrent conditional write is in progress`, { cause: error });
      throw error;
    }
  }

  /**
   * ListObjects (v1), paged by Marker: it works on S3 and on s3rver alike (s3rver 3.7's v2 continuation tokens fail
   * under OpenSSL 3 past 1,000 keys), and it needs the same s3:ListBucket permission.
   */
  async list(bucket: string, prefix: string): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await this.s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker }));
      const listed = (page.Contents ?? []).map((object) => ({ key: object.Key ?? '', size: object.Size ?? 0, etag: unquote(object.ETag) }));
      objects.push(...listed);
      if (page.IsTruncated !== true || listed.length === 0) return objects;
      marker = page.NextMarker ?? listed[listed.length - 1]!.key;
    }
  }

  async download(ref: ObjectRef, path: string, options: DownloadOptions): Promise<ObjectHead> {
    const what = `s3://${ref.bucket}/${ref.key}`;
    let response;
    try {
      response = await this.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }), { abortSignal: options.signal });
    } catch (error) {
      if (isNotFound(error)) throw new SourceMissingError(`${what} no longer exists`, { cause: error });
      throw error;
    }
    const size = response.ContentLength ?? 0;
    if (size > options.maxBytes) {
      response.Body?.transformToWebStream().cancel().catch(() => undefined);
      throw new InputTooLargeError(`${what} is ${size} bytes, over ${options.limitName} (${options.maxBytes} bytes)`);
    }
    // `wx`: a file that is already there is another download's, never to be appended to or overwritten.
    const file = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    const body = (response.Body as AsyncIterable<Uint8Array> | undefined) ?? Readable.from([]);
    await pipeline(withStallTimeout(body, what, this.bodyStallMs), byteLimit(options.maxBytes, what, options.limitName), file, { signal: options.signal });
    return { etag: unquote(response.ETag), size: (await stat(path)).size, contentType: response.ContentType, metadata: lowerKeys(response.Metadata) };
  }

  async upload(ref: ObjectRef, path: string, options: PutOptions & { readonly signal?: AbortSignal }): Promise<void> {
    assertKeyWithinLimit(ref.key, `s3://${ref.bucket}/…`);
    assertMetadataWithinLimit(options.metadata, `s3://${ref.bucket}/${ref.key}`);
    const { size } = await stat(path);
    await this.multipartUpload(ref, createReadStream(path), Math.max(MIN_UPLOAD_PART_BYTES, Math.ceil(size / MAX_UPLOAD_PARTS)), options);
  }

  async readRange(ref: ObjectRef, range: ByteRange, options: RangeReadOptions): Promise<Buffer> {
    const what = `s3://${ref.bucket}/${ref.key} bytes ${range.start}-${range.end}`;
    if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start) {
      throw new RangeError(`${what} is not a byte range`);
    }
    const wanted = range.end - range.start + 1;
    const response = await this.getObject(ref, { Range: `bytes=${range.start}-${range.end}`, IfMatch: quote(options.ifMatch) }, options);
    const source = bodyOf(response);
    // A server that ignores Range answers the whole object: refused before a byte of it is read into memory.
    if ((response.ContentLength ?? 0) > wanted) {
      source.destroy?.();
      throw new TransientError('range-mismatch', `${what}: the server answered ${response.ContentLength} bytes (Content-Range ${response.ContentRange ?? 'absent'})`);
    }
    const buffer = Buffer.allocUnsafe(wanted);
    let length = 0;
    try {
      for await (const chunk of withStallTimeout(source, what, this.bodyStallMs)) {
        if (length + chunk.length > wanted) throw new TransientError('range-mismatch', `${what}: the server sent more than the ${wanted} bytes asked for`);
        buffer.set(chunk, length);
        length += chunk.length;
      }
    } catch (error) {
      source.destroy?.();
      // The SDK's abort resets the connection mid-body; the caller asked for its own reason.
      options.signal?.throwIfAborted();
      throw error;
    }
    // With If-Match the version cannot have changed, so a short body is a cut connection (or a range past the end).
    if (length < wanted) throw new TransientError('range-mismatch', `${what}: only ${length} of ${wanted} bytes arrived (Content-Range ${response.ContentRange ?? 'absent'})`);
    return buffer;
  }

  async openRead(ref: ObjectRef, options: OpenReadOptions): Promise<OpenedObject> {
    const what = `s3://${ref.bucket}/${ref.key}`;
    const response = await this.getObject(ref, options.ifMatch === undefined ? {} : { IfMatch: quote(options.ifMatch) }, options);
    const source = bodyOf(response);
    // Readable.from pulls the next chunk only when the consumer reads: the socket is backpressured, and time the
    // consumer spends not reading never counts as a stall.
    const body = Readable.from(untilDone(source, withStallTimeout(source, what, this.bodyStallMs)), { objectMode: false });
    const signal = options.signal;
    if (signal !== undefined) {
      const abort = () => body.destroy(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
      signal.addEventListener('abort', abort, { once: true });
      body.once('close', () => signal.removeEventListener('abort', abort));
      // Aborted while the response was on its way: the listener above will never be called.
      if (signal.aborted) abort();
    }
    const head: ObjectHead = { etag: unquote(response.ETag), size: response.ContentLength ?? 0, contentType: response.ContentType, metadata: lowerKeys(response.Metadata) };
    return { head, body };
  }

  async uploadStream(ref: ObjectRef, body: Readable, options: PutOptions & { readonly signal?: AbortSignal }): Promise<void> {
    try {
      assertKeyWithinLimit(ref.key, `s3://${ref.bucket}/…`);
      assertMetadataWithinLimit(options.metadata, `s3://${ref.bucket}/${ref.key}`);
      // The length is unknown, so parts are the minimum size: 10,000 of them carry 78 GiB.
      await this.multipartUpload(ref, body, MIN_UPLOAD_PART_BYTES, options);
    } catch (error) {
      // Without an error: a producer piping into the body sees a premature close and stops, and no one is left without
      // an 'error' listener.
      body.destroy();
      throw error;
    }
  }

  /** GetObject with the read errors mapped: a 412 is a replaced object, a 404 a missing one. */
  private async getObject(ref: ObjectRef, conditions: { Range?: string; IfMatch?: string }, options: { readonly ifMatch?: string; readonly signal?: AbortSignal }): Promise<GetObjectCommandOutput> {
    const what = `s3://${ref.bucket}/${ref.key}`;
    try {
      return await this.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, ...conditions }), { abortSignal: options.signal });
    } catch (error) {
      // The SDK's own AbortError hides the reason the caller aborted with.
      options.signal?.throwIfAborted();
      if (isPreconditionFailed(error)) {
        throw new ObjectChangedError(`${what} no longer has ETag ${options.ifMatch ?? '?'}: it was replaced while being read`, { cause: error });
      }
      if (isNotFound(error)) throw new SourceMissingError(`${what} no longer exists`, { cause: error });
      throw error;
    }
  }

  /** Uploads `body` in parts of `partSize`, at most UPLOAD_PARTS_AT_ONCE at a time: (that + 1) parts in memory. */
  private async multipartUpload(ref: ObjectRef, body: Readable, partSize: number, options: PutOptions & { readonly signal?: AbortSignal }): Promise<void> {
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: ref.bucket, Key: ref.key, Body: body, ContentType: options.contentType, Metadata: { ...options.metadata } },
      partSize,
      queueSize: UPLOAD_PARTS_AT_ONCE,
      // The abort is ours (below): lib-storage's own abort replaces the part's error with the abort's, so a refused
      // abort (405 from s3rver, a role without the permission) would turn a throttled part into a permanent failure.
      leavePartsOnError: true,
    });
    const abort = () => void upload.abort().catch(() => undefined);
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      await upload.done();
    } catch (error) {
      // Parts of a failed upload are billed until aborted; the bucket's 7-day lifecycle rule is the backstop.
      if (upload.uploadId !== undefined) {
        await this.s3.send(new AbortMultipartUploadCommand({ Bucket: ref.bucket, Key: ref.key, UploadId: upload.uploadId })).catch(() => undefined);
      }
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
  }
}

/**
 * Parts of 8 MiB (larger for files past 78 GiB, so S3's 10,000 parts are enough), two at a time: 16 MiB of buffers per
 * upload, and a message uploads at most four outputs at once.
 */
const MIN_UPLOAD_PART_BYTES = 8 * 1024 * 1024;
const MAX_UPLOAD_PARTS = 10_000;
const UPLOAD_PARTS_AT_ONCE = 2;

/** Counts bytes on their way to disk and stops the stream once they pass the limit (a server sending more than it said). */
function byteLimit(maxBytes: number, what: string, limitName: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new InputTooLargeError(`${what} sent more than ${limitName} (${maxBytes} bytes)`));
      else callback(null, chunk);
    },
  });
}

type ResponseBody = AsyncIterable<Uint8Array> & { destroy?: () => void };

function bodyOf(response: GetObjectCommandOutput): ResponseBody {
  return (response.Body as ResponseBody | undefined) ?? Readable.from([]);
}

/** Yields `chunks`; a consumer that stops before the end destroys `source`, or the unread response holds its connection. */
async function* untilDone(source: ResponseBody, chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let done = false;
  try {
    yield* chunks;
    done = true;
  } finally {
    if (!done) source.destroy?.();
  }
}

function isPreconditionFailed(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

/** A missing key, not a missing bucket: an event naming a bucket that does not exist is an error, never a skip. */
function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.name === 'NoSuchBucket') return false;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** S3 takes either; quoted is what HTTP defines. */
function quote(etag: string): string {
  return `"${unquote(etag)}"`;
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/"/g, '');
}

function lowerKeys(metadata: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([key, value]) => [key.toLowerCase(), value]));
}
