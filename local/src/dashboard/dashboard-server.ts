import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError } from '../../../shared/errors';
import { listenOnLoopback, type LoopbackListener } from '../loopback-server';
import { PAGE_CSS, PAGE_HTML, PAGE_SCRIPT } from './dashboard-page';
import { isAllowedHost, outputHeaders, outputKeyProblem, refusedWrite, SECURITY_HEADERS } from './dashboard-security';
import type { DashboardSnapshot } from './dashboard-state';

/** What the server shows and does; the pipeline provides it. */
export interface DashboardSource {
  snapshot(): Promise<DashboardSnapshot>;
  /** Moves every dead letter of the run back to its queue; how many moved. */
  redrive(): Promise<number>;
  /** An output's bytes, or undefined when the key is not one of the run's outputs. */
  readOutput(key: string): Promise<Readable | undefined>;
}

export interface DashboardServer {
  readonly url: string;
  readonly port: number;
  /** The port asked for was taken and an ephemeral one is used instead. */
  readonly fellBack: boolean;
  close(): Promise<void>;
}

/** Next to the local S3 server's 4568, easy to remember and to bookmark. */
export const DEFAULT_DASHBOARD_PORT = 4569;

/**
 * The dashboard on 127.0.0.1 only: the page, its script and styles, uPlot from node_modules (there is no CDN to
 * rely on), the snapshot as JSON, the redrive, and the run's outputs. A taken port falls back to an ephemeral one.
 */
export async function startDashboardServer(source: DashboardSource, options: { port: number }): Promise<DashboardServer> {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new ConfigError(`--ui-port="${options.port}" is invalid: expected a port number from 0 to 65535`);
  }
  const assets = staticAssets();
  let port = 0;
  const serve = () => createServer((request, response) => {
    handle(request, response, source, assets, port).catch((error: unknown) => fail(response, 500, error instanceof Error ? error.message : String(error)));
  });
  let fellBack = false;
  let listener: LoopbackListener;
  try {
    listener = await listenOnLoopback(serve(), options.port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || options.port === 0) throw error;
    fellBack = true;
    listener = await listenOnLoopback(serve(), 0);
  }
  port = listener.port;
  return { url: `http://127.0.0.1:${port}/`, port, fellBack, close: () => listener.close() };
}

interface Asset {
  readonly type: string;
  readonly body: string | Buffer;
}

function staticAssets(): ReadonlyMap<string, Asset> {
  const uplot = (file: string) => {
    try {
      return readFileSync(require.resolve(`uplot/dist/${file}`));
    } catch {
      throw new Error(`the dashboard's charts need the uplot package (node_modules/uplot/dist/${file}); install the dependencies or pass --no-ui`);
    }
  };
  return new Map<string, Asset>([
    ['/', { type: 'text/html; charset=utf-8', body: PAGE_HTML }],
    ['/dashboard.js', { type: 'text/javascript; charset=utf-8', body: PAGE_SCRIPT }],
    ['/dashboard.css', { type: 'text/css; charset=utf-8', body: PAGE_CSS }],
    ['/uplot.js', { type: 'text/javascript; charset=utf-8', body: uplot('uPlot.iife.min.js') }],
    ['/uplot.css', { type: 'text/css; charset=utf-8', body: uplot('uPlot.min.css') }],
  ]);
}

async function handle(request: IncomingMessage, response: ServerResponse, source: DashboardSource, assets: ReadonlyMap<string, Asset>, port: number): Promise<void> {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
  // No route uses a body (the redrive's only makes it a JSON request), but each is read to its end before the answer:
  // a connection whose request is still arriving is closed rather than reused, and the client would see it hang up.
  await drained(request);
  if (!isAllowedHost(request.headers.host, port)) return fail(response, 403, `unknown Host: open http://127.0.0.1:${port}/`);
  const url = new URL(request.url ?? '/', `http://127.0.0.1:${port}`);
  const asset = assets.get(url.pathname);
  if (asset !== undefined) {
    if (request.method !== 'GET' && request.method !== 'HEAD') return notAllowed(response, 'GET, HEAD');
    response.writeHead(200, { 'Content-Type': asset.type, 'Cache-Control': 'no-cache' });
    response.end(request.method === 'HEAD' ? undefined : asset.body);
    return;
  }
  if (url.pathname === '/api/snapshot') {
    if (request.method !== 'GET') return notAllowed(response, 'GET');
    return json(response, 200, await source.snapshot());
  }
  if (url.pathname === '/api/redrive') {
    if (request.method !== 'POST') return notAllowed(response, 'POST');
    const refused = refusedWrite({ origin: request.headers.origin, contentType: request.headers['content-type'] }, port);
    if (refused !== undefined) return fail(response, 403, refused);
    return json(response, 200, { moved: await source.redrive() });
  }
  if (url.pathname === '/output') {
    if (request.method !== 'GET') return notAllowed(response, 'GET');
    const key = url.searchParams.get('key') ?? '';
    const problem = outputKeyProblem(key);
    if (problem !== undefined) return fail(response, 400, problem);
    const body = await source.readOutput(key);
    if (body === undefined) return fail(response, 404, 'no such output in this run');
    response.writeHead(200, { ...outputHeaders(key), 'Cache-Control': 'no-cache' });
    await pipeline(body, response).catch(() => response.destroy());
    return;
  }
  fail(response, 404, 'not found');
}

const MAX_BODY_BYTES = 64 * 1024;

function drained(request: IncomingMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_BODY_BYTES) request.destroy(new Error('request body too large'));
    });
    request.on('end', resolve);
    request.on('error', reject);
  });
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  response.end(JSON.stringify(body));
}

function fail(response: ServerResponse, status: number, message: string): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  json(response, status, { error: message });
}

function notAllowed(response: ServerResponse, allow: string): void {
  response.setHeader('Allow', allow);
  fail(response, 405, `method not allowed (allowed: ${allow})`);
}
