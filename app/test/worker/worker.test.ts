import { MemoryLog } from '../../../shared/log/logger';
import { silentMetricsSink } from '../../src/metrics/emf-publisher';
import { WorkerStats } from '../../src/metrics/worker-stats';
import type { ReceivedMessage } from '../../../shared/ports/queue';
import type { HandleContext, MessageOutcome } from '../../src/worker/handle-message';
import { HealthGate } from '../../src/worker/health-gate';
import { transientReleaseDelaySeconds, type RecordFailure } from '../../src/worker/settlement';
import { Worker, type WorkerLoopConfig } from '../../src/worker/worker';
import { MemoryQueue } from '../fakes/memory-queue';

const baseConfig: WorkerLoopConfig = {
  concurrency: 3,
  receiveBatchSize: 10,
  waitSeconds: 0,
  idlePolls: 2,
  visibilityTimeoutSeconds: 30,
  shutdownGraceSeconds: 5,
  throughputLogSeconds: 60,
  maxReceiveCount: 5,
  messageDeadlineSeconds: 300,
  outageWaitSeconds: 900,
};

const done = (message: ReceivedMessage): MessageOutcome => ({ recordCount: 1, failures: [], bodyFor: () => message.body });
const failedWith = (failure: Omit<RecordFailure, 'index'>, recordCount = 1) => (message: ReceivedMessage): MessageOutcome => ({
  recordCount, failures: [{ index: 0, ...failure }], bodyFor: (indices) => (indices.length === recordCount ? message.body : `${message.body}[${indices.join(',')}]`),
});

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

type Handle = (message: ReceivedMessage, context: HandleContext) => Promise<MessageOutcome>;

function setup(handle: Handle, config: Partial<WorkerLoopConfig> = {}, messages = 0, gate?: HealthGate) {
  const queue = new MemoryQueue();
  for (let i = 0; i < messages; i++) queue.add(`body-${i}`);
  const log = new MemoryLog();
  const worker = new Worker({ queue, handle, config: { ...baseConfig, ...config }, log, stats: new WorkerStats(), metrics: silentMetricsSink, ...(gate ? { gate } : {}) });
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
    return done(message);
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

  it('dead-letters a permanent failure itself, with its reason as attributes, and deletes the original', async () => {
    const { queue, worker, log } = setup(async (message) => failedWith({ kind: 'permanent', reason: 'corrupt-image', detail: 'VipsJpeg: premature end', key: 'a/b.jpg' })(message), {}, 1);
    const summary = await worker.run();
    expect(summary.reason).toBe('drained');
    expect(queue.deadLetters).toHaveLength(1);
    expect(queue.deadLetters[0].body).toBe('body-0');
    expect(queue.deadLetters[0].attributes).toMatchObject({ 'failure-reasons': 'corrupt-image', 'failed-records': '1', 'source-message-id': 'm-1', 'attempts-used': '1' });
    expect(JSON.parse(queue.deadLetters[0].attributes.failures)).toEqual([{ record: 0, reason: 'corrupt-image', kind: 'permanent', detail: 'VipsJpeg: premature end' }]);
    expect(queue.deleted).toEqual(['m-1']);
    expect(queue.messages).toHaveLength(0);
    expect(log.messages('failed')[0]).toMatchObject({ kind: 'permanent', reason: 'corrupt-image', key: 'a/b.jpg', outcome: 'dead-lettered' });
  });

  it('delays a transient failure by a growing backoff, and dead-letters it with the reason on the last allowed attempt', async () => {
    const { queue, worker, log } = setup(async (message) => failedWith({ kind: 'transient', reason: 'throttled', detail: 'SlowDown' })(message), { maxReceiveCount: 2 }, 1);
    await worker.run();
    expect(queue.visibilityChanges).toEqual([{ receiptHandle: expect.any(String), timeoutSeconds: transientReleaseDelaySeconds(1) }]);
    expect(log.messages('failed')[0]).toMatchObject({ kind: 'transient', reason: 'throttled', outcome: 'retry', retryInSeconds: 5 });
    expect(queue.messages).toHaveLength(1);
    expect(queue.deadLetters).toHaveLength(0);

    // The second delivery is the last one maxReceiveCount allows: the worker dead-letters it rather than leave the
    // redrive to move it without a reason.
    queue.messages[0].visibleAt = 0;
    const again = new Worker({ queue, handle: async (message) => failedWith({ kind: 'transient', reason: 'throttled', detail: 'SlowDown' })(message), config: { ...baseConfig, maxReceiveCount: 2 }, log, stats: new WorkerStats(), metrics: silentMetricsSink });
    await again.run();
    expect(queue.deadLetters).toEqual([{ body: 'body-0', attributes: expect.objectContaining({ 'failure-reasons': 'throttled', 'attempts-used': '2' }) }]);
    expect(queue.messages).toHaveLength(0);
  });

  it('re-queues only the records left to retry, carrying their attempts, and dead-letters the permanent ones', async () => {
    const outcome = (message: ReceivedMessage): MessageOutcome => ({
      recordCount: 3,
      failures: message.attributes.attempts === undefined
        ? [{ index: 1, kind: 'permanent', reason: 'corrupt-image', detail: 'bad' }, { index: 2, kind: 'transient', reason: 'throttled', detail: 'SlowDown' }]
        : [],
      bodyFor: (indices) => `${message.body}[${indices.join(',')}]`,
    });
    const { queue, worker, log } = setup(async (message) => outcome(message), {}, 1);
    expect((await worker.run()).reason).toBe('drained');
    expect(queue.deadLetters).toEqual([{ body: 'body-0[1]', attributes: expect.objectContaining({ 'failure-reasons': 'corrupt-image' }) }]);
    expect(queue.sent).toEqual([{ body: 'body-0[2]', options: { delaySeconds: 5, attributes: { attempts: '1', 'source-message-id': 'm-1' } } }]);
    expect(queue.deleted).toEqual(['m-1']);
    // The re-queued part becomes visible after its delay and is done then.
    queue.messages[0].visibleAt = 0;
    const later = new Worker({ queue, handle: async (message) => outcome(message), config: baseConfig, log, stats: new WorkerStats(), metrics: silentMetricsSink });
    await later.run();
    expect(queue.deleted).toEqual(['m-1', 'm-2']);
  });

  it('names the first message in a dead letter of a re-queued part, however often it was re-queued', async () => {
    const { queue, worker } = setup(async (message) => failedWith({ kind: 'permanent', reason: 'corrupt-image', detail: 'bad' }, 1)(message));
    queue.add('a re-queued part', { attempts: '2', 'source-message-id': 'first' });
    await worker.run();
    expect(queue.deadLetters[0]!.attributes['source-message-id']).toBe('first');
  });

  it('keeps the original when a reroute cannot be sent, so no record is lost', async () => {
    const { queue, worker, log } = setup(async (message) => failedWith({ kind: 'permanent', reason: 'corrupt-image', detail: 'bad' }, 2)(message), { idlePolls: 1000 }, 1);
    queue.sendToDeadLetterQueue = async () => { throw new Error('AccessDenied'); };
    const run = worker.run();
    await wait(50);
    worker.stop();
    await run;
    expect(queue.deleted).toHaveLength(0);
    expect(queue.messages).toHaveLength(1);
    expect(log.messages('reroute failed: releasing the whole message instead')).toHaveLength(1);
  });

  it('treats a handler that throws as a transient failure and keeps going', async () => {
    let first = true;
    const { queue, worker, log } = setup(async (message) => {
      if (first) { first = false; throw new Error('boom'); }
      return done(message);
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

  it('hands back at once, never dead-lettered, work that failed transiently while the task stops, even on its last attempt', async () => {
    let stop: () => void = () => undefined;
    const handle = async (message: ReceivedMessage): Promise<MessageOutcome> => {
      stop();
      await wait(20);
      return failedWith({ kind: 'transient', reason: 'command-stopped', detail: 'the program ended on the forwarded SIGTERM' })(message);
    };
    const { queue, worker, log } = setup(handle, { maxReceiveCount: 1, shutdownGraceSeconds: 5 }, 1);
    stop = () => worker.stop();
    const summary = await worker.run();
    expect(summary).toMatchObject({ reason: 'stopped', received: 1, released: 1 });
    expect(queue.deadLetters).toEqual([]);
    expect(queue.deleted).toEqual([]);
    expect(queue.visibilityChanges).toEqual([{ receiptHandle: expect.any(String), timeoutSeconds: 0 }]);
    expect(log.messages('failed')[0]).toMatchObject({ reason: 'command-stopped', outcome: 'released-on-stop' });
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

  it('retries a failed heartbeat on the next check instead of a whole interval later', async () => {
    const { handle } = tracking(() => 2600);
    const { queue, worker, log } = setup(handle, { visibilityTimeoutSeconds: 3 }, 1);
    const change = queue.changeVisibility.bind(queue);
    let refusals = 1;
    queue.changeVisibility = async (changes) => (refusals-- > 0 ? changes.map((c) => ({ receiptHandle: c.receiptHandle, reason: 'throttled: Rate exceeded' })) : change(changes));
    await worker.run();
    expect(log.messages('heartbeat failed')).toHaveLength(1);
    // Extended at about 1 s (refused), retried at about 1.5 s, not 2 s: the message never came close to expiring.
    expect(queue.visibilityChanges.length).toBeGreaterThanOrEqual(1);
    expect(queue.deleted).toHaveLength(1);
  });

  it('stops work whose visibility was lost, without touching its message again', async () => {
    let signal: AbortSignal | undefined;
    const { queue, worker, log } = setup(async (message, context) => {
      if (message.receiveCount === 1) {
        signal = context.signal;
        await wait(2600);
      }
      return done(message);
    }, { visibilityTimeoutSeconds: 3, idlePolls: 800 }, 1);
    queue.changeVisibility = async (changes) => changes.map((c) => ({ receiptHandle: c.receiptHandle, reason: 'MessageNotInflight: the message is not in flight' }));
    const summary = await worker.run();
    expect(log.messages('visibility lost: giving the message up')).toHaveLength(1);
    expect(signal?.aborted).toBe(true);
    // Only the later delivery, which really held the message, deleted it.
    expect(queue.deleteCalls.flat()).toEqual(['h-2']);
    expect(summary.reason).toBe('drained');
  });

  it('gives a message up past its deadline: released as failed at once, its slot kept until the handler returns', async () => {
    let signal: AbortSignal | undefined;
    let finish: () => void = () => undefined;
    const { queue, worker, log } = setup(async (message, context) => {
      signal = context.signal;
      if (message.receiveCount === 1) await new Promise<void>((resolve) => { finish = resolve; });
      return done(message);
    }, { messageDeadlineSeconds: 1, concurrency: 1, idlePolls: 3 }, 1);
    const run = worker.run();
    await wait(2300);
    expect(signal?.aborted).toBe(true);
    expect(log.messages('failed')[0]).toMatchObject({ reason: 'deadline-exceeded', outcome: 'retry' });
    // Released for a retry, but the single slot is still held by the stuck handler: nothing new was received.
    expect(queue.messages[0].receiveCount).toBe(1);
    queue.messages[0].visibleAt = 0;
    finish();
    const summary = await run;
    expect(summary).toMatchObject({ reason: 'drained', abandonedStillRunning: 0 });
    expect(queue.deleted).toHaveLength(1);
  });

  it('stops as stuck when every slot stays held by given-up work for another whole deadline', async () => {
    const { worker, log } = setup(async () => new Promise<MessageOutcome>(() => undefined), { messageDeadlineSeconds: 1, concurrency: 1 }, 1);
    const summary = await worker.run();
    expect(summary).toMatchObject({ reason: 'stuck', abandonedStillRunning: 1 });
    expect(log.messages('every slot is held by given-up work that never returned: stopping')).toHaveLength(1);
  });

  it('survives a queue that throws while settling: logs it and leaves the message to come back', async () => {
    const { queue, worker, log } = setup(async (message) => failedWith({ kind: 'transient', reason: 'throttled', detail: 'SlowDown' })(message), {}, 1);
    queue.changeVisibility = async () => { throw new Error('SQLITE_BUSY: database is locked'); };
    const summary = await worker.run();
    expect(summary.reason).toBe('drained');
    expect(log.messages('settle failed: the message comes back when its visibility runs out')[0]).toMatchObject({ reason: 'SQLITE_BUSY: database is locked' });
  });

  it('a stop during the pause after a failed receive ends the pause at once', async () => {
    const { queue } = setup(async (message) => done(message));
    queue.receive = async () => { throw new Error('ThrottlingException'); };
    const paused = new Worker({
      queue, handle: async (message) => done(message), config: baseConfig, log: new MemoryLog(), stats: new WorkerStats(), metrics: silentMetricsSink,
      sleep: () => new Promise<void>(() => undefined),
    });
    const run = paused.run();
    await wait(50);
    paused.stop();
    await expect(run).resolves.toMatchObject({ reason: 'stopped' });
  });

  it('dead-letters a message that outlives its deadline a second time', async () => {
    const { queue, worker } = setup(async (message, context) => {
      await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
      return done(message);
    }, { messageDeadlineSeconds: 1 }, 0);
    queue.add('slow');
    queue.messages[0].receiveCount = 1;
    await worker.run();
    expect(queue.deadLetters).toEqual([{ body: 'slow', attributes: expect.objectContaining({ 'failure-reasons': 'deadline-exceeded' }) }]);
  });

  it('holds its messages through an outage instead of releasing them, and receives nothing new meanwhile', async () => {
    let now = 0;
    const gate = new HealthGate({ now: () => now, minFailures: 2, firstPauseMs: 100_000, wait: () => wait(20) });
    const handle = async (message: ReceivedMessage, context: HandleContext) => {
      // The S3 calls of both messages fail: the gate sees an outage, and the handlers wait at it.
      gate.recordFailure();
      await gate.ready(context.signal);
      return done(message);
    };
    const { queue, worker } = setup(handle, { outageWaitSeconds: 900, messageDeadlineSeconds: 1 }, 2, gate);
    const run = worker.run();
    await wait(1500);
    expect(gate.isOpen).toBe(true);
    // Past the one-second deadline, but the time was the outage's: still held, nothing released, nothing more received.
    expect(queue.visibilityChanges).toHaveLength(0);
    expect(queue.receiveCalls).toHaveLength(1);
    now = 200_000;
    gate.recordSuccess();
    expect((await run).reason).toBe('drained');
    expect(queue.deleted).toHaveLength(2);
  });

  it('gives up with receive-failing when the queue keeps refusing receives', async () => {
    const { queue, worker } = setup(async (message) => done(message));
    queue.receive = async () => { throw new Error('AccessDenied'); };
    const sleeps: number[] = [];
    const failing = new Worker({
      queue,
      handle: async (message) => done(message),
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
