import type { MessageSender } from '../ports/message-sender';
import { LocalMessageSender, RoutingMessageSender, SqsMessageSender } from './message-senders';
import { createSqsClient } from './sqs-client';

/** A sender for whatever queue URLs the job's settings name; each kind's client is made on first use. */
export function openMessageSender(env: NodeJS.ProcessEnv, concurrency: number): MessageSender {
  return new RoutingMessageSender(
    () => new SqsMessageSender(createSqsClient(env, { maxSockets: Math.max(10, concurrency) })),
    () => new LocalMessageSender(async (path) => {
      // Loaded only here, as for the worker's own queue: the container image ships without better-sqlite3.
      const { LocalQueue } = (await import('../../../shared/queue/local-queue')) as typeof import('../../../shared/queue/local-queue');
      return LocalQueue.open(path);
    }),
  );
}
