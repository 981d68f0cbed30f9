import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, DeleteObjectCommand, DeleteObjectsCommand, GetBucketAclCommand,
  GetObjectCommand, HeadObjectCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { IamStatement } from '../src/iam-policy-evaluator';
import { LOCAL_CREDENTIALS, startS3Server, type LocalS3Server } from '../src/s3-server';
import { mapRequest, parseCopySource, startStrictS3Front, userMetadataBytes, type Refusal, type StrictS3Front } from '../src/strict-s3-front';

/** The real SDK against the front in front of s3rver: what S3 answers, the SDK sees through the front. */
let dir: string;
let server: LocalS3Server;
let direct: S3Client;
const fronts: StrictS3Front[] = [];
const clients: S3Client[] = [];

const SOURCE = 'arn:aws:s3:::source';
const DEST = 'arn:aws:s3:::destination';
/** A worker-like role: read source in/, list source under in/, read and write destination out/, list it under out/. */
const WORKER_LIKE: IamStatement[] = [
  { Sid: 'Read', Effect: 'Allow', Action: 's3:GetObject', Resource: `${SOURCE}/in/*` },
  { Sid: 'ListSource', Effect: 'Allow', Action: 's3:ListBucket', Resource: SOURCE, Condition: { StringLike: { 's3:prefix': 'in/*' } } },
  { Sid: 'Write', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: `${DEST}/out/*` },
  { Sid: 'ListDest', Effect: 'Allow', Action: 's3:ListBucket', Resource: DEST, Condition: { StringLike: { 's3:prefix': 'out/*' } } },
];
/** The same role without any s3:ListBucket. */
const NO_LIST = WORKER_LIKE.filter((statement) => statement.Action !== 's3:ListBucket');
const EVERYTHING: IamStatement[] = [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strict-front-'));
  server = await startS3Server({ dataDir: dir, port: 0, buckets: ['source', 'destination'] });
  direct = clientFor(server.endpoint);
  await direct.send(new PutObjectCommand({ Bucket: 'source', Key: 'in/present.jpg', Body: 'present' }));
  await direct.send(new PutObjectCommand({ Bucket: 'source', Key: 'elsewhere/present.jpg', Body: 'not yours' }));
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  for (const front of fronts) await front.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function clientFor(endpoint: string): S3Client {
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  clients.push(client);
  return client;
}

async function frontFor(statements: IamStatement[], options: { upstream?: string; refusals?: Refusal[] } = {}): Promise<{ s3: S3Client; front: StrictS3Front }> {
  const front = await startStrictS3Front({ upstream: options.upstream ?? server.endpoint, statements, onRefused: (refusal) => options.refusals?.push(refusal) });
  fronts.push(front);
  return { s3: clientFor(front.endpoint), front };
}

/** The SDK error a call ends in, reduced to what the worker classifies by. */
async function failure(promise: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('a missing key', () => {
  it('is 404 NoSuchKey (HEAD: NotFound) when the role may list the bucket under that key', async () => {
    const { s3 } = await frontFor(WORKER_LIKE);
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'source', Key: 'in/gone.jpg' })))).toEqual({ name: 'NoSuchKey', status: 404 });
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: 'source', Key: 'in/gone.jpg' })))).toEqual({ name: 'NotFound', status: 404 });
  });

  it('is 403 AccessDenied without s3:ListBucket; a HEAD has no body, so the SDK names it Unknown', async () => {
    const refusals: Refusal[] = [];
    const { s3 } = await frontFor(NO_LIST, { refusals });
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'source', Key: 'in/gone.jpg' })))).toEqual({ name: 'AccessDenied', status: 403 });
    // The SDK's shape for a 403 HEAD (as from S3 itself): name 'Unknown', message 'UnknownError', $fault 'client'.
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: 'source', Key: 'in/gone.jpg' })))).toEqual({ name: 'Unknown', status: 403 });
    expect(refusals[0]).toMatchObject({ method: 'GET', bucket: 'source', key: 'in/gone.jpg', status: 403, code: 'AccessDenied', detail: expect.stringMatching(/s3:ListBucket/) });
    // A key that exists is still read.
    const present = await s3.send(new GetObjectCommand({ Bucket: 'source', Key: 'in/present.jpg' }));
    expect(await present.Body!.transformToString()).toBe('present');
  });

  it('is 403 when s3:ListBucket is allowed only under another prefix', async () => {
    const { s3 } = await frontFor([{ Effect: 'Allow', Action: 's3:GetObject', Resource: `${SOURCE}/*` }, WORKER_LIKE[1]!]);
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'source', Key: 'elsewhere/gone.jpg' })))).toEqual({ name: 'AccessDenied', status: 403 });
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'source', Key: 'in/gone.jpg' })))).toEqual({ name: 'NoSuchKey', status: 404 });
  });

  it('in a missing bucket stays 404 NoSuchBucket for a GET', async () => {
    const { s3 } = await frontFor([{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }]);
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'a.jpg' })))).toEqual({ name: 'NoSuchBucket', status: 404 });
  });
});

describe('the policy', () => {
  it('refuses with 403 AccessDenied what it does not allow, and lets through what it does', async () => {
    const { s3 } = await frontFor(WORKER_LIKE);
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'source', Key: 'elsewhere/present.jpg' })))).toEqual({ name: 'AccessDenied', status: 403 });
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'source', Key: 'in/new.jpg', Body: 'x' })))).toEqual({ name: 'AccessDenied', status: 403 });
    expect(await failure(s3.send(new DeleteObjectCommand({ Bucket: 'source', Key: 'in/present.jpg' })))).toEqual({ name: 'AccessDenied', status: 403 });
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'destination', Key: 'elsewhere/a.jpg', Body: 'x' })))).toEqual({ name: 'AccessDenied', status: 403 });
    await s3.send(new PutObjectCommand({ Bucket: 'destination', Key: 'out/a.jpg', Body: 'written', Metadata: { 'source-etag': 'abc' } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'destination', Key: 'out/a.jpg' }));
    expect(head.Metadata).toEqual({ 'source-etag': 'abc' });
  });

  it('checks s3:ListBucket with s3:prefix from the listing, v1 and v2 alike', async () => {
    const { s3 } = await frontFor(WORKER_LIKE);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'source', Prefix: 'in/' }));
    expect((listed.Contents ?? []).map((object) => object.Key)).toEqual(['in/present.jpg']);
    expect((await s3.send(new ListObjectsCommand({ Bucket: 'source', Prefix: 'in/p' }))).Contents?.length).toBe(1);
    expect(await failure(s3.send(new ListObjectsV2Command({ Bucket: 'source' })))).toEqual({ name: 'AccessDenied', status: 403 });
    expect(await failure(s3.send(new ListObjectsCommand({ Bucket: 'source', Prefix: 'elsewhere/' })))).toEqual({ name: 'AccessDenied', status: 403 });
  });

  it('refuses what it cannot map to an action, even under s3:*', async () => {
    const refusals: Refusal[] = [];
    const { s3 } = await frontFor(EVERYTHING, { refusals });
    expect(await failure(s3.send(new GetBucketAclCommand({ Bucket: 'source' })))).toEqual({ name: 'AccessDenied', status: 403 });
    expect(await failure(s3.send(new DeleteObjectsCommand({ Bucket: 'source', Delete: { Objects: [{ Key: 'in/present.jpg' }] } })))).toEqual({ name: 'AccessDenied', status: 403 });
    expect(refusals.map((refusal) => refusal.detail)).toEqual([expect.stringMatching(/GET bucket \?acl is not an operation/), expect.stringMatching(/POST bucket \?delete/)]);
    await direct.send(new HeadObjectCommand({ Bucket: 'source', Key: 'in/present.jpg' }));
  });

  it('needs s3:GetObject on the source of a copy as well as s3:PutObject on its target', async () => {
    const { s3 } = await frontFor(WORKER_LIKE);
    expect(await failure(s3.send(new CopyObjectCommand({ Bucket: 'destination', Key: 'out/copied.jpg', CopySource: 'source/elsewhere/present.jpg' })))).toEqual({ name: 'AccessDenied', status: 403 });
    await s3.send(new CopyObjectCommand({ Bucket: 'destination', Key: 'out/copied.jpg', CopySource: 'source/in/present.jpg' }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket: 'destination', Key: 'out/copied.jpg' }))).Body!.transformToString()).toBe('present');
  });

  it('decodes keys exactly: spaces, +, %, non-ASCII, in resources and in s3:prefix', async () => {
    const key = 'in/a b+c%20d ü/写真 ☃ 100%.jpg';
    await direct.send(new PutObjectCommand({ Bucket: 'source', Key: key, Body: 'awkward' }));
    const exactly: IamStatement[] = [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: [`${SOURCE}/${key}`, `${SOURCE}/in/gone +%2B ü.jpg`] },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: SOURCE, Condition: { StringEquals: { 's3:prefix': ['in/gone +%2B ü.jpg', 'in/a b+'] } } },
    ];
    const { s3 } = await frontFor(exactly);
    expect(await (await s3.send(new GetObjectCommand({ Bucket: 'source', Key: key }))).Body!.transformToString()).toBe('awkward');
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'source', Key: key.replace('+', ' ') })))).toEqual({ name: 'AccessDenied', status: 403 });
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'source', Key: 'in/gone +%2B ü.jpg' })))).toEqual({ name: 'NoSuchKey', status: 404 });
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'source', Prefix: 'in/a b+' }))).Contents?.map((object) => object.Key)).toEqual([key]);
  });

  it('refuses to start with a policy it cannot evaluate', async () => {
    await expect(startStrictS3Front({ upstream: server.endpoint, statements: [{ Effect: 'Allow', Action: 's3:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } }] }))
      .rejects.toThrow(/condition operator Bool is not supported/);
  });
});

describe('S3 limits', () => {
  it('refuses a key over 1024 bytes of UTF-8 with 400 KeyTooLongError, before the server sees it', async () => {
    const { s3 } = await frontFor(EVERYTHING);
    const long = `in/${'ü'.repeat(511)}`; // 3 + 1022 = 1025 bytes, 514 characters
    expect(Buffer.byteLength(long)).toBe(1025);
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'source', Key: long, Body: 'x' })))).toEqual({ name: 'KeyTooLongError', status: 400 });
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'source', Key: long })))).toEqual({ name: 'KeyTooLongError', status: 400 });
    expect(await failure(s3.send(new CreateMultipartUploadCommand({ Bucket: 'source', Key: long })))).toEqual({ name: 'KeyTooLongError', status: 400 });
  });

  it('accepts a key of exactly 1024 bytes', async () => {
    const { s3 } = await frontFor(EVERYTHING);
    // s3rver keeps keys as file paths: folders of 100 bytes stay under the file-name limit of 255.
    const segment = `${'ü'.repeat(49)}xy/`; // 101 bytes
    const key = `${segment.repeat(10)}${'k'.repeat(14)}`;
    expect(Buffer.byteLength(key)).toBe(1024);
    await s3.send(new PutObjectCommand({ Bucket: 'source', Key: key, Body: 'at the limit' }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket: 'source', Key: key }))).Body!.transformToString()).toBe('at the limit');
  });

  it('refuses user metadata over 2048 bytes (names without x-amz-meta- plus values) with 400 MetadataTooLarge', async () => {
    const refusals: Refusal[] = [];
    const { s3 } = await frontFor(EVERYTHING, { refusals });
    // 'a' + 'b' (2 bytes) + 'note' (4) + value: 2042 fills 2048 exactly.
    const atLimit = { a: 'b', note: 'v'.repeat(2042) };
    const overLimit = { a: 'b', note: 'v'.repeat(2043) };
    await s3.send(new PutObjectCommand({ Bucket: 'destination', Key: 'out/meta-at-limit.jpg', Body: 'x', Metadata: atLimit }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'destination', Key: 'out/meta-at-limit.jpg' }))).Metadata).toEqual(atLimit);
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'destination', Key: 'out/meta-over.jpg', Body: 'x', Metadata: overLimit })))).toEqual({ name: 'MetadataTooLarge', status: 400 });
    expect(refusals.at(-1)).toMatchObject({ code: 'MetadataTooLarge', detail: 'the user metadata is 2049 bytes, over 2048' });
    expect(await failure(s3.send(new CreateMultipartUploadCommand({ Bucket: 'destination', Key: 'out/meta-over.jpg', Metadata: overLimit })))).toEqual({ name: 'MetadataTooLarge', status: 400 });
    expect(await failure(s3.send(new CopyObjectCommand({ Bucket: 'destination', Key: 'out/meta-over.jpg', CopySource: 'source/in/present.jpg', MetadataDirective: 'REPLACE', Metadata: overLimit }))))
      .toEqual({ name: 'MetadataTooLarge', status: 400 });
    expect(await failure(direct.send(new HeadObjectCommand({ Bucket: 'destination', Key: 'out/meta-over.jpg' })))).toEqual({ name: 'NotFound', status: 404 });
  });
});

describe('bodies', () => {
  it('a multipart upload goes through the front part by part', async () => {
    const { s3 } = await frontFor(WORKER_LIKE);
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1234)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'destination', Key: 'out/multi part.bin', Metadata: { origin: 'test' } }));
    const etags = [];
    for (const [i, body] of parts.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket: 'destination', Key: 'out/multi part.bin', UploadId, PartNumber: i + 1, Body: body }))).ETag);
    await s3.send(new CompleteMultipartUploadCommand({
      Bucket: 'destination', Key: 'out/multi part.bin', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
    }));
    const object = await s3.send(new GetObjectCommand({ Bucket: 'destination', Key: 'out/multi part.bin' }));
    expect(sha256(await object.Body!.transformToByteArray())).toBe(sha256(Buffer.concat(parts)));
    expect(object.Metadata).toEqual({ origin: 'test' });
  });

  it('a 20 MB body goes up and comes back intact', async () => {
    const { s3 } = await frontFor(WORKER_LIKE);
    const body = randomBytes(20 * 1024 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: 'destination', Key: 'out/big.bin', Body: body }));
    const object = await s3.send(new GetObjectCommand({ Bucket: 'destination', Key: 'out/big.bin' }));
    expect(object.ContentLength).toBe(body.length);
    expect(sha256(await object.Body!.transformToByteArray())).toBe(sha256(body));
  }, 60_000);

  it('a refused 20 MB upload is answered 403, not a broken pipe', async () => {
    const { s3 } = await frontFor(NO_LIST);
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'source', Key: 'in/big.bin', Body: randomBytes(20 * 1024 * 1024) })))).toEqual({ name: 'AccessDenied', status: 403 });
  }, 60_000);

  describe('streaming, against an upstream that shows what arrived when', () => {
    let upstream: Server;
    let upstreamUrl: string;
    let bytesUpstream = 0;
    let releaseDownload: () => void = () => undefined;

    beforeAll(async () => {
      upstream = createServer((req, res) => {
        if (req.method === 'PUT') {
          req.on('data', (chunk: Buffer) => (bytesUpstream += chunk.length));
          req.on('end', () => res.end());
          return;
        }
        // GET: half the body now, the rest when the test says so.
        res.writeHead(200, { 'content-length': 2 * 1024 * 1024 });
        res.write(Buffer.alloc(1024 * 1024, 1));
        releaseDownload = () => res.end(Buffer.alloc(1024 * 1024, 2));
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

    it('forwards an upload while it is still being sent, and a download before the server has finished it', async () => {
      const { front } = await frontFor(EVERYTHING, { upstream: upstreamUrl });
      const port = Number(new URL(front.endpoint).port);
      const upload = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: '/destination/out/stream.bin', headers: { 'content-length': 4 * 1024 * 1024 } });
      const answered = new Promise<IncomingMessage>((resolve) => upload.on('response', resolve));
      upload.write(Buffer.alloc(2 * 1024 * 1024));
      await until(() => bytesUpstream >= 1024 * 1024);
      upload.end(Buffer.alloc(2 * 1024 * 1024));
      expect((await answered).statusCode).toBe(200);
      expect(bytesUpstream).toBe(4 * 1024 * 1024);

      const download = await new Promise<IncomingMessage>((resolve) => httpRequest({ host: '127.0.0.1', port, method: 'GET', path: '/destination/out/stream.bin' }, resolve).end());
      let received = 0;
      download.on('data', (chunk: Buffer) => (received += chunk.length));
      await until(() => received >= 1024 * 1024);
      releaseDownload();
      await new Promise((resolve) => download.on('end', resolve));
      expect(received).toBe(2 * 1024 * 1024);
    });
  });

  it('answers a refused request that waits for 100 Continue at once, without asking for the body', async () => {
    const { front } = await frontFor(NO_LIST);
    const port = Number(new URL(front.endpoint).port);
    const request = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: '/source/in/x.bin', headers: { 'content-length': 1024, expect: '100-continue' } });
    let continued = false;
    request.on('continue', () => (continued = true));
    const response = await new Promise<IncomingMessage>((resolve) => request.on('response', resolve).flushHeaders());
    const body = await new Promise<string>((resolve) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve(text));
    });
    request.destroy();
    expect({ status: response.statusCode, continued, connection: response.headers.connection }).toEqual({ status: 403, continued: false, connection: 'close' });
    expect(body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>AccessDenied<\/Code><Message>Access Denied<\/Message><RequestId>[0-9A-F]+<\/RequestId><HostId>/);
  });

  it('reads a refused body that was sent without waiting, then answers on the same connection', async () => {
    const { front } = await frontFor(NO_LIST);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const put = () => new Promise<{ status?: number; body: string; socket: unknown }>((resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port: Number(new URL(front.endpoint).port), method: 'PUT', path: '/source/in/x.bin', agent }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode, body, socket: request.socket }));
      });
      request.on('error', reject);
      request.end(randomBytes(3 * 1024 * 1024));
    });
    const first = await put();
    const second = await put();
    agent.destroy();
    expect([first.status, second.status]).toEqual([403, 403]);
    expect(second.body).toMatch(/<Code>AccessDenied<\/Code>/);
    expect(second.socket).toBe(first.socket);
  });

  it('passes a dead server on as a connection reset, not as an HTTP answer', async () => {
    const { s3 } = await frontFor(EVERYTHING, { upstream: 'http://127.0.0.1:9' });
    const error = (await s3.send(new GetObjectCommand({ Bucket: 'source', Key: 'in/present.jpg' })).catch((e: unknown) => e)) as Error & { $metadata?: { httpStatusCode?: number } };
    expect({ message: error.message, status: error.$metadata?.httpStatusCode }).toEqual({ message: expect.stringMatching(/socket hang up|ECONNRESET/), status: undefined });
  });
});

describe('mapRequest', () => {
  const actions = (method: string, url: string, headers: Record<string, string> = {}) => {
    const request = mapRequest(method, url, headers);
    return request.kind === 'mapped' ? request.checks.map((check) => [check.action, check.resource, check.context.prefix]) : request.kind;
  };

  it('maps object operations to their action on arn:aws:s3:::bucket/key', () => {
    expect(actions('GET', '/b/a%20b%2Bc/%C3%BC.jpg?x-id=GetObject')).toEqual([['s3:GetObject', 'arn:aws:s3:::b/a b+c/ü.jpg', undefined]]);
    expect(actions('HEAD', '/b/k?partNumber=1')).toEqual([['s3:GetObject', 'arn:aws:s3:::b/k', undefined]]);
    expect(actions('GET', '/b/k?versionId=v1&response-content-type=text%2Fplain')).toEqual([['s3:GetObjectVersion', 'arn:aws:s3:::b/k', undefined]]);
    expect(actions('PUT', '/b/k?x-id=PutObject')).toEqual([['s3:PutObject', 'arn:aws:s3:::b/k', undefined]]);
    expect(actions('POST', '/b/k?uploads')).toEqual([['s3:PutObject', 'arn:aws:s3:::b/k', undefined]]);
    expect(actions('PUT', '/b/k?partNumber=2&uploadId=u')).toEqual([['s3:PutObject', 'arn:aws:s3:::b/k', undefined]]);
    expect(actions('POST', '/b/k?uploadId=u')).toEqual([['s3:PutObject', 'arn:aws:s3:::b/k', undefined]]);
    expect(actions('DELETE', '/b/k?uploadId=u')).toEqual([['s3:AbortMultipartUpload', 'arn:aws:s3:::b/k', undefined]]);
    expect(actions('DELETE', '/b/k')).toEqual([['s3:DeleteObject', 'arn:aws:s3:::b/k', undefined]]);
    expect(actions('PUT', '/b/k', { 'x-amz-copy-source': '/src/a%2Bb%20c.jpg?versionId=v' })).toEqual([
      ['s3:PutObject', 'arn:aws:s3:::b/k', undefined], ['s3:GetObjectVersion', 'arn:aws:s3:::src/a+b c.jpg', undefined],
    ]);
    expect(actions('GET', '/b/k?select&select-type=2')).toBe('unmapped');
    expect(actions('GET', '/b/%E0%A4%A')).toBe('invalid-uri');
  });

  it('maps bucket operations, listings with s3:prefix ("" when absent)', () => {
    expect(actions('GET', '/b?list-type=2&prefix=in%2Fa%2Bb%20c')).toEqual([['s3:ListBucket', 'arn:aws:s3:::b', 'in/a+b c']]);
    expect(actions('GET', '/b/?delimiter=%2F&marker=m')).toEqual([['s3:ListBucket', 'arn:aws:s3:::b', '']]);
    expect(actions('HEAD', '/b')).toEqual([['s3:ListBucket', 'arn:aws:s3:::b', undefined]]);
    expect(actions('GET', '/b?location')).toEqual([['s3:GetBucketLocation', 'arn:aws:s3:::b', undefined]]);
    expect(actions('GET', '/')).toEqual([['s3:ListAllMyBuckets', '*', undefined]]);
    expect(actions('POST', '/b?delete')).toBe('unmapped');
    expect(actions('PUT', '/b?notification')).toBe('unmapped');
  });

  it('knows which requests carry user metadata and which GETs and HEADs turn a 404 into a 403', () => {
    const flags = (method: string, url: string, headers: Record<string, string> = {}) => {
      const request = mapRequest(method, url, headers);
      return request.kind === 'mapped' ? { metadata: request.setsMetadata, missing: request.missingKeyIs403 } : undefined;
    };
    expect(flags('PUT', '/b/k')).toEqual({ metadata: true, missing: false });
    expect(flags('POST', '/b/k?uploads')).toEqual({ metadata: true, missing: false });
    expect(flags('PUT', '/b/k?partNumber=1&uploadId=u')).toEqual({ metadata: false, missing: false });
    expect(flags('PUT', '/b/k', { 'x-amz-copy-source': 'src/k' })).toEqual({ metadata: false, missing: false });
    expect(flags('PUT', '/b/k', { 'x-amz-copy-source': 'src/k', 'x-amz-metadata-directive': 'REPLACE' })).toEqual({ metadata: true, missing: false });
    expect(flags('GET', '/b/k')).toEqual({ metadata: false, missing: true });
    expect(flags('HEAD', '/b/k')).toEqual({ metadata: false, missing: true });
    expect(flags('GET', '/b/k?tagging')).toEqual({ metadata: false, missing: false });
  });

  it('parses copy sources and counts metadata as bytes on the wire', () => {
    expect(parseCopySource('bucket/a%20b/c.jpg')).toEqual({ bucket: 'bucket', key: 'a b/c.jpg', versioned: false });
    expect(parseCopySource('bucket')).toBeUndefined();
    expect(userMetadataBytes(['Host', 'x', 'X-Amz-Meta-Name', 'value', `x-amz-meta-${Buffer.from('ü').toString('latin1')}`, Buffer.from('é').toString('latin1'), 'x-amz-date', '1'])).toBe(4 + 5 + 2 + 2);
  });
});

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
