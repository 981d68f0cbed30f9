import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { median } from './process-sampler';
import { tailCollector, workerEnv } from './worker-end-to-end';

/**
 * Part 3: process spawn to the worker's first receive, seen from outside as the one waiting message leaving the
 * visible count. The message is an `s3:TestEvent`, which the worker acknowledges without touching S3.
 */
export interface ColdStartResult {
  readonly runs: readonly number[];
  readonly medianMs: number;
}

const TEST_EVENT = JSON.stringify({
  Service: 'Amazon S3',
  Event: 's3:TestEvent',
  Time: '2024-01-01T00:00:00.000Z',
  Bucket: 'source',
  RequestId: 'BENCH',
  HostId: 'BENCH',
});

export async function measureColdStart(workerScript: string, queuePath: string, runs: number): Promise<ColdStartResult> {
  const timings: number[] = [];
  for (let run = 0; run < runs; run++) {
    rmSync(queuePath, { force: true });
    const queue = LocalQueue.open(queuePath, { create: { visibilityTimeoutSeconds: 60, maxReceiveCount: 3 } });
    try {
      await queue.send(TEST_EVENT);
      const startedAt = process.hrtime.bigint();
      const child = spawn(process.execPath, [workerScript], {
        // The endpoint is never called for a test event; a closed port makes sure of it.
        env: workerEnv(queuePath, 'http://127.0.0.1:9', 1, '224x224'),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const errors = tailCollector(child.stderr, 20);
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      let done = false;
      void exited.then(() => (done = true));
      let receivedAfterMs: number | undefined;
      while (!done) {
        const depth = await queue.depth();
        if (depth.visible === 0) {
          receivedAfterMs = Number(process.hrtime.bigint() - startedAt) / 1e6;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      child.kill('SIGTERM');
      await exited;
      if (receivedAfterMs === undefined) throw new Error(`worker exited before its first receive: ${errors().join('\n')}`);
      timings.push(receivedAfterMs);
    } finally {
      await queue.close();
    }
  }
  return { runs: timings, medianMs: median(timings) };
}
