import { DashboardState, decisionFrom, newestOutputs, processingTimeFrom, type PipelineTick } from '../src/dashboard/dashboard-state';

function tick(elapsedSeconds: number, fields: Partial<PipelineTick> = {}): PipelineTick {
  return { elapsedSeconds, visible: 0, inFlight: 0, delayed: 0, deadLettered: 0, workers: 0, processed: 0, loaded: 10, pending: 0, ...fields };
}

const decisionLine = (fields: Record<string, unknown>) => JSON.stringify({ level: 'INFO', message: 'scaling decision', timestamp: '2026-12-03T10:00:00.000Z', visible: 5, inFlight: 1, running: 0, launch: 1, reasons: ['backlog'], ...fields });

describe('DashboardState', () => {
  it('keeps every tick as the current numbers but one chart point per resolution interval', () => {
    const state = new DashboardState({ job: 'resize' });
    for (const t of [0, 0.25, 0.5, 0.75, 1, 1.25, 2.1]) state.record(tick(t, { visible: Math.round(t * 4) }));
    const snapshot = state.snapshot();
    expect(snapshot.series.t).toEqual([0, 1, 2.1]);
    expect(snapshot.series.visible).toEqual([0, 4, 8]);
    expect(snapshot.now).toMatchObject({ elapsedSeconds: 2.1, visible: 8 });
  });

  it('stays within its capacity over a long run by merging neighbours, the whole run still on the chart', () => {
    const state = new DashboardState({ job: 'resize', capacity: 10 });
    for (let t = 0; t <= 100; t++) state.record(tick(t, { workers: t }));
    const { series, resolutionSeconds } = state.snapshot();
    expect(series.t.length).toBeLessThanOrEqual(10);
    expect(resolutionSeconds).toBeGreaterThan(1);
    expect(series.t[0]).toBeLessThanOrEqual(resolutionSeconds);
    expect(series.t[series.t.length - 1]).toBeGreaterThan(100 - resolutionSeconds * 2);
    // A merged point shows the state at the end of its interval.
    expect(series.workers).toEqual(series.t);
  });

  it('merges processing times exactly: the files count, their mean and the slowest survive a merge', () => {
    const state = new DashboardState({ job: 'resize', capacity: 2 });
    state.record(tick(0));
    state.addLatencies([100, 300]);
    state.record(tick(1));
    state.addLatencies([1000]);
    state.record(tick(2));
    const { series, latency } = state.snapshot();
    expect(series.t).toEqual([1, 2]);
    expect(series.latencyMeanMs).toEqual([200, 1000]);
    expect(series.latencyMaxMs).toEqual([300, 1000]);
    expect(latency).toEqual({ files: 3, meanMs: 467 });
  });

  it('has no latency where no file finished (a gap, not a zero)', () => {
    const state = new DashboardState({ job: 'resize' });
    state.record(tick(0));
    state.record(tick(1));
    expect(state.snapshot().series.latencyMeanMs).toEqual([null, null]);
    expect(state.snapshot().latency.meanMs).toBeNull();
  });

  it('rates files per second over the last few seconds, not from a rerun\'s earlier outputs', () => {
    const state = new DashboardState({ job: 'resize', rateWindowSeconds: 4 });
    state.record(tick(0, { processed: 500 }));
    expect(state.snapshot().now.filesPerSecond).toBe(0);
    for (let t = 1; t <= 10; t++) state.record(tick(t, { processed: 500 + (t <= 6 ? t * 10 : 60) }));
    // From t=6 on nothing more is done: by t=10 the window holds only the idle seconds.
    expect(state.snapshot().now.filesPerSecond).toBe(0);
    expect(state.snapshot().series.filesPerSecond.slice(1, 5)).toEqual([10, 10, 10, 10]);
  });

  it('keeps the newest decisions first, bounded, and folds a repeated one into a count', () => {
    const state = new DashboardState({ job: 'resize', decisionsKept: 3 });
    const idle = decisionFrom(decisionLine({ launch: 0, visible: 0, inFlight: 0, reasons: ['queue empty -> launch 0'] }))!;
    state.addDecisions([1, 2, 3, 4].map((launch) => decisionFrom(decisionLine({ launch }))!));
    state.addDecisions([idle, idle, { ...idle, timestamp: '2026-12-03T10:00:09.000Z' }]);
    const { decisions } = state.snapshot();
    expect(decisions.map((decision) => [decision.launch, decision.repeated])).toEqual([[0, 3], [4, 1], [3, 1]]);
    expect(decisions[0]!.timestamp).toBe('2026-12-03T10:00:09.000Z');
  });

  it('refuses a capacity that could not hold a chart', () => {
    expect(() => new DashboardState({ job: 'resize', capacity: 1 })).toThrow(/capacity 1 is invalid/);
  });
});

describe('decisionFrom', () => {
  it('keeps only the fields the page shows, whatever else the line carries', () => {
    const decision = decisionFrom(decisionLine({ pipeline: 'loudness', secret: 'S3RVER', body: '{"Records":[]}', reasons: ['a', 7, 'b'] }));
    expect(decision).toEqual({ timestamp: '2026-12-03T10:00:00.000Z', pipeline: 'loudness', visible: 5, inFlight: 1, running: 0, launch: 1, reasons: ['a', 'b'], repeated: 1 });
  });

  it('ignores launch reports, other lines and lines that are not JSON', () => {
    expect(decisionFrom(JSON.stringify({ message: 'launch report', timestamp: 'x', launch: 4 }))).toBeUndefined();
    expect(decisionFrom('not json')).toBeUndefined();
    expect(decisionFrom('{"message":"scaling decision"')).toBeUndefined();
    expect(decisionFrom('[1]')).toBeUndefined();
  });
});

describe('processingTimeFrom', () => {
  it('reads durationMs from a worker\'s processed line only', () => {
    expect(processingTimeFrom(JSON.stringify({ message: 'processed', key: 'a.jpg', durationMs: 1074 }))).toBe(1074);
    expect(processingTimeFrom(JSON.stringify({ message: 'received', durationMs: 5 }))).toBeUndefined();
    expect(processingTimeFrom(JSON.stringify({ message: 'processed', durationMs: -1 }))).toBeUndefined();
    expect(processingTimeFrom(JSON.stringify({ message: 'processed', durationMs: '9' }))).toBeUndefined();
    expect(processingTimeFrom('worker crashed: stack trace')).toBeUndefined();
  });
});

describe('newestOutputs', () => {
  it('lists the newest first, bounded, each with a URL that carries its key encoded', () => {
    const at = (second: number) => new Date(Date.UTC(2026, 11, 3, 10, 0, second));
    const cards = newestOutputs([
      { key: 'old.jpg', size: 1, lastModified: at(1) },
      { key: 'b/new & odd?.png', size: 2, lastModified: at(5) },
      { key: 'a/new.json', size: 3, lastModified: at(5) },
    ], 2, (key) => /\.(png|jpg)$/.test(key));
    expect(cards).toEqual([
      { key: 'a/new.json', url: '/output?key=a%2Fnew.json', image: false, size: 3 },
      { key: 'b/new & odd?.png', url: '/output?key=b%2Fnew%20%26%20odd%3F.png', image: true, size: 2 },
    ]);
  });
});
