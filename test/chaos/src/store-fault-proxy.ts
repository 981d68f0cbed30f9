import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, type LoopbackListener } from '../../../local/src/loopback-server';
import { seededRandom } from './seeded-random';

/**
 * What the store proxy can do to one DynamoDB request instead of forwarding it untouched: the answers DynamoDB really
 * gives under trouble (500 InternalServerError, 400 ProvisionedThroughputExceededException), a reset connection, and
 * the nasty one: a BatchWriteItem applied upstream whose answer is replaced by a 500 (written, not acknowledged).
 */
export type StoreFaultKind = 'internal-error-500' | 'throughput-exceeded-400' | 'connection-reset' | 'written-not-acknowledged';
export const STORE_FAULT_KINDS: readonly StoreFaultKind[] = ['internal-error-500', 'throughput-exceeded-400', 'connection-reset', 'written-not-acknowledged'];

/** The calls the batch job and discovery make, by their X-Amz-Target. */
export type StoreOperation = 'BatchGetItem' | 'BatchWriteItem' | 'other';
export const STORE_OPERATIONS: readonly StoreOperation[] = ['BatchGetItem', 'BatchWriteItem', 'other'];

/** How an outage answers: every request a 500, a reset connection, either at random, or throttled (400 PTEE). */
export type StoreOutageMode = 'internal-error-500' | 'connection-reset' | 'mixed' | 'throughput-exceeded-400';

/** A request the chaos run aims at: the lane's worker is killed before the request reaches the store, or once it was applied. */
export interface StoreIntercept {
  readonly when: 'before-forward' | 'after-applied';
  /** Runs synchronously at that moment (a SIGKILL); then the client's connection is reset. */
  readonly act: () => void;
}

export interface StoreFaultProxyOptions {
  readonly upstream: string;
  /**
   * One listener per lane, each its own endpoint: a lane is one worker slot (or discovery), so a request tells which
   * process sent it.
   */
  readonly lanes: readonly string[];
  /** Share of requests that get a random fault (default 0.05); lanes listed in `quietLanes` get none. */
  readonly rate?: number;
  /** A rate for BatchWriteItem calls instead of `rate` (there are fewer of them than lookups). */
  readonly writeRate?: number;
  readonly seed?: number;
  readonly quietLanes?: readonly string[];
  /** A delay before every request of a lane is forwarded (slows discovery down enough to kill it mid-run). */
  readonly laneDelayMs?: Readonly<Record<string, number>>;
  /** The table whose BatchWriteItem puts are recorded (`applied`). */
  readonly resultsTable: string;
  readonly intercept?: (lane: string, operation: StoreOperation) => StoreIntercept | undefined;
}

export interface StoreFaultCounts {
  readonly requests: number;
  readonly forwarded: number;
  readonly faults: Record<StoreFaultKind, number>;
  readonly byOperation: Record<StoreOperation, { readonly requests: number; readonly faults: number }>;
  readonly outage: Record<'internal-error-500' | 'connection-reset' | 'throughput-exceeded-400', number>;
  readonly intercepted: { readonly beforeForward: number; readonly afterApplied: number };
  readonly upstreamErrors: number;
}

export interface StoreFaultProxy {
  /** Endpoint per lane. */
  readonly endpoints: Readonly<Record<string, string>>;
  counts(): StoreFaultCounts;
  /** Per result id, the distinct `scoredAt` of the puts the store applied (a second one is a second scoring). */
  applied(): ReadonlyMap<string, ReadonlySet<string>>;
  setRate(rate: number): void;
  outageFor(ms: number, mode: StoreOutageMode): void;
  /**
   * An outage of `ms` that begins with the next request from a lane other than those given (that request is the first
   * refused): one that began while every worker sat idle would test nothing.
   */
  armOutage(ms: number, mode: StoreOutageMode, exceptLanes?: readonly string[]): void;
  /** When the current or last outage ends (0: none yet), and whether one is armed and not yet begun. */
  outageEndsAt(): number;
  outageArmed(): boolean;
  inOutage(): boolean;
  close(): Promise<void>;
}

const DYNAMODB_ERROR_PREFIX = 'com.amazonaws.dynamodb.v20120810#';

/** DynamoDB's own error body, so the SDK names the error (and retries it) exactly as it would from AWS. */
export function dynamoDbErrorBody(type: string, message: string): string {
  return JSON.stringify({ __type: `${DYNAMODB_ERROR_PREFIX}${type}`, message });
}

export function storeOperationOf(target: string | string[] | undefined): StoreOperation {
  const operation = String(target ?? '').split('.').pop();
  return operation === 'BatchGetItem' || operation === 'BatchWriteItem' ? operation : 'other';
}

/** The ids and scoredAt of the puts a BatchWriteItem body holds for `table`, less those its answer left unprocessed. */
export function appliedPuts(requestBody: string, responseBody: string, table: string): { id: string; scoredAt: string }[] {
  type Put = { PutRequest?: { Item?: { id?: { S?: string }; scoredAt?: { S?: string } } } };
  try {
    const request = JSON.parse(requestBody) as { RequestItems?: Record<string, Put[]> };
    const response = JSON.parse(responseBody || '{}') as { UnprocessedItems?: Record<string, Put[]> };
    const left = new Set((response.UnprocessedItems?.[table] ?? []).map((put) => put.PutRequest?.Item?.id?.S));
    return (request.RequestItems?.[table] ?? [])
      .map((put) => ({ id: put.PutRequest?.Item?.id?.S ?? '', scoredAt: put.PutRequest?.Item?.scoredAt?.S ?? '' }))
      .filter((put) => put.id !== '' && !left.has(put.id));
  } catch {
    return [];
  }
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a DynamoDB-protocol server (dynalite), one listener per lane. Headers go
 * upstream unchanged (SigV4 signs the Host, which dynalite does not check). Every request body is read whole first:
 * DynamoDB requests are small, and the operation and the puts are in it.
 */
export async function startStoreFaultProxy(options: StoreFaultProxyOptions): Promise<StoreFaultProxy> {
  const random = seededRandom(options.seed ?? 1);
  let rate = options.rate ?? 0.05;
  let writeRate = options.writeRate ?? rate;
  const chooseFault = storeFaultChooser(random);
  const upstream = new URL(options.upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const faults: Record<StoreFaultKind, number> = { 'internal-error-500': 0, 'throughput-exceeded-400': 0, 'connection-reset': 0, 'written-not-acknowledged': 0 };
  const byOperation = Object.fromEntries(STORE_OPERATIONS.map((operation) => [operation, { requests: 0, faults: 0 }])) as Record<StoreOperation, { requests: number; faults: number }>;
  const outage = { 'internal-error-500': 0, 'connection-reset': 0, 'throughput-exceeded-400': 0 };
  const intercepted = { beforeForward: 0, afterApplied: 0 };
  let requests = 0;
  let forwarded = 0;
  let upstreamErrors = 0;
  let outageUntil = 0;
  let outageMode: StoreOutageMode = 'mixed';
  let armedOutage: { ms: number; exceptLanes: readonly string[] } | undefined;
  const applied = new Map<string, Set<string>>();
  const timers = new Set<NodeJS.Timeout>();

  const answer = (res: ServerResponse, status: number, type: string, message: string) => {
    const body = dynamoDbErrorBody(type, message);
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': `CHAOS${requests}` });
    res.end(body);
  };
  const throttled = (res: ServerResponse) => answer(res, 400, 'ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.');
  const internal = (res: ServerResponse) => answer(res, 500, 'InternalServerError', 'Internal server error');

  /** Forwards; `then` decides what the client gets once the upstream answered (default: the answer as it is). */
  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, operation: StoreOperation, after?: (status: number) => 'reply' | 'replace-500' | 'reset') => {
    forwarded++;
    const outgoing = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (upstreamRes) => {
      const chunks: Buffer[] = [];
      upstreamRes.on('data', (chunk: Buffer) => chunks.push(chunk));
      upstreamRes.once('end', () => {
        const status = upstreamRes.statusCode ?? 502;
        const responseBody = Buffer.concat(chunks);
        if (operation === 'BatchWriteItem' && status >= 200 && status < 300) {
          for (const put of appliedPuts(body.toString('utf8'), responseBody.toString('utf8'), options.resultsTable)) {
            const seen = applied.get(put.id) ?? new Set<string>();
            seen.add(put.scoredAt);
            applied.set(put.id, seen);
          }
        }
        const next = after?.(status) ?? 'reply';
        if (next === 'reset') return void req.socket.destroy();
        if (next === 'replace-500') return internal(res);
        res.writeHead(status, upstreamRes.headers);
        res.end(responseBody);
      });
    });
    outgoing.on('error', () => {
      upstreamErrors++;
      req.socket.destroy();
    });
    outgoing.end(body);
  };

  const handle = (lane: string, req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    requests++;
    const operation = storeOperationOf(req.headers['x-amz-target']);
    if (armedOutage !== undefined && !armedOutage.exceptLanes.includes(lane)) {
      outageUntil = Date.now() + armedOutage.ms;
      armedOutage = undefined;
    }
    if (Date.now() < outageUntil) {
      const kind = outageMode === 'mixed' ? (random() < 0.5 ? 'internal-error-500' : 'connection-reset') : outageMode;
      outage[kind]++;
      if (kind === 'connection-reset') return void req.socket.destroy();
      return kind === 'throughput-exceeded-400' ? throttled(res) : internal(res);
    }
    byOperation[operation].requests++;
    const aimed = options.intercept?.(lane, operation);
    if (aimed !== undefined) {
      if (aimed.when === 'before-forward') {
        intercepted.beforeForward++;
        aimed.act();
        return void req.socket.destroy();
      }
      return forward(req, res, body, operation, (status) => {
        if (status < 200 || status >= 300) return 'reply';
        intercepted.afterApplied++;
        aimed.act();
        return 'reset';
      });
    }
    const fault = options.quietLanes?.includes(lane) === true ? undefined : chooseFault(operation === 'BatchWriteItem' ? writeRate : rate, operation);
    if (fault !== undefined) {
      faults[fault]++;
      byOperation[operation].faults++;
    }
    switch (fault) {
      case 'internal-error-500':
        return internal(res);
      case 'throughput-exceeded-400':
        return throttled(res);
      case 'connection-reset':
        return void req.socket.destroy();
      case 'written-not-acknowledged':
        return forward(req, res, body, operation, (status) => (status >= 200 && status < 300 ? 'replace-500' : 'reply'));
      default:
        return forward(req, res, body, operation);
    }
  };

  const listeners: LoopbackListener[] = [];
  const endpoints: Record<string, string> = {};
  for (const lane of options.lanes) {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.once('end', () => {
        const delay = options.laneDelayMs?.[lane] ?? 0;
        if (delay <= 0) return handle(lane, req, res, Buffer.concat(chunks));
        const timer = setTimeout(() => {
          timers.delete(timer);
          handle(lane, req, res, Buffer.concat(chunks));
        }, delay);
        timers.add(timer);
      });
    });
    const listener = await listenOnLoopback(server);
    listeners.push(listener);
    endpoints[lane] = `http://127.0.0.1:${listener.port}`;
  }

  return {
    endpoints,
    counts: () => ({
      requests, forwarded, upstreamErrors, faults: { ...faults }, outage: { ...outage }, intercepted: { ...intercepted },
      byOperation: Object.fromEntries(STORE_OPERATIONS.map((operation) => [operation, { ...byOperation[operation] }])) as StoreFaultCounts['byOperation'],
    }),
    applied: () => applied,
    setRate: (next) => {
      rate = next;
      writeRate = next;
    },
    outageFor: (ms, mode) => {
      outageMode = mode;
      outageUntil = Math.max(outageUntil, Date.now() + ms);
    },
    armOutage: (ms, mode, exceptLanes = []) => {
      outageMode = mode;
      armedOutage = { ms, exceptLanes };
    },
    outageEndsAt: () => outageUntil,
    outageArmed: () => armedOutage !== undefined,
    inOutage: () => Date.now() < outageUntil,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      agent.destroy();
      await Promise.all(listeners.map((listener) => listener.close()));
    },
  };
}

/**
 * The fault for one request, or none. Whether a request is faulted is random (seeded); the kind goes round in turn, so
 * that a short run still sees each: a BatchWriteItem's turn over all four kinds (written-not-acknowledged first, the one
 * that matters most), any other call's over the three that apply to it (a reset first: three write faults and two others
 * cover every kind).
 */
export function storeFaultChooser(random: () => number): (rate: number, operation: StoreOperation) => StoreFaultKind | undefined {
  const turns = { write: 0, other: 0 };
  const writeKinds: readonly StoreFaultKind[] = ['written-not-acknowledged', 'internal-error-500', 'throughput-exceeded-400', 'connection-reset'];
  const otherKinds: readonly StoreFaultKind[] = ['connection-reset', 'internal-error-500', 'throughput-exceeded-400'];
  return (rate, operation) => {
    if (random() >= rate) return undefined;
    return operation === 'BatchWriteItem' ? writeKinds[turns.write++ % writeKinds.length] : otherKinds[turns.other++ % otherKinds.length];
  };
}
