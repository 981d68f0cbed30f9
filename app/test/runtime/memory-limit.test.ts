import { detectMemoryLimit } from '../../src/runtime/memory-limit';

const GIB = 1024 ** 3;
const files = (entries: Record<string, string>) => (path: string): string => {
  const text = entries[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT ${path}`), { code: 'ENOENT' });
  return text;
};

describe('detectMemoryLimit', () => {
  it('reads the process own cgroup v2 limit', () => {
    const read = files({ '/proc/self/cgroup': '0::/ecs/task-1\n', '/sys/fs/cgroup/ecs/task-1/memory.max': String(2 * GIB) });
    expect(detectMemoryLimit({}, read, 16 * GIB)).toEqual({ bytes: 2 * GIB, source: 'cgroup-v2' });
  });

  it('reads the process own cgroup v1 limit, as a test that puts the worker in a child cgroup does', () => {
    const read = files({
      '/proc/self/cgroup': '5:devices:/\n4:memory:/worker-test-1\n',
      '/sys/fs/cgroup/memory/worker-test-1/memory.limit_in_bytes': String(512 * 1024 * 1024),
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712',
    });
    expect(detectMemoryLimit({}, read, 16 * GIB)).toEqual({ bytes: 512 * 1024 * 1024, source: 'cgroup-v1' });
  });

  it('treats v2 "max" and v1 near-2^63 as no limit, then falls back to TASK_MEMORY_MIB, then the host', () => {
    const read = files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/memory.max': 'max', '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' });
    expect(detectMemoryLimit({ TASK_MEMORY_MIB: '4096' }, read, 16 * GIB)).toEqual({ bytes: 4 * GIB, source: 'TASK_MEMORY_MIB' });
    expect(detectMemoryLimit({}, read, 16 * GIB)).toEqual({ bytes: 16 * GIB, source: 'host' });
    expect(detectMemoryLimit({ TASK_MEMORY_MIB: 'lots' }, read, 16 * GIB).source).toBe('host');
  });

  it('never reports more than the host has', () => {
    const read = files({ '/proc/self/cgroup': '0::/big\n', '/sys/fs/cgroup/big/memory.max': String(64 * GIB) });
    expect(detectMemoryLimit({}, read, 8 * GIB).bytes).toBe(8 * GIB);
  });
});
