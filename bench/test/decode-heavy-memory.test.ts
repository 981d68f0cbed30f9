import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDecodeHeavy } from '../src/measure/decode-heavy-memory';

describe('the decode-heavy memory run', () => {
  it('reports a decode-heavy run as not measured, with the reason, when no cgroup can be created', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'bench-cgroup-'));
    try {
      const run = await runDecodeHeavy({
        name: 'decode-heavy set',
        workerScript: 'never-started.js',
        queuePath: join(scratch, 'queue.db'),
        s3Endpoint: 'http://127.0.0.1:9',
        objects: [],
        copies: 4,
        concurrency: 4,
        limitMiB: 4096,
        sizes: '224x224',
        timeoutSeconds: 1,
        memorySampleMs: 100,
        cgroupRoot: join(scratch, 'not-a-cgroup-mount'),
      });
      expect(run.measured).toBe(false);
      expect(!run.measured && run.reason).toMatch(/cannot create the memory cgroup/);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

});
