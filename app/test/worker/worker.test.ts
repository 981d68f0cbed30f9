import { MemoryLog } from '../../src/log/logger';
import { silentMetricsSink } from '../../src/metrics/emf-publisher';
import { WorkerStats } from '../../src/metrics/worker-stats';
import type { ReceivedMessage } from '../../src/ports/queue';
import type { MessageOutcome } from '../../src/worker/handle-message';
import { transientReleaseDelaySeconds, Worker, type WorkerLoopConfig } from '../../src/worker/worker';
import { MemoryQueue } from '../fakes/memory-queue';

const baseConfig: WorkerLoopConfig = {
  concurrency: 3,
  receiveBatchSize: 10,
  waitSeconds: 0,
  idlePolls: 2,
  visibilityTimeoutSeconds: 30,
  shutdownGraceSeconds: 5,
  throughputLogSeconds: 60,
};

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function setup(handle: (message: ReceivedMessage) => Promise<MessageOutcome>, config: Partial<WorkerLoopConfig> = {}, messages = 0) {
  const queue = new MemoryQueue();
  for (let i = 0; i < messages; i++) queue.send(`body-${i}`);
  const log = new MemoryLog();
  const worker = new Worker({ queue, handle, config: { ...baseConfig, ...config }, log, stats: new WorkerStats(), metrics: silentMetricsSink });
  return { queue, log, worker };
}

function tracking(durationMs: (message: ReceivedMessage) => number) {
  let current = 0;
  const state = { max: 0 };
  const handle = async (message: ReceivedMessage): Promise<MessageOutcome> => {
    current++;
    state.max = Math.max(state.max, current);
    await wait(durationMs(message));
    current--;
    return { action: 'delete' };
  };
  return { handle, state };
}

describe('Worker', () => {
  it('drains the queue with bounded concurrency, deletes in batches and exits once idle', async () => {
    const { handle, state } = tracking(() => 5);
    const { queue, worker, log } = setup(handle, {}, 25);
    const summary = await worker.run();
    expect(summary.reason).toBe('drained');
    expect(summary.received).toBe(25);
    expect(queue.messages).toHaveLength(0);
    expect(queue.deleted).toHaveLength(25);
    expect(state.max).toBe(3);
    expect(queue.deleteCalls.every((batch) => batch.length <= 10)).toBe(true);
    expect(queue.deleteCalls.length).toBeLessThan(25);
    expect(log.messages('received')).toHaveLength(25);
    expect(log.messages('worker exiting')[0]).toMatchObject({ reason: 'drained' });
  });

  it('asks only for as many messages as it has free slots, so one slow message does not hold the others back', async () => {
    const { handle } = tracking((message) => (message.body === 'body-0' ? 150 : 5));
    const { queue, worker } = setup(handle, { concurrency: 4 }, 12);
    await worker.run();
    expect(queue.receiveCalls[0].maxMessages).toBe(4);
    expect(queue.receiveCalls.every((call) => call.maxMessages >= 1 && call.maxMessages <= 4)).toBe(true);
    // Eleven fast messages were processed through three slots while the slow one held the fourth.
    expect(queue.receiveCalls.some((call) => call.maxMessages < 4)).toBe(true);
    expect(queue.deleted).toHaveLength(12);
  });

  it('asks the queue for its own visibility timeout on every receive', async () => {
    const { handle } = tracking(() => 1);
    const { queue, worker } = setup(handle, { visibilityTimeoutSeconds: 45 }, 2);
    await worker.run();
    expect(queue.receiveCalls.every((call) => call.visibilityTimeoutSeconds === 45)).toBe(true);
  });

  it('makes a permanently failing message visible again at once and logs the reason, without deleting it', async () => {
    let calls = 0;
    const { queue, worker, log } = setup(async () => {
      calls++;
      return { action: 'release', kind: 'permanent', reason: 'corrupt-image', detail: 'VipsJpeg: premature end', key: 'a/b.jpg' };
    }, { idlePolls: 1000 }, 1);
    const run = worker.run();
    await wait(60);
    worker.stop();
    await run;
    expect(calls).toBeGreaterThan(1); // visible again at once, so it came straight back (redrive ends it in AWS)
    expect(queue.deleted).toHaveLength(0);
    expect(queue.visibilityChanges[0]).toMatchObject({ timeoutSeconds: 0 });
    expect(log.messages('failed')[0]).toMatchObject({ kind: 'permanent', reason: 'corrupt-image', key: 'a/b.jpg', retryInSeconds: 0 });
  });

  it('delays a transient failure by a growing backoff instead of retrying it hot', async () => {
    const { queue, worker, log } = setup(async () => ({ action: 'release', kind: 'transient', reason: 'throttled', detail: 'SlowDown' }), {}, 1);
    await worker.run();
    expect(queue.visibilityChanges).toEqual([{ receiptHandle: expect.any(String), timeoutSeconds: transientReleaseDelaySeconds(1) }]);
    expect(log.messages('failed')[0]).toMatchObject({ kind: 'transient', reason: 'throttled' });
    expect(queue.messages).toHaveLength(1);
    expect(transientReleaseDelaySeconds(1)).toBe(5);
    expect(transientReleaseDelaySeconds(3)).toBe(20);
    expect(transientReleaseDelaySeconds(30)).toBe(900);
  });

  it('treats a handler that throws as a transient failure and keeps going', async () => {
    let first = true;
    const { queue, worker, log } = setup(async () => {
      if (first) { first = false; throw new Error('boom'); }
      return { action: 'delete' };
    }, {}, 3);
    const summary = await worker.run();
    expect(summary.reason).toBe('drained');
    expect(log.messages('failed')[0]).toMatchObject({ reason: 'unexpected-error', detail: 'boom' });
    expect(queue.deleted).toHaveLength(2);
  });

  it('on stop finishes in-flight work within the grace period and releases what is unfinished at once', async () => {
    const { handle } = tracking((message) => (message.body === 'body-0' ? 60_000 : 30));
    const { queue, worker, log } = setup(handle, { concurrency: 3, shutdownGraceSeconds: 0.3 }, 3);
    const run = worker.run();
    await wait(10);
    worker.stop();
    const started = Date.now();
    const summary = await run;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(summary).toMatchObject({ reason: 'stopped', received: 3, released: 1 });
    expect(queue.deleted).toHaveLength(2);
    expect(queue.visibilityChanges).toEqual([{ receiptHandle: expect.any(String), timeoutSeconds: 0 }]);
    expect((await queue.depth()).visible).toBe(1);
    expect(log.messages('released unfinished messages')[0]).toMatchObject({ count: 1 });
    expect(queue.receiveCalls.at(-1)?.signal?.aborted).toBe(true);
  });

  it('a second stop releases everything without waiting for the grace period', async () => {
    const { handle } = tracking(() => 60_000);
    const { queue, worker } = setup(handle, { concurrency: 2, shutdownGraceSeconds: 100 }, 2);
    const run = worker.run();
    await wait(10);
    worker.stop();
    await wait(10);
    worker.stop();
    const summary = await run;
    expect(summary).toMatchObject({ reason: 'forced', released: 2 });
    expect((await queue.depth()).visible).toBe(2);
  });

  it('extends the visibility of a slow message before it can expire', async () => {
    // Long enough that several heartbeat checks fall after the one-third mark even on a loaded machine.
    const { handle } = tracking(() => 2600);
    const { queue, worker } = setup(handle, { visibilityTimeoutSeconds: 3 }, 1);
    await worker.run();
    expect(queue.visibilityChanges.length).toBeGreaterThanOrEqual(1);
    expect(queue.visibilityChanges[0]).toMatchObject({ timeoutSeconds: 3 });
    expect(queue.deleted).toHaveLength(1);
  });

  it('gives up with receive-failing when the queue keeps refusing receives', async () => {
    const { queue, worker } = setup(async () => ({ action: 'delete' }));
    queue.receive = async () => { throw new Error('AccessDenied'); };
    const sleeps: number[] = [];
    const failing = new Worker({
      queue,
      handle: async () => ({ action: 'delete' }),
      config: baseConfig,
      log: new MemoryLog(),
      stats: new WorkerStats(),
      metrics: silentMetricsSink,
      sleep: async (ms) => { sleeps.push(ms); },
    });
    void worker;
    const summary = await failing.run();
    expect(summary.reason).toBe('receive-failing');
    expect(sleeps.length).toBe(7);
    expect(sleeps[1]).toBeGreaterThan(sleeps[0]);
  });
});
