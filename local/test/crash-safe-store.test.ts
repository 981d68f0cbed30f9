import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, startS3Server, type LocalS3Server } from '../src/s3-server';

/** The local S3 server survives what a `kill -9` of `npm start` leaves on disk. */
let dir: string;
let server: LocalS3Server;
let s3: S3Client;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'crash-safe-store-'));
  server = await startS3Server({ dataDir: dir, port: 0, buckets: ['b'] });
  s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
});

afterAll(async () => {
  s3.destroy();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const filesOf = (key: string) => readdirSync(join(dir, 's3', 'b', 'folder')).filter((name) => name.startsWith(key));

it('writes metadata through a temporary file and leaves none behind', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'folder/whole.txt', Body: 'hello', Metadata: { 'source-etag': 'abc' } }));
  expect(filesOf('whole.txt').sort()).toEqual(['whole.txt._S3rver_metadata.json', 'whole.txt._S3rver_object', 'whole.txt._S3rver_object.md5']);
  const head = await s3.send(new HeadObjectCommand({ Bucket: 'b', Key: 'folder/whole.txt' }));
  expect(head.Metadata).toEqual({ 'source-etag': 'abc' });
});

it('lists, reads and overwrites an object whose metadata file a killed server left torn', async () => {
  await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'folder/torn.txt', Body: 'payload', Metadata: { 'source-etag': 'abc' } }));
  writeFileSync(join(dir, 's3', 'b', 'folder', 'torn.txt._S3rver_metadata.json'), '{\n  "content-type": "te');

  const listing = await s3.send(new ListObjectsCommand({ Bucket: 'b' }));
  expect(listing.Contents?.map((object) => object.Key)).toContain('folder/torn.txt');
  const object = await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'folder/torn.txt' }));
  expect(await object.Body!.transformToString()).toBe('payload');
  // The torn metadata is gone, not invented: a reprocessing worker sees no source ETag and writes the output again.
  expect(object.Metadata).toEqual({});

  await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'folder/torn.txt', Body: 'again', Metadata: { 'source-etag': 'def' } }));
  expect((await s3.send(new HeadObjectCommand({ Bucket: 'b', Key: 'folder/torn.txt' }))).Metadata).toEqual({ 'source-etag': 'def' });
});
