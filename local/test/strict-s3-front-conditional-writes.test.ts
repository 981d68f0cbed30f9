import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { lockedKeyCount } from '../src/conditional-writes';
import type { IamStatement } from '../src/iam-policy-evaluator';
import { LOCAL_CREDENTIALS, startS3Server, type LocalS3Server } from '../src/s3-server';
import { startStrictS3Front, type Refusal, type StrictS3Front } from '../src/strict-s3-front';

/** Conditional writes through the front with the real SDK and a real s3rver, which itself ignores the headers. */
let dir: string;
let server: LocalS3Server;
let direct: S3Client;
const fronts: StrictS3Front[] = [];
const clients: S3Client[] = [];

const LEDGER = 'arn:aws:s3:::ledger';
/** A role that may write and read the ledger under runs/, and list it. */
const WRITER: IamStatement[] = [
  { Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], Resource: `${LEDGER}/runs/*` },
  { Effect: 'Allow', Action: 's3:ListBucket', Resource: LEDGER },
];
/** The same role without s3:GetObject: enough for If-None-Match, not for If-Match. */
const WRITE_ONLY: IamStatement[] = [{ Effect: 'Allow', Action: 's3:PutObject', Resource: `${LEDGER}/runs/*` }];
/** A role that may only read. */
const READER: IamStatement[] = [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: [LEDGER, `${LEDGER}/*`] }];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'conditional-front-'));
  server = await startS3Server({ dataDir: dir, port: 0, buckets: ['ledger'] });
  direct = clientFor(server.endpoint);
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  for (const front of fronts) await front.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  // Every test ends with no key locked or waited for: nothing leaks a lock.
  expect(lockedKeyCount()).toBe(0);
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

interface SdkFailure {
  name: string;
  status?: number;
  code?: string;
  fault?: string;
  condition?: string;
}

/** The SDK error a call ends in: what a worker would classify it by. */
async function failure(promise: Promise<unknown>): Promise<SdkFailure> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; Code?: string; Condition?: string; $fault?: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, code: e.Code, fault: e.$fault, ...(e.Condition !== undefined ? { condition: e.Condition } : {}) };
  }
  throw new Error('expected the call to fail');
}

const PRECONDITION_FAILED = (condition: string): SdkFailure => ({ name: 'PreconditionFailed', status: 412, code: 'PreconditionFailed', fault: 'client', condition });

async function body(key: string): Promise<string> {
  return (await direct.send(new GetObjectCommand({ Bucket: 'ledger', Key: key }))).Body!.transformToString();
}

describe('If-None-Match: * on PutObject', () => {
  it('creates an absent key; on a present key answers 412 PreconditionFailed and leaves it unchanged', async () => {
    const refusals: Refusal[] = [];
    const { s3 } = await frontFor(WRITER, { refusals });
    const created = await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/r1/done', Body: 'first', IfNoneMatch: '*' }));
    expect(created.$metadata.httpStatusCode).toBe(200);
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/r1/done', Body: 'second', IfNoneMatch: '*' })))).toEqual(PRECONDITION_FAILED('If-None-Match'));
    expect(await body('runs/r1/done')).toBe('first');
    // S3's ordinary answer, not a refusal S3 would not give: nothing is reported.
    expect(refusals).toEqual([]);
  });

  it('answers with S3 error document', async () => {
    const { front } = await frontFor(WRITER);
    await direct.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/raw', Body: 'x' }));
    // Unsigned is fine: the front checks the policy, not the signature; the write never reaches the server.
    const response = await raw(front, 'PUT', '/ledger/runs/raw', { 'if-none-match': '*', 'content-length': 1 }, 'y');
    expect(response.status).toBe(412);
    expect(response.headers['content-type']).toBe('application/xml');
    expect(response.body).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>PreconditionFailed<\/Code><Message>At least one of the pre-conditions you specified did not hold<\/Message><Condition>If-None-Match<\/Condition><RequestId>[0-9A-F]+<\/RequestId><HostId>/,
    );
  });

  it('lets exactly one of 50 concurrent writers through two fronts on the same server win; the rest get 412', async () => {
    const [one, two] = [await frontFor(WRITER), await frontFor(WRITER)];
    const key = 'runs/race/marker';
    const outcomes = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const s3 = i % 2 === 0 ? one!.s3 : two!.s3;
      try {
        await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: key, Body: `writer ${i}`, IfNoneMatch: '*' }));
        return { writer: i, won: true };
      } catch (error) {
        return { writer: i, won: false, error: await failure(Promise.reject(error)) };
      }
    }));
    const winners = outcomes.filter((outcome) => outcome.won);
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((outcome) => !outcome.won).map((outcome) => outcome.error)).toEqual(Array.from({ length: 49 }, () => PRECONDITION_FAILED('If-None-Match')));
    expect(await body(key)).toBe(`writer ${winners[0]!.writer}`);
  }, 60_000);

  it('is 501 NotImplemented for any other value, and for If-Match with it, as S3 answers', async () => {
    const refusals: Refusal[] = [];
    const { s3 } = await frontFor(WRITER, { refusals });
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/etag-none-match', Body: 'x', IfNoneMatch: '"0cc175b9c0f1b6a831c399e269772661"' }))))
      .toEqual({ name: 'NotImplemented', status: 501, code: 'NotImplemented', fault: 'server' });
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/etag-none-match', Body: 'x', IfNoneMatch: '*', IfMatch: 'abc' }))))
      .toMatchObject({ name: 'NotImplemented', status: 501 });
    expect(await failure(direct.send(new HeadObjectCommand({ Bucket: 'ledger', Key: 'runs/etag-none-match' })))).toMatchObject({ name: 'NotFound', status: 404 });
    // A request S3 would refuse and s3rver would not: reported.
    expect(refusals.map((refusal) => [refusal.status, refusal.code])).toEqual([[501, 'NotImplemented'], [501, 'NotImplemented']]);
  });

  it('still answers 403 first to a caller without s3:PutObject, before any precondition', async () => {
    const refusals: Refusal[] = [];
    const { s3 } = await frontFor(READER, { refusals });
    await direct.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/readers', Body: 'kept' }));
    // 412 for a writer; AccessDenied for a reader, even where the precondition would fail.
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/readers', Body: 'x', IfNoneMatch: '*' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/readers-absent', Body: 'x', IfNoneMatch: '*' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/readers', Body: 'x', IfNoneMatch: '"e"' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(refusals.map((refusal) => refusal.detail)).toEqual(Array.from({ length: 3 }, () => expect.stringMatching(/^s3:PutObject on arn:aws:s3:::ledger\/runs\/readers/)));
    expect(await body('runs/readers')).toBe('kept');
  });

  it('answers a writer waiting for 100 Continue at once when the key exists, without asking for the body', async () => {
    const { front } = await frontFor(WRITER);
    await direct.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/continue', Body: 'kept' }));
    const port = Number(new URL(front.endpoint).port);
    const request = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: '/ledger/runs/continue', headers: { 'content-length': 1024, expect: '100-continue', 'if-none-match': '*' } });
    let continued = false;
    request.on('continue', () => (continued = true));
    const response = await new Promise<IncomingMessage>((resolve) => request.on('response', resolve).flushHeaders());
    response.resume();
    request.destroy();
    expect({ status: response.statusCode, continued, connection: response.headers.connection }).toEqual({ status: 412, continued: false, connection: 'close' });
    expect(await body('runs/continue')).toBe('kept');
  });
});

describe('If-Match on PutObject', () => {
  it('writes over the current ETag, quoted or not; answers 412 for an old ETag and 404 NoSuchKey for a missing key', async () => {
    const { s3 } = await frontFor(WRITER);
    const first = await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/cas', Body: 'v1' }));
    const second = await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/cas', Body: 'v2', IfMatch: first.ETag }));
    expect(await body('runs/cas')).toBe('v2');
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/cas', Body: 'stale', IfMatch: first.ETag })))).toEqual(PRECONDITION_FAILED('If-Match'));
    expect(await body('runs/cas')).toBe('v2');
    await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/cas', Body: 'v3', IfMatch: second.ETag!.replace(/"/g, '') }));
    expect(await body('runs/cas')).toBe('v3');
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/cas-missing', Body: 'x', IfMatch: first.ETag }))))
      .toEqual({ name: 'NoSuchKey', status: 404, code: 'NoSuchKey', fault: 'client' });
    expect(await failure(direct.send(new HeadObjectCommand({ Bucket: 'ledger', Key: 'runs/cas-missing' })))).toMatchObject({ status: 404 });
  });

  it('needs s3:GetObject as well as s3:PutObject', async () => {
    const { s3 } = await frontFor(WRITE_ONLY);
    const { ETag } = await direct.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/cas-rights', Body: 'v1' }));
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/cas-rights', Body: 'v2', IfMatch: ETag })))).toMatchObject({ name: 'AccessDenied', status: 403 });
    await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/cas-rights-new', Body: 'v1', IfNoneMatch: '*' }));
  });
});

describe('CompleteMultipartUpload with a precondition', () => {
  const upload = async (s3: S3Client, key: string, text: string) => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'ledger', Key: key }));
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: 'ledger', Key: key, UploadId, PartNumber: 1, Body: text }));
    return { Bucket: 'ledger', Key: key, UploadId, MultipartUpload: { Parts: [{ ETag, PartNumber: 1 }] } };
  };

  it('If-None-Match: * completes on an absent key and answers 412 on a present one, at completion time', async () => {
    const { s3 } = await frontFor(WRITER);
    const early = await upload(s3, 'runs/multi', 'multipart one');
    const late = await upload(s3, 'runs/multi', 'multipart two');
    await s3.send(new CompleteMultipartUploadCommand({ ...early, IfNoneMatch: '*' }));
    // The key did not exist when the second upload began: what counts is completion time.
    expect(await failure(s3.send(new CompleteMultipartUploadCommand({ ...late, IfNoneMatch: '*' })))).toEqual(PRECONDITION_FAILED('If-None-Match'));
    expect(await body('runs/multi')).toBe('multipart one');
  });

  it('If-Match completes over the current ETag and answers 412 over another', async () => {
    const { s3 } = await frontFor(WRITER);
    const { ETag } = await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/multi-cas', Body: 'v1' }));
    const stale = await upload(s3, 'runs/multi-cas', 'stale');
    const fresh = await upload(s3, 'runs/multi-cas', 'v2');
    await s3.send(new CompleteMultipartUploadCommand({ ...fresh, IfMatch: ETag }));
    expect(await failure(s3.send(new CompleteMultipartUploadCommand({ ...stale, IfMatch: ETag })))).toEqual(PRECONDITION_FAILED('If-Match'));
    expect(await body('runs/multi-cas')).toBe('v2');
  });
});

describe('If-Match on DeleteObject', () => {
  it('deletes over the current ETag; answers 412 over another and 404 NoSuchKey for a missing key', async () => {
    const { s3 } = await frontFor(WRITER);
    const { ETag: old } = await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/delete-cas', Body: 'v1' }));
    const { ETag: current } = await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/delete-cas', Body: 'v2' }));
    expect(await failure(s3.send(new DeleteObjectCommand({ Bucket: 'ledger', Key: 'runs/delete-cas', IfMatch: old })))).toEqual(PRECONDITION_FAILED('If-Match'));
    expect(await body('runs/delete-cas')).toBe('v2');
    await s3.send(new DeleteObjectCommand({ Bucket: 'ledger', Key: 'runs/delete-cas', IfMatch: current }));
    expect(await failure(direct.send(new HeadObjectCommand({ Bucket: 'ledger', Key: 'runs/delete-cas' })))).toMatchObject({ status: 404 });
    expect(await failure(s3.send(new DeleteObjectCommand({ Bucket: 'ledger', Key: 'runs/delete-cas', IfMatch: current })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
    // Without a precondition a missing key is deleted as ever.
    await s3.send(new DeleteObjectCommand({ Bucket: 'ledger', Key: 'runs/delete-cas' }));
  });
});

describe('against an upstream that shows what reached it', () => {
  let upstream: Server;
  let upstreamUrl: string;
  /** PUTs the upstream has received and not answered yet, per path, and the most at once. */
  const inFlight = new Map<string, number>();
  const most = new Map<string, number>();
  const heads: { path: string; authorization?: string }[] = [];
  let headStatus = 404;
  let holdPuts = false;
  const held: (() => void)[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const path = req.url!.split('?')[0]!;
      if (req.method === 'HEAD') {
        heads.push({ path, ...(req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {}) });
        res.writeHead(headStatus, headStatus === 200 ? { etag: '"e1"' } : {});
        res.end();
        return;
      }
      inFlight.set(path, (inFlight.get(path) ?? 0) + 1);
      most.set(path, Math.max(most.get(path) ?? 0, inFlight.get(path)!));
      req.resume();
      req.on('end', () => {
        const answer = () => {
          inFlight.set(path, inFlight.get(path)! - 1);
          res.writeHead(200, { etag: '"e2"' });
          res.end();
        };
        if (holdPuts) held.push(answer);
        else setTimeout(answer, 20);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
  beforeEach(() => {
    inFlight.clear();
    most.clear();
    heads.length = 0;
    headStatus = 404;
    holdPuts = false;
  });

  it('reads the key with its own SigV4-signed HEAD, only for a conditional write', async () => {
    const { s3 } = await frontFor(WRITER, { upstream: upstreamUrl });
    await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/signed key+ü', Body: 'x' }));
    expect(heads).toEqual([]);
    await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/signed key+ü', Body: 'x', IfNoneMatch: '*' }));
    expect(heads).toEqual([{ path: '/ledger/runs/signed%20key%2B%C3%BC', authorization: expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=S3RVER\//) }]);
  });

  it('makes unconditional writes and deletes of one key wait for each other, through two fronts; other keys go at once', async () => {
    const [one, two] = [await frontFor(WRITER, { upstream: upstreamUrl }), await frontFor(WRITER, { upstream: upstreamUrl })];
    holdPuts = true;
    const put = (front: { s3: S3Client }, key: string, text: string) => front.s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: key, Body: text }));
    const writes = [
      put(one!, 'runs/same', 'a'), put(two!, 'runs/same', 'b'), two!.s3.send(new DeleteObjectCommand({ Bucket: 'ledger', Key: 'runs/same' })), put(one!, 'runs/same', 'c'),
      put(one!, 'runs/other-1', '1'), put(two!, 'runs/other-2', '2'), put(one!, 'runs/other-3', '3'),
    ];
    // One write of runs/same and all three other keys reach the server; the other writes of runs/same wait.
    await until(() => held.length === 4);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(held).toHaveLength(4);
    expect([...inFlight.entries()].sort()).toEqual([['/ledger/runs/other-1', 1], ['/ledger/runs/other-2', 1], ['/ledger/runs/other-3', 1], ['/ledger/runs/same', 1]]);
    // Released one by one, the waiting writes of runs/same follow each other.
    while (held.length > 0 || inFlight.get('/ledger/runs/same') !== 0) {
      held.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await Promise.all(writes);
    expect(most.get('/ledger/runs/same')).toBe(1);
  });

  it('lets a writer that gave up while waiting leave the queue, without blocking the next', async () => {
    const { front, s3 } = await frontFor(WRITER, { upstream: upstreamUrl });
    holdPuts = true;
    const first = s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/queue', Body: 'first' }));
    await until(() => held.length === 1);
    const abandoned = httpRequest({ host: '127.0.0.1', port: Number(new URL(front.endpoint).port), method: 'PUT', path: '/ledger/runs/queue', headers: { 'content-length': 1 } });
    abandoned.on('error', () => undefined);
    abandoned.end('y');
    await new Promise((resolve) => setTimeout(resolve, 50));
    abandoned.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    held.shift()!();
    await first;
    holdPuts = false;
    await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/queue', Body: 'third' }));
    expect(held).toEqual([]);
  });

  it('passes a failed HEAD on as the server failed it: 503 as SlowDown, unreported; a 403 is the front\'s own fault, reported as 500', async () => {
    const refusals: Refusal[] = [];
    const { s3 } = await frontFor(WRITER, { upstream: upstreamUrl, refusals });
    headStatus = 503;
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/h', Body: 'x', IfNoneMatch: '*' })))).toMatchObject({ name: 'SlowDown', status: 503 });
    expect(refusals).toEqual([]);
    headStatus = 403;
    expect(await failure(s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/h', Body: 'x', IfNoneMatch: '*' })))).toMatchObject({ name: 'InternalError', status: 500 });
    expect(refusals).toEqual([expect.objectContaining({ status: 500, code: 'InternalError', detail: expect.stringMatching(/HEAD answered 403/) })]);
    expect(inFlight.get('/ledger/runs/h')).toBeUndefined();
  });

  it('passes a dead server on as a connection reset for a conditional write too', async () => {
    const { s3 } = await frontFor(WRITER, { upstream: 'http://127.0.0.1:9' });
    const error = (await s3.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'runs/dead', Body: 'x', IfNoneMatch: '*' })).catch((e: unknown) => e)) as Error & { $metadata?: { httpStatusCode?: number } };
    expect({ message: error.message, status: error.$metadata?.httpStatusCode }).toEqual({ message: expect.stringMatching(/socket hang up|ECONNRESET/), status: undefined });
  });
});

async function raw(front: StrictS3Front, method: string, path: string, headers: OutgoingHttpHeaders, sent: string): Promise<{ status?: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port: Number(new URL(front.endpoint).port), method, path, headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body: text }));
    });
    request.on('error', reject);
    request.end(sent);
  });
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
