import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../../../local/src/loopback-server';
import { seededRandom, type Random } from './seeded-random';

/** What the proxy can do to one request instead of forwarding it untouched. */
export type FaultKind = 'slow-down-503' | 'internal-error-500' | 'connection-reset' | 'slow-response';
export const FAULT_KINDS: readonly FaultKind[] = ['slow-down-503', 'internal-error-500', 'connection-reset', 'slow-response'];

/** What a request does, for counting faults per kind of call: object reads, writes, HEADs, and multipart uploads. */
export type S3Operation = 'GET' | 'PUT' | 'HEAD' | 'multipart' | 'other';
export const S3_OPERATIONS: readonly S3Operation[] = ['GET', 'PUT', 'HEAD', 'multipart', 'other'];

/** CreateMultipartUpload (`?uploads`), UploadPart, CompleteMultipartUpload and AbortMultipartUpload (`uploadId=`) are multipart. */
export function operationOf(method: string | undefined, url: string): S3Operation {
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  if (/(^|&)uploads(=|&|$)/.test(query) || /(^|&)uploadId=/.test(query)) return 'multipart';
  return method === 'GET' || method === 'PUT' || method === 'HEAD' ? method : 'other';
}

export interface FaultProxyOptions {
  /** Where healthy requests go, e.g. `http://127.0.0.1:4568`; can be changed later (the server restarts elsewhere). */
  readonly upstream: string;
  /** Share of requests that get a fault, 0..1 (default 0.05). */
  readonly rate?: number;
  readonly seed?: number;
  /** How long a slow response is held before it is forwarded (default 1500 ms). */
  readonly slowMs?: number;
  /** Relative weights of the fault kinds (default equal). */
  readonly weights?: Partial<Record<FaultKind, number>>;
  /**
   * Fault rates for some kinds of call instead of `rate`, e.g. `{ multipart: 0.5 }`: a run with a few multipart
   * uploads among hundreds of small calls still sees its parts and completions fail.
   */
  readonly rateByOperation?: Partial<Record<S3Operation, number>>;
  /**
   * Answer AbortMultipartUpload (`DELETE ?uploadId=`) with 204 as S3 does, instead of forwarding it: s3rver 3.7.1
   * has no such route and answers 405 MethodNotAllowed, which S3 never does for it. The faults still apply to it.
   */
  readonly answerAbortMultipart?: boolean;
  /**
   * Told of every answer the upstream gave (method, `bucket/key`, status) once its whole body has been read from the
   * server: an object overwritten after a GET was answered must not be one whose old bytes are still being served
   * (s3rver rewrites an object's file in place, so a GET still reading it would end short and hang its client; S3
   * serves the version it began with).
   */
  readonly onAnswered?: (method: string, path: string, status: number) => void;
}

export interface FaultCounts {
  readonly requests: number;
  readonly forwarded: number;
  readonly upstreamErrors: number;
  /** Requests or answers held by a brown-out (`holdFor`), on top of the random faults. */
  readonly held: number;
  readonly faults: Record<FaultKind, number>;
  /** AbortMultipartUpload calls answered by the proxy itself (`answerAbortMultipart`). */
  readonly abortsAnswered: number;
  /** Requests and random faults (any kind) per kind of call. */
  readonly byOperation: Record<S3Operation, { readonly requests: number; readonly faults: number }>;
  /** Requests refused during outages (`outageFor`), by how: not counted in `faults`. */
  readonly outage: Record<OutageKind, number>;
}

/** How an outage answers every request: S3 throttling everything, or nothing listening properly at all. */
export type OutageKind = 'slow-down-503' | 'connection-reset';
export type OutageMode = OutageKind | 'mixed';

/** `bucket/key` of every object written through the proxy, with the distinct bodies the server accepted for it. */
export type WriteLog = ReadonlyMap<string, ReadonlySet<string>>;

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: give it to clients as their endpoint. */
  readonly endpoint: string;
  counts(): FaultCounts;
  /** What PUTs the upstream accepted, per object: a second different body for one key is a correctness bug. */
  writes(): WriteLog;
  setUpstream(upstream: string): void;
  /** Faults on or off without restarting, e.g. to verify outputs afterwards through a clean path; 0 turns `rateByOperation` off too. */
  setRate(rate: number): void;
  /**
   * A brown-out: for the next `ms`, new requests are held before forwarding and answers are held before replying.
   * Work in flight at that moment cannot finish sooner, which is what a SIGTERM test needs to catch a worker mid-batch.
   */
  holdFor(ms: number): void;
  /**
   * An outage: for the next `ms`, every request is refused (503 SlowDown, a reset connection, or either at random for
   * `mixed`), none reaches the server. Requests already forwarded finish normally.
   */
  outageFor(ms: number, mode?: OutageMode): void;
  /** Whether an outage is under way now. */
  inOutage(): boolean;
  close(): Promise<void>;
}

/**
 * Decides what happens to the next request: pure apart from the PRNG it is given, so the choice of fault kind is
 * tested without sockets.
 */
export function chooseFault(random: Random, rate: number, weights: Record<FaultKind, number>): FaultKind | undefined {
  if (random() >= rate) return undefined;
  const total = FAULT_KINDS.reduce((sum, kind) => sum + weights[kind], 0);
  let point = random() * total;
  for (const kind of FAULT_KINDS) {
    point -= weights[kind];
    if (point < 0) return kind;
  }
  return FAULT_KINDS[FAULT_KINDS.length - 1];
}

/** S3's own error document, so the SDK parses the code (SlowDown, InternalError) exactly as it would from AWS. */
export function s3ErrorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${requestId}</RequestId><HostId>chaos-proxy</HostId></Error>`;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of an S3-protocol server that injects the failures S3 really produces:
 * 503 SlowDown, 500 InternalError, connection resets and slow responses. Headers are forwarded unchanged, Host
 * included, so SigV4 signatures made for the proxy's address still verify upstream.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const random = seededRandom(options.seed ?? 1);
  let rate = validRate(options.rate ?? 0.05);
  const rateByOperation = Object.fromEntries(Object.entries(options.rateByOperation ?? {}).map(([operation, value]) => [operation, validRate(value)])) as Partial<Record<S3Operation, number>>;
  // setRate(0) switches every fault off, these included; another setRate switches them on again.
  let byOperationOn = true;
  const byOperation = Object.fromEntries(S3_OPERATIONS.map((operation) => [operation, { requests: 0, faults: 0 }])) as Record<S3Operation, { requests: number; faults: number }>;
  const slowMs = options.slowMs ?? 1500;
  const weights: Record<FaultKind, number> = {
    'slow-down-503': 1, 'internal-error-500': 1, 'connection-reset': 1, 'slow-response': 1, ...options.weights,
  };
  let upstream = new URL(options.upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const faults: Record<FaultKind, number> = { 'slow-down-503': 0, 'internal-error-500': 0, 'connection-reset': 0, 'slow-response': 0 };
  let requests = 0;
  let forwarded = 0;
  let upstreamErrors = 0;
  let held = 0;
  let abortsAnswered = 0;
  let holdUntil = 0;
  let outageUntil = 0;
  let outageMode: OutageMode = 'slow-down-503';
  const outage: Record<OutageKind, number> = { 'slow-down-503': 0, 'connection-reset': 0 };
  let sequence = 0;
  const writes = new Map<string, Set<string>>();
  const timers = new Set<NodeJS.Timeout>();

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    forwarded++;
    // PutObject's body, or CompleteMultipartUpload's (the parts' ETags: the same for the same bytes).
    const digest = req.method === 'PUT' || (req.method === 'POST' && /[?&]uploadId=/.test(req.url ?? '')) ? createHash('sha256') : undefined;
    if (digest !== undefined) req.on('data', (chunk: Buffer) => digest.update(chunk));
    const outgoing = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (upstreamRes) => {
        const status = upstreamRes.statusCode ?? 502;
        if (digest !== undefined && status >= 200 && status < 300) recordWrite(writes, req.url ?? '/', digest.digest('hex'));
        upstreamRes.once('end', () => options.onAnswered?.(req.method ?? '', objectPath(req.url ?? '/'), status));
        const reply = () => {
          res.writeHead(status, upstreamRes.headers);
          upstreamRes.pipe(res);
        };
        // A brown-out also holds answers to requests that were already under way when it began.
        const holdMs = holdUntil - Date.now();
        if (holdMs <= 0) return reply();
        held++;
        const timer = setTimeout(() => {
          timers.delete(timer);
          reply();
        }, holdMs);
        timers.add(timer);
      },
    );
    outgoing.on('error', () => {
      // The upstream is down (e.g. the pipeline was killed): the client sees a reset, as it would without a proxy.
      upstreamErrors++;
      req.socket.destroy();
    });
    req.pipe(outgoing);
  };

  const answerWithError = (req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void => {
    // Read the request body first: answering mid-upload would turn the fault into a broken pipe instead.
    req.resume();
    req.once('end', () => {
      const body = s3ErrorXml(code, message, `CHAOS${++sequence}`);
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };

  const delayThenForward = (req: IncomingMessage, res: ServerResponse, ms: number): void => {
    req.pause();
    const timer = setTimeout(() => {
      timers.delete(timer);
      forward(req, res);
    }, ms);
    timers.add(timer);
  };

  const server: Server = createServer((req, res) => {
    requests++;
    if (Date.now() < outageUntil) {
      const kind: OutageKind = outageMode === 'mixed' ? (random() < 0.5 ? 'slow-down-503' : 'connection-reset') : outageMode;
      outage[kind]++;
      if (kind === 'connection-reset') {
        req.socket.destroy();
        return;
      }
      return answerWithError(req, res, 503, 'SlowDown', 'Please reduce your request rate.');
    }
    if (Date.now() < holdUntil) {
      held++;
      return delayThenForward(req, res, holdUntil - Date.now());
    }
    const operation = operationOf(req.method, req.url ?? '/');
    byOperation[operation].requests++;
    const fault = chooseFault(random, (byOperationOn ? rateByOperation[operation] : undefined) ?? rate, weights);
    if (fault !== undefined) {
      faults[fault]++;
      byOperation[operation].faults++;
    }
    switch (fault) {
      case 'slow-down-503':
        return answerWithError(req, res, 503, 'SlowDown', 'Please reduce your request rate.');
      case 'internal-error-500':
        return answerWithError(req, res, 500, 'InternalError', 'We encountered an internal error. Please try again.');
      case 'connection-reset':
        req.socket.destroy();
        return;
      case 'slow-response':
        return delayThenForward(req, res, slowMs);
      default:
        if (options.answerAbortMultipart === true && req.method === 'DELETE' && /[?&]uploadId=/.test(req.url ?? '')) {
          abortsAnswered++;
          req.resume();
          res.writeHead(204);
          res.end();
          return;
        }
        return forward(req, res);
    }
  });
  const listener = await listenOnLoopback(server);

  return {
    endpoint: `http://127.0.0.1:${listener.port}`,
    counts: () => ({
      requests, forwarded, upstreamErrors, held, abortsAnswered, faults: { ...faults }, outage: { ...outage },
      byOperation: Object.fromEntries(S3_OPERATIONS.map((operation) => [operation, { ...byOperation[operation] }])) as FaultCounts['byOperation'],
    }),
    writes: () => writes,
    setUpstream: (next) => {
      upstream = new URL(next);
      agent.destroy();
    },
    setRate: (next) => {
      rate = validRate(next);
      byOperationOn = rate > 0;
    },
    holdFor: (ms) => {
      holdUntil = Math.max(holdUntil, Date.now() + ms);
    },
    outageFor: (ms, mode = 'slow-down-503') => {
      outageMode = mode;
      outageUntil = Math.max(outageUntil, Date.now() + ms);
    },
    inOutage: () => Date.now() < outageUntil,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      agent.destroy();
      await listener.close();
    },
  };
}

/** Path-style URL `/bucket/key?query` to `bucket/key`, decoded the way the SDK encoded it. */
export function objectPath(url: string): string {
  const pathname = url.split('?')[0];
  return pathname.split('/').slice(1).map((segment) => decodeURIComponent(segment)).join('/');
}

function recordWrite(writes: Map<string, Set<string>>, url: string, digest: string): void {
  // Multipart part uploads (?partNumber=) are pieces of one object, not writes of it.
  if (/[?&]partNumber=/.test(url)) return;
  const path = objectPath(url);
  const seen = writes.get(path) ?? new Set<string>();
  seen.add(digest);
  writes.set(path, seen);
}

function validRate(rate: number): number {
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) throw new RangeError(`fault rate must be from 0 to 1, got ${rate}`);
  return rate;
}
