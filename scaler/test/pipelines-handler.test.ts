import { DescribeTasksCommand, ECSClient, ListTasksCommand, RunTaskCommand, type RunTaskCommandInput } from '@aws-sdk/client-ecs';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../src/handler';

/**
 * The Lambda handler with PIPELINES: one run decides for every pipeline, each with its own queue, family, rule,
 * strategy and image gate, logged with its name; one pipeline failing leaves the others to launch, and the run fails
 * only once all were tried. AWS is mocked at the SDK boundary.
 */
const sqsMock = mockClient(SQSClient);
const ecsMock = mockClient(ECSClient);
const ssmMock = mockClient(SSMClient);

const IMAGES_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/s3-queue-jobs';
const GEO_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/s3-queue-geojson-jobs';
const WORKER_IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/s3-queue-worker:3f9c2ab';
const GEO_IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/s3-queue-geojson:3f9c2ab';
const BOOTSTRAP_IMAGE = 'public.ecr.aws/docker/library/node:22-slim';
const GEO_RUNNING = 'arn:aws:ecs:eu-west-1:123456789012:task/workers/geo-1';
const PIPELINES = [
  {
    name: 'images', queueUrl: IMAGES_QUEUE, taskFamily: 's3-queue-worker', maxTasks: 10, messagesPerTask: 10,
    capacityProviderStrategy: 'FARGATE_SPOT:4,FARGATE:1', imageParameter: '/s3-queue/worker-image',
  },
  {
    name: 'geojson', queueUrl: GEO_QUEUE, taskFamily: 's3-queue-geojson-worker', maxTasks: 5, messagesPerTask: 2,
    capacityProviderStrategy: 'FARGATE_SPOT:1,FARGATE:1:1', imageParameter: '/s3-queue/geojson-image',
  },
];

const depth = (visible: number) => ({ Attributes: { ApproximateNumberOfMessages: String(visible), ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' } });
let logLines: Record<string, unknown>[];
let savedEnv: NodeJS.ProcessEnv;

beforeEach(() => {
  savedEnv = process.env;
  process.env = {
    ...savedEnv, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret-for-tests',
    CLUSTER: 'workers', SUBNETS: 'subnet-a,subnet-b', SECURITY_GROUPS: 'sg-worker', BOOTSTRAP_IMAGE, PIPELINES: JSON.stringify(PIPELINES),
  };
  for (const name of ['QUEUE_URL', 'TASK_FAMILY', 'MAX_TASKS', 'MESSAGES_PER_TASK', 'IMAGE_PARAMETER', 'CAPACITY_PROVIDER_STRATEGY']) delete process.env[name];
  sqsMock.reset();
  ecsMock.reset();
  ssmMock.reset();
  // images: 25 visible, none running -> 3; geojson: 20 visible at 2 per task -> 10, capped at 5, one running -> 4.
  sqsMock.on(GetQueueAttributesCommand, { QueueUrl: IMAGES_QUEUE }).resolves(depth(25));
  sqsMock.on(GetQueueAttributesCommand, { QueueUrl: GEO_QUEUE }).resolves(depth(20));
  ecsMock.on(ListTasksCommand).resolves({ taskArns: [] });
  ecsMock.on(ListTasksCommand, { family: 's3-queue-geojson-worker', desiredStatus: 'RUNNING' }).resolves({ taskArns: [GEO_RUNNING] });
  const hourAgo = new Date(Date.now() - 3600_000);
  ecsMock.on(DescribeTasksCommand).resolves({
    tasks: [{ taskArn: GEO_RUNNING, lastStatus: 'RUNNING', desiredStatus: 'RUNNING', createdAt: hourAgo, startedAt: hourAgo, containers: [{ name: 'worker', image: GEO_IMAGE }] }],
  });
  ssmMock.on(GetParameterCommand, { Name: '/s3-queue/worker-image' }).resolves({ Parameter: { Value: WORKER_IMAGE } });
  ssmMock.on(GetParameterCommand, { Name: '/s3-queue/geojson-image' }).resolves({ Parameter: { Value: GEO_IMAGE } });
  ecsMock.on(RunTaskCommand).callsFake((input: RunTaskCommandInput) => ({
    tasks: Array.from({ length: input.count ?? 1 }, (_, i) => ({ taskArn: `arn:aws:ecs:eu-west-1:123456789012:task/workers/${input.taskDefinition}-${i}`, capacityProviderName: 'FARGATE_SPOT' })),
    failures: [],
  }));
  logLines = [];
  const capture = (chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n').filter((l) => l.startsWith('{'))) logLines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  };
  // Powertools writes INFO lines and EMF to stdout, WARN and ERROR to stderr.
  jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  jest.spyOn(process.stderr, 'write').mockImplementation(capture);
});

afterEach(() => {
  process.env = savedEnv;
  jest.restoreAllMocks();
});

/** The handler reads its configuration once per cold start; every test here gives it the same PIPELINES. */
const invoke = () => handler({}, { getRemainingTimeInMillis: () => 40_000 });
const decisions = () => logLines.filter((line) => line.message === 'scaling decision');

it('decides for both pipelines in one run and launches each family its own count, on its own strategy', async () => {
  const result = await invoke();

  expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 2);
  expect(ecsMock).toHaveReceivedCommandWith(RunTaskCommand, {
    cluster: 'workers', taskDefinition: 's3-queue-worker', count: 3,
    capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 4 }, { capacityProvider: 'FARGATE', weight: 1 }],
  });
  expect(ecsMock).toHaveReceivedCommandWith(RunTaskCommand, {
    cluster: 'workers', taskDefinition: 's3-queue-geojson-worker', count: 4,
    capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }, { capacityProvider: 'FARGATE', weight: 1, base: 1 }],
  });
  expect(ecsMock).toHaveReceivedCommandWith(ListTasksCommand, { family: 's3-queue-geojson-worker', desiredStatus: 'RUNNING' });
  expect(result).toEqual({
    pipelines: [
      expect.objectContaining({ name: 'images', desired: 3, launch: 3, launched: 3, failures: 0 }),
      expect.objectContaining({ name: 'geojson', desired: 5, launch: 4, launched: 4, failures: 0 }),
    ],
  });
  expect(decisions().map((line) => [line.pipeline, line.visible, line.running, line.launch])).toEqual(expect.arrayContaining([['images', 25, 0, 3], ['geojson', 20, 1, 4]]));
  expect(decisions()).toHaveLength(2);
  // Each pipeline's metrics carry its name, so each has its own crash-loop alarm and dashboard lines.
  const emf = logLines.filter((line) => line._aws !== undefined);
  expect(emf.map((line) => line.pipeline).sort()).toEqual(['geojson', 'images']);
});

it('holds a pipeline whose image is still the bootstrap image, and only that one', async () => {
  ssmMock.on(GetParameterCommand, { Name: '/s3-queue/geojson-image' }).resolves({ Parameter: { Value: BOOTSTRAP_IMAGE } });
  const result = await invoke();
  expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
  expect(ecsMock).toHaveReceivedCommandWith(RunTaskCommand, { taskDefinition: 's3-queue-worker', count: 3 });
  expect(result).toEqual({
    pipelines: [expect.objectContaining({ name: 'images', launched: 3 }), expect.objectContaining({ name: 'geojson', launch: 0, heldBy: 'bootstrap-image' })],
  });
});

it('still launches for the other pipeline when one pipeline\'s queue cannot be read, then fails the run naming that pipeline', async () => {
  sqsMock.on(GetQueueAttributesCommand, { QueueUrl: IMAGES_QUEUE }).rejects(Object.assign(new Error('not authorized to GetQueueAttributes'), { name: 'AccessDenied' }));

  await expect(invoke()).rejects.toThrow(/^scaling failed for 1 pipeline\(s\): images \(AccessDenied: not authorized to GetQueueAttributes\)$/);
  expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
  expect(ecsMock).toHaveReceivedCommandWith(RunTaskCommand, { taskDefinition: 's3-queue-geojson-worker', count: 4 });
  expect(logLines.filter((line) => line.message === 'pipeline scaling failed')).toEqual([expect.objectContaining({ pipeline: 'images', error: 'AccessDenied' })]);
  expect(decisions().map((line) => line.pipeline)).toEqual(['geojson']);
});

it('still launches for the other pipeline when one pipeline\'s RunTask throws, and reports that pipeline\'s launch as failed', async () => {
  ecsMock.on(RunTaskCommand, { taskDefinition: 's3-queue-worker' }).rejects(Object.assign(new Error('not authorized to RunTask'), { name: 'AccessDeniedException' }));

  const result = await invoke();
  expect(ecsMock).toHaveReceivedCommandWith(RunTaskCommand, { taskDefinition: 's3-queue-geojson-worker', count: 4 });
  expect(result).toEqual({
    pipelines: [
      expect.objectContaining({ name: 'images', launch: 3, launched: 0, failures: 3 }),
      expect.objectContaining({ name: 'geojson', launch: 4, launched: 4, failures: 0 }),
    ],
  });
  expect(logLines.filter((line) => line.message === 'RunTask failed')).toEqual([expect.objectContaining({ pipeline: 'images', error: 'AccessDeniedException' })]);
});
