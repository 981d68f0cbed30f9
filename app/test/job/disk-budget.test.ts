import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyFailure } from '../../../shared/errors';
import { DiskBudgetError } from '../../src/job/disk-budget';
import { defaultDiskBudgetBytes, DiskBudget, diskReservationBytes, MIN_DISK_RESERVATION_BYTES } from '../../src/job/disk-budget';

const MIB = 1024 * 1024;

/** Whether a promise has settled by the time queued callbacks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('DiskBudget', () => {
  it('admits while the bytes fit and makes the rest wait until a lease is released', async () => {
    const budget = new DiskBudget(100);
    const first = await budget.acquire(60, 'a.geojson');
    const second = budget.acquire(50, 'b.geojson');
    expect(await settled(second)).toBe(false);
    expect(budget.usedBytes).toBe(60);
    first.release();
    const lease = await second;
    expect(lease.bytes).toBe(50);
    expect(budget.usedBytes).toBe(50);
  });

  it('is first come first served: a small request does not slip past a large one waiting', async () => {
    const budget = new DiskBudget(100);
    const held = await budget.acquire(60, 'held');
    const large = budget.acquire(80, 'large');
    const small = budget.acquire(10, 'small');
    expect(await settled(small)).toBe(false);
    held.release();
    (await large).release();
    expect((await small).bytes).toBe(10);
  });

  it('release is idempotent', async () => {
    const budget = new DiskBudget(100);
    const lease = await budget.acquire(40, 'x');
    await budget.acquire(30, 'y');
    lease.release();
    lease.release();
    expect(budget.usedBytes).toBe(30);
  });

  it('refuses at once, permanently, what can never fit even alone, naming both sizes and DISK_BUDGET_MIB', async () => {
    const budget = new DiskBudget(100 * MIB);
    await budget.acquire(90 * MIB, 'busy');
    const refusal = budget.acquire(300 * MIB, 'in/huge.geojson (150 MiB)');
    await expect(refusal).rejects.toBeInstanceOf(DiskBudgetError);
    const error = await refusal.catch((e: unknown) => e);
    expect(classifyFailure(error)).toMatchObject({ kind: 'permanent', reason: 'disk-budget-exceeded' });
    expect((error as Error).message).toMatch(/in\/huge\.geojson \(150 MiB\) needs 300 MiB of disk .* disk budget of 100 MiB .*DISK_BUDGET_MIB/);
  });

  it('stops waiting when the signal aborts, and lets those behind it through', async () => {
    const budget = new DiskBudget(100);
    const held = await budget.acquire(50, 'held');
    const controller = new AbortController();
    const large = budget.acquire(80, 'large', controller.signal);
    const small = budget.acquire(40, 'small');
    controller.abort(new Error('message given up'));
    await expect(large).rejects.toThrow('message given up');
    expect((await small).bytes).toBe(40);
    expect(budget.usedBytes).toBe(90);
    held.release();
    expect(budget.usedBytes).toBe(40);
  });

  it('rejects at once with an already aborted signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stopping'));
    await expect(new DiskBudget(100).acquire(1, 'x', controller.signal)).rejects.toThrow('stopping');
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new DiskBudget(0)).toThrow(RangeError);
  });
});

describe('diskReservationBytes', () => {
  it('is the input size times the factor (default 2: the input, and outputs as large again)', () => {
    expect(diskReservationBytes(100 * MIB)).toBe(200 * MIB);
    expect(diskReservationBytes(100 * MIB, 1.5)).toBe(150 * MIB);
    expect(diskReservationBytes(100 * MIB + 1, 3)).toBe(300 * MIB + 3);
  });

  it('is at least 1 MiB, even for an empty input', () => {
    expect(diskReservationBytes(0)).toBe(MIN_DISK_RESERVATION_BYTES);
    expect(diskReservationBytes(10)).toBe(MIN_DISK_RESERVATION_BYTES);
  });
});

describe('defaultDiskBudgetBytes', () => {
  it('is 80% of the free space of the file system holding the directory', async () => {
    const asked: string[] = [];
    const stat = async (path: string) => {
      asked.push(path);
      return { bavail: 1000, bsize: 4096 };
    };
    expect(await defaultDiskBudgetBytes('/scratch/work', undefined, stat)).toBe(Math.floor(1000 * 4096 * 0.8));
    expect(asked).toEqual(['/scratch/work']);
  });

  it('asks the nearest existing parent when the directory does not exist yet', async () => {
    const asked: string[] = [];
    const stat = async (path: string) => {
      asked.push(path);
      if (path !== '/scratch') throw Object.assign(new Error('no such directory'), { code: 'ENOENT' });
      return { bavail: 10, bsize: 100 };
    };
    expect(await defaultDiskBudgetBytes('/scratch/a/b', 0.5, stat)).toBe(500);
    expect(asked).toEqual(['/scratch/a/b', '/scratch/a', '/scratch']);
  });

  it('reads the real file system', async () => {
    const bytes = await defaultDiskBudgetBytes(join(tmpdir(), 'not-created-yet', 'blueprint-work'));
    expect(bytes).toBeGreaterThan(0);
    expect(Number.isSafeInteger(bytes)).toBe(true);
  });
});
