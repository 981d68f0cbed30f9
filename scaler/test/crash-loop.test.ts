import { classifyTask, decideCrashLoop, DEFAULT_CRASH_LOOP, type CrashLoopSettings } from '../src/crash-loop';
import type { TaskRecord } from '../src/ports/task-history';
import { NOW, WORKER_IMAGE, seconds, taskRecord } from './factories';

const settings: CrashLoopSettings = DEFAULT_CRASH_LOOP;
/** `n` tasks launched together `ageSeconds` ago that each died `ranSeconds` after starting. */
const round = (n: number, ageSeconds: number, overrides: Partial<TaskRecord> & { ranSeconds?: number } = {}) =>
  Array.from({ length: n }, () => taskRecord({ ageSeconds, ...overrides }));

describe('classifyTask', () => {
  it.each([
    ['exit 1 five seconds after starting', {}, 'start-failure'],
    ['exit 2 (a configuration error)', { exitCode: 2 }, 'start-failure'],
    ['exit 137 (killed) in its first minute', { exitCode: 137, ranSeconds: 50 }, 'start-failure'],
    ['exit 1 after receives kept failing for about a minute', { ranSeconds: 70 }, 'start-failure'],
    ['exit 1 after 20 minutes of work', { ranSeconds: 1200 }, 'ran'],
    ['exit 0 at once', { exitCode: 0, ranSeconds: 1 }, 'clean'],
    ['exit 0 after draining', { exitCode: 0, ranSeconds: 600 }, 'clean'],
    ['TaskFailedToStart with no start and no exit code', { stopCode: 'TaskFailedToStart', startedAt: undefined, exitCode: undefined }, 'start-failure'],
    ['a Spot interruption seconds after starting', { stopCode: 'SpotInterruption', exitCode: 143 }, 'ignored'],
    ['a termination notice', { stopCode: 'TerminationNotice', exitCode: 137 }, 'ignored'],
    ['stopped by a person', { stopCode: 'UserInitiated', exitCode: 137 }, 'ignored'],
    ['still stopping (no stoppedAt yet)', { stoppedAt: undefined }, 'ignored'],
    ['running for ten minutes', { status: 'running', stoppedAt: undefined, stopCode: undefined, exitCode: undefined, ranSeconds: 0, ageSeconds: 640 }, 'healthy'],
    ['running for a minute', { status: 'running', stoppedAt: undefined, stopCode: undefined, exitCode: undefined, ageSeconds: 100 }, 'starting'],
    ['pending', { status: 'running', startedAt: undefined, stoppedAt: undefined, stopCode: undefined, exitCode: undefined }, 'starting'],
  ] as const)('%s -> %s', (_case, overrides, outcome) => {
    expect(classifyTask(taskRecord(overrides as Partial<TaskRecord>), NOW, settings.minRunSeconds)).toBe(outcome);
  });
});

describe('decideCrashLoop', () => {
  it('is ok with no history, and off when CRASH_LOOP_TASKS is 0', () => {
    expect(decideCrashLoop([], NOW, settings)).toEqual({ state: 'ok', allowed: Infinity, startFailures: 0, rounds: 0, pauseSeconds: 0 });
    expect(decideCrashLoop(round(10, 200), NOW, { ...settings, tasks: 0 })).toMatchObject({ state: 'off', allowed: Infinity });
  });

  it('notes start failures of one run below the threshold without holding anything', () => {
    const decision = decideCrashLoop(round(2, 200), NOW, settings);
    expect(decision).toMatchObject({ state: 'ok', allowed: Infinity, startFailures: 2 });
    expect(decision.reason).toBe('2 recent start failure(s) from one scaler run, below CRASH_LOOP_TASKS 3');
  });

  it('counts two runs whose tasks all died as a loop however few they were: a one-message backlog, or probes spaced by the pause', () => {
    expect(decideCrashLoop([...round(1, 250), ...round(1, 130)], NOW, settings)).toMatchObject({ state: 'backing-off', startFailures: 2, rounds: 2, pauseSeconds: 480 });
    // Probes 20 minutes apart: the round of ten that began the loop has left the hour, the loop has not ended.
    expect(decideCrashLoop([...round(10, 4000), ...round(1, 2500), ...round(1, 1300)], NOW, settings)).toMatchObject({ state: 'probing', rounds: 2, allowed: 1 });
  });

  it('backs off after one round of start failures, for the base pause from the newest failure, and says why', () => {
    // Ten tasks launched 100 s ago, each dead 5 s after starting at 40 s: the newest failure is 55 s old.
    const decision = decideCrashLoop([...round(8, 100), ...round(2, 100, { stopCode: 'TaskFailedToStart', startedAt: undefined, exitCode: undefined, containerReason: 'CannotPullContainerError: not found' })], NOW, settings);
    expect(decision).toMatchObject({ state: 'backing-off', allowed: 0, startFailures: 10, rounds: 1, pauseSeconds: 240 });
    expect(decision.resumeAt).toBe(NOW - seconds(55) + seconds(240));
    expect(decision.reason).toBe(
      'crash loop: the last 10 stopped tasks failed at start (exit 1 x8, TaskFailedToStart (CannotPullContainerError) x2) in 1 scaler run(s) ' +
        'within the last hour -> backing off 240 s after the last failure, until 2025-06-02T12:03:05.000Z: launch 0',
    );
  });

  it('doubles the pause with each failed round, up to the maximum', () => {
    // Rounds 50, 40, 30 and 20 minutes ago plus one probe 2 minutes ago: five runs.
    const history = [...round(10, 3000), ...round(1, 2400), ...round(1, 1800), ...round(1, 1200), ...round(1, 120)];
    expect(decideCrashLoop(history.slice(0, 11), NOW, settings)).toMatchObject({ rounds: 2, pauseSeconds: 480 });
    expect(decideCrashLoop(history.slice(0, 12), NOW, settings)).toMatchObject({ rounds: 3, pauseSeconds: 960 });
    expect(decideCrashLoop(history, NOW, settings)).toMatchObject({ state: 'backing-off', rounds: 5, pauseSeconds: 1200 });
  });

  it('after the pause allows one probe task, and no second one while the first is still starting', () => {
    const failures = round(10, 600);
    expect(decideCrashLoop(failures, NOW, settings)).toMatchObject({ state: 'probing', allowed: 1, pauseSeconds: 240 });
    expect(decideCrashLoop(failures, NOW, settings).reason).toMatch(/pause of 240 s over: at most 1 probe task$/);

    const probe = taskRecord({ status: 'running', ageSeconds: 60, startedAt: undefined, stoppedAt: undefined, stopCode: undefined, exitCode: undefined });
    const withProbe = decideCrashLoop([...failures, probe], NOW, settings);
    expect(withProbe).toMatchObject({ state: 'backing-off', allowed: 0 });
    expect(withProbe.reason).toMatch(/a probe task launched after the pause is still starting: launch 0$/);
  });

  it('ends the loop at once when a task exits 0, runs long, or has been running minRunSeconds', () => {
    const failures = round(10, 200);
    expect(decideCrashLoop([...failures, taskRecord({ ageSeconds: 100, exitCode: 0, ranSeconds: 1 })], NOW, settings)).toMatchObject({ state: 'ok', startFailures: 0 });
    expect(decideCrashLoop([...failures, taskRecord({ ageSeconds: 1500, ranSeconds: 1400 })], NOW, settings)).toMatchObject({ state: 'ok', startFailures: 0 });
    const healthy = taskRecord({ status: 'running', ageSeconds: 300, stoppedAt: undefined, stopCode: undefined, exitCode: undefined });
    expect(decideCrashLoop([...failures, healthy], NOW, settings)).toMatchObject({ state: 'ok', startFailures: 0 });
  });

  it('needs the failures to be the newest outcomes: a clean exit after them is a recovery, before them it is history', () => {
    const cleanBefore = taskRecord({ ageSeconds: 900, exitCode: 0, ranSeconds: 300 });
    expect(decideCrashLoop([cleanBefore, ...round(3, 200)], NOW, settings)).toMatchObject({ state: 'backing-off', startFailures: 3 });
  });

  it('does not count Spot interruptions, and does not let them break a streak either', () => {
    const spot = round(5, 150, { stopCode: 'SpotInterruption', exitCode: 0 });
    expect(decideCrashLoop(spot, NOW, settings)).toMatchObject({ state: 'ok', startFailures: 0 });
    expect(decideCrashLoop([...round(3, 200), ...spot], NOW, settings)).toMatchObject({ state: 'backing-off', startFailures: 3 });
  });

  it('forgets failures older than an hour', () => {
    expect(decideCrashLoop(round(10, 3700), NOW, settings)).toMatchObject({ state: 'ok', startFailures: 0 });
  });

  it('judges only tasks of the current image, so a fixed image starts with a clean slate', () => {
    const broken = round(10, 200, { image: `${WORKER_IMAGE}-broken` });
    expect(decideCrashLoop(broken, NOW, settings, WORKER_IMAGE)).toMatchObject({ state: 'ok', startFailures: 0 });
    expect(decideCrashLoop(broken, NOW, settings, `${WORKER_IMAGE}-broken`)).toMatchObject({ state: 'backing-off' });
    expect(decideCrashLoop(broken, NOW, settings)).toMatchObject({ state: 'backing-off' });
  });
});
