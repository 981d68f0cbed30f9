import type { Readable } from 'node:stream';

/** The object-store port. One adapter (`S3ObjectStore`); locally it points at an S3-protocol server on 127.0.0.1. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
}

export interface ObjectHead {
  /** Without the surrounding quotes S3 puts on ETags. */
  readonly etag: string;
  readonly size: number;
  readonly contentType?: string;
  /** User metadata (x-amz-meta-*), keys lower-case. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface StoredObject extends ObjectHead {
  readonly body: Buffer;
}

export interface PutOptions {
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface GetOptions {
  /** Refuse (InputTooLargeError) before downloading an object larger than this. */
  readonly maxBytes: number;
  /** Abandons the request (a per-download timeout); the caller decides what the abort means. */
  readonly signal?: AbortSignal;
}

export interface DownloadOptions {
  /** Refuse (InputTooLargeError) before writing an object larger than this; `limitName` is the setting to name. */
  readonly maxBytes: number;
  readonly limitName: string;
  readonly signal?: AbortSignal;
}

/** Bytes `start` to `end` of an object, both inclusive, as HTTP's Range header counts them. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export interface RangeReadOptions {
  /** The ETag the caller read the object's layout from: a range of any other version fails (ObjectChangedError). */
  readonly ifMatch: string;
  readonly signal?: AbortSignal;
}

export interface OpenReadOptions {
  /** When set, only that version of the object is read (ObjectChangedError otherwise). */
  readonly ifMatch?: string;
  /** Abandons the request and destroys the body with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface OpenedObject {
  readonly head: ObjectHead;
  /** The object's bytes as they arrive: backpressured, never buffered whole. Destroy it to stop early. */
  readonly body: Readable;
}

export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
}

export interface ObjectStore {
  /** Throws SourceMissingError when the object does not exist, InputTooLargeError when over maxBytes. */
  get(ref: ObjectRef, options: GetOptions): Promise<StoredObject>;
  /** undefined when the object does not exist. */
  head(ref: ObjectRef): Promise<ObjectHead | undefined>;
  put(ref: ObjectRef, body: Buffer, options: PutOptions): Promise<void>;
  /**
   * Streams the object into a new file at `path` (never whole in memory) and returns what was written's head.
   * Throws as `get` does; a partly written file is left for the caller's directory clean-up.
   */
  download(ref: ObjectRef, path: string, options: DownloadOptions): Promise<ObjectHead>;
  /** Streams the file at `path` to the object (multipart when large). */
  upload(ref: ObjectRef, path: string, options: PutOptions & { readonly signal?: AbortSignal }): Promise<void>;
  /**
   * A byte range of the object's version `ifMatch`. ObjectChangedError when the key now holds another version,
   * SourceMissingError when it is gone, a TransientError when fewer (or more) bytes arrive than the range holds.
   */
  readRange(ref: ObjectRef, range: ByteRange, options: RangeReadOptions): Promise<Buffer>;
  /** The whole object as a stream. Throws as `readRange` does; a body that stops sending fails with a transient error. */
  openRead(ref: ObjectRef, options: OpenReadOptions): Promise<OpenedObject>;
  /**
   * Streams a body of unknown length to the object (multipart when large): memory is bounded by a few parts whatever
   * the length. On failure the key is left as it was (the multipart upload aborted) and `body` is destroyed, so whatever
   * produces it stops.
   */
  uploadStream(ref: ObjectRef, body: Readable, options: PutOptions & { readonly signal?: AbortSignal }): Promise<void>;
  /**
   * Writes the object only if no object has the key (S3's conditional write, `If-None-Match: *`): true when this call
   * created it, false when one was there already. Of any number of concurrent callers exactly one gets true.
   */
  createIfAbsent(ref: ObjectRef, body: Buffer, options: PutOptions): Promise<boolean>;
  /** Every object under the prefix, in key order (paged: any number). */
  list(bucket: string, prefix: string): Promise<ListedObject[]>;
}
