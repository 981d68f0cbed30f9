/**
 * A separate OS process using the local queue, for the multi-process and crash tests in local-queue.test.ts.
 * The test bundles this file with esbuild and runs it with node: jest's module system cannot be shared across
 * processes, and a real process is the only honest way to test SQLite's cross-process locking and kill -9.
 *
 *   drain <queue> <workMs>           prints "ready", waits for a line on stdin, then receives, "works" workMs per
 *                                    batch and deletes until the queue stays empty; prints the bodies as JSON
 *   send-forever <queue> <batch>     sends batches forever, printing the acknowledged total after each commit
 *   send-then-hold <queue> <count>   sends count messages, then holds an uncommitted write transaction forever
 */
import Database from 'better-sqlite3';
import { LocalQueue } from '../../queue/local-queue';

const EMPTY_RECEIVES_TO_STOP = 3;

async function drain(path: string, workMs: number): Promise<void> {
  const queue = LocalQueue.open(path);
  // A common start signal makes the children contend for the same messages instead of running one after another.
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
  const bodies: string[] = [];
  let emptyReceives = 0;
  while (emptyReceives < EMPTY_RECEIVES_TO_STOP) {
    const messages = await queue.receive({ maxMessages: 10, waitSeconds: 0.1, visibilityTimeoutSeconds: 600 });
    if (messages.length === 0) {
      emptyReceives++;
      continue;
    }
    emptyReceives = 0;
    bodies.push(...messages.map((message) => message.body));
    // Holding the batch in flight while the other processes receive is what tests "never handed out twice".
    await new Promise((resolve) => setTimeout(resolve, workMs));
    const failures = await queue.deleteMessages(messages.map((message) => message.receiptHandle));
    if (failures.length > 0) throw new Error(`delete failed: ${JSON.stringify(failures)}`);
  }
  await queue.close();
  process.stdout.write(JSON.stringify(bodies));
}

async function sendForever(path: string, batchSize: number): Promise<void> {
  const queue = LocalQueue.open(path);
  for (let total = 0; ; ) {
    await queue.sendBatch(Array.from({ length: batchSize }, (_, i) => `forever-${total + i}`));
    total += batchSize;
    process.stdout.write(`${total}\n`);
  }
}

async function sendThenHold(path: string, count: number): Promise<void> {
  const queue = LocalQueue.open(path);
  await queue.sendBatch(Array.from({ length: count }, (_, i) => `committed-${i}`));
  await queue.close();
  const db = new Database(path);
  db.exec('BEGIN IMMEDIATE');
  const insert = db.prepare('INSERT INTO messages (message_id, body, sent_at, visible_at) VALUES (?, ?, 0, 0)');
  for (let i = 0; i < 500; i++) insert.run(`uncommitted-${i}`, `uncommitted-${i}`);
  process.stdout.write('holding\n');
  setInterval(() => undefined, 60_000);
}

const [mode, path, argument] = process.argv.slice(2);
const modes: Record<string, () => Promise<void>> = {
  drain: () => drain(path, Number(argument)),
  'send-forever': () => sendForever(path, Number(argument)),
  'send-then-hold': () => sendThenHold(path, Number(argument)),
};
const run = modes[mode];
if (run === undefined) {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
run().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
