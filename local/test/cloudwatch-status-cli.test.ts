import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { busyHour } from './factories';

/**
 * `npm run status -- --aws` as an operator runs it: the bundled CLI and the real SDK clients, pointed by
 * AWS_ENDPOINT_URL_<SERVICE> at a stand-in on 127.0.0.1 that answers SQS, ECS and CloudWatch in their JSON protocols.
 */
const ROOT = resolve(__dirname, '..', '..');
let dir: string;
let server: Server;
let endpoint: string;
/** The SQS client sends to the queue URL's host, so the queues live on the stand-in too. */
const queueUrl = (name: string) => `${endpoint}/123456789012/${name}`;
let answerMetrics: (body: { StartTime: number; MetricDataQueries: { Id: string }[] }, response: ServerResponse) => void;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'status-cli-'));
  await build({ entryPoints: [join(ROOT, 'local/src/cli.ts')], outfile: join(dir, 'cli.js'), bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['sharp', 'better-sqlite3', 'dynalite'], logLevel: 'error' });
  server = createServer((request, response) => void answer(request, response));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await new Promise((done) => server.close(done));
  rmSync(dir, { recursive: true, force: true });
});

async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
  const target = String(request.headers['x-amz-target'] ?? '');
  const json = (status: number, payload: unknown) => {
    response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(payload));
  };
  if (target === 'AmazonSQS.GetQueueAttributes') {
    const dead = body.QueueUrl === queueUrl('blueprint-dlq');
    return json(200, { Attributes: { ApproximateNumberOfMessages: dead ? '5' : '120', ApproximateNumberOfMessagesNotVisible: dead ? '0' : '30', ApproximateNumberOfMessagesDelayed: '0' } });
  }
  if (target.endsWith('.ListTasks')) return json(200, { taskArns: ['arn:aws:ecs:eu-west-1:123456789012:task/blueprint/1'] });
  if (target.endsWith('.GetMetricData')) return answerMetrics(body as never, response);
  json(400, { __type: 'UnknownOperationException', message: target });
}

function runStatus(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(dir, 'cli.js'), 'status', '--aws', ...args], {
    env: {
      PATH: process.env.PATH, NODE_PATH: join(ROOT, 'node_modules'), NODE_NO_WARNINGS: '1', HOME: dir, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_MAX_ATTEMPTS: '1',
      AWS_ENDPOINT_URL_SQS: endpoint, AWS_ENDPOINT_URL_ECS: endpoint, AWS_ENDPOINT_URL_CLOUDWATCH: endpoint,
      QUEUE_URL: queueUrl('blueprint-work'), DLQ_URL: queueUrl('blueprint-dlq'), CLUSTER: 'blueprint', TASK_FAMILY: 'blueprint-worker',
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

describe('npm run status -- --aws', () => {
  it('prints the counts, then the last hour from CloudWatch, through the real SDK', async () => {
    const hour = busyHour();
    answerMetrics = (body, response) => {
      const results = body.MetricDataQueries.map(({ Id }) => {
        const points = hour[Id as keyof typeof hour].flatMap((value, minute) => (value === null ? [] : [{ at: body.StartTime + minute * 60, value }])).reverse();
        return { Id, Label: Id, StatusCode: 'Complete', Timestamps: points.map((point) => point.at), Values: points.map((point) => point.value) };
      });
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify({ MetricDataResults: results }));
    };
    const { code, stdout, stderr } = await runStatus();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe('aws: queue visible 120, in flight 30, delayed 0, DLQ 5, running tasks 1');
    const chart = lines.findIndex((line) => line.startsWith('CloudWatch, last hour'));
    expect(chart).toBeGreaterThan(0);
    expect(lines[chart + 1]).toMatch(/^ {2}processed +·{20}[▁-█]{38}·{2} {2}min 0 {2}max 48 {2}last \d+ images\/min/);
    expect(lines[chart + 2]).toMatch(/^ {2}oldest message +[▁-█]{60} .*rising/);
    expect(lines[chart + 3]).toMatch(/^ {2}DLQ +▁{30}[▂-█]{30} .*GROWING 0 → 5/);
    expect(lines[chart + 4]).toContain('S3QueueWorker/ImagesProcessed');
  }, 30_000);

  it('with --json, carries the per-minute numbers with their timestamps', async () => {
    answerMetrics = (body, response) => {
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify({
        MetricDataResults: [{ Id: 'deadLetters', StatusCode: 'Complete', Timestamps: [body.StartTime + 59 * 60], Values: [5] }],
      }));
    };
    const { code, stdout } = await runStatus('--json');
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout) as { visible: number; cloudWatch: { status: string; from: string; series: { id: string; minutes: { at: string; value: number | null }[] }[] } };
    expect(parsed.visible).toBe(120);
    expect(parsed.cloudWatch.status).toBe('read');
    const dlq = parsed.cloudWatch.series.find((series) => series.id === 'deadLetters')!;
    expect(dlq.minutes).toHaveLength(60);
    expect(dlq.minutes[0]!.at).toBe(parsed.cloudWatch.from);
    expect(dlq.minutes[59]!.value).toBe(5);
    expect(dlq.minutes[58]!.value).toBeNull();
  }, 30_000);

  it('still prints the counts and exits 0 when CloudWatch refuses, naming the missing permission', async () => {
    answerMetrics = (_body, response) => {
      response.writeHead(403, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': 'AccessDenied;Sender' }).end(JSON.stringify({
        __type: 'com.amazonaws.cloudwatch#AccessDeniedException', message: 'User: arn:aws:iam::123456789012:user/ops is not authorized to perform: cloudwatch:GetMetricData',
      }));
    };
    const { code, stdout } = await runStatus();
    expect(code).toBe(0);
    expect(stdout).toContain('aws: queue visible 120, in flight 30, delayed 0, DLQ 5, running tasks 1');
    expect(stdout).toMatch(/CloudWatch metrics not shown: CloudWatch refused GetMetricData \(AccessDenied\w*\): these credentials need cloudwatch:GetMetricData/);
  }, 30_000);
});
