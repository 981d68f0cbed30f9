import { existsSync } from 'node:fs';
import { ConfigError } from '../../../shared/errors';
import type { Queue } from '../../../shared/ports/queue';
import { createSqsClient } from './sqs-client';
import { SqsQueue } from './sqs-queue';

export interface QueueLocation {
  readonly queueUrl: string;
  readonly queueKind: 'sqs' | 'local';
  readonly deadLetterQueueUrl: string;
}

/** The queue adapter follows QUEUE_URL: an SQS URL, or the path of a local queue file made by the local pipeline. */
export async function openQueue(location: QueueLocation, deps: { env: NodeJS.ProcessEnv; concurrency: number }): Promise<Queue> {
  if (location.queueKind === 'sqs') {
    return new SqsQueue(createSqsClient(deps.env, { maxSockets: Math.max(10, deps.concurrency) }), location.queueUrl, location.deadLetterQueueUrl);
  }
  if (!existsSync(location.queueUrl)) {
    throw new ConfigError(`QUEUE_URL="${location.queueUrl}" is invalid: no local queue file there (start the local pipeline with npm start, or give an SQS URL)`);
  }
  // Loaded only here: the container image ships without better-sqlite3, which only the local queue needs.
  const { LocalQueue } = (await import('../../../shared/queue/local-queue')) as typeof import('../../../shared/queue/local-queue');
  return LocalQueue.open(location.queueUrl);
}
