import type { RunRecord } from '../../../shared/fanout/run-record';
import { RunLedger } from '../../src/fanout/run-ledger';
import type { MessageSender } from '../../src/ports/message-sender';
import { MemoryStore } from '../fakes/memory-store';

const record: RunRecord = {
  bucket: 'dest', root: 'runs/', runId: 'r', manifest: { bucket: 'src', key: 'm.json', etag: 'e' }, sourceBucket: 'src',
  families: ['a', 'b'], batchSize: 1, batchCount: 50, fileCount: 50, settings: {}, createdAt: '2026-12-02T00:00:00.000Z',
};
const retry = { retries: 0, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined };
const sent: string[] = [];
const sender: MessageSender = { sendAll: async (_url, bodies) => void sent.push(...bodies), close: async () => undefined };
const settle = (ledger: RunLedger, family: string, batch: number) =>
  ledger.settleBatch(family, batch, { status: 'done', files: 1, failedFiles: 0, at: '', messageId: `${family}${batch}` });

describe('RunLedger', () => {
  it('answers "pending" from a few lookups while a run is far from complete, without listing the ledger', async () => {
    const store = new MemoryStore();
    const ledger = new RunLedger(record, store, retry);
    for (let batch = 0; batch < 10; batch++) await settle(ledger, 'a', batch);
    expect(await ledger.triggerIfComplete(record, 'a9', 'q', sender, () => 0.5)).toBe('pending');
    expect(store.calls.list).toBe(0);
    expect(store.calls.head).toBeLessThanOrEqual(4);
  });

  it('lists the ledger when the lookups find nothing missing, and still refuses to trigger while one batch is unsettled', async () => {
    const store = new MemoryStore();
    const ledger = new RunLedger(record, store, retry);
    for (const family of record.families) for (let batch = 0; batch < 50; batch++) if (!(family === 'b' && batch === 20)) await settle(ledger, family, batch);
    // The random pick misses the gap: only the listing can tell.
    expect(await ledger.triggerIfComplete(record, 'x', 'q', sender, () => 0.1)).toBe('pending');
    expect(store.calls.list).toBe(1);
    await settle(ledger, 'b', 20);
    expect(await ledger.triggerIfComplete(record, 'b20', 'q', sender, () => 0.1)).toBe('triggered');
    expect(await ledger.triggerIfComplete(record, 'b20', 'q', sender, () => 0.1)).toBe('resent');
    expect(await ledger.triggerIfComplete(record, 'a3', 'q', sender, () => 0.1)).toBe('already-triggered');
    expect(sent).toHaveLength(2);
  });

  it('ignores stray keys in the ledger: an unknown family or a batch past the run\'s count never completes it', async () => {
    const store = new MemoryStore();
    const ledger = new RunLedger(record, store, retry);
    for (let batch = 0; batch < 100; batch++) await settle(ledger, 'a', batch);
    for (let batch = 0; batch < 49; batch++) await settle(ledger, 'c', batch);
    store.add('dest', 'runs/r/ledger/b/000049.json', '{}');
    expect((await ledger.completion(record)).perFamily).toEqual([{ family: 'a', dispatched: 50, settled: 50 }, { family: 'b', dispatched: 50, settled: 1 }]);
  });
});
