import type { AddressInfo, Server, Socket } from 'node:net';

export interface LoopbackListener {
  readonly port: number;
  /** Stops listening and ends every open connection at once (keep-alive sockets would hold close() for seconds). */
  close(): Promise<void>;
}

/**
 * Starts an HTTP server of the local world on 127.0.0.1 only (never another interface), keeping track of its
 * connections so that closing it is immediate. A client's malformed request ends that client's socket, not the server.
 */
export async function listenOnLoopback(server: Server, port = 0): Promise<LoopbackListener> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error: Error, socket: Socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
