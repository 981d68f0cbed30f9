import { MemoryBudgetError } from '../image-errors';
import { MemoryBudget } from '../memory-budget';

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('MemoryBudget', () => {
  it('admits at once while the total fits, and makes later work wait until a lease is released', async () => {
    const budget = new MemoryBudget(100);
    const first = await budget.acquire(60, 'a');
    let secondAdmitted = false;
    const second = budget.acquire(60, 'b').then((lease) => {
      secondAdmitted = true;
      return lease;
    });
    await settled();
    expect(secondAdmitted).toBe(false);
    expect(budget.usedBytes).toBe(60);
    first.release();
    (await second).release();
    expect(secondAdmitted).toBe(true);
    expect(budget.usedBytes).toBe(0);
  });

  it('serves waiters in order: a small request does not overtake a large one waiting before it', async () => {
    const budget = new MemoryBudget(100);
    const held = await budget.acquire(50, 'held');
    const order: string[] = [];
    const large = budget.acquire(80, 'large').then((lease) => (order.push('large'), lease));
    const small = budget.acquire(10, 'small').then((lease) => (order.push('small'), lease));
    await settled();
    expect(order).toEqual([]);
    held.release();
    (await large).release();
    (await small).release();
    expect(order).toEqual(['large', 'small']);
  });

  it('refuses at once what could never fit, naming the item and both sizes', async () => {
    const budget = new MemoryBudget(10 * 1024 * 1024);
    await expect(budget.acquire(30 * 1024 * 1024, 'in/huge.png')).rejects.toThrow(MemoryBudgetError);
    await expect(budget.acquire(30 * 1024 * 1024, 'in/huge.png')).rejects.toThrow(/in\/huge\.png needs about 30 MiB to decode, more than this task's decode budget of 10 MiB/);
  });

  it('gives up a wait when the message is given up, and lets the next waiter in', async () => {
    const budget = new MemoryBudget(100);
    const held = await budget.acquire(90, 'held');
    const controller = new AbortController();
    const abandoned = budget.acquire(50, 'abandoned', controller.signal);
    const next = budget.acquire(10, 'next');
    controller.abort(new Error('deadline'));
    await expect(abandoned).rejects.toThrow('deadline');
    (await next).release();
    held.release();
    expect(budget.usedBytes).toBe(0);
  });

  it('releases a lease once however often release is called', async () => {
    const budget = new MemoryBudget(100);
    const lease = await budget.acquire(40, 'a');
    lease.release();
    lease.release();
    expect(budget.usedBytes).toBe(0);
  });
});
