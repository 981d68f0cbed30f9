import { decideScaling, originalBlueprintLaunch } from '../src/policy';
import { scalingInput } from './factories';

describe('decideScaling', () => {
  it.each([
    // [case, input, desired, launch]
    ['the original blueprint: 1 message starts one task', { visible: 1 }, 1, 1],
    ['the original blueprint: 10 messages start one task', { visible: 10 }, 1, 1],
    ['the original blueprint: 11 messages start two tasks', { visible: 11 }, 2, 2],
    ['the original blueprint: 95 messages start ten tasks', { visible: 95 }, 10, 10],
    ['empty queue', { visible: 0 }, 0, 0],
    ['cap reached by the backlog', { visible: 137 }, 10, 10],
    ['cap reached by running tasks', { visible: 500, running: 10 }, 10, 0],
    ['more running than the cap (cap lowered)', { visible: 500, running: 12 }, 10, 0],
    ['tasks still pending for this backlog', { visible: 25, running: 3 }, 3, 0],
    ['some tasks pending, backlog grew', { visible: 90, running: 4 }, 9, 5],
    ['disabled with a backlog', { visible: 500, enabled: false }, 0, 0],
    ['in-flight messages only', { visible: 0, inFlight: 40, running: 2 }, 0, 0],
    ['delayed messages only', { visible: 0, delayed: 30 }, 0, 0],
    ['one message per task', { visible: 7, messagesPerTask: 1 }, 7, 7],
    ['100 messages per task', { visible: 250, messagesPerTask: 100 }, 3, 3],
    ['100 messages per task, one running', { visible: 250, messagesPerTask: 100, running: 1 }, 3, 2],
    ['a cap of 1', { visible: 1000, maxTasks: 1 }, 1, 1],
    ['negative approximate count', { visible: -3 }, 0, 0],
  ] as const)('%s', (_case, overrides, desired, launch) => {
    const decision = decideScaling(scalingInput(overrides));
    expect({ desired: decision.desired, launch: decision.launch }).toEqual({ desired, launch });
    expect(decision.input).toEqual(scalingInput(overrides));
  });

  it('explains a capped decision with the backlog, the cap and the running tasks', () => {
    expect(decideScaling(scalingInput({ visible: 137, running: 9 })).reasons).toEqual([
      'backlog 137 visible / 10 per task -> 14, capped at 10',
      '9 already running or pending -> launch 1',
    ]);
  });

  it('says why nothing was launched', () => {
    expect(decideScaling(scalingInput({ visible: 0 })).reasons).toEqual(['queue empty -> launch 0']);
    expect(decideScaling(scalingInput({ visible: 0, inFlight: 4, running: 1 })).reasons[0]).toMatch(/4 in flight/);
    expect(decideScaling(scalingInput({ visible: 50, enabled: false })).reasons[0]).toMatch(/disabled/);
    expect(decideScaling(scalingInput({ visible: 5, delayed: 12 })).reasons).toContain('12 delayed not counted until visible');
  });

  it('rejects a messagesPerTask that would divide by zero', () => {
    expect(() => decideScaling(scalingInput({ visible: 5, messagesPerTask: 0 }))).toThrow(RangeError);
  });
});

describe('originalBlueprintLaunch compared with decideScaling', () => {
  it('matches on a fresh backlog with nothing running', () => {
    for (const visible of [0, 1, 10, 11, 99, 137, 5000]) {
      expect(originalBlueprintLaunch(visible, 0, 10)).toBe(decideScaling(scalingInput({ visible })).launch);
    }
  });

  it('launches again every run for a backlog whose tasks are still starting, where decideScaling does not', () => {
    // The same 25 messages stay visible while the first tasks provision; each scheduled run sees them again.
    let originalRunning = 0;
    let running = 0;
    const originalLaunches: number[] = [];
    const launches: number[] = [];
    for (let run = 0; run < 4; run++) {
      const original = originalBlueprintLaunch(25, originalRunning, 10);
      originalLaunches.push(original);
      originalRunning += original;
      const { launch } = decideScaling(scalingInput({ visible: 25, running }));
      launches.push(launch);
      running += launch;
    }
    expect(originalLaunches).toEqual([3, 3, 3, 1]);
    expect(originalRunning).toBe(10);
    expect(launches).toEqual([3, 0, 0, 0]);
    expect(running).toBe(3);
  });

  it('never goes below zero when more tasks run than the cap', () => {
    expect(originalBlueprintLaunch(100, 12, 10)).toBe(0);
  });
});
