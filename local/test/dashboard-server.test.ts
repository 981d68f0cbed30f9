import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { Readable } from 'node:stream';
import { startDashboardServer, type DashboardServer, type DashboardSource } from '../src/dashboard/dashboard-server';
import type { DashboardSnapshot } from '../src/dashboard/dashboard-state';

const SNAPSHOT = { job: 'resize', now: { visible: 3 } } as unknown as DashboardSnapshot;

function fakeSource(): DashboardSource & { redrives: number } {
  const source = {
    redrives: 0,
    snapshot: async () => SNAPSHOT,
    redrive: async () => {
      source.redrives++;
      return 3;
    },
    readOutput: async (key: string) => (key.startsWith('224x224/') ? Readable.from([Buffer.from(`bytes of ${key}`)]) : undefined),
  };
  return source;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(server: DashboardServer, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port: server.port, path, method: options.method ?? 'GET', headers: { Host: `127.0.0.1:${server.port}`, ...options.headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString() }));
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

describe('the dashboard server', () => {
  let source: ReturnType<typeof fakeSource>;
  let server: DashboardServer;
  beforeEach(async () => {
    source = fakeSource();
    server = await startDashboardServer(source, { port: 0 });
  });
  afterEach(() => server.close());

  it('serves the page, its script and uPlot from node_modules on 127.0.0.1 with a CSP that allows only itself', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    const page = await send(server, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'self'; img-src 'self'/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.body).toContain('<script src="/uplot.js" defer></script>');
    const uplot = await send(server, '/uplot.js');
    expect(uplot).toMatchObject({ status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8' } });
    expect(uplot.body).toContain('uPlot');
    expect((await send(server, '/uplot.css')).status).toBe(200);
    expect((await send(server, '/dashboard.js')).body).toContain("fetch('/api/snapshot'");
  });

  it('answers the snapshot as JSON that is never cached', async () => {
    const answer = await send(server, '/api/snapshot');
    expect(answer.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    expect(JSON.parse(answer.body)).toEqual(SNAPSHOT);
  });

  it('refuses a request under a foreign Host name (DNS rebinding), whatever it asks for', async () => {
    for (const path of ['/', '/api/snapshot', '/output?key=224x224%2Fa.jpg']) {
      const answer = await send(server, path, { headers: { Host: `rebound.example:${server.port}` } });
      expect(answer.status).toBe(403);
      expect(answer.body).not.toContain('bytes of');
    }
    expect((await send(server, '/', { headers: { Host: `localhost:${server.port}` } })).status).toBe(200);
  });

  it('redrives only for a same-origin JSON POST', async () => {
    const origin = `http://127.0.0.1:${server.port}`;
    expect((await send(server, '/api/redrive')).status).toBe(405);
    const refused: { method: string; headers: Record<string, string> }[] = [
      { method: 'POST', headers: { 'Content-Type': 'application/json' } },
      { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'https://evil.example' } },
      { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: origin } },
      { method: 'POST', headers: { 'Content-Type': 'text/plain', Origin: origin } },
    ];
    for (const attempt of refused) {
      expect((await send(server, '/api/redrive', { ...attempt, body: '{}' })).status).toBe(403);
    }
    expect(source.redrives).toBe(0);
    const answer = await send(server, '/api/redrive', { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: origin }, body: '{}' });
    expect({ status: answer.status, body: JSON.parse(answer.body), redrives: source.redrives }).toEqual({ status: 200, body: { moved: 3 }, redrives: 1 });
  });

  it('serves an output by key, an image inline and anything else as an attachment, never sniffed', async () => {
    const image = await send(server, `/output?key=${encodeURIComponent('224x224/cats/写真/neko 1.jpg')}`);
    expect(image).toMatchObject({ status: 200, body: 'bytes of 224x224/cats/写真/neko 1.jpg', headers: { 'content-type': 'image/jpeg', 'x-content-type-options': 'nosniff' } });
    const svg = await send(server, `/output?key=${encodeURIComponent('224x224/x.svg')}`);
    expect(svg.headers).toMatchObject({ 'content-type': 'application/octet-stream', 'content-disposition': expect.stringMatching(/^attachment;/) });
  });

  it('refuses a key that is no output of the run or no safe key at all', async () => {
    expect((await send(server, `/output?key=${encodeURIComponent('source/photo.jpg')}`)).status).toBe(404);
    expect((await send(server, `/output?key=${encodeURIComponent('224x224/../../etc/passwd')}`)).status).toBe(400);
    expect((await send(server, '/output')).status).toBe(400);
    expect((await send(server, '/nothing-here')).status).toBe(404);
  });
});

describe('the dashboard port', () => {
  let blocker: Server;
  afterEach(() => new Promise<void>((resolve) => (blocker?.listening ? blocker.close(() => resolve()) : resolve())));

  it('falls back to a free port when the one asked for is taken, and says so', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    const server = await startDashboardServer(fakeSource(), { port: taken });
    try {
      expect(server.fellBack).toBe(true);
      expect(server.port).not.toBe(taken);
      expect((await send(server, '/')).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('refuses a port that is no port, naming the flag', async () => {
    await expect(startDashboardServer(fakeSource(), { port: 70000 })).rejects.toThrow(/--ui-port="70000" is invalid/);
    await expect(startDashboardServer(fakeSource(), { port: 1.5 })).rejects.toThrow(/--ui-port/);
  });
});
