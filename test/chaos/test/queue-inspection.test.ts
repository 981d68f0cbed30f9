import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { auditSends, messagesLeft, sentMessages, stillInvisible } from '../src/queue-inspection';

describe('stillInvisible', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'chaos-inspect-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tells a handed-back message from one still held, received again or finished', async () => {
    const path = join(dir, 'q.db');
    const queue = LocalQueue.open(path, { create: { visibilityTimeoutSeconds: 30 } });
    try {
      await queue.sendBatch(['a', 'b', 'c', 'd']);
      const got = await queue.receive({ maxMessages: 4, waitSeconds: 0 });
      const [released, held, finished, again] = ['a', 'b', 'c', 'd'].map((body) => got.find((m) => m.body === body)!);
      await queue.changeVisibility([{ receiptHandle: released.receiptHandle, timeoutSeconds: 0 }, { receiptHandle: again.receiptHandle, timeoutSeconds: 0 }]);
      await queue.deleteMessages([finished.receiptHandle]);
      await queue.receive({ maxMessages: 10, waitSeconds: 0 });
      const handedBack = [released, held, finished, again].map((m) => ({ messageId: m.messageId, receiveCount: 1 }));
      // `released` was received again by the last call too, so it counts as taken; only `held` never came back.
      expect(stillInvisible(path, handedBack)).toEqual([held.messageId]);
      expect(stillInvisible(path, [])).toEqual([]);
    } finally {
      await queue.close();
    }
  });

  it('sees a released message as visible before anyone receives it again', async () => {
    const path = join(dir, 'q2.db');
    const queue = LocalQueue.open(path, { create: { visibilityTimeoutSeconds: 30 } });
    try {
      await queue.send('x');
      const [message] = await queue.receive({ maxMessages: 1, waitSeconds: 0 });
      expect(stillInvisible(path, [{ messageId: message.messageId, receiveCount: 1 }])).toEqual([message.messageId]);
      await queue.changeVisibility([{ receiptHandle: message.receiptHandle, timeoutSeconds: 0 }]);
      expect(stillInvisible(path, [{ messageId: message.messageId, receiveCount: 1 }])).toEqual([]);
    } finally {
      await queue.close();
    }
  });

});

describe('auditSends', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'chaos-audit-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('remembers every message sent by any connection, deleted or not, and tells what is left', async () => {
    const path = join(dir, 'family.db');
    const queue = LocalQueue.open(path, { create: { visibilityTimeoutSeconds: 30 } });
    try {
      auditSends(path);
      auditSends(path);
      // Another process's sender: its own connection to the file.
      const sender = LocalQueue.open(path);
      const [first] = await sender.sendBatch(['batch 0', 'batch 1']);
      await sender.close();
      const [received] = await queue.receive({ maxMessages: 1, waitSeconds: 0 });
      await queue.deleteMessages([received!.receiptHandle]);
      expect(sentMessages(path).map((message) => [message.messageId, message.body])).toEqual([[first, 'batch 0'], [expect.any(String), 'batch 1']]);
      expect(messagesLeft(path)).toEqual([{ messageId: expect.any(String), body: 'batch 1', receiveCount: 0 }]);
    } finally {
      await queue.close();
    }
  });
});
