import { BatchAccumulator } from '../../src/job/batch-accumulator';

function manualTimers() {
  const timers: { at: number; callback: () => void; id: number }[] = [];
  let now = 0;
  let ids = 0;
  return {
    timers: {
      setTimeout: (callback: () => void, ms: number) => {
        timers.push({ at: now + ms, callback, id: ++ids });
        return ids;
      },
      clearTimeout: (handle: unknown) => {
        const index = timers.findIndex((timer) => timer.id === handle);
        if (index >= 0) timers.splice(index, 1);
      },
    },
    advance(ms: number) {
      now += ms;
      for (const timer of timers.filter((each) => each.at <= now)) {
        timers.splice(timers.indexOf(timer), 1);
        timer.callback();
      }
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('BatchAccumulator', () => {
  it('sends a batch as soon as it is full, and each item gets its own outcome', async () => {
    const calls: number[][] = [];
    const accumulator = new BatchAccumulator<number, string>({
      batchSize: 3, flushMs: 1000, maxConcurrentBatches: 2, timers: manualTimers().timers,
      run: async (items) => {
        calls.push([...items]);
        return items.map((item) => `scored ${item}`);
      },
    });
    const results = await Promise.all([1, 2, 3].map((item) => accumulator.add(item)));
    expect(calls).toEqual([[1, 2, 3]]);
    expect(results).toEqual(['scored 1', 'scored 2', 'scored 3']);
  });

  it('sends a partial batch flushMs after its first item, not after its last', async () => {
    const clock = manualTimers();
    const calls: number[][] = [];
    const accumulator = new BatchAccumulator<number, number>({
      batchSize: 10, flushMs: 500, maxConcurrentBatches: 1, timers: clock.timers, run: async (items) => {
        calls.push([...items]);
        return items;
      },
    });
    const first = accumulator.add(1);
    clock.advance(400);
    const second = accumulator.add(2);
    clock.advance(99);
    await tick();
    expect(calls).toEqual([]);
    clock.advance(1);
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    expect(calls).toEqual([[1, 2]]);
  });

  it('runs at most maxConcurrentBatches at once; full batches wait in arrival order', async () => {
    const releases: (() => void)[] = [];
    const started: number[][] = [];
    const accumulator = new BatchAccumulator<number, number>({
      batchSize: 2, flushMs: 1000, maxConcurrentBatches: 2, timers: manualTimers().timers,
      run: (items) => new Promise((resolve) => {
        started.push([...items]);
        releases.push(() => resolve(items));
      }),
    });
    const all = [1, 2, 3, 4, 5, 6].map((item) => accumulator.add(item));
    await tick();
    expect(started).toEqual([[1, 2], [3, 4]]);
    expect(accumulator.buffered).toBe(2);
    releases[0]!();
    await tick();
    expect(started).toEqual([[1, 2], [3, 4], [5, 6]]);
    releases[1]!();
    releases[2]!();
    expect(await Promise.all(all)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(accumulator.runningBatches).toBe(0);
  });

  it('fails every item of a batch whose call throws, and only that batch', async () => {
    const accumulator = new BatchAccumulator<number, number>({
      batchSize: 2, flushMs: 1000, maxConcurrentBatches: 2, timers: manualTimers().timers,
      run: async (items) => {
        if (items.includes(3)) throw new Error('model timed out');
        return items;
      },
    });
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map((item) => accumulator.add(item)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
  });

  it('flushes a half-full buffer at once on a stop', async () => {
    const clock = manualTimers();
    const accumulator = new BatchAccumulator<number, number>({ batchSize: 100, flushMs: 60_000, maxConcurrentBatches: 1, timers: clock.timers, run: async (items) => items });
    const pending = [accumulator.add(1), accumulator.add(2)];
    accumulator.flush();
    expect(await Promise.all(pending)).toEqual([1, 2]);
  });

  it('refuses a run that returns the wrong number of outcomes, failing its items rather than misattributing them', async () => {
    const accumulator = new BatchAccumulator<number, number>({ batchSize: 2, flushMs: 10, maxConcurrentBatches: 1, timers: manualTimers().timers, run: async () => [1] });
    await expect(Promise.all([accumulator.add(1), accumulator.add(2)])).rejects.toThrow('a batch of 2 items returned 1 outcomes');
  });
});
