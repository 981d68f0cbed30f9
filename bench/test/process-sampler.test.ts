import { spawn, type ChildProcess } from 'node:child_process';
import { ProcessSampler } from '../src/measure/process-sampler';

/**
 * A process tree like the worker's (a small parent, the real work in a descendant): each level spawns the next and
 * waits for it; the leaf fills a buffer (RSS) and burns a fixed amount of CPU (measured as CPU, not wall time, so a
 * loaded machine changes nothing), then exits. Each parent prints `exited <depth>` when its child has been reaped
 * and lives on for HOLD_MS.
 */
const TREE_SCRIPT = `
const { spawn } = require('node:child_process');
const depth = Number(process.env.DEPTH);
if (depth > 0) {
  const child = spawn(process.execPath, ['-e', process.env.TREE_SCRIPT], { env: { ...process.env, DEPTH: String(depth - 1) }, stdio: 'inherit' });
  child.on('exit', () => { console.log('exited ' + depth); setTimeout(() => {}, Number(process.env.HOLD_MS)); });
} else {
  const block = Buffer.alloc(Number(process.env.ALLOC_MIB) * 1024 * 1024, 1);
  const start = process.cpuUsage();
  const used = () => { const u = process.cpuUsage(start); return (u.user + u.system) / 1000; };
  while (used() < Number(process.env.BURN_MS)) {}
  console.log('burned');
  setTimeout(() => block.length, Number(process.env.LEAF_HOLD_MS));
}`;

interface Tree {
  readonly child: ChildProcess;
  waitForLine(line: string): Promise<void>;
  exited: Promise<void>;
}

function spawnTree(env: { DEPTH: number; ALLOC_MIB: number; BURN_MS: number; LEAF_HOLD_MS: number; HOLD_MS: number }): Tree {
  const child = spawn(process.execPath, ['-e', TREE_SCRIPT], {
    env: { PATH: process.env.PATH, TREE_SCRIPT, ...Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)])) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const waiters: { line: string; resolve: () => void }[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters.filter((candidate) => output.split('\n').includes(candidate.line))) waiter.resolve();
  });
  return {
    child,
    waitForLine: (line) =>
      new Promise((resolve) => (output.split('\n').includes(line) ? resolve() : waiters.push({ line, resolve }))),
    exited: new Promise((resolve) => child.on('exit', () => resolve())),
  };
}

describe('ProcessSampler', () => {
  it('sums RSS and CPU over the whole tree: the spawned pid, a child and a grandchild', async () => {
    const tree = spawnTree({ DEPTH: 2, ALLOC_MIB: 160, BURN_MS: 400, LEAF_HOLD_MS: 400, HOLD_MS: 300 });
    const sampler = new ProcessSampler(tree.child.pid!, 25);
    await tree.waitForLine('exited 2');
    const report = sampler.stop();
    await tree.exited;

    // Three node processes were alive at once while the grandchild held its 160 MiB.
    expect(report.maxProcesses).toBe(3);
    expect(report.peakRssMiB).toBeGreaterThan(160 + 2 * 20);
    // The grandchild's 400 ms of CPU are counted although it (and its parent) exited before the last sample.
    expect(report.cpuSeconds).toBeGreaterThanOrEqual(0.4);
    // And the tree's CPU never exceeds what the three processes could have used: no double counting at reaping.
    expect(report.cpuSeconds).toBeLessThan(0.4 + 3 * 0.6);
    // Own CPU is the spawned process's and its child's threads only: the grandchild's 400 ms are not in it.
    expect(report.ownCpuSeconds).toBeGreaterThan(0);
    expect(report.cpuSeconds - report.ownCpuSeconds).toBeGreaterThanOrEqual(0.4);
    expect(report.samples.some((sample) => sample.rssMiB > 160)).toBe(true);
  }, 20_000);

  it('counts the CPU of a child that came and went between two samples (folded into its parent once reaped)', async () => {
    const tree = spawnTree({ DEPTH: 1, ALLOC_MIB: 1, BURN_MS: 300, LEAF_HOLD_MS: 0, HOLD_MS: 2000 });
    // No timer sample in between: only the two explicit ones, before the child starts and after it was reaped.
    const sampler = new ProcessSampler(tree.child.pid!, 60_000);
    const before = sampler.sample();
    await tree.waitForLine('exited 1');
    const after = sampler.sample();
    const report = sampler.stop();
    tree.child.kill('SIGTERM');
    await tree.exited;

    expect(before).toBeLessThan(0.3);
    expect(after).toBeGreaterThanOrEqual(0.3);
    expect(report.cpuSeconds).toBeGreaterThanOrEqual(after);
  }, 20_000);

  it('keeps the last figures once the tree has exited', async () => {
    const tree = spawnTree({ DEPTH: 0, ALLOC_MIB: 64, BURN_MS: 200, LEAF_HOLD_MS: 200, HOLD_MS: 0 });
    const sampler = new ProcessSampler(tree.child.pid!, 20);
    await tree.waitForLine('burned');
    sampler.sample();
    await tree.exited;
    const report = sampler.stop();
    expect(report.peakRssMiB).toBeGreaterThan(64);
    expect(report.cpuSeconds).toBeGreaterThanOrEqual(0.2);
  }, 20_000);
});
