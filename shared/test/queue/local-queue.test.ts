import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { LocalQueue } from '../../queue/local-queue';

const START = Date.UTC(2026, 0, 1);
const SECOND = 1000;

let dir: string;
let fileCount = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'local-queue-test-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function freshPath(): string {
  return join(dir, `queue-${++fileCount}.sqlite`);
}

/** A queue on its own file with a clock the test moves by hand. */
function queueWithClock(create: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {}) {
  const time = { now: START };
  const path = freshPath();
  const queue = LocalQueue.open(path, { create, clock: () => time.now });
  return {
    queue,
    path,
    advance(ms: number) {
      time.now += ms;
    },
    get now() {
      return time.now;
    },
  };
}

function integrityCheck(path: string): unknown {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true });
  } finally {
    db.close();
  }
}

const receiveNow = { maxMessages: 10, waitSeconds: 0 } as const;

describe('LocalQueue.open', () => {
  it('refuses a missing file without create, naming the path', () => {
    const path = freshPath();
    expect(() => LocalQueue.open(path)).toThrow(path);
  });

  it('refuses a SQLite file that is not a queue', () => {
    const path = freshPath();
    const other = new Database(path);
    other.exec('CREATE TABLE other (x)');
    other.close();
    expect(() => LocalQueue.open(path)).toThrow(/not a local queue/i);
  });

  it('refuses a file that is not SQLite at all', () => {
    const path = freshPath();
    writeFileSync(path, 'not a database');
    expect(() => LocalQueue.open(path)).toThrow();
  });

  it('stores the attributes on creation and keeps them on a later create unless overridden', async () => {
    const path = freshPath();
    const created = LocalQueue.open(path, { create: { visibilityTimeoutSeconds: 45, maxReceiveCount: 3 }, clock: () => START });
    expect(created.attributes()).toEqual({ visibilityTimeoutSeconds: 45, maxReceiveCount: 3, createdAt: START });
    await created.close();

    const reopened = LocalQueue.open(path, { create: {}, clock: () => START + 5 * SECOND });
    expect(reopened.attributes()).toEqual({ visibilityTimeoutSeconds: 45, maxReceiveCount: 3, createdAt: START });
    await reopened.close();

    const overridden = LocalQueue.open(path, { create: { maxReceiveCount: 7 } });
    expect(overridden.attributes()).toEqual({ visibilityTimeoutSeconds: 45, maxReceiveCount: 7, createdAt: START });
    await overridden.close();
  });

  it('defaults to a 30 s visibility timeout and 5 receives', async () => {
    const { queue } = queueWithClock();
    expect(queue.attributes()).toMatchObject({ visibilityTimeoutSeconds: 30, maxReceiveCount: 5 });
    await queue.close();
  });

  it('rejects out-of-range attributes', () => {
    expect(() => LocalQueue.open(freshPath(), { create: { maxReceiveCount: 0 } })).toThrow(/maxReceiveCount/);
    expect(() => LocalQueue.open(freshPath(), { create: { visibilityTimeoutSeconds: 43_201 } })).toThrow(/visibilityTimeoutSeconds/);
  });

  it('keeps messages across close and reopen', async () => {
    const { queue, path } = queueWithClock();
    await queue.sendBatch(['a', 'b']);
    await queue.close();
    const reopened = LocalQueue.open(path);
    expect((await reopened.receive(receiveNow)).map((message) => message.body).sort()).toEqual(['a', 'b']);
    await reopened.close();
  });
});

describe('LocalQueue visibility and receive counts', () => {
  it('hides a received message for the visibility timeout, then redelivers it with a new handle and count', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 30 });
    const messageId = await q.queue.send('hello');

    const [first] = await q.queue.receive(receiveNow);
    expect(first).toMatchObject({ messageId, body: 'hello', receiveCount: 1 });
    q.advance(29 * SECOND);
    expect(await q.queue.receive(receiveNow)).toEqual([]);

    q.advance(1 * SECOND);
    const [second] = await q.queue.receive(receiveNow);
    expect(second).toMatchObject({ messageId, body: 'hello', receiveCount: 2 });
    expect(second.receiptHandle).not.toBe(first.receiptHandle);
    await q.queue.close();
  });

  it('uses the visibility timeout given to receive over the queue default', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 30 });
    await q.queue.send('x');
    await q.queue.receive({ ...receiveNow, visibilityTimeoutSeconds: 120 });
    q.advance(119 * SECOND);
    expect(await q.queue.receive(receiveNow)).toEqual([]);
    q.advance(1 * SECOND);
    expect(await q.queue.receive(receiveNow)).toHaveLength(1);
    await q.queue.close();
  });

  it('returns at most maxMessages and rejects more than 10', async () => {
    const q = queueWithClock();
    await q.queue.sendBatch(Array.from({ length: 25 }, (_, i) => `m${i}`));
    expect(await q.queue.receive({ maxMessages: 3, waitSeconds: 0 })).toHaveLength(3);
    expect(await q.queue.receive(receiveNow)).toHaveLength(10);
    await expect(q.queue.receive({ maxMessages: 11, waitSeconds: 0 })).rejects.toThrow(RangeError);
    await q.queue.close();
  });

  it('holds delayed messages back until their delay has passed', async () => {
    const q = queueWithClock();
    await q.queue.send('later', { delaySeconds: 10 });
    expect(await q.queue.receive(receiveNow)).toEqual([]);
    q.advance(10 * SECOND);
    expect((await q.queue.receive(receiveNow)).map((message) => message.body)).toEqual(['later']);
    await q.queue.close();
  });
});

describe('LocalQueue delete', () => {
  it('deletes with the current handle and refuses a stale one from an earlier receive', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 30 });
    await q.queue.send('x');
    const [first] = await q.queue.receive(receiveNow);
    q.advance(30 * SECOND);
    const [second] = await q.queue.receive(receiveNow);

    const staleFailures = await q.queue.deleteMessages([first.receiptHandle]);
    expect(staleFailures).toEqual([{ receiptHandle: first.receiptHandle, reason: expect.stringMatching(/ReceiptHandleIsInvalid/) }]);
    expect(await q.queue.depth()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });

    expect(await q.queue.deleteMessages([second.receiptHandle])).toEqual([]);
    expect(await q.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await q.queue.deleteMessages([second.receiptHandle])).toHaveLength(1);
    await q.queue.close();
  });

  it('still deletes with the last handle after the visibility expired if nobody received it again, as SQS does', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 30 });
    await q.queue.send('x');
    const [message] = await q.queue.receive(receiveNow);
    q.advance(60 * SECOND);
    expect(await q.queue.deleteMessages([message.receiptHandle])).toEqual([]);
    expect(await q.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    await q.queue.close();
  });

  it('deletes a batch and reports only the handles it could not delete', async () => {
    const q = queueWithClock();
    await q.queue.sendBatch(Array.from({ length: 12 }, (_, i) => `m${i}`));
    const received = [...(await q.queue.receive(receiveNow)), ...(await q.queue.receive(receiveNow))];
    expect(received).toHaveLength(12);
    const handles = received.map((message) => message.receiptHandle);

    const failures = await q.queue.deleteMessages([...handles, 'not-a-handle']);
    expect(failures.map((failure) => failure.receiptHandle)).toEqual(['not-a-handle']);
    expect(await q.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    await q.queue.close();
  });
});

describe('LocalQueue changeVisibility', () => {
  it('makes a message visible at once with timeout 0', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 300 });
    await q.queue.send('x');
    const [message] = await q.queue.receive(receiveNow);
    expect(await q.queue.changeVisibility([{ receiptHandle: message.receiptHandle, timeoutSeconds: 0 }])).toEqual([]);
    const [again] = await q.queue.receive(receiveNow);
    expect(again).toMatchObject({ messageId: message.messageId, receiveCount: 2 });
    await q.queue.close();
  });

  it('extends visibility from now, so a heartbeat keeps a slow message hidden', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 30 });
    await q.queue.send('x');
    const [message] = await q.queue.receive(receiveNow);
    q.advance(20 * SECOND);
    expect(await q.queue.changeVisibility([{ receiptHandle: message.receiptHandle, timeoutSeconds: 30 }])).toEqual([]);
    q.advance(29 * SECOND);
    expect(await q.queue.receive(receiveNow)).toEqual([]);
    q.advance(1 * SECOND);
    expect(await q.queue.receive(receiveNow)).toHaveLength(1);
    await q.queue.close();
  });

  it('fails for stale handles, messages no longer in flight and out-of-range timeouts', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 30 });
    await q.queue.sendBatch(['a', 'b']);
    const [a, b] = await q.queue.receive(receiveNow);
    q.advance(30 * SECOND);
    const [aAgain] = await q.queue.receive({ maxMessages: 1, waitSeconds: 0 });
    expect(aAgain.messageId).toBe(a.messageId);

    const failures = await q.queue.changeVisibility([
      { receiptHandle: a.receiptHandle, timeoutSeconds: 60 },
      { receiptHandle: b.receiptHandle, timeoutSeconds: 60 },
      { receiptHandle: aAgain.receiptHandle, timeoutSeconds: 43_201 },
      { receiptHandle: aAgain.receiptHandle, timeoutSeconds: 60 },
    ]);
    expect(failures).toEqual([
      { receiptHandle: a.receiptHandle, reason: expect.stringMatching(/MessageNotInflight/) },
      { receiptHandle: b.receiptHandle, reason: expect.stringMatching(/MessageNotInflight/) },
      { receiptHandle: aAgain.receiptHandle, reason: expect.stringMatching(/InvalidParameterValue/) },
    ]);
    await q.queue.close();
  });
});

describe('LocalQueue dead-letter redrive', () => {
  it('moves a message to the DLQ when it would be received for the (maxReceiveCount+1)th time', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 10, maxReceiveCount: 2 });
    await q.queue.send('poison');
    expect((await q.queue.receive(receiveNow))[0].receiveCount).toBe(1);
    q.advance(10 * SECOND);
    expect((await q.queue.receive(receiveNow))[0].receiveCount).toBe(2);
    q.advance(10 * SECOND);
    expect(await q.queue.dlqDepth()).toBe(0);
    expect(await q.queue.depth()).toEqual({ visible: 1, inFlight: 0, delayed: 0 });

    expect(await q.queue.receive(receiveNow)).toEqual([]);
    expect(await q.queue.dlqDepth()).toBe(1);
    expect(await q.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await q.queue.peekDeadLetters(10)).toEqual([
      { messageId: expect.any(String), body: 'poison', receiveCount: 2, diedAt: q.now, attributes: {} },
    ]);
    q.advance(3600 * SECOND);
    expect(await q.queue.receive(receiveNow)).toEqual([]);
    await q.queue.close();
  });

  it('fills the batch with healthy messages behind the ones it dead-letters', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 10, maxReceiveCount: 1 });
    await q.queue.sendBatch(['p1', 'p2']);
    await q.queue.receive({ maxMessages: 2, waitSeconds: 0 });
    q.advance(10 * SECOND);
    await q.queue.sendBatch(['ok1', 'ok2']);

    const received = await q.queue.receive({ maxMessages: 2, waitSeconds: 0 });
    expect(received.map((message) => message.body).sort()).toEqual(['ok1', 'ok2']);
    expect((await q.queue.peekDeadLetters()).map((letter) => letter.body).sort()).toEqual(['p1', 'p2']);
    await q.queue.close();
  });

  it('redrives every dead letter back with its receive count reset', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 10, maxReceiveCount: 1 });
    await q.queue.sendBatch(['a', 'b', 'c']);
    await q.queue.receive(receiveNow);
    q.advance(10 * SECOND);
    expect(await q.queue.receive(receiveNow)).toEqual([]);
    expect(await q.queue.dlqDepth()).toBe(3);

    expect(await q.queue.redriveDeadLetters()).toBe(3);
    expect(await q.queue.dlqDepth()).toBe(0);
    const received = await q.queue.receive(receiveNow);
    expect(received.map((message) => [message.body, message.receiveCount]).sort()).toEqual([['a', 1], ['b', 1], ['c', 1]]);
    await q.queue.close();
  });

  it('purges the queue and the dead-letter queue separately', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 10, maxReceiveCount: 1 });
    await q.queue.send('dead');
    await q.queue.receive(receiveNow);
    q.advance(10 * SECOND);
    await q.queue.receive(receiveNow);
    await q.queue.sendBatch(['x', 'y']);

    expect(await q.queue.purge()).toBe(2);
    expect(await q.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await q.queue.dlqDepth()).toBe(1);
    expect(await q.queue.purgeDeadLetters()).toBe(1);
    expect(await q.queue.dlqDepth()).toBe(0);
    await q.queue.close();
  });
});

describe('LocalQueue message attributes and direct dead letters', () => {
  it('keeps a message\'s attributes through receive, redrive and its dead letter, like SQS', async () => {
    const q = queueWithClock({ maxReceiveCount: 1 });
    await q.queue.send('with attributes', { attributes: { attempts: '2' } });
    const [message] = await q.queue.receive(receiveNow);
    expect(message.attributes).toEqual({ attempts: '2' });
    await q.queue.changeVisibility([{ receiptHandle: message.receiptHandle, timeoutSeconds: 0 }]);
    expect(await q.queue.receive(receiveNow)).toEqual([]);
    expect((await q.queue.peekDeadLetters())[0].attributes).toEqual({ attempts: '2' });
    await q.queue.redriveDeadLetters();
    expect((await q.queue.receive(receiveNow))[0].attributes).toEqual({ attempts: '2' });
    await q.queue.close();
  });

  it('takes a dead letter straight into the DLQ with the attributes that say why', async () => {
    const q = queueWithClock();
    await q.queue.sendToDeadLetterQueue('poison', { 'failure-reasons': 'corrupt-image' });
    expect(await q.queue.dlqDepth()).toBe(1);
    expect(await q.queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await q.queue.peekDeadLetters()).toEqual([{ messageId: expect.any(String), body: 'poison', receiveCount: 0, diedAt: q.now, attributes: { 'failure-reasons': 'corrupt-image' } }]);
    await q.queue.close();
  });

  it('refuses more than ten attributes, as SQS does', async () => {
    const q = queueWithClock();
    const attributes = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, 'x']));
    await expect(q.queue.send('x', { attributes })).rejects.toThrow(/at most 10 attributes/);
    await q.queue.close();
  });

  it('opens a queue file made before attributes existed and keeps its messages', async () => {
    const path = freshPath();
    const db = new Database(path);
    db.exec(`
      CREATE TABLE queue_attributes (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, sent_at INTEGER NOT NULL,
        visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0, receipt_handle TEXT UNIQUE);
      CREATE TABLE dead_letters (seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, sent_at INTEGER NOT NULL,
        receive_count INTEGER NOT NULL, died_at INTEGER NOT NULL);
      INSERT INTO messages (message_id, body, sent_at, visible_at) VALUES ('old', 'kept', 0, 0);
    `);
    db.close();
    const queue = LocalQueue.open(path);
    expect(await queue.receive(receiveNow)).toEqual([expect.objectContaining({ messageId: 'old', body: 'kept', attributes: {} })]);
    await queue.close();
  });
});

describe('LocalQueue depth', () => {
  it('counts visible, in-flight and delayed messages', async () => {
    const q = queueWithClock({ visibilityTimeoutSeconds: 30 });
    await q.queue.sendBatch(['a', 'b', 'c', 'd']);
    await q.queue.send('delayed', { delaySeconds: 60 });
    await q.queue.receive({ maxMessages: 3, waitSeconds: 0 });
    expect(await q.queue.depth()).toEqual({ visible: 1, inFlight: 3, delayed: 1 });

    q.advance(30 * SECOND);
    expect(await q.queue.depth()).toEqual({ visible: 4, inFlight: 0, delayed: 1 });
    q.advance(30 * SECOND);
    expect(await q.queue.depth()).toEqual({ visible: 5, inFlight: 0, delayed: 0 });
    await q.queue.close();
  });
});

describe('LocalQueue long poll (real time)', () => {
  it('returns as soon as another process-like writer sends a message', async () => {
    const path = freshPath();
    const consumer = LocalQueue.open(path, { create: {} });
    const producer = LocalQueue.open(path);
    const startedAt = Date.now();
    const pending = consumer.receive({ maxMessages: 10, waitSeconds: 10 });
    setTimeout(() => void producer.send('arrived'), 150);

    const received = await pending;
    const elapsed = Date.now() - startedAt;
    expect(received.map((message) => message.body)).toEqual(['arrived']);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
    await producer.close();
    await consumer.close();
  });

  it('returns nothing once the wait has passed', async () => {
    const queue = LocalQueue.open(freshPath(), { create: {} });
    const startedAt = Date.now();
    expect(await queue.receive({ maxMessages: 10, waitSeconds: 0.3 })).toEqual([]);
    const elapsed = Date.now() - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1000);
    await queue.close();
  });

  it('ends at once with no messages when the signal aborts', async () => {
    const queue = LocalQueue.open(freshPath(), { create: {} });
    const controller = new AbortController();
    const startedAt = Date.now();
    setTimeout(() => controller.abort(), 100);
    expect(await queue.receive({ maxMessages: 10, waitSeconds: 20, signal: controller.signal })).toEqual([]);
    expect(Date.now() - startedAt).toBeLessThan(1000);

    await queue.send('not taken');
    expect(await queue.receive({ maxMessages: 10, waitSeconds: 20, signal: controller.signal })).toEqual([]);
    expect(await queue.depth()).toEqual({ visible: 1, inFlight: 0, delayed: 0 });
    await queue.close();
  });

  it('refuses use after close and closes idempotently', async () => {
    const queue = LocalQueue.open(freshPath(), { create: {} });
    await queue.close();
    await queue.close();
    await expect(queue.send('x')).rejects.toThrow(/closed/);
  });
});

describe('LocalQueue across processes', () => {
  let childScript: string;
  const running = new Set<ChildProcess>();

  beforeAll(() => {
    childScript = join(dir, 'local-queue-child.js');
    buildSync({
      entryPoints: [join(__dirname, 'local-queue-child.ts')],
      outfile: childScript,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['better-sqlite3'],
      logLevel: 'error',
    });
  });

  afterAll(() => {
    for (const child of running) child.kill('SIGKILL');
  });

  function startChild(args: string[], stdin: 'pipe' | 'ignore' = 'ignore'): { child: ChildProcess; exited: Promise<{ code: number | null; stdout: string; stderr: string }> } {
    // The bundle lives in a temp dir, so point Node at the project's node_modules for the native better-sqlite3.
    const child = spawn(process.execPath, [childScript, ...args], {
      env: { ...process.env, NODE_PATH: resolve(__dirname, '../../../node_modules') },
      stdio: [stdin, 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveExit) => {
      child.on('exit', (code) => {
        running.delete(child);
        resolveExit({ code, stdout, stderr });
      });
    });
    return { child, exited };
  }

  function waitForOutput(child: ChildProcess, matches: (output: string) => boolean): Promise<string> {
    return new Promise((resolveOutput, reject) => {
      let output = '';
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (matches(output)) {
          child.stdout?.off('data', onData);
          resolveOutput(output);
        }
      };
      child.stdout?.on('data', onData);
      child.on('exit', (code) => reject(new Error(`child exited (${code}) before the expected output; got ${output}`)));
    });
  }

  it('four processes draining 2,000 messages receive each exactly once and lose none', async () => {
    const path = freshPath();
    const queue = LocalQueue.open(path, { create: { visibilityTimeoutSeconds: 600 } });
    const bodies = Array.from({ length: 2000 }, (_, i) => `message-${i}`);
    await queue.sendBatch(bodies);

    const children = Array.from({ length: 4 }, () => startChild(['drain', path, '5'], 'pipe'));
    await Promise.all(children.map(({ child }) => waitForOutput(child, (output) => output.includes('ready\n'))));
    for (const { child } of children) child.stdin?.write('go\n');
    const results = await Promise.all(children.map((child) => child.exited));

    for (const result of results) expect(result).toMatchObject({ code: 0, stderr: '' });
    const perChild = results.map((result) => JSON.parse(result.stdout.replace('ready\n', '')) as string[]);
    const all = perChild.flat();
    expect(all).toHaveLength(2000);
    expect(new Set(all).size).toBe(2000);
    expect([...all].sort()).toEqual([...bodies].sort());
    // Each child must have taken part, or the test proved nothing about contention.
    for (const taken of perChild) expect(taken.length).toBeGreaterThan(0);
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    await queue.close();
  }, 60_000);

  it('survives kill -9 of a process holding an uncommitted write: committed sends stay, the lock is released', async () => {
    const path = freshPath();
    await LocalQueue.open(path, { create: {} }).close();
    const { child, exited } = startChild(['send-then-hold', path, '300']);
    await waitForOutput(child, (output) => output.includes('holding'));
    child.kill('SIGKILL');
    expect((await exited).code).toBeNull();

    expect(integrityCheck(path)).toBe('ok');
    const queue = LocalQueue.open(path);
    expect(await queue.depth()).toEqual({ visible: 300, inFlight: 0, delayed: 0 });
    await queue.send('after the crash');
    const received = await queue.receive(receiveNow);
    expect(received.every((message) => !message.body.startsWith('uncommitted'))).toBe(true);
    expect(await queue.depth()).toEqual({ visible: 291, inFlight: 10, delayed: 0 });
    await queue.close();
  }, 30_000);

  it('survives kill -9 in the middle of a stream of sends: every acknowledged batch is there, whole', async () => {
    const path = freshPath();
    await LocalQueue.open(path, { create: {} }).close();
    const batchSize = 25;
    const { child, exited } = startChild(['send-forever', path, String(batchSize)]);
    const output = await waitForOutput(child, (text) => text.split('\n').some((line) => Number(line) >= 1000));
    child.kill('SIGKILL');
    await exited;
    const acknowledged = Math.max(...output.split('\n').filter(Boolean).map(Number));

    expect(integrityCheck(path)).toBe('ok');
    const queue = LocalQueue.open(path);
    const { visible } = await queue.depth();
    expect(visible).toBeGreaterThanOrEqual(acknowledged);
    expect(visible % batchSize).toBe(0);
    await queue.close();
  }, 30_000);
});
