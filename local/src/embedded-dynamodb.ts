import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EmbeddedDynamoDb {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * The local stand-in for DynamoDB: dynalite (a DynamoDB-protocol server in JavaScript, no Java needed on a laptop)
 * on 127.0.0.1, kept on disk under `dir` so results and the discovery watermark survive a rerun, as a table would.
 */
export async function startEmbeddedDynamoDb(dir: string): Promise<EmbeddedDynamoDb> {
  mkdirSync(dir, { recursive: true });
  // Loaded only by a run that needs it: dynalite is a development dependency, never in the worker image. It ships no
  // types; its factory returns an http.Server.
  const dynalite = require('dynalite') as (options: { path: string; createTableMs: number; deleteTableMs: number; updateTableMs: number }) => Server;
  const server = dynalite({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
