import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through HTTP proxy on 127.0.0.1 in front of the S3-protocol server, counting the worker's requests by
 * method: the only way to count a separate process's S3 calls without touching its code.
 */
export interface CountingProxy {
  readonly endpoint: string;
  counts(): Readonly<Record<string, number>>;
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(upstreamPort: number): Promise<CountingProxy> {
  let counts: Record<string, number> = {};
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const server: Server = createServer((incoming, outgoing) => {
    const method = incoming.method ?? 'UNKNOWN';
    counts[method] = (counts[method] ?? 0) + 1;
    const upstream = request(
      { host: '127.0.0.1', port: upstreamPort, method, path: incoming.url, headers: incoming.headers, agent },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    upstream.on('error', (error) => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end(String(error));
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    reset: () => {
      counts = {};
    },
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
