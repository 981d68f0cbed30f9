import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../shared/errors';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { openQueue } from '../../src/queue/open-queue';
import { SqsQueue } from '../../src/queue/sqs-queue';

const deps = { env: { AWS_REGION: 'eu-west-1' }, concurrency: 4 };
let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'open-queue-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openQueue', () => {
  it('opens SQS for an SQS URL', async () => {
    const queue = await openQueue({ queueKind: 'sqs', queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/q', deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/q-dlq' }, deps);
    expect(queue).toBeInstanceOf(SqsQueue);
    await queue.close();
  });

  it('opens an existing local queue file', async () => {
    const path = join(dir, 'q.db');
    await LocalQueue.open(path, { create: {} }).close();
    const queue = await openQueue({ queueKind: 'local', queueUrl: path, deadLetterQueueUrl: '' }, deps);
    expect(queue).toBeInstanceOf(LocalQueue);
    await queue.close();
  });

  it('names QUEUE_URL when the local queue file does not exist', async () => {
    const opening = openQueue({ queueKind: 'local', queueUrl: join(dir, 'missing.db'), deadLetterQueueUrl: '' }, deps);
    await expect(opening).rejects.toBeInstanceOf(ConfigError);
    await expect(opening).rejects.toThrow(/QUEUE_URL=".*missing.db" is invalid/);
  });
});
