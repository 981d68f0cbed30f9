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
}

export interface ObjectStore {
  /** Throws SourceMissingError when the object does not exist, InputTooLargeError when over maxBytes. */
  get(ref: ObjectRef, options: GetOptions): Promise<StoredObject>;
  /** undefined when the object does not exist. */
  head(ref: ObjectRef): Promise<ObjectHead | undefined>;
  put(ref: ObjectRef, body: Buffer, options: PutOptions): Promise<void>;
}
