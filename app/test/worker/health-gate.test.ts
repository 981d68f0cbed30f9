import { HealthGate } from '../../src/worker/health-gate';

function gateAt(options: ConstructorParameters<typeof HealthGate>[0] = {}) {
  const clock = { now: 0 };
  const changes: boolean[] = [];
  const waits: number[] = [];
  const gate = new HealthGate({
    now: () => clock.now,
    wait: async (ms) => {
      waits.push(ms);
      clock.now += ms;
    },
    onChange: (open) => changes.push(open),
    ...options,
  });
  return { gate, clock, changes, waits };
}

describe('HealthGate', () => {
  it('stays closed for a few failures among successes: one bad object is not an outage', () => {
    const { gate } = gateAt();
    for (let i = 0; i < 20; i++) gate.recordSuccess();
    for (let i = 0; i < 4; i++) gate.recordFailure();
    expect(gate.isOpen).toBe(false);
    gate.recordFailure();
    // Five failures, but only 5 of 25 calls: still closed.
    expect(gate.isOpen).toBe(false);
  });

  it('opens when most recent calls fail, makes callers wait out a pause, and closes on the first success', async () => {
    const { gate, changes, waits } = gateAt({ firstPauseMs: 1000 });
    for (let i = 0; i < 5; i++) gate.recordFailure();
    expect(gate.isOpen).toBe(true);
    expect(changes).toEqual([true]);
    await gate.ready();
    expect(waits).toEqual([1000]);
    gate.recordSuccess();
    expect(gate.isOpen).toBe(false);
    expect(changes).toEqual([true, false]);
    await gate.ready();
    expect(waits).toEqual([1000]);
  });

  it('doubles the pause after a failed probe, up to its ceiling, and starts again from the first pause after recovery', async () => {
    const { gate, waits, clock } = gateAt({ firstPauseMs: 1000, maxPauseMs: 3000 });
    for (let i = 0; i < 5; i++) gate.recordFailure();
    await gate.ready();
    gate.recordFailure(); // the probe fails
    gate.recordFailure(); // a second call of the same burst says nothing new
    await gate.ready();
    gate.recordFailure();
    await gate.ready();
    expect(waits).toEqual([1000, 2000, 3000]);
    gate.recordSuccess();
    clock.now += 60_000;
    for (let i = 0; i < 5; i++) gate.recordFailure();
    await gate.ready();
    expect(waits.at(-1)).toBe(1000);
  });

  it('forgets failures older than its window', () => {
    const { gate, clock } = gateAt({ windowMs: 10_000 });
    for (let i = 0; i < 4; i++) gate.recordFailure();
    clock.now += 11_000;
    gate.recordFailure();
    expect(gate.isOpen).toBe(false);
  });

  it('stops waiting when the signal aborts', async () => {
    const gate = new HealthGate({ firstPauseMs: 60_000 });
    for (let i = 0; i < 5; i++) gate.recordFailure();
    const abort = new AbortController();
    const waiting = gate.ready(abort.signal);
    abort.abort();
    await expect(waiting).resolves.toBeUndefined();
    expect(gate.isOpen).toBe(true);
  });
});
