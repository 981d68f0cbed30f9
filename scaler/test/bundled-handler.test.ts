import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * Runs the esbuild bundle of the Lambda, not the source: the bundle is built with build.mjs's options into a temp
 * directory with no node_modules above it (so anything left unbundled fails to load), then its handler is invoked once
 * in a separate `node` against a fake SQS/ECS endpoint on 127.0.0.1.
 */
interface RecordedRequest {
  readonly target: string;
  readonly contentType: string;
  readonly body: Record<string, unknown>;
}

const requests: RecordedRequest[] = [];
let server: Server;
let endpoint: string;
let bundleDir: string;
let bundlePath: string;

function respond(target: string, body: Record<string, unknown>): { status?: number; contentType: string; payload: unknown } {
  switch (target) {
    case 'AmazonSQS.GetQueueAttributes':
      return {
        contentType: 'application/x-amz-json-1.0',
        payload: { Attributes: { ApproximateNumberOfMessages: '137', ApproximateNumberOfMessagesNotVisible: '5', ApproximateNumberOfMessagesDelayed: '0' } },
      };
    case 'AmazonEC2ContainerServiceV20141113.ListTasks':
      return { contentType: 'application/x-amz-json-1.1', payload: { taskArns: ['arn:aws:ecs:eu-west-1:123456789012:task/workers/a', 'arn:aws:ecs:eu-west-1:123456789012:task/workers/b'] } };
    case 'AmazonEC2ContainerServiceV20141113.RunTask': {
      const count = Number(body.count);
      const tasks = Array.from({ length: count }, (_, i) => ({ taskArn: `arn:aws:ecs:eu-west-1:123456789012:task/workers/new-${i}`, capacityProviderName: 'FARGATE_SPOT' }));
      return { contentType: 'application/x-amz-json-1.1', payload: { tasks, failures: [] } };
    }
    default:
      return { status: 400, contentType: 'application/x-amz-json-1.1', payload: { __type: 'UnknownOperationException', message: target } };
  }
}

function targetOf(headers: IncomingHttpHeaders): string {
  return String(headers['x-amz-target'] ?? '');
}

function runBundledHandler(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `require(${JSON.stringify(bundlePath)}).handler().then(
    (result) => process.stdout.write('HANDLER_RESULT ' + JSON.stringify(result) + '\\n'),
    (error) => { process.stderr.write(String(error && error.stack || error)); process.exitCode = 1; })`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { env, cwd: bundleDir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = targetOf(req.headers);
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      requests.push({ target, contentType: String(req.headers['content-type']), body });
      const { status = 200, contentType, payload } = respond(target, body);
      res.writeHead(status, { 'content-type': contentType });
      res.end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  bundleDir = mkdtempSync(join(tmpdir(), 'scaler-bundle-'));
  bundlePath = join(bundleDir, 'index.js');
  await build({
    entryPoints: [join(__dirname, '../src/handler.ts')],
    outfile: bundlePath,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: ['sharp', 'better-sqlite3'],
    logLevel: 'silent',
  });
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(bundleDir, { recursive: true, force: true });
});

describe('the bundled scaler Lambda', () => {
  it('reads the queue, counts tasks and launches the missing ones with the expected RunTask', async () => {
    const result = await runBundledHandler({
      PATH: process.env.PATH,
      HOME: bundleDir,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret-for-tests',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL_SQS: endpoint,
      AWS_ENDPOINT_URL_ECS: endpoint,
      QUEUE_URL: `${endpoint}/123456789012/jobs`,
      CLUSTER: 'workers',
      TASK_FAMILY: 'image-worker',
      SUBNETS: 'subnet-a,subnet-b',
      SECURITY_GROUPS: 'sg-worker',
    });

    expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stderr: '' });
    const resultLine = result.stdout.split('\n').find((line) => line.startsWith('HANDLER_RESULT '));
    expect(JSON.parse(resultLine?.slice('HANDLER_RESULT '.length) ?? 'null')).toMatchObject({ desired: 10, launch: 8, launched: 8, failures: 0, dryRun: false });

    const sqsCall = requests.find((request) => request.target === 'AmazonSQS.GetQueueAttributes');
    expect(sqsCall?.contentType).toBe('application/x-amz-json-1.0');
    expect(requests.filter((request) => request.target.endsWith('.ListTasks')).map((request) => request.body)).toEqual([
      expect.objectContaining({ cluster: 'workers', family: 'image-worker', desiredStatus: 'RUNNING' }),
    ]);
    const runTasks = requests.filter((request) => request.target.endsWith('.RunTask'));
    expect(runTasks).toHaveLength(1);
    expect(runTasks[0]?.contentType).toBe('application/x-amz-json-1.1');
    expect(runTasks[0]?.body).toMatchObject({
      cluster: 'workers',
      taskDefinition: 'image-worker',
      count: 8,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 4 }, { capacityProvider: 'FARGATE', weight: 1 }],
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-worker'], assignPublicIp: 'DISABLED' } },
      startedBy: 's3-queue-scaler',
    });

    // The decision line and the EMF document both reach the function's log stream (stdout).
    const jsonLines = result.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(jsonLines.filter((line) => line.message === 'scaling decision')).toEqual([expect.objectContaining({ launch: 8, launched: 8 })]);
    expect(jsonLines.find((line) => '_aws' in line)).toMatchObject({ QueueVisible: 137, RunningTasks: 2, TasksLaunched: 8 });
  });
});
