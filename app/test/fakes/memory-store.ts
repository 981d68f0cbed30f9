import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { InputTooLargeError, SourceMissingError } from '../../../shared/errors';
import type { DownloadOptions, GetOptions, ListedObject, ObjectHead, ObjectRef, ObjectStore, PutOptions, StoredObject } from '../../src/ports/object-store';

/** An in-memory object store with S3's observable behaviour (ETags, metadata, missing keys), plus call counts. */
export class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, StoredObject>();
  readonly calls = { get: 0, head: 0, put: 0, download: 0, upload: 0, createIfAbsent: 0, list: 0 };
  /** Failures to throw from the next calls, consumed in order. */
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

  private throwIfFailing(queue: unknown[]): void {
    if (queue.length > 0) throw queue.shift();
  }
}
