import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { IamStatement } from '../src/iam-policy-evaluator';
import { LOCAL_CREDENTIALS, startS3Server, type LocalS3Server } from '../src/s3-server';
import { startStrictS3Front, type Refusal, type StrictS3Front } from '../src/strict-s3-front';

/**
 * Conditional reads through the front with the real SDK and a real s3rver, which ignores If-Match and compares
 * If-None-Match only as the exact quoted string: what S3 answers to a read pinned to an ETag, the SDK sees here.
 */
let dir: string;
let server: LocalS3Server;
let direct: S3Client;
const fronts: StrictS3Front[] = [];
const clients: S3Client[] = [];

const ARCHIVES = 'arn:aws:s3:::archives';
/** A reader of in/ that may list it: a missing key is 404. */
const READER: IamStatement[] = [
  { Effect: 'Allow', Action: 's3:GetObject', Resource: `${ARCHIVES}/in/*` },
  { Effect: 'Allow', Action: 's3:ListBucket', Resource: ARCHIVES },
];
/** The same reader without s3:ListBucket: a missing key is 403. */
const READER_NO_LIST: IamStatement[] = [READER[0]!];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'conditional-reads-'));
  server = await startS3Server({ dataDir: dir, port: 0, buckets: ['archives'] });
  direct = clientFor(server.endpoint);
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

async function failure(promise: Promise<unknown>): Promise<{ status?: number; code?: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { Code?: string; $metadata?: { httpStatusCode?: number } };
    return { status: e.$metadata?.httpStatusCode, ...(e.Code !== undefined ? { code: e.Code } : {}) };
  }
  throw new Error('expected the call to fail');
}

/** Writes the key straight to the server and returns its ETag without quotes. */
async function write(key: string, text: string): Promise<string> {
  const { ETag } = await direct.send(new PutObjectCommand({ Bucket: 'archives', Key: key, Body: text }));
  return ETag!.replace(/"/g, '');
}

describe('If-Match on GetObject and HeadObject', () => {
  it('serves the version named (quoted or not, ranged or whole) and answers 412 once the key holds another', async () => {
    const refusals: Refusal[] = [];
    const { s3 } = await frontFor(READER, { refusals });
    const first = await write('in/a.tar.gz', 'the first version of the archive');
    const get = (ifMatch: string, range?: string) => s3.send(new GetObjectCommand({ Bucket: 'archives', Key: 'in/a.tar.gz', IfMatch: ifMatch, ...(range !== undefined ? { Range: range } : {}) }));

    expect(await (await get(first)).Body!.transformToString()).toBe('the first version of the archive');
    const ranged = await get(`"${first}"`, 'bytes=4-8');
    expect({ status: ranged.$metadata.httpStatusCode, body: await ranged.Body!.transformToString(), range: ranged.ContentRange }).toEqual({ status: 206, body: 'first', range: 'bytes 4-8/32' });
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'archives', Key: 'in/a.tar.gz', IfMatch: first }))).ContentLength).toBe(32);

    await write('in/a.tar.gz', 'a second version');
    expect(await failure(get(first))).toEqual({ status: 412, code: 'PreconditionFailed' });
    expect(await failure(get(first, 'bytes=0-3'))).toEqual({ status: 412, code: 'PreconditionFailed' });
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: 'archives', Key: 'in/a.tar.gz', IfMatch: first })))).toMatchObject({ status: 412 });
    // S3's ordinary answer, not a refusal of the front's: nothing reported.
    expect(refusals).toEqual([]);
  });

  it('accepts * and a list holding the current ETag', async () => {
    const { s3 } = await frontFor(READER);
    const etag = await write('in/b.zip', 'zip bytes');
    for (const ifMatch of ['*', `"old", "${etag}"`]) {
      expect(await (await s3.send(new GetObjectCommand({ Bucket: 'archives', Key: 'in/b.zip', IfMatch: ifMatch }))).Body!.transformToString()).toBe('zip bytes');
    }
  });

  it('answers a missing key as usual: 404 NoSuchKey to a role that may list, 403 to one that may not', async () => {
    const get = (s3: S3Client) => s3.send(new GetObjectCommand({ Bucket: 'archives', Key: 'in/never.zip', IfMatch: 'abc' }));
    expect(await failure(get((await frontFor(READER)).s3))).toEqual({ status: 404, code: 'NoSuchKey' });
    expect(await failure(get((await frontFor(READER_NO_LIST)).s3))).toEqual({ status: 403, code: 'AccessDenied' });
  });

  it('answers 412 before 304 when both headers are sent (If-Match is judged first)', async () => {
    const { front } = await frontFor(READER);
    const etag = await write('in/c.zip', 'c');
    // The quoted current ETag makes s3rver itself answer 304; If-Match still decides first.
    const response = await raw(front, 'GET', '/archives/in/c.zip', { 'if-match': '"old"', 'if-none-match': `"${etag}"` });
    expect(response.status).toBe(412);
    expect(response.body).toMatch(/<Code>PreconditionFailed<\/Code>.*<Condition>If-Match<\/Condition>/s);
    expect((await raw(front, 'GET', '/archives/in/c.zip', { 'if-match': etag, 'if-none-match': `"${etag}"` })).status).toBe(304);
  });
});

describe('If-None-Match on GetObject and HeadObject', () => {
  it('answers 304 for the current ETag, unquoted too (s3rver alone would serve it), and serves any other', async () => {
    const { s3 } = await frontFor(READER);
    const etag = await write('in/d.zip', 'd');
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: 'archives', Key: 'in/d.zip', IfNoneMatch: etag })))).toMatchObject({ status: 304 });
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: 'archives', Key: 'in/d.zip', IfNoneMatch: etag })))).toMatchObject({ status: 304 });
    expect(await (await s3.send(new GetObjectCommand({ Bucket: 'archives', Key: 'in/d.zip', IfNoneMatch: 'other' }))).Body!.transformToString()).toBe('d');
  });
});

describe('against an upstream whose HEAD and GET disagree', () => {
  let upstream: Server;
  let upstreamUrl: string;

  beforeAll(async () => {
    // The key is being replaced: a HEAD still sees the old version, the GET serves the new one.
    upstream = createServer((req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(200, { etag: '"old"', 'content-length': 3 });
        res.end();
        return;
      }
      res.writeHead(200, { etag: '"new"', 'content-length': 3 });
      res.end('new');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  it('judges If-Match on the version it would serve, never on an earlier look at the key', async () => {
    const { front } = await frontFor(READER, { upstream: upstreamUrl });
    const response = await raw(front, 'GET', '/archives/in/e.zip', { 'if-match': '"old"' });
    expect(response.status).toBe(412);
    expect(response.body).not.toContain('new');
    expect((await raw(front, 'GET', '/archives/in/e.zip', { 'if-match': '"new"' })).body).toBe('new');
  });
});

async function raw(front: StrictS3Front, method: string, path: string, headers: OutgoingHttpHeaders): Promise<{ status?: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port: Number(new URL(front.endpoint).port), method, path, headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body: text }));
    });
    request.on('error', reject);
    request.end();
  });
}
