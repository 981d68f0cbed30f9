import { batchMessageBody } from '../../../shared/fanout/messages';
import { ledgerKey, triggerKey } from '../../../shared/fanout/run-layout';
import type { RunRecord } from '../../../shared/fanout/run-record';
import { MemoryLog } from '../../../shared/log/logger';
import { reconcileDeadLetters } from '../../src/fanout/reconcile-dead-letters';
import { RunLedger } from '../../src/fanout/run-ledger';
import type { MessageSender } from '../../src/ports/message-sender';
import { MemoryStore } from '../fakes/memory-store';

const home = { bucket: 'dest', root: 'runs/', runId: 'r' };
const record: RunRecord = {
  ...home, manifest: { bucket: 'src', key: 'm.json', etag: 'e' }, sourceBucket: 'src',
  families: ['loud', 'band'], batchSize: 1, batchCount: 2, fileCount: 2, settings: {}, createdAt: '2026-12-02T00:00:00.000Z',
};
const retry = { retries: 0, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined };
const family = { name: 'loud', aggregateQueueUrl: 'q://summary', runsPrefix: 'runs/' };

async function setup() {
  const store = new MemoryStore();
  const ledger = new RunLedger(home, store, retry);
  await ledger.createRunRecord(record);
  const sent: string[] = [];
  const sender: MessageSender = { sendAll: async (_url, bodies) => void sent.push(...bodies), close: async () => undefined };
  const settle = (name: string, batch: number, messageId = `${name}${batch}`) => ledger.settleBatch(name, batch, { status: 'done', files: 1, failedFiles: 0, at: '', messageId });
  const reconcile = (letters: { messageId: string; body: string; attributes?: Record<string, string> }[]) =>
    reconcileDeadLetters(letters.map((letter) => ({ attributes: {}, ...letter })), { family, destBucket: 'dest', store, sender, retry, log: new MemoryLog() });
  return { store, ledger, sent, settle, reconcile };
}

describe('reconcileDeadLetters (a family exiting looks at its DLQ)', () => {
  it('settles as failed a batch SQS dead-lettered without a handler, so its run completes and is triggered once', async () => {
    const { store, sent, settle, reconcile } = await setup();
    await settle('loud', 0);
    await settle('band', 0);
    await settle('band', 1);
    const letter = { messageId: 'dead', body: batchMessageBody(home, 'loud', 1) };
    expect(await reconcile([letter])).toEqual({ settled: 1, triggered: 1 });
    expect(JSON.parse(store.object('dest', ledgerKey(home, 'loud', 1))!.body.toString())).toMatchObject({ status: 'failed', reason: expect.stringContaining('its task died on its last attempt'), messageId: 'dead' });
    expect(sent).toHaveLength(1);
    // Looked at again by the next exiting worker before the aggregator has reported: the request goes again (the
    // aggregator reports once whatever it receives); once reported, nothing more happens.
    expect(await reconcile([letter])).toEqual({ settled: 0, triggered: 1 });
    store.add('dest', 'runs/r/report.json', '{}');
    expect(await reconcile([letter])).toEqual({ settled: 0, triggered: 0 });
    expect(sent).toHaveLength(2);
  });

  it('sends the aggregation request a dead-lettered message created the trigger for and never sent', async () => {
    const { ledger, sent, settle, reconcile } = await setup();
    for (const name of ['loud', 'band']) for (const batch of [0, 1]) await settle(name, batch, name === 'loud' && batch === 1 ? 'creator' : `${name}${batch}`);
    await ledger.createJson(triggerKey(home), { at: '', messageId: 'creator' });
    expect(await reconcile([{ messageId: 'other', body: batchMessageBody(home, 'loud', 0) }])).toEqual({ settled: 0, triggered: 0 });
    expect(await reconcile([{ messageId: 'creator', body: batchMessageBody(home, 'loud', 1) }])).toEqual({ settled: 0, triggered: 1 });
    expect(sent).toHaveLength(1);
  });

  it('keeps the worker\'s own reason, and leaves other families\' letters, other runs and other messages alone', async () => {
    const { store, sent, reconcile } = await setup();
    const result = await reconcile([
      { messageId: 'a', body: batchMessageBody(home, 'loud', 0), attributes: { 'failure-reasons': 'invalid-batch' } },
      { messageId: 'b', body: batchMessageBody(home, 'band', 0) },
      { messageId: 'c', body: batchMessageBody({ ...home, runId: 'gone' }, 'loud', 0) },
      { messageId: 'd', body: '{"Records":[]}' },
    ]);
    expect(result).toEqual({ settled: 1, triggered: 0 });
    expect(JSON.parse(store.object('dest', ledgerKey(home, 'loud', 0))!.body.toString()).reason).toBe('dead-lettered: invalid-batch');
    expect(store.object('dest', ledgerKey(home, 'band', 0))).toBeUndefined();
    expect(sent).toEqual([]);
  });
});
