import { HeadObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { createMemoryCgroup, type MemoryCgroup } from '../../../test/support/memory-cgroup';
import { loadRun, startHarness, startWorker, type Harness } from './worker-harness';

/**
 * The real worker bundle under a real memory limit (a memory cgroup: the kernel SIGKILLs past it, as Fargate does),
 * on valid images that are small on disk but decode whole: 16-bit RGBA interlaced PNGs. The limit is smaller than
 * the default task's 4 GiB so the inputs stay quick to make; the mechanism (budget from the cgroup, admission by the
 * header's estimate) is the same at any size. The control run without a budget shows the inputs really kill.
 */
const LIMIT_BYTES = 768 * 1024 * 1024;

let harness: Harness;
let heavy: Buffer;
let tooHeavyAlone: Buffer;
const cgroups: MemoryCgroup[] = [];

/** Solid colour compresses to almost nothing; decoding still needs width x height x 4 bands x 2 bytes. */
const heavyPng = (side: number) =>
  sharp({ create: { width: side, height: side, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } }).toColourspace('rgb16').png({ progressive: true }).toBuffer();

beforeAll(async () => {
  harness = await startHarness('worker-mem-');
  // 5000x5000 decodes to 190 MiB; 7000x7000 to 374 MiB, which no 768 MiB task can hold beside itself.
  [heavy, tooHeavyAlone] = await Promise.all([heavyPng(5000), heavyPng(7000)]);
}, 120_000);

afterAll(async () => {
  await Promise.all(cgroups.map((cgroup) => cgroup.remove()));
  await harness?.close();
});

async function runUnderLimit(name: string, inputs: readonly { key: string; body: Buffer }[], env: Record<string, string>) {
  const run = await loadRun(harness, name, inputs);
  const cgroup = createMemoryCgroup(name, LIMIT_BYTES);
  cgroups.push(cgroup);
  const worker = startWorker(harness, run, { IDLE_POLLS: '1', VISIBILITY_TIMEOUT_SECONDS: '30', MALLOC_ARENA_MAX: '2', ...env }, cgroup.wrap);
  const exitCode = await worker.exited;
  const outputsOf = async (key: string) => {
    const found = await Promise.all(
      ['224x224', '299x299'].map((size) => harness.s3.send(new HeadObjectCommand({ Bucket: run.dest, Key: `${size}/${key.replace(/\.png$/, '.jpg')}` })).then(() => 1, () => 0)),
    );
    return found.reduce((a, b) => a + b, 0);
  };
  const result = { exitCode, lines: worker.lines, deadLetters: await run.queue.peekDeadLetters(100), oomKills: cgroup.oomKills(), peakBytes: cgroup.peakBytes(), outputsOf };
  run.queue.close();
  return result;
}

describe('the worker under a real memory limit', () => {
  it('processes decode-heavy images four at a time without being killed, and refuses the one that cannot fit alone', async () => {
    const inputs = [1, 2, 3, 4].map((n) => ({ key: `heavy-${n}.png`, body: heavy }));
    const run = await runUnderLimit('budget', [...inputs, { key: 'too-heavy.png', body: tooHeavyAlone }], {});

    expect(run.oomKills).toBe(0);
    expect(run.exitCode).toBe(0);
    expect(run.peakBytes).toBeLessThan(LIMIT_BYTES);
    const started = run.lines.find((line) => line.message === 'worker started');
    expect(started?.memoryBudgetMiB).toBe(Math.floor(768 * 0.7) - 128);
    // Set by the supervisor before the worker process starts: loading sharp starts libuv's pool at its size then.
    expect(started?.uvThreadpoolSize).toBe(String(4 * 2 + 4));
    for (const input of inputs) expect(await run.outputsOf(input.key)).toBe(2);
    expect(run.deadLetters).toHaveLength(1);
    expect(run.deadLetters[0]!.attributes['failure-reasons']).toBe('decode-memory-exceeded');
    expect(run.deadLetters[0]!.body).toContain('too-heavy.png');
    const failed = run.lines.find((line) => line.message === 'failed');
    expect(failed).toMatchObject({ reason: 'decode-memory-exceeded', kind: 'permanent', key: 'too-heavy.png' });
    expect(String(failed?.detail)).toMatch(/needs about \d+ MiB to decode, more than this task's decode budget of 409 MiB/);
  }, 180_000);

  it('control: with the budget lifted, the same images get the worker killed by the kernel', async () => {
    const inputs = [1, 2, 3, 4].map((n) => ({ key: `heavy-${n}.png`, body: heavy }));
    const run = await runUnderLimit('no-budget', inputs, { MEMORY_BUDGET_MIB: '100000' });
    expect(run.oomKills).toBeGreaterThan(0);
    // The supervisor survives its child's kill and exits as a killed process would, saying why.
    expect(run.exitCode).toBe(137);
    expect(run.lines.some((line) => line.message === 'worker process killed' && line.signal === 'SIGKILL')).toBe(true);
  }, 180_000);
});
