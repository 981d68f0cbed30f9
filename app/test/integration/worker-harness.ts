import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import S3rver from 's3rver';
import { buildS3Event } from '../../../shared/events/s3-event-shape';
import { LocalQueue } from '../../../shared/queue/local-queue';

/**
 * What the real-process tests share: the esbuild bundle the container runs, an S3-protocol server on 127.0.0.1, a
 * local queue loaded with AWS-shaped events, and the worker started as a child process with its JSON log collected.
 */
export const ROOT = resolve(__dirname, '../../..');
export const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface Harness {
  readonly dir: string;
  readonly bundlePath: string;
  readonly endpoint: string;
  readonly s3: S3Client;
  close(): Promise<void>;
}

export async function startHarness(prefix: string): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const bundlePath = join(dir, 'main.js');
  await build({
    entryPoints: [join(ROOT, 'app/src/main.ts')], outfile: bundlePath, bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    external: ['sharp', 'better-sqlite3'], logLevel: 'error',
  });
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(dir, 's3') });
  const address = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${address.port}`;
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
  return {
    dir, bundlePath, endpoint, s3,
    close: async () => {
      s3.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LoadedRun {
  readonly source: string;
  readonly dest: string;
  readonly queue: LocalQueue;
  readonly queuePath: string;
}

/** Two fresh buckets, the inputs uploaded to the source, one event per input on a fresh queue. */
export async function loadRun(harness: Harness, name: string, inputs: readonly { key: string; body: Buffer }[], maxReceiveCount = 2): Promise<LoadedRun> {
  const source = `${name}-src`;
  const dest = `${name}-dest`;
  await harness.s3.send(new CreateBucketCommand({ Bucket: source }));
  await harness.s3.send(new CreateBucketCommand({ Bucket: dest }));
  const queuePath = join(harness.dir, `${name}.db`);
  const queue = LocalQueue.open(queuePath, { create: { visibilityTimeoutSeconds: 30, maxReceiveCount } });
  const bodies: string[] = [];
  for (const input of inputs) {
    const put = await harness.s3.send(new PutObjectCommand({ Bucket: source, Key: input.key, Body: input.body }));
    bodies.push(buildS3Event([{ bucket: source, key: input.key, size: input.body.length, etag: put.ETag ?? '' }]));
  }
  await queue.sendBatch(bodies);
  return { source, dest, queue, queuePath };
}

export type LogLine = Record<string, unknown>;

export interface RunningWorker {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  readonly exited: Promise<number | null>;
  /** Resolves when the worker logs a line with this message. */
  logged(message: string): Promise<LogLine>;
  stderr(): string;
}

/** Starts the bundle for `run`; `wrap` places it elsewhere first (a memory cgroup). */
export function startWorker(
  harness: Harness,
  run: LoadedRun,
  extraEnv: Record<string, string> = {},
  wrap: (command: string, args: readonly string[]) => { command: string; args: string[] } = (command, args) => ({ command, args: [...args] }),
): RunningWorker {
  const { command, args } = wrap(process.execPath, [harness.bundlePath]);
  const child = spawn(command, args, {
    cwd: harness.dir,
    env: {
      PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), QUEUE_URL: run.queuePath, DEST_BUCKET: run.dest,
      ALLOWED_SOURCE_BUCKETS: run.source, SIZES: '224x224,299x299', WAIT_SECONDS: '1', IDLE_POLLS: '2', CONCURRENCY: '4',
      AWS_ENDPOINT_URL: harness.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Powertools writes warnings and errors to stderr, the rest to stdout: both streams carry JSON log lines.
  const lines: LogLine[] = [];
  const listeners: ((line: LogLine) => void)[] = [];
  let stderr = '';
  const collect = (stream: NodeJS.ReadableStream, raw: (text: string) => void) => {
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) {
        if (!part.startsWith('{')) {
          raw(`${part}\n`);
          continue;
        }
        const line = JSON.parse(part) as LogLine;
        lines.push(line);
        for (const listener of listeners) listener(line);
      }
    });
  };
  collect(child.stdout!, () => undefined);
  collect(child.stderr!, (text) => (stderr += text));
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  const logged = (message: string) =>
    new Promise<LogLine>((resolveLogged) => {
      const seen = lines.find((line) => line.message === message);
      if (seen !== undefined) resolveLogged(seen);
      else listeners.push((line) => line.message === message && resolveLogged(line));
    });
  return { child, lines, exited, logged, stderr: () => stderr };
}
