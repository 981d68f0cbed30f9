import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryCgroup, parseOomKills } from '../src/memory-cgroup';

const MIB = 2 ** 20;

describe('memory cgroup', () => {
  // Machines of this project's kind run as root; elsewhere this fails with the reason rather than pass unmeasured.
  it('limits a process from its first allocation and reports the OOM kill past the limit', async () => {
    const created = createMemoryCgroup(64 * MIB, `s3-queue-bench-test-${process.pid}-${Date.now()}`);
    if ('reason' in created) throw new Error(created.reason);
    const { cgroup } = created;
    try {
      // 256 MiB touched in 8 MiB steps: far past the 64 MiB limit.
      const script = 'const kept = []; for (let i = 0; i < 32; i++) kept.push(Buffer.alloc(8 * 1024 * 1024, 1)); console.log("survived")';
      const wrapped = cgroup.wrap(process.execPath, ['-e', script]);
      const child = spawn(wrapped.command, wrapped.args, { stdio: ['ignore', 'pipe', 'ignore'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.on('close', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal })),
      );
      const report = cgroup.read();
      expect(output).not.toContain('survived');
      expect(signal === 'SIGKILL' || code === 137).toBe(true);
      expect(report.oomKills).toBeGreaterThanOrEqual(1);
      expect(report.failcnt).toBeGreaterThan(0);
      expect(report.maxUsageBytes).toBeLessThanOrEqual(64 * MIB);
      expect(report.maxUsageBytes).toBeGreaterThan(32 * MIB);
    } finally {
      await cgroup.remove();
    }
    expect(existsSync(cgroup.path)).toBe(false);
  }, 20_000);

  it('says why when it cannot create the group, instead of measuring nothing and calling it a pass', () => {
    const result = createMemoryCgroup(64 * MIB, 'anything', join(tmpdir(), `no-cgroup-here-${process.pid}`, 'memory'));
    expect('reason' in result && result.reason).toMatch(/^cannot create the memory cgroup .*ENOENT.*needs root/);
  });

  it('reads the OOM kill count from memory.oom_control, and knows when the kernel does not report it', () => {
    expect(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n')).toBe(3);
    expect(parseOomKills('oom_kill_disable 0\nunder_oom 0\n')).toBeUndefined();
  });
});
