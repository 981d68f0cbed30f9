import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { InputTooLargeError, ObjectChangedError, SourceMissingError, TransientError } from '../../../shared/errors';
import type {
  ByteRange, DownloadOptions, GetOptions, ListedObject, ObjectHead, ObjectRef, ObjectStore, OpenedObject, OpenReadOptions, PutOptions, RangeReadOptions,
  StoredObject,
} from '../../src/ports/object-store';

/** What the fake's streamed reads deliver at a time: about what a socket gives, so a reader sees many chunks. */
const READ_CHUNK_BYTES = 64 * 1024;

/** An in-memory object store with S3's observable behaviour (ETags, metadata, missing keys), plus call counts. */
export class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, StoredObject>();
  readonly calls = { get: 0, head: 0, put: 0, download: 0, upload: 0, createIfAbsent: 0, list: 0, readRange: 0, openRead: 0, uploadStream: 0 };
  /** Failures to throw from the next calls, consumed in order (`get` for every read, `put` for every write). */
  readonly failNext: { get: unknown[]; put: unknown[]; head: unknown[] } = { get: [], put: [], head: [] };

  add(bucket: string, key: string, body: Buffer | string, metadata: Record<string, string> = {}): string {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const etag = createHash('md5').update(bytes).digest('hex');
    this.objects.set(`${bucket}/${key}`, { body: bytes, etag, size: bytes.length, metadata });
    return etag;
  }

  object(bucket: string, key: string): StoredObject | undefined {
    return this.objects.get(`${bucket}/${key}`);
  }

  keys(bucket: string): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(`${bucket}/`)).map((k) => k.slice(bucket.length + 1)).sort();
  }

  async get(ref: ObjectRef, options: GetOptions): Promise<StoredObject> {
    this.calls.get++;
    this.throwIfFailing(this.failNext.get);
    const object = this.object(ref.bucket, ref.key);
    if (object === undefined) throw new SourceMissingError(`s3://${ref.bucket}/${ref.key} does not exist`);
    if (object.size > options.maxBytes) throw new InputTooLargeError(`s3://${ref.bucket}/${ref.key} is ${object.size} bytes, over ${options.maxBytes}`);
    return object;
  }

  async head(ref: ObjectRef): Promise<ObjectHead | undefined> {
    this.calls.head++;
    this.throwIfFailing(this.failNext.head);
    const object = this.object(ref.bucket, ref.key);
    if (object === undefined) return undefined;
    const { body: _body, ...head } = object;
    return head;
  }

  async put(ref: ObjectRef, body: Buffer, options: PutOptions): Promise<void> {
    this.calls.put++;
    this.throwIfFailing(this.failNext.put);
    this.add(ref.bucket, ref.key, body, { ...options.metadata });
  }

  async download(ref: ObjectRef, path: string, options: DownloadOptions): Promise<ObjectHead> {
    this.calls.download++;
    this.throwIfFailing(this.failNext.get);
    const object = this.object(ref.bucket, ref.key);
    if (object === undefined) throw new SourceMissingError(`s3://${ref.bucket}/${ref.key} does not exist`);
    if (object.size > options.maxBytes) throw new InputTooLargeError(`s3://${ref.bucket}/${ref.key} is ${object.size} bytes, over ${options.limitName}`);
    await writeFile(path, object.body, { flag: 'wx' });
    const { body: _body, ...head } = object;
    return head;
  }

  async upload(ref: ObjectRef, path: string, options: PutOptions): Promise<void> {
    this.calls.upload++;
    this.throwIfFailing(this.failNext.put);
    this.add(ref.bucket, ref.key, await readFile(path), { ...options.metadata });
  }

  async readRange(ref: ObjectRef, range: ByteRange, options: RangeReadOptions): Promise<Buffer> {
    this.calls.readRange++;
    options.signal?.throwIfAborted();
    this.throwIfFailing(this.failNext.get);
    const object = this.version(ref, options.ifMatch);
    if (range.start >= object.size) {
      throw Object.assign(new Error('The requested range is not satisfiable'), { name: 'InvalidRange', $metadata: { httpStatusCode: 416 } });
    }
    // S3 answers a range past the end with what there is; the adapter calls that short body transient.
    if (range.end >= object.size) throw new TransientError('range-mismatch', `s3://${ref.bucket}/${ref.key}: only ${object.size - range.start} of ${range.end - range.start + 1} bytes arrived`);
    // A copy: what the caller does to the bytes must not change the stored object.
    return Buffer.from(object.body.subarray(range.start, range.end + 1));
  }

  async openRead(ref: ObjectRef, options: OpenReadOptions): Promise<OpenedObject> {
    this.calls.openRead++;
    options.signal?.throwIfAborted();
    this.throwIfFailing(this.failNext.get);
    // The version read is fixed here, as S3's GET is: replacing the object mid-read does not change these bytes.
    const { body: bytes, ...head } = this.version(ref, options.ifMatch);
    const body = Readable.from(slices(bytes, READ_CHUNK_BYTES), { objectMode: false });
    const signal = options.signal;
    if (signal !== undefined) {
      const abort = () => body.destroy(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
      signal.addEventListener('abort', abort, { once: true });
      body.once('close', () => signal.removeEventListener('abort', abort));
    }
    return { head, body };
  }

  async uploadStream(ref: ObjectRef, body: Readable, options: PutOptions & { readonly signal?: AbortSignal }): Promise<void> {
    this.calls.uploadStream++;
    try {
      this.throwIfFailing(this.failNext.put);
      const chunks: Buffer[] = [];
      for await (const chunk of body) {
        options.signal?.throwIfAborted();
        chunks.push(Buffer.from(chunk as Uint8Array));
      }
      options.signal?.throwIfAborted();
      this.add(ref.bucket, ref.key, Buffer.concat(chunks), { ...options.metadata });
    } catch (error) {
      body.destroy();
      throw error;
    }
  }

  async createIfAbsent(ref: ObjectRef, body: Buffer, options: PutOptions): Promise<boolean> {
    this.calls.createIfAbsent++;
    this.throwIfFailing(this.failNext.put);
    // No await between the check and the write: as atomic as S3's conditional write.
    if (this.object(ref.bucket, ref.key) !== undefined) return false;
    this.add(ref.bucket, ref.key, body, { ...options.metadata });
    return true;
  }

  async list(bucket: string, prefix: string): Promise<ListedObject[]> {
    this.calls.list++;
    return this.keys(bucket).filter((key) => key.startsWith(prefix)).map((key) => {
      const object = this.object(bucket, key)!;
      return { key, size: object.size, etag: object.etag };
    });
  }

  /** The key's current object, which must be version `ifMatch` when given: S3's answers to a conditional GET. */
  private version(ref: ObjectRef, ifMatch: string | undefined): StoredObject {
    const object = this.object(ref.bucket, ref.key);
    if (object === undefined) throw new SourceMissingError(`s3://${ref.bucket}/${ref.key} does not exist`);
    if (ifMatch !== undefined && ifMatch !== object.etag) throw new ObjectChangedError(`s3://${ref.bucket}/${ref.key} no longer has ETag ${ifMatch}`);
    return object;
  }

  private throwIfFailing(queue: unknown[]): void {
    if (queue.length > 0) throw queue.shift();
  }
}

function* slices(bytes: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}
