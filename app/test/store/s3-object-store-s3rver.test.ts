import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, startS3Server, type LocalS3Server } from '../../../local/src/s3-server';
import { startStrictS3Front, type Refusal, type StrictS3Front } from '../../../local/src/strict-s3-front';
import { ObjectChangedError, SourceMissingError } from '../../../shared/errors';
import { S3ObjectStore } from '../../src/store/s3-object-store';

/**
 * The streamed reads and writes on the code path AWS runs: S3ObjectStore through the strict front (S3's If-Match on
 * reads, its policy checks) to s3rver, as a role that may read and write the bucket.
 */
const BUCKET = 'archives';
let dir: string;
let server: LocalS3Server;
let front: StrictS3Front;
let direct: S3Client;
const refusals: Refusal[] = [];
const clients: S3Client[] = [];
/** Every command the store's client sent, with the upload it named. */
const sent: { command: string; uploadId?: string }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'store-s3rver-'));
  server = await startS3Server({ dataDir: dir, port: 0, buckets: [BUCKET] });
  front = await startStrictS3Front({
    upstream: server.endpoint,
    statements: [
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], Resource: `arn:aws:s3:::${BUCKET}/*` },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}` },
    ],
    onRefused: (refusal) => refusals.push(refusal),
  });
  direct = client(server.endpoint);
}, 30_000);

afterAll(async () => {
  for (const each of clients) each.destroy();
  await front.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  sent.length = 0;
});

function client(endpoint: string): S3Client {
  const created = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  clients.push(created);
  return created;
}

function store(): S3ObjectStore {
  const s3 = client(front.endpoint);
  s3.middlewareStack.add((next, context) => async (args) => {
    const uploadId = (args.input as { UploadId?: string }).UploadId;
    sent.push({ command: context.commandName ?? '?', ...(uploadId !== undefined ? { uploadId } : {}) });
    return next(args);
  }, { step: 'initialize' });
  return new S3ObjectStore(s3);
}

async function write(key: string, body: string | Buffer): Promise<string> {
  const { ETag } = await direct.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  return ETag!.replace(/"/g, '');
}

async function read(key: string): Promise<Buffer> {
  const { Body } = await direct.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await Body!.transformToByteArray());
}

/** Incompressible, reproducible bytes, one MiB at a time. */
function* pseudoRandomMebibytes(count: number, seed: string): Generator<Buffer> {
  for (let i = 0; i < count; i++) {
    const block = Buffer.alloc(1024 * 1024);
    for (let offset = 0; offset < block.length; offset += 32) createHash('sha256').update(`${seed}/${i}/${offset}`).digest().copy(block, offset);
    yield block;
  }
}

describe('readRange through the front', () => {
  it('reads the bytes of the version it is pinned to, and fails with ObjectChangedError once the key is overwritten', async () => {
    const ref = { bucket: BUCKET, key: 'in/range.zip' };
    const first = await write(ref.key, '0123456789abcdefghij');
    expect((await store().readRange(ref, { start: 10, end: 15 }, { ifMatch: first })).toString()).toBe('abcdef');
    expect((await store().readRange(ref, { start: 0, end: 1 }, { ifMatch: first })).toString()).toBe('01');
    // s3rver 3.7 reads `bytes=0-0` as "from 0 to the end" (S3 sends one byte): the store refuses the whole object
    // rather than return more than it asked for, so locally a one-byte read at offset 0 fails: read two bytes there.
    await expect(store().readRange(ref, { start: 0, end: 0 }, { ifMatch: first })).rejects.toMatchObject({ reason: 'range-mismatch' });

    await write(ref.key, 'ZYXWVUTSRQPONMLKJIHG');
    const error = await store().readRange(ref, { start: 10, end: 15 }, { ifMatch: first }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ObjectChangedError);
    expect(error).toMatchObject({ kind: 'transient', reason: 'source-changed' });
    expect(refusals).toEqual([]);
  });

  it('fails a range past the end of the object as a short body, and a deleted key as missing', async () => {
    const ref = { bucket: BUCKET, key: 'in/short.zip' };
    const etag = await write(ref.key, '0123456789');
    await expect(store().readRange(ref, { start: 5, end: 14 }, { ifMatch: etag })).rejects.toMatchObject({ reason: 'range-mismatch', message: expect.stringMatching(/only 5 of 10 bytes/) });
    await expect(store().readRange({ bucket: BUCKET, key: 'in/never.zip' }, { start: 0, end: 1 }, { ifMatch: etag })).rejects.toBeInstanceOf(SourceMissingError);
  });
});

describe('openRead through the front', () => {
  it('streams the pinned version whole, in many chunks, and refuses it once replaced', async () => {
    const ref = { bucket: BUCKET, key: 'in/stream.tar.gz' };
    const bytes = Buffer.concat([...pseudoRandomMebibytes(3, 'stream')]);
    const etag = await write(ref.key, bytes);
    const { head, body } = await store().openRead(ref, { ifMatch: etag });
    expect(head).toMatchObject({ etag, size: bytes.length });
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(chunks.length).toBeGreaterThan(3);

    await write(ref.key, 'replaced');
    await expect(store().openRead(ref, { ifMatch: etag })).rejects.toBeInstanceOf(ObjectChangedError);
    expect((await store().openRead(ref, {})).head.size).toBe(8);
  });
});

describe('uploadStream through the front', () => {
  it('uploads 20 MiB of unknown length in parts, byte for byte', async () => {
    const ref = { bucket: BUCKET, key: 'out/batch-0001.zip' };
    const expected = createHash('sha256');
    let length = 0;
    function* tracked() {
      for (const block of pseudoRandomMebibytes(20, 'upload')) {
        expected.update(block);
        length += block.length;
        yield block;
      }
    }
    await store().uploadStream(ref, Readable.from(tracked()), { contentType: 'application/zip', metadata: { 'download-id': 'd-1' } });
    const stored = await read(ref.key);
    expect(stored.length).toBe(length);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(expected.digest('hex'));
    expect(sent.filter((each) => each.command === 'UploadPartCommand')).toHaveLength(3);
    expect(sent.map((each) => each.command)).toContain('CompleteMultipartUploadCommand');
  });

  it('leaves no object when the body fails midway, and aborts the multipart upload it had begun', async () => {
    const ref = { bucket: BUCKET, key: 'out/batch-0002.zip' };
    const broken = new Error('the archive went bad at entry 12');
    function* failing() {
      yield* pseudoRandomMebibytes(12, 'failing');
      throw broken;
    }
    const body = Readable.from(failing());
    await expect(store().uploadStream(ref, body, { contentType: 'application/zip', metadata: {} })).rejects.toBe(broken);
    expect(await store().head(ref)).toBeUndefined();
    expect(body.destroyed).toBe(true);
    const created = sent.filter((each) => each.command === 'UploadPartCommand').map((each) => each.uploadId);
    expect(created.length).toBeGreaterThan(0);
    // s3rver answers the abort 405 (it has no AbortMultipartUpload); that it was asked, for this upload, is what counts.
    expect(sent).toContainEqual({ command: 'AbortMultipartUploadCommand', uploadId: created[0] });
    expect(sent.map((each) => each.command)).not.toContain('CompleteMultipartUploadCommand');
  });
});
