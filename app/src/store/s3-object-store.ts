import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { InputTooLargeError, SourceMissingError } from '../../../shared/errors';
import { assertKeyWithinLimit, assertMetadataWithinLimit } from '../../../shared/naming/s3-limits';
import { readBody } from './read-body';
import type { GetOptions, ObjectHead, ObjectRef, ObjectStore, PutOptions, StoredObject } from '../ports/object-store';

/** The object-store port over S3 (or any S3-protocol server). Transient SDK errors propagate for the caller to classify. */
export class S3ObjectStore implements ObjectStore {
  constructor(private readonly s3: S3Client) {}

  async get(ref: ObjectRef, options: GetOptions): Promise<StoredObject> {
    let response;
    try {
      response = await this.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
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
      : await readBody(response.Body as AsyncIterable<Uint8Array>, size, options.maxBytes, `s3://${ref.bucket}/${ref.key}`);
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
}

/** A missing key, not a missing bucket: an event naming a bucket that does not exist is an error, never a skip. */
function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.name === 'NoSuchBucket') return false;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/"/g, '');
}

function lowerKeys(metadata: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([key, value]) => [key.toLowerCase(), value]));
}
