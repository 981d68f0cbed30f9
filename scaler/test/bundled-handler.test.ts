import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle, runNode, sdkEnvFor, startFakeAwsEndpoint, type FakeAwsEndpoint, type FakeAwsState } from './fakes/fake-aws-endpoint';

/**
 * Runs the esbuild bundle of the Lambda, not the source: it is built into a temp directory with no node_modules above
 * it (so anything left unbundled fails to load), and its handler is invoked once in a separate `node` against a fake
 * SQS/ECS/SSM endpoint on 127.0.0.1.
 */
const WORKER_IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/image-worker:3f9c2ab';
const BOOTSTRAP_IMAGE = 'public.ecr.aws/docker/library/node:22-slim';
let bundleDir: string;
let bundlePath: string;
const endpoints: FakeAwsEndpoint[] = [];

beforeAll(async () => {
  bundleDir = mkdtempSync(join(tmpdir(), 'scaler-bundle-'));
  bundlePath = join(bundleDir, 'index.js');
  await bundle(join(__dirname, '../src/handler.ts'), bundlePath);
});

afterAll(async () => {
  await Promise.all(endpoints.map((endpoint) => endpoint.close()));
  rmSync(bundleDir, { recursive: true, force: true });
});

/** Starts a fake endpoint with `state`, invokes the bundled handler once with 40 s left, and returns what it saw. */
async function invoke(state: FakeAwsState) {
  const endpoint = await startFakeAwsEndpoint(state);
  endpoints.push(endpoint);
  const script = `require(${JSON.stringify(bundlePath)}).handler({}, { getRemainingTimeInMillis: () => 40000 }).then(
    (result) => process.stdout.write('HANDLER_RESULT ' + JSON.stringify(result) + '\\n'),
    (error) => { process.stderr.write(String(error && error.stack || error)); process.exitCode = 1; })`;
  const result = await runNode(['-e', script], {
    ...sdkEnvFor(endpoint, bundleDir),
    QUEUE_URL: `${endpoint.url}/123456789012/jobs`,
    CLUSTER: 'workers',
    TASK_FAMILY: 'image-worker',
    SUBNETS: 'subnet-a,subnet-b',
    SECURITY_GROUPS: 'sg-worker',
    IMAGE_PARAMETER: '/image-worker/worker-image',
  }, bundleDir);
  expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stderr: '' });
  const resultLine = result.stdout.split('\n').find((line) => line.startsWith('HANDLER_RESULT '));
  const jsonLines = result.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { handlerResult: JSON.parse(resultLine?.slice('HANDLER_RESULT '.length) ?? 'null') as Record<string, unknown>, requests: endpoint.requests, jsonLines };
}

const targets = (requests: FakeAwsEndpoint['requests']) => requests.map((request) => request.target.split('.')[1]);

describe('the bundled scaler Lambda', () => {
  it('reads the queue, counts tasks, checks the image and the recent tasks, and launches the missing ones with the expected RunTask', async () => {
    const { handlerResult, requests, jsonLines } = await invoke({
      visible: 137,
      inFlight: 5,
      runningTaskArns: ['arn:aws:ecs:eu-west-1:123456789012:task/workers/a', 'arn:aws:ecs:eu-west-1:123456789012:task/workers/b'],
      image: WORKER_IMAGE,
    });

    expect(handlerResult).toMatchObject({ desired: 10, launch: 8, launched: 8, failures: 0, dryRun: false });
    expect(requests.find((request) => request.target === 'AmazonSQS.GetQueueAttributes')?.contentType).toBe('application/x-amz-json-1.0');
    expect(requests.find((request) => request.target === 'AmazonSSM.GetParameter')?.body).toEqual({ Name: '/image-worker/worker-image' });
    expect(requests.filter((request) => request.target.endsWith('.ListTasks')).map((request) => request.body)).toEqual([
      expect.objectContaining({ cluster: 'workers', family: 'image-worker', desiredStatus: 'RUNNING' }),
      expect.objectContaining({ cluster: 'workers', family: 'image-worker', desiredStatus: 'STOPPED', maxResults: 100 }),
      expect.objectContaining({ cluster: 'workers', family: 'image-worker', desiredStatus: 'RUNNING', maxResults: 100 }),
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

    // The decision line, the launch line and the EMF document all reach the function's log stream (stdout).
    expect(jsonLines.filter((line) => line.message === 'scaling decision')).toEqual([expect.objectContaining({ launch: 8, crashLoop: 'ok', image: WORKER_IMAGE })]);
    expect(jsonLines.filter((line) => line.message === 'launch report')).toEqual([expect.objectContaining({ launch: 8, launched: 8 })]);
    expect(jsonLines.find((line) => '_aws' in line)).toMatchObject({ QueueVisible: 137, RunningTasks: 2, TasksLaunched: 8, CrashLoopBackoff: 0, WaitingForImage: 0 });
  });

  it('launches nothing while the image parameter still names the bootstrap image', async () => {
    const { handlerResult, requests, jsonLines } = await invoke({ visible: 1, inFlight: 0, runningTaskArns: [], image: BOOTSTRAP_IMAGE });

    expect(handlerResult).toMatchObject({ launch: 0, launched: 0, heldBy: 'bootstrap-image' });
    expect(targets(requests)).toEqual(['GetQueueAttributes', 'ListTasks', 'GetParameter']);
    expect(jsonLines.find((line) => '_aws' in line)).toMatchObject({ WaitingForImage: 1, TasksLaunched: 0 });
  });

  it('backs off when the recent tasks of the image crashed at start, reading them as DescribeTasks sends them', async () => {
    const now = Date.now() / 1000;
    const crashed = Array.from({ length: 4 }, (_, i) => ({
      taskArn: `arn:aws:ecs:eu-west-1:123456789012:task/workers/crashed${i}`,
      lastStatus: 'STOPPED', desiredStatus: 'STOPPED', group: 'family:image-worker',
      createdAt: now - 100, pullStartedAt: now - 80, startedAt: now - 60, executionStoppedAt: now - 58, stoppingAt: now - 58, stoppedAt: now - 50,
      stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited',
      containers: [{ name: 'worker', image: WORKER_IMAGE, lastStatus: 'STOPPED', exitCode: 2 }],
    }));
    const { handlerResult, requests, jsonLines } = await invoke({ visible: 400, inFlight: 0, runningTaskArns: [], image: WORKER_IMAGE, stoppedTasks: crashed });

    expect(handlerResult).toMatchObject({ launch: 0, launched: 0, heldBy: 'crash-loop' });
    expect(requests.filter((request) => request.target.endsWith('.RunTask'))).toEqual([]);
    const decision = jsonLines.find((line) => line.message === 'scaling decision');
    expect(decision).toMatchObject({ wanted: 10, launch: 0, crashLoop: 'backing-off', startFailures: 4 });
    expect((decision?.reasons as string[]).at(-1)).toMatch(/^crash loop: the last 4 stopped tasks failed at start \(exit 2 x4\)/);
    expect(jsonLines.find((line) => '_aws' in line)).toMatchObject({ CrashLoopBackoff: 1, StartFailures: 4 });
  });
});
