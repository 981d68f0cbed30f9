import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ECSClient } from '@aws-sdk/client-ecs';
import { GetQueueAttributesCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { LocalQueue } from '../../shared/queue/local-queue';
import { describeDeadLetters, type DeadLetterLine } from './dead-letter-report';
import { EcsTaskLauncher } from '../../scaler/src/ecs-task-launcher';
import { SqsDepthReader } from '../../scaler/src/sqs-depth-reader';

export interface StatusReport {
  readonly target: 'local' | 'aws';
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
  readonly deadLettered: number;
  readonly runningTasks: number;
  readonly lastDecisions: readonly Record<string, unknown>[];
  /** Locally: the first dead letters and their reasons (deployed: read the DLQ's message attributes). */
  readonly deadLetters?: readonly DeadLetterLine[];
}

const DEAD_LETTERS_LISTED = 20;

/** Local: the queue file, the worker pids the pipeline last recorded, and its last scaling decisions. */
export async function localStatus(dataDir: string, decisions = 5): Promise<StatusReport> {
  const queuePath = join(dataDir, 'queue.db');
  if (!existsSync(queuePath)) throw new Error(`no local pipeline data in ${dataDir} (run npm start first)`);
  const queue = LocalQueue.open(queuePath);
  try {
    const depth = await queue.depth();
    const state = readJson(join(dataDir, 'state.json')) as { workerPids?: number[] } | undefined;
    const running = (state?.workerPids ?? []).filter(isAlive).length;
    const decisionsFile = join(dataDir, 'decisions.jsonl');
    const lines = existsSync(decisionsFile) ? readFileSync(decisionsFile, 'utf8').trim().split('\n').filter(Boolean) : [];
    return {
      target: 'local', ...depth, deadLettered: await queue.dlqDepth(), runningTasks: running,
      // The scaler also logs a `launch report` after each launch; a decision is the line with its reasons.
      lastDecisions: lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.message === 'scaling decision')
        .slice(-decisions),
      deadLetters: describeDeadLetters(await queue.peekDeadLetters(DEAD_LETTERS_LISTED)),
    };
  } finally {
    await queue.close();
  }
}

export interface AwsTarget {
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly cluster: string;
  readonly taskFamily: string;
}

/** Deployed: SQS counts and ECS tasks. The decisions live in the scaler's log group (see the README's Logs Insights query). */
export async function awsStatus(target: AwsTarget, sqs: SQSClient, ecs: ECSClient): Promise<StatusReport> {
  const queue = new SqsDepthReader(sqs, target.queueUrl);
  const dlq = new SqsDepthReader(sqs, target.dlqUrl);
  const launcher = new EcsTaskLauncher(ecs, {
    cluster: target.cluster, taskFamily: target.taskFamily, subnets: [], securityGroups: [], capacityProviderStrategy: [], spotFallback: false, startedBy: 'status',
  });
  const [depth, dead, running] = await Promise.all([queue.depth(), dlq.depth(), launcher.countRunning()]);
  return { target: 'aws', ...depth, deadLettered: dead.visible + dead.inFlight, runningTasks: running, lastDecisions: [] };
}

export async function localRedrive(dataDir: string): Promise<number> {
  const queue = LocalQueue.open(join(dataDir, 'queue.db'));
  try {
    return await queue.redriveDeadLetters();
  } finally {
    await queue.close();
  }
}

/**
 * SQS's own DLQ redrive (StartMessageMoveTask) from the DLQ back to the work queue. With only the DLQ known, SQS sends
 * each message back to the queue it came from, which is the same queue in this blueprint.
 */
export async function awsRedrive(sqs: SQSClient, target: { dlqUrl: string; queueUrl?: string }): Promise<string> {
  const [dlqArn, queueArn] = await Promise.all([queueArnOf(sqs, target.dlqUrl), target.queueUrl === undefined ? undefined : queueArnOf(sqs, target.queueUrl)]);
  const task = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn, ...(queueArn !== undefined ? { DestinationArn: queueArn } : {}) }));
  return task.TaskHandle ?? '';
}

async function queueArnOf(sqs: SQSClient, queueUrl: string): Promise<string> {
  const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = attributes.Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`could not read the ARN of ${queueUrl}`);
  return arn;
}

/** The deployed stack as `terraform output -json` describes it (the infra's outputs). */
export interface StackOutputs extends AwsTarget {
  readonly scalerFunctionName?: string;
}

/** Reads the deployed stack's names from `terraform output -json`; an output missing from it is named in the error. */
export function stackOutputsFrom(terraformOutputJson: string): StackOutputs {
  const outputs = JSON.parse(terraformOutputJson) as Record<string, { value?: unknown } | undefined>;
  const value = (name: string) => {
    const raw = outputs[name]?.value;
    if (typeof raw !== 'string' || raw === '') throw new Error(`terraform output "${name}" is missing: deploy the stack first (npm run deploy)`);
    return raw;
  };
  const scaler = outputs.scaler_function_name?.value;
  return {
    queueUrl: value('queue_url'), dlqUrl: value('dlq_url'), cluster: value('cluster_name'), taskFamily: value('task_family'),
    ...(typeof scaler === 'string' ? { scalerFunctionName: scaler } : {}),
  };
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
