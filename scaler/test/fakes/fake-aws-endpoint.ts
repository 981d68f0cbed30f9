import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';

/** One request as the fake endpoint received it: the JSON-protocol operation and its decoded body. */
export interface RecordedRequest {
  readonly target: string;
  readonly contentType: string;
  readonly body: Record<string, unknown>;
}

export interface FakeAwsEndpoint {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface FakeAwsState {
  readonly visible: number;
  readonly inFlight: number;
  readonly runningTaskArns: readonly string[];
  /** The image parameter's value (GetParameter); the call fails with ParameterNotFound when absent. */
  readonly image?: string;
  /** Stopped tasks as DescribeTasks puts them on the wire (timestamps in epoch seconds). */
  readonly stoppedTasks?: readonly Record<string, unknown>[];
}

/**
 * Answers the calls the scaler makes, in the SDK's JSON protocols (SQS: awsJson1_0, ECS and SSM: awsJson1_1), on
 * 127.0.0.1 and an ephemeral port. RunTask starts every task it is asked for on FARGATE_SPOT; running tasks started an
 * hour ago.
 */
export async function startFakeAwsEndpoint(state: FakeAwsState): Promise<FakeAwsEndpoint> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      requests.push({ target, contentType: String(req.headers['content-type']), body });
      const { status = 200, contentType, payload } = answer(state, target, body);
      res.writeHead(status, { 'content-type': contentType });
      res.end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function answer(state: FakeAwsState, target: string, body: Record<string, unknown>): { status?: number; contentType: string; payload: unknown } {
  switch (target) {
    case 'AmazonSQS.GetQueueAttributes':
      return {
        contentType: 'application/x-amz-json-1.0',
        payload: {
          Attributes: {
            ApproximateNumberOfMessages: String(state.visible),
            ApproximateNumberOfMessagesNotVisible: String(state.inFlight),
            ApproximateNumberOfMessagesDelayed: '0',
          },
        },
      };
    case 'AmazonEC2ContainerServiceV20141113.ListTasks': {
      const stopped = (state.stoppedTasks ?? []).map((task) => String(task.taskArn));
      return { contentType: 'application/x-amz-json-1.1', payload: { taskArns: body.desiredStatus === 'STOPPED' ? stopped : state.runningTaskArns } };
    }
    case 'AmazonEC2ContainerServiceV20141113.DescribeTasks': {
      const hourAgo = Date.now() / 1000 - 3600;
      const tasks = (body.tasks as string[]).map((arn) =>
        state.stoppedTasks?.find((task) => task.taskArn === arn) ?? {
          taskArn: arn, lastStatus: 'RUNNING', desiredStatus: 'RUNNING', createdAt: hourAgo, startedAt: hourAgo + 40,
          containers: [{ name: 'worker', lastStatus: 'RUNNING', image: state.image }],
        });
      return { contentType: 'application/x-amz-json-1.1', payload: { tasks, failures: [] } };
    }
    case 'AmazonSSM.GetParameter':
      return state.image === undefined
        ? { status: 400, contentType: 'application/x-amz-json-1.1', payload: { __type: 'ParameterNotFound', message: '' } }
        : { contentType: 'application/x-amz-json-1.1', payload: { Parameter: { Name: body.Name, Type: 'String', Value: state.image, Version: 3 } } };
    case 'AmazonEC2ContainerServiceV20141113.RunTask': {
      const tasks = Array.from({ length: Number(body.count) }, (_, i) => ({
        taskArn: `arn:aws:ecs:eu-west-1:123456789012:task/workers/new-${i}`,
        capacityProviderName: 'FARGATE_SPOT',
      }));
      return { contentType: 'application/x-amz-json-1.1', payload: { tasks, failures: [] } };
    }
    default:
      return { status: 400, contentType: 'application/x-amz-json-1.1', payload: { __type: 'UnknownOperationException', message: target } };
  }
}

/** The environment of a process whose SDK clients must talk only to the fake endpoint, with dummy credentials. */
export function sdkEnvFor(endpoint: FakeAwsEndpoint, home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret-for-tests',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL_SQS: endpoint.url,
    AWS_ENDPOINT_URL_ECS: endpoint.url,
    AWS_ENDPOINT_URL_SSM: endpoint.url,
  };
}

/** Bundles an entry point with build.mjs's options (one CommonJS file for Node, native modules external). */
export async function bundle(entryPoint: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entryPoint],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: ['sharp', 'better-sqlite3'],
    logLevel: 'silent',
  });
}

export function runNode(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
