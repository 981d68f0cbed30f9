import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockClient } from 'aws-sdk-client-mock';
import { classifyFailure, InputTooLargeError, SourceMissingError } from '../../../shared/errors';
import { S3ObjectStore } from '../../src/store/s3-object-store';

const s3 = mockClient(S3Client);
const store = () => new S3ObjectStore(new S3Client({ region: 'eu-west-1' }));
const ref = { bucket: 'src', key: 'a b/ü.jpg' };
/** A response body as the SDK gives it in Node: an async iterable of chunks (here 4 bytes each) with the stream mixin. */
const body = (text: string) => {
  const bytes = Buffer.from(text);
  let read = 0;
  return {
    async *[Symbol.asyncIterator]() {
      for (let offset = 0; offset < bytes.length; offset += 4) {
        read++;
        yield bytes.subarray(offset, offset + 4);
      }
    },
    chunksRead: () => read,
    transformToWebStream: () => ({ cancel: async () => undefined }),
  } as never as import('@aws-sdk/client-s3').GetObjectCommandOutput['Body'] & { chunksRead: () => number };
};
const notFound = (name: string) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 404 } });

beforeEach(() => s3.reset());

describe('S3ObjectStore', () => {
  it('gets the bytes with the ETag unquoted and metadata keys lower-cased', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body('pixels'), ContentLength: 6, ETag: '"abc"', ContentType: 'image/jpeg', Metadata: { 'Source-Key': 'x' } });
    const object = await store().get(ref, { maxBytes: 100 });
    expect({ ...object, body: object.body.toString() }).toEqual({ body: 'pixels', size: 6, etag: 'abc', contentType: 'image/jpeg', metadata: { 'source-key': 'x' } });
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: 'src', Key: 'a b/ü.jpg' });
  });

  it('refuses an object over maxBytes from its Content-Length, before reading the body', async () => {
    const stream = body('x'.repeat(50));
    s3.on(GetObjectCommand).resolves({ Body: stream, ContentLength: 50, ETag: '"e"' });
    await expect(store().get(ref, { maxBytes: 10 })).rejects.toBeInstanceOf(InputTooLargeError);
    expect(stream!.chunksRead()).toBe(0);
  });

  it('refuses a body longer than its declared length once it passes maxBytes, without reading the rest', async () => {
    const stream = body('x'.repeat(50));
    s3.on(GetObjectCommand).resolves({ Body: stream, ContentLength: 5, ETag: '"e"' });
    await expect(store().get(ref, { maxBytes: 10 })).rejects.toBeInstanceOf(InputTooLargeError);
    expect(stream!.chunksRead()).toBe(3);
  });

  it('keeps every byte of a body longer than it declared while under maxBytes, and of a multi-chunk body', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body('0123456789abcdef'), ContentLength: 5, ETag: '"e"' });
    expect((await store().get(ref, { maxBytes: 100 })).body.toString()).toBe('0123456789abcdef');
    s3.on(GetObjectCommand).resolves({ Body: body('0123456789abcdef'), ContentLength: 16, ETag: '"e"' });
    const object = await store().get(ref, { maxBytes: 100 });
    expect(object.body.toString()).toBe('0123456789abcdef');
    expect(object.size).toBe(16);
  });

  it('turns NoSuchKey into SourceMissingError and lets other errors through for classification', async () => {
    s3.on(GetObjectCommand).rejectsOnce(notFound('NoSuchKey'));
    await expect(store().get(ref, { maxBytes: 10 })).rejects.toBeInstanceOf(SourceMissingError);
    const slowDown = Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    s3.reset();
    s3.on(GetObjectCommand).rejects(slowDown);
    await expect(store().get(ref, { maxBytes: 10 })).rejects.toBe(slowDown);
  });

  it('heads an object, and answers undefined when it does not exist', async () => {
    s3.on(HeadObjectCommand).resolvesOnce({ ETag: '"e"', ContentLength: 3, Metadata: { 'Source-Etag': 'e' } }).rejectsOnce(notFound('NotFound'));
    await expect(store().head(ref)).resolves.toEqual({ etag: 'e', size: 3, contentType: undefined, metadata: { 'source-etag': 'e' } });
    await expect(store().head(ref)).resolves.toBeUndefined();
  });

  it('puts with content type and metadata and leaves encryption to the bucket default', async () => {
    s3.on(PutObjectCommand).resolves({});
    await store().put({ bucket: 'dest', key: '224x224/a.jpg' }, Buffer.from('out'), { contentType: 'image/jpeg', metadata: { 'source-etag': 'e' } });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: 'dest', Key: '224x224/a.jpg', ContentType: 'image/jpeg', Metadata: { 'source-etag': 'e' } });
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.ServerSideEncryption).toBeUndefined();
  });

  it('does not call a missing bucket a missing source: NoSuchBucket goes on to classification', async () => {
    const noBucket = notFound('NoSuchBucket');
    s3.on(GetObjectCommand).rejects(noBucket);
    await expect(store().get(ref, { maxBytes: 10 })).rejects.toBe(noBucket);
  });

  it('refuses a key or metadata S3 would refuse, before sending anything', async () => {
    s3.on(PutObjectCommand).resolves({});
    const options = { contentType: 'image/jpeg', metadata: {} };
    await expect(store().put({ bucket: 'dest', key: 'é'.repeat(513) }, Buffer.from('out'), options)).rejects.toMatchObject({ reason: 'output-key-too-long' });
    await store().put({ bucket: 'dest', key: 'é'.repeat(512) }, Buffer.from('out'), options);
    await expect(store().put({ bucket: 'dest', key: 'a.jpg' }, Buffer.from('out'), { contentType: 'image/jpeg', metadata: { note: 'x'.repeat(2045) } }))
      .rejects.toMatchObject({ reason: 'metadata-too-large' });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
  });

  it('fails a multipart upload with its part\'s own error, and aborts it even when the abort itself is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upload-'));
    try {
      const path = join(dir, 'big.bin');
      writeFileSync(path, Buffer.alloc(9 * 1024 * 1024, 1));
      s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u-1' });
      s3.on(UploadPartCommand).rejects(Object.assign(new Error('Slow Down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }));
      s3.on(AbortMultipartUploadCommand).rejects(Object.assign(new Error('Method Not Allowed'), { name: 'MethodNotAllowed', $metadata: { httpStatusCode: 405 } }));
      const error = await store().upload({ bucket: 'dest', key: 'out/big.bin' }, path, { contentType: 'application/octet-stream', metadata: {} }).catch((caught: unknown) => caught);
      expect(classifyFailure(error)).toMatchObject({ kind: 'transient', reason: 'throttled' });
      expect(s3).toHaveReceivedCommandWith(AbortMultipartUploadCommand, { Bucket: 'dest', Key: 'out/big.bin', UploadId: 'u-1' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives up a body that stops sending mid-stream, as a transient failure, instead of waiting for the message deadline', async () => {
    let destroyed = false;
    const stalling = {
      async *[Symbol.asyncIterator]() {
        yield Buffer.from('half');
        await new Promise(() => undefined);
      },
      destroy: () => {
        destroyed = true;
      },
      transformToWebStream: () => ({ cancel: async () => undefined }),
    } as never as import('@aws-sdk/client-s3').GetObjectCommandOutput['Body'];
    s3.on(GetObjectCommand).resolves({ Body: stalling, ContentLength: 8, ETag: '"e"' });
    const error = await new S3ObjectStore(new S3Client({ region: 'eu-west-1' }), 50).get(ref, { maxBytes: 100 }).catch((caught: unknown) => caught);
    expect(classifyFailure(error)).toMatchObject({ kind: 'transient', reason: 'stalled', message: expect.stringMatching(/sent nothing for 0 s mid-body/) });
    expect(destroyed).toBe(true);
  });
});
