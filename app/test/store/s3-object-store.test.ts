import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { mockClient } from 'aws-sdk-client-mock';
import { classifyFailure, InputTooLargeError, ObjectChangedError, SourceMissingError } from '../../../shared/errors';
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

  describe('readRange', () => {
    it('asks for the inclusive range of the pinned version (ETag quoted) and returns exactly its bytes', async () => {
      s3.on(GetObjectCommand).resolves({ Body: body('cdefg'), ContentLength: 5, ContentRange: 'bytes 2-6/26', ETag: '"v1"' });
      const bytes = await store().readRange(ref, { start: 2, end: 6 }, { ifMatch: 'v1' });
      expect(bytes.toString()).toBe('cdefg');
      expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: 'src', Key: 'a b/ü.jpg', Range: 'bytes=2-6', IfMatch: '"v1"' });
    });

    it('calls a 412 a replaced object (transient, source-changed) and a 404 a missing one', async () => {
      s3.on(GetObjectCommand)
        .rejectsOnce(Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } }))
        .rejectsOnce(notFound('NoSuchKey'));
      const changed = await store().readRange(ref, { start: 0, end: 9 }, { ifMatch: 'v1' }).catch((caught: unknown) => caught);
      expect(changed).toBeInstanceOf(ObjectChangedError);
      expect(classifyFailure(changed)).toMatchObject({ kind: 'transient', reason: 'source-changed', message: expect.stringContaining('v1') });
      await expect(store().readRange(ref, { start: 0, end: 9 }, { ifMatch: 'v1' })).rejects.toBeInstanceOf(SourceMissingError);
    });

    it('fails a body shorter than the range as transient (a cut connection), never returning a short buffer', async () => {
      s3.on(GetObjectCommand).resolves({ Body: body('abc'), ContentLength: 5, ETag: '"v1"' });
      const error = await store().readRange(ref, { start: 0, end: 4 }, { ifMatch: 'v1' }).catch((caught: unknown) => caught);
      expect(classifyFailure(error)).toMatchObject({ kind: 'transient', reason: 'range-mismatch', message: expect.stringMatching(/only 3 of 5 bytes/) });
    });

    it('refuses a whole object sent for a range (a server ignoring Range) before reading any of it', async () => {
      const whole = body('x'.repeat(64));
      s3.on(GetObjectCommand).resolves({ Body: whole, ContentLength: 64, ETag: '"v1"' });
      await expect(store().readRange(ref, { start: 0, end: 3 }, { ifMatch: 'v1' })).rejects.toMatchObject({ reason: 'range-mismatch' });
      expect(whole!.chunksRead()).toBe(0);
    });

    it('refuses a range that is no range, before any request', async () => {
      await expect(store().readRange(ref, { start: 5, end: 4 }, { ifMatch: 'v1' })).rejects.toBeInstanceOf(RangeError);
      await expect(store().readRange(ref, { start: -1, end: 4 }, { ifMatch: 'v1' })).rejects.toBeInstanceOf(RangeError);
      expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    });

    it('gives up a range body that stops sending, as transient', async () => {
      s3.on(GetObjectCommand).resolves({ Body: stallingBody(), ContentLength: 8, ETag: '"v1"' });
      const error = await new S3ObjectStore(new S3Client({ region: 'eu-west-1' }), 50).readRange(ref, { start: 0, end: 7 }, { ifMatch: 'v1' }).catch((caught: unknown) => caught);
      expect(classifyFailure(error)).toMatchObject({ kind: 'transient', reason: 'stalled' });
    });
  });

  describe('openRead', () => {
    it('streams the whole object with its head; If-Match only when asked', async () => {
      s3.on(GetObjectCommand).resolves({ Body: body('0123456789'), ContentLength: 10, ETag: '"v2"', ContentType: 'application/gzip', Metadata: { 'X-Y': 'z' } });
      const { head, body: stream } = await store().openRead(ref, { ifMatch: 'v2' });
      expect(head).toEqual({ etag: 'v2', size: 10, contentType: 'application/gzip', metadata: { 'x-y': 'z' } });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('0123456789');
      expect(chunks.length).toBeGreaterThan(1);
      expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { IfMatch: '"v2"' });
      await store().openRead(ref, {});
      expect(s3.commandCalls(GetObjectCommand)[1]?.args[0].input.IfMatch).toBeUndefined();
    });

    it('maps 412 and 404 as readRange does', async () => {
      s3.on(GetObjectCommand).rejectsOnce(Object.assign(new Error('precondition'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } })).rejectsOnce(notFound('NoSuchKey'));
      await expect(store().openRead(ref, { ifMatch: 'v1' })).rejects.toBeInstanceOf(ObjectChangedError);
      await expect(store().openRead(ref, { ifMatch: 'v1' })).rejects.toBeInstanceOf(SourceMissingError);
    });

    it('fails the stream of a body that stops sending, as transient, and destroys the response', async () => {
      const stalling = stallingBody();
      s3.on(GetObjectCommand).resolves({ Body: stalling, ContentLength: 8, ETag: '"v1"' });
      const { body: stream } = await new S3ObjectStore(new S3Client({ region: 'eu-west-1' }), 50).openRead(ref, {});
      const error = await (async () => {
        for await (const _chunk of stream) { /* reading until it fails */ }
      })().catch((caught: unknown) => caught);
      expect(classifyFailure(error)).toMatchObject({ kind: 'transient', reason: 'stalled' });
      expect(stalling!.destroyed()).toBe(true);
    });

    it('destroys the response when the consumer stops early, and fails the stream with the abort\'s reason', async () => {
      const endless = endlessBody();
      s3.on(GetObjectCommand).resolvesOnce({ Body: endless, ETag: '"v1"' }).resolves({ Body: endlessBody(), ETag: '"v1"' });
      const early = await store().openRead(ref, {});
      early.body.once('data', () => early.body.destroy());
      await new Promise((resolve) => early.body.once('close', resolve));
      expect(endless!.destroyed()).toBe(true);

      const controller = new AbortController();
      const aborted = await store().openRead(ref, { signal: controller.signal });
      const reason = new Error('stop: the message was given up');
      aborted.body.once('data', () => controller.abort(reason));
      const error = await (async () => {
        for await (const _chunk of aborted.body) { /* reading until the abort */ }
      })().catch((caught: unknown) => caught);
      expect(error).toBe(reason);
    });
  });

  it('openRead fails the stream with the abort\'s reason when the abort came while the response was on its way', async () => {
    const controller = new AbortController();
    const reason = new Error('aborted during the GET');
    s3.on(GetObjectCommand).callsFake(() => {
      controller.abort(reason);
      return { Body: body('0123456789'), ContentLength: 10, ETag: '"v1"' };
    });
    const { body: stream } = await store().openRead(ref, { signal: controller.signal });
    await expect(readStream(stream)).rejects.toBe(reason);
  });

  describe('uploadStream', () => {
    const options = { contentType: 'application/zip', metadata: { 'download-id': 'd1' } };

    it('sends a short body of unknown length in one PutObject with its content type and metadata', async () => {
      s3.on(PutObjectCommand).resolves({});
      await store().uploadStream({ bucket: 'dest', key: 'batches/1.zip' }, Readable.from([Buffer.from('small '), Buffer.from('zip')]), options);
      expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: 'dest', Key: 'batches/1.zip', ContentType: 'application/zip', Metadata: { 'download-id': 'd1' } });
    });

    it('sends a long body in 8 MiB parts and completes the upload', async () => {
      s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u-2' });
      s3.on(UploadPartCommand).resolves({ ETag: '"p"' });
      s3.on(CompleteMultipartUploadCommand).resolves({});
      await store().uploadStream({ bucket: 'dest', key: 'batches/2.zip' }, Readable.from(mebibytes(17)), options);
      const sizes = s3.commandCalls(UploadPartCommand).map((call) => (call.args[0].input.Body as Buffer).length);
      expect(sizes).toEqual([8 * 1024 * 1024, 8 * 1024 * 1024, 1024 * 1024]);
      expect(s3).toHaveReceivedCommandWith(CompleteMultipartUploadCommand, { UploadId: 'u-2' });
    });

    it('fails with the body\'s own error when it breaks midway, and aborts the multipart upload', async () => {
      s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u-3' });
      s3.on(UploadPartCommand).resolves({ ETag: '"p"' });
      s3.on(AbortMultipartUploadCommand).resolves({});
      const broken = new Error('the archive reader failed');
      async function* failing() {
        yield* mebibytes(10);
        throw broken;
      }
      const error = await store().uploadStream({ bucket: 'dest', key: 'batches/3.zip' }, Readable.from(failing()), options).catch((caught: unknown) => caught);
      expect(error).toBe(broken);
      expect(s3).toHaveReceivedCommandWith(AbortMultipartUploadCommand, { Bucket: 'dest', Key: 'batches/3.zip', UploadId: 'u-3' });
      expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
    });

    it('destroys the body when S3 refuses a part, so whatever produces it stops', async () => {
      s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u-4' });
      s3.on(UploadPartCommand).rejects(Object.assign(new Error('Slow Down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }));
      s3.on(AbortMultipartUploadCommand).resolves({});
      let produced = 0;
      const endless = new Readable({
        read() {
          produced++;
          this.push(Buffer.alloc(1024 * 1024, 7));
        },
      });
      const error = await store().uploadStream({ bucket: 'dest', key: 'batches/4.zip' }, endless, options).catch((caught: unknown) => caught);
      expect(classifyFailure(error)).toMatchObject({ reason: 'throttled' });
      expect(endless.destroyed).toBe(true);
      expect(s3).toHaveReceivedCommandWith(AbortMultipartUploadCommand, { UploadId: 'u-4' });
      // The parts in flight and the one being filled, not the endless rest.
      expect(produced).toBeLessThan(40);
    });

    it('reads the body only as parts go out: with both uploads stalled, at most three parts of it are in memory', async () => {
      s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u-5' });
      let release!: () => void;
      const stalled = new Promise<void>((resolve) => (release = resolve));
      s3.on(UploadPartCommand).callsFake(async () => {
        await stalled;
        throw Object.assign(new Error('Slow Down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
      });
      s3.on(AbortMultipartUploadCommand).resolves({});
      let producedMiB = 0;
      const endless = new Readable({
        read() {
          producedMiB++;
          this.push(Buffer.alloc(1024 * 1024, 7));
        },
      });
      const uploading = store().uploadStream({ bucket: 'dest', key: 'batches/5.zip' }, endless, options).catch((caught: unknown) => caught);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Two 8 MiB parts in flight, the third filling, and what the stream itself holds.
      expect(producedMiB).toBeGreaterThanOrEqual(2 * 8);
      expect(producedMiB).toBeLessThanOrEqual(3 * 8 + 2);
      release();
      await uploading;
    });

    it('refuses a key S3 would refuse before sending anything, and destroys the body', async () => {
      const stream = Readable.from([Buffer.from('x')]);
      await expect(store().uploadStream({ bucket: 'dest', key: 'é'.repeat(513) }, stream, options)).rejects.toMatchObject({ reason: 'output-key-too-long' });
      expect(stream.destroyed).toBe(true);
      expect(s3.calls()).toHaveLength(0);
    });
  });
});

/** A response body that sends four bytes, then nothing ever again. */
function stallingBody() {
  let destroyed = false;
  return {
    async *[Symbol.asyncIterator]() {
      yield Buffer.from('half');
      await new Promise(() => undefined);
    },
    destroy: () => {
      destroyed = true;
    },
    destroyed: () => destroyed,
    transformToWebStream: () => ({ cancel: async () => undefined }),
  } as never as import('@aws-sdk/client-s3').GetObjectCommandOutput['Body'] & { destroyed: () => boolean };
}

/** A response body that never ends. */
function endlessBody() {
  let destroyed = false;
  return {
    async *[Symbol.asyncIterator]() {
      while (!destroyed) yield Buffer.alloc(1024, 1);
    },
    destroy: () => {
      destroyed = true;
    },
    destroyed: () => destroyed,
  } as never as import('@aws-sdk/client-s3').GetObjectCommandOutput['Body'] & { destroyed: () => boolean };
}

function* mebibytes(count: number): Generator<Buffer> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(1024 * 1024, i);
}

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
