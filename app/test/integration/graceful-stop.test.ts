import sharp from 'sharp';
import { loadRun, startHarness, startWorker, type Harness } from './worker-harness';

/**
 * A Spot notice while libvips is busy in a native thread: nothing can interrupt the render, and `process.exit()`
 * waits for it, so a worker alone would outlive ECS's stopTimeout and be SIGKILLed (exit 137) after it had already
 * handed its message back. The supervisor ends it once it has said it is done: the task exits 0 in time.
 */
let harness: Harness;
let slow: Buffer;

beforeAll(async () => {
  harness = await startHarness('worker-stop-');
  // Decodes whole in one native call: several seconds on these machines, with no point at which JS could stop it.
  slow = await sharp({ create: { width: 12_000, height: 12_000, channels: 3, background: '#336699' } }).png({ progressive: true, compressionLevel: 1 }).toBuffer();
}, 120_000);

afterAll(async () => harness?.close());

it('on SIGTERM during a long native render exits 0 within the grace period and hands the message back at once', async () => {
  const run = await loadRun(harness, 'stop', [{ key: 'slow.png', body: slow }]);
  const worker = startWorker(harness, run, { CONCURRENCY: '1', SHUTDOWN_GRACE_SECONDS: '1', VISIBILITY_TIMEOUT_SECONDS: '60', MAX_INPUT_PIXELS: '200000000' });
  await worker.logged('received');
  // Let the decode get under way in its native thread.
  await new Promise((resolve) => setTimeout(resolve, 700));
  const sentAt = Date.now();
  worker.child.kill('SIGTERM');
  const code = await worker.exited;
  expect(worker.lines.filter((line) => line.message === 'failed')).toEqual([]);
  const tookMs = Date.now() - sentAt;

  expect(code).toBe(0);
  // Grace 1 s, plus at most the supervisor's 3 s after the child's exiting notice, plus slack for a loaded machine.
  expect(tookMs).toBeLessThan(8_000);
  expect(worker.lines.some((line) => line.message === 'worker exiting' && line.released === 1)).toBe(true);
  // Handed back, not waiting out its visibility timeout: another worker can take it now.
  const depth = await run.queue.depth();
  expect(depth.visible).toBe(1);
  expect(depth.inFlight).toBe(0);
  run.queue.close();
}, 120_000);
