import { PeriodicPass } from '../src/periodic-pass';

/** A pass the test finishes by hand, counting how many were started. */
function heldPasses(): { pass: () => Promise<void>; started: () => number; finishLast: () => void } {
  const pending: (() => void)[] = [];
  return {
    pass: () => new Promise<void>((resolve) => pending.push(resolve)),
    started: () => pending.length,
    finishLast: () => pending.at(-1)?.(),
  };
}

it('starts no second pass while one runs, however many intervals it takes, and none is queued behind it', async () => {
  let now = 0;
  const held = heldPasses();
  const periodic = new PeriodicPass(held.pass, 5000, () => undefined, () => now);
  periodic.poke();
  for (now = 250; now <= 60_000; now += 250) periodic.poke();
  expect(held.started()).toBe(1);
  held.finishLast();
  await periodic.idle();
  // Nothing was waiting behind the slow pass: the next starts only on the next poke.
  expect(held.started()).toBe(1);
  periodic.poke();
  expect(held.started()).toBe(2);
});

it('waits out the interval between starts, and idle() resolves after a failed pass, its error reported', async () => {
  let now = 0;
  const errors: unknown[] = [];
  let passes = 0;
  const periodic = new PeriodicPass(async () => {
    passes++;
    if (passes === 1) throw new Error('listing refused');
  }, 5000, (error) => errors.push(error), () => now);
  periodic.poke();
  await periodic.idle();
  expect(errors).toEqual([new Error('listing refused')]);
  now = 4999;
  periodic.poke();
  expect(passes).toBe(1);
  now = 5000;
  periodic.poke();
  await periodic.idle();
  expect(passes).toBe(2);
});
