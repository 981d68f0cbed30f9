import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import S3rver from 's3rver';
import { classifyFailure } from '../../../shared/errors';
import { chooseFault, FAULT_KINDS, operationOf, startFaultProxy, type FaultKind, type FaultProxy } from '../src/fault-proxy';
import { seededRandom } from '../src/seeded-random';

const EQUAL: Record<FaultKind, number> = { 'slow-down-503': 1, 'internal-error-500': 1, 'connection-reset': 1, 'slow-response': 1 };
const only = (kind: FaultKind) => Object.fromEntries(FAULT_KINDS.map((k) => [k, k === kind ? 1 : 0])) as Record<FaultKind, number>;

describe('chooseFault', () => {
  it('faults about the configured share of requests, spread over every kind', () => {
    const random = seededRandom(42);
    const tally = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const fault = chooseFault(random, 0.05, EQUAL) ?? 'none';
      tally.set(fault, (tally.get(fault) ?? 0) + 1);
    }
    const faulted = 20_000 - (tally.get('none') ?? 0);
    expect(faulted / 20_000).toBeGreaterThan(0.04);
    expect(faulted / 20_000).toBeLessThan(0.06);
    for (const kind of FAULT_KINDS) expect(tally.get(kind)).toBeGreaterThan(150);
  });

  it('is repeatable from its seed', () => {
    const run = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 500 }, () => chooseFault(random, 0.3, EQUAL));
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('never faults at rate 0 and always at rate 1, honouring the weights', () => {
    const random = seededRandom(1);
    for (let i = 0; i < 1000; i++) expect(chooseFault(random, 0, EQUAL)).toBeUndefined();
    for (let i = 0; i < 1000; i++) expect(chooseFault(random, 1, only('connection-reset'))).toBe('connection-reset');
  });
});

describe('operationOf', () => {
  it('tells multipart calls from object GETs, PUTs and HEADs', () => {
    expect(operationOf('GET', '/b/k.jpg')).toBe('GET');
    expect(operationOf('PUT', '/b/k.jpg?x-id=PutObject')).toBe('PUT');
    expect(operationOf('HEAD', '/b/k.jpg')).toBe('HEAD');
    expect(operationOf('POST', '/b/k.jpg?uploads')).toBe('multipart');
    expect(operationOf('POST', '/b/k.jpg?uploads=&x-id=CreateMultipartUpload')).toBe('multipart');
    expect(operationOf('PUT', '/b/k.jpg?partNumber=2&uploadId=abc')).toBe('multipart');
    expect(operationOf('POST', '/b/k.jpg?uploadId=abc')).toBe('multipart');
    expect(operationOf('DELETE', '/b/k.jpg?uploadId=abc')).toBe('multipart');
    expect(operationOf('DELETE', '/b/k.jpg')).toBe('other');
    // A key that merely contains the word is no multipart call.
    expect(operationOf('PUT', '/b/uploads/uploadId=1.jpg')).toBe('PUT');
  });
});

describe('fault proxy over HTTP', () => {
  let upstream: Server;
  let upstreamUrl: string;
  const seenHosts: string[] = [];
  const proxies: FaultProxy[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      seenHosts.push(req.headers.host ?? '');
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        res.writeHead(200, { 'x-upstream': 'yes' });
        res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  function send(endpoint: string, body = 'payload'): Promise<{ status: number; headers: Record<string, unknown>; text: string; ms: number }> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const req = request(`${endpoint}/bucket/key?x=1`, { method: 'PUT', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString(), ms: Date.now() - started }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async function proxy(options: Partial<Parameters<typeof startFaultProxy>[0]>): Promise<FaultProxy> {
    const started = await startFaultProxy({ upstream: upstreamUrl, ...options });
    proxies.push(started);
    return started;
  }

  it('listens on 127.0.0.1 and forwards method, path, body and the original Host header', async () => {
    const p = await proxy({ rate: 0 });
    expect(p.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await send(p.endpoint);
    expect(response).toMatchObject({ status: 200, text: 'PUT /bucket/key?x=1 payload' });
    expect(response.headers['x-upstream']).toBe('yes');
    expect(seenHosts.at(-1)).toBe(p.endpoint.replace('http://', ''));
    expect(p.counts()).toMatchObject({ requests: 1, forwarded: 1, faults: { 'slow-down-503': 0, 'connection-reset': 0 } });
  });

  it('answers 503 SlowDown with an S3 error document', async () => {
    const p = await proxy({ rate: 1, weights: only('slow-down-503') });
    const response = await send(p.endpoint);
    expect(response.status).toBe(503);
    expect(response.text).toContain('<Code>SlowDown</Code>');
    expect(p.counts()).toMatchObject({ forwarded: 0, faults: { 'slow-down-503': 1 } });
  });

  it('answers 500 InternalError', async () => {
    const p = await proxy({ rate: 1, weights: only('internal-error-500') });
    const response = await send(p.endpoint);
    expect(response.status).toBe(500);
    expect(response.text).toContain('<Code>InternalError</Code>');
  });

  it('resets the connection', async () => {
    const p = await proxy({ rate: 1, weights: only('connection-reset') });
    await expect(send(p.endpoint)).rejects.toMatchObject({ code: expect.stringMatching(/ECONNRESET|socket hang up/) });
    expect(p.counts().faults['connection-reset']).toBe(1);
  });

  it('delays a slow response, then forwards it intact', async () => {
    const p = await proxy({ rate: 1, weights: only('slow-response'), slowMs: 300 });
    const response = await send(p.endpoint, 'late');
    expect(response.status).toBe(200);
    expect(response.text).toBe('PUT /bucket/key?x=1 late');
    expect(response.ms).toBeGreaterThanOrEqual(290);
    expect(p.counts()).toMatchObject({ forwarded: 1, faults: { 'slow-response': 1 } });
  });

  it('holds every request during a brown-out, then forwards it', async () => {
    const p = await proxy({ rate: 0 });
    p.holdFor(400);
    const [first, second] = await Promise.all([send(p.endpoint, 'one'), send(p.endpoint, 'two')]);
    expect(first.ms).toBeGreaterThanOrEqual(350);
    expect(second).toMatchObject({ status: 200, text: 'PUT /bucket/key?x=1 two' });
    const after = await send(p.endpoint);
    expect(after.ms).toBeLessThan(300);
    expect(p.counts()).toMatchObject({ requests: 3, held: 2, forwarded: 3 });
  });

  it('holds the answer to a request already under way when a brown-out begins', async () => {
    const p = await proxy({ rate: 1, weights: only('slow-response'), slowMs: 100 });
    const pending = send(p.endpoint, 'under way');
    await new Promise((resolve) => setTimeout(resolve, 20));
    p.holdFor(500);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(response.ms).toBeGreaterThanOrEqual(480);
    expect(p.counts().held).toBe(1);
  });

  it('refuses every request during an outage, 503 SlowDown or a reset, then forwards again', async () => {
    const p = await proxy({ rate: 0 });
    p.outageFor(400);
    expect(p.inOutage()).toBe(true);
    const refused = await Promise.all([1, 2, 3].map(() => send(p.endpoint)));
    expect(refused.map((response) => response.status)).toEqual([503, 503, 503]);
    expect(refused[0].text).toContain('<Code>SlowDown</Code>');
    p.outageFor(300, 'connection-reset');
    await expect(send(p.endpoint)).rejects.toMatchObject({ code: expect.stringMatching(/ECONNRESET|socket hang up/) });
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(p.inOutage()).toBe(false);
    expect((await send(p.endpoint)).status).toBe(200);
    expect(p.counts()).toMatchObject({ requests: 5, forwarded: 1, outage: { 'slow-down-503': 3, 'connection-reset': 1 }, faults: { 'slow-down-503': 0 } });
  });

  it('mixes throttling and resets in a mixed outage', async () => {
    const p = await proxy({ rate: 0, seed: 5 });
    p.outageFor(2_000, 'mixed');
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => send(p.endpoint).then((response) => response.status, () => 'reset')));
    expect(outcomes).toContain(503);
    expect(outcomes).toContain('reset');
    expect(outcomes).not.toContain(200);
  });

  it('follows a new upstream and can switch faults off', async () => {
    const p = await startFaultProxy({ upstream: 'http://127.0.0.1:9', rate: 1, weights: only('slow-down-503') });
    proxies.push(p);
    p.setRate(0);
    p.setUpstream(upstreamUrl);
    expect((await send(p.endpoint)).status).toBe(200);
    expect(() => p.setRate(2)).toThrow(RangeError);
  });
});

describe('fault proxy in front of s3rver with the AWS SDK', () => {
  let dir: string;
  let server: S3rver;
  let upstream: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chaos-proxy-'));
    server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(dir, 's3'), configureBuckets: [{ name: 'b' }] });
    const address = (await server.run()) as AddressInfo;
    upstream = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (endpoint: string, maxAttempts: number) =>
    new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });

  it('keeps SigV4 valid through the proxy', async () => {
    const p = await startFaultProxy({ upstream, rate: 0 });
    const s3 = client(p.endpoint, 1);
    try {
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'a b+c.txt', Body: 'hello' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'a b+c.txt' }));
      expect(await got.Body?.transformToString()).toBe('hello');
    } finally {
      s3.destroy();
      await p.close();
    }
  });

  it('tells of every answer the server gave, by object', async () => {
    const answers: string[] = [];
    const p = await startFaultProxy({ upstream, rate: 0, onAnswered: (method, path, status) => answers.push(`${method} ${path} ${status}`) });
    const s3 = client(p.endpoint, 1);
    try {
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'a b/ü.jpg', Body: 'x' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'a b/ü.jpg' }));
      // Told once the body has been read from the server, not when the headers came.
      await got.Body!.transformToString();
      for (let i = 0; i < 50 && answers.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(answers).toEqual(['PUT b/a b/ü.jpg 200', 'GET b/a b/ü.jpg 200']);
    } finally {
      s3.destroy();
      await p.close();
    }
  });

  it('records the distinct bodies written to each object, decoding keys', async () => {
    const p = await startFaultProxy({ upstream, rate: 0 });
    const s3 = client(p.endpoint, 1);
    try {
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'dir/ü x+y.jpg', Body: 'same' }));
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'dir/ü x+y.jpg', Body: 'same' }));
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'other.jpg', Body: 'first' }));
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'other.jpg', Body: 'second' }));
      await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'other.jpg' }));
      const writes = p.writes();
      expect([...writes.keys()].sort()).toEqual(['b/dir/ü x+y.jpg', 'b/other.jpg']);
      expect(writes.get('b/dir/ü x+y.jpg')?.size).toBe(1);
      expect(writes.get('b/other.jpg')?.size).toBe(2);
    } finally {
      s3.destroy();
      await p.close();
    }
  });

  it('counts calls and faults per kind of call, faults multipart calls at their own rate, and records a multipart upload as one write', async () => {
    const p = await startFaultProxy({ upstream, rate: 0, rateByOperation: { multipart: 1 }, weights: only('slow-response'), slowMs: 5 });
    const s3 = client(p.endpoint, 3);
    try {
      const body = Buffer.alloc(11 * 1024 * 1024, 7);
      const upload = () => new Upload({ client: s3, params: { Bucket: 'b', Key: 'big/ü.bin', Body: body }, partSize: 5 * 1024 * 1024 }).done();
      await upload();
      await upload();
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'small.txt', Body: 'x' }));
      await s3.send(new HeadObjectCommand({ Bucket: 'b', Key: 'big/ü.bin' }));
      const { byOperation } = p.counts();
      // Per upload: create, three parts, complete; each held as a slow response, nothing else faulted.
      expect(byOperation.multipart).toEqual({ requests: 10, faults: 10 });
      expect(byOperation.PUT).toEqual({ requests: 1, faults: 0 });
      expect(byOperation.HEAD).toEqual({ requests: 1, faults: 0 });
      // The same bytes twice: the completions list the same parts, so one distinct body.
      expect(p.writes().get('b/big/ü.bin')?.size).toBe(1);
      p.setRate(0);
      await upload();
      expect(p.counts().byOperation.multipart).toEqual({ requests: 15, faults: 10 });
    } finally {
      s3.destroy();
      await p.close();
    }
  });

  it('answers AbortMultipartUpload as S3 does, where s3rver refuses it with 405 MethodNotAllowed', async () => {
    const plain = await startFaultProxy({ upstream, rate: 0 });
    const emulating = await startFaultProxy({ upstream, rate: 0, answerAbortMultipart: true });
    const [s3, s3Emulated] = [client(plain.endpoint, 1), client(emulating.endpoint, 1)];
    try {
      const abort = async (c: S3Client) => {
        const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'b', Key: 'parts.bin' }));
        return c.send(new AbortMultipartUploadCommand({ Bucket: 'b', Key: 'parts.bin', UploadId }));
      };
      await expect(abort(s3)).rejects.toMatchObject({ name: 'MethodNotAllowed' });
      await expect(abort(s3Emulated)).resolves.toMatchObject({ $metadata: { httpStatusCode: 204 } });
      expect(emulating.counts().abortsAnswered).toBe(1);
    } finally {
      s3.destroy();
      s3Emulated.destroy();
      await plain.close();
      await emulating.close();
    }
  });

  it('produces errors the worker classifies as transient', async () => {
    const p = await startFaultProxy({ upstream, rate: 1, weights: only('slow-down-503') });
    const s3 = client(p.endpoint, 1);
    try {
      const error = await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'x' })).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'SlowDown' });
      expect(classifyFailure(error)).toMatchObject({ kind: 'transient', reason: 'throttled' });
    } finally {
      s3.destroy();
      await p.close();
    }
  });

  it('lets the SDK retry through a 50% fault rate', async () => {
    const p = await startFaultProxy({ upstream, rate: 0.5, seed: 3, weights: { 'slow-response': 0 } });
    const s3 = client(p.endpoint, 10);
    try {
      for (let i = 0; i < 10; i++) await s3.send(new PutObjectCommand({ Bucket: 'b', Key: `retry-${i}`, Body: `v${i}` }));
      const counts = p.counts();
      expect(counts.requests).toBeGreaterThan(10);
      expect(counts.faults['slow-down-503'] + counts.faults['internal-error-500'] + counts.faults['connection-reset']).toBe(counts.requests - counts.forwarded);
    } finally {
      s3.destroy();
      await p.close();
    }
  });
});
