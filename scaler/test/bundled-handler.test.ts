import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle, runNode, sdkEnvFor, startFakeAwsEndpoint, type FakeAwsEndpoint } from './fakes/fake-aws-endpoint';

/**
 * Runs the esbuild bundle of the Lambda, not the source: it is built into a temp directory with no node_modules above
 * it (so anything left unbundled fails to load), and its handler is invoked once in a separate `node` against a fake
 * SQS/ECS endpoint on 127.0.0.1.
 */
let endpoint: FakeAwsEndpoint;
let bundleDir: string;
let bundlePath: string;

beforeAll(async () => {
  endpoint = await startFakeAwsEndpoint({
    visible: 137,
    inFlight: 5,
    runningTaskArns: ['arn:aws:ecs:eu-west-1:123456789012:task/workers/a', 'arn:aws:ecs:eu-west-1:123456789012:task/workers/b'],
  });
  bundleDir = mkdtempSync(join(tmpdir(), 'scaler-bundle-'));
  bundlePath = join(bundleDir, 'index.js');
  await bundle(join(__dirname, '../src/handler.ts'), bundlePath);
});

afterAll(async () => {
  await endpoint.close();
  rmSync(bundleDir, { recursive: true, force: true });
});

describe('the bundled scaler Lambda', () => {
  it('reads the queue, counts tasks and launches the missing ones with the expected RunTask', async () => {
    const script = `require(${JSON.stringify(bundlePath)}).handler().then(
      (result) => process.stdout.write('HANDLER_RESULT ' + JSON.stringify(result) + '\\n'),
      (error) => { process.stderr.write(String(error && error.stack || error)); process.exitCode = 1; })`;
    const result = await runNode(['-e', script], {
      ...sdkEnvFor(endpoint, bundleDir),
      QUEUE_URL: `${endpoint.url}/123456789012/jobs`,
      CLUSTER: 'workers',
      TASK_FAMILY: 'image-worker',
      SUBNETS: 'subnet-a,subnet-b',
      SECURITY_GROUPS: 'sg-worker',
    }, bundleDir);

    expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stderr: '' });
    const resultLine = result.stdout.split('\n').find((line) => line.startsWith('HANDLER_RESULT '));
    expect(JSON.parse(resultLine?.slice('HANDLER_RESULT '.length) ?? 'null')).toMatchObject({ desired: 10, launch: 8, launched: 8, failures: 0, dryRun: false });

    const { requests } = endpoint;
    expect(requests.find((request) => request.target === 'AmazonSQS.GetQueueAttributes')?.contentType).toBe('application/x-amz-json-1.0');
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
