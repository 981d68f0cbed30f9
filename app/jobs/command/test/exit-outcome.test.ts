import { tmpdir } from 'node:os';
import { classifyFailure, PermanentError, TransientError } from '../../../../shared/errors';
import { CommandFailedError } from '../command-errors';
import { exitOutcome, type ExitOutcomeSettings } from '../exit-outcome';
import { runProgram, type RunResult } from '../program-runner';
import { TEST_ENV } from './helpers';

const settings: ExitOutcomeSettings = { transientExitCodes: [75], timeoutSeconds: 240 };

const result = (overrides: Partial<RunResult> = {}): RunResult => ({
  exitCode: 0, signal: null, timedOut: false, stopped: false, aborted: false, stderrTail: '', durationMs: 1234, ...overrides,
});

/** The outcome as the worker's single classification sees it. */
function classified(overrides: Partial<RunResult>, custom: ExitOutcomeSettings = settings): ReturnType<typeof classifyFailure> {
  const outcome = exitOutcome(result(overrides), custom);
  if (outcome.kind === 'done') throw new Error('expected a failure');
  return classifyFailure(outcome.error);
}

describe('exitOutcome', () => {
  it('exit 0 is done', () => {
    expect(exitOutcome(result(), settings)).toEqual({ kind: 'done' });
  });

  it('exit 0 after a forwarded SIGTERM is done: the program finished normally', () => {
    expect(exitOutcome(result({ stopped: true }), settings)).toEqual({ kind: 'done' });
  });

  it('a code in the transient set is transient command-tempfail, naming the code and the variable', () => {
    expect(classified({ exitCode: 75 })).toMatchObject({ kind: 'transient', reason: 'command-tempfail', message: expect.stringMatching(/exited with code 75.*COMMAND_TRANSIENT_EXIT_CODES \(75\)/) });
    expect(classified({ exitCode: 3 }, { ...settings, transientExitCodes: [3, 75] })).toMatchObject({ kind: 'transient', reason: 'command-tempfail' });
  });

  it('any other code is a permanent CommandFailedError with the code and the stderr tail', () => {
    const outcome = exitOutcome(result({ exitCode: 2, stderrTail: 'Error: not a FeatureCollection' }), settings);
    expect(outcome.kind).toBe('failed');
    const error = (outcome as { error: Error }).error;
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toMatch(/COMMAND exited with code 2 after 1\.2 s, not one of COMMAND_TRANSIENT_EXIT_CODES \(75\): permanent; last lines of stderr:\nError: not a FeatureCollection$/);
    expect(error).toMatchObject({ exitCode: 2, signal: null, stderrTail: 'Error: not a FeatureCollection' });
    expect(classifyFailure(error)).toMatchObject({ kind: 'permanent', reason: 'command-failed' });
  });

  it('says so when stderr was empty', () => {
    expect(classified({ exitCode: 1 }).message).toMatch(/\(stderr was empty\)$/);
  });

  it('death by SIGSEGV, not sent by the worker, is permanent and names the signal', () => {
    expect(classified({ exitCode: null, signal: 'SIGSEGV' })).toMatchObject({ kind: 'permanent', reason: 'command-failed', message: expect.stringMatching(/killed by SIGSEGV, a crash/) });
  });

  it('death by a SIGKILL the worker did not send (the OOM killer) is worth one more attempt: a neighbour may have used the memory', () => {
    for (const ended of [{ exitCode: null, signal: 'SIGKILL' }, { exitCode: 137 }]) {
      const error = classified(ended);
      expect(error).toMatchObject({ kind: 'transient', reason: 'command-killed', attemptsAllowed: 2, message: expect.stringMatching(/most likely out of memory/) });
    }
  });

  it('explains a shell\'s 128+N exit code', () => {
    expect(classified({ exitCode: 137 }).message).toMatch(/exited with code 137 \(128 \+ 9: a shell reporting a process killed by SIGKILL/);
  });

  it('a timeout is transient once, then permanent, and names COMMAND_TIMEOUT_SECONDS', () => {
    for (const ended of [{ signal: 'SIGTERM', exitCode: null }, { signal: 'SIGKILL', exitCode: null }, { exitCode: 143 }, { exitCode: 1 }]) {
      expect(classified({ timedOut: true, ...ended })).toEqual({
        kind: 'transient', reason: 'command-timeout', attemptsAllowed: 2, message: expect.stringContaining('COMMAND_TIMEOUT_SECONDS=240'),
      });
    }
  });

  it('a program that fails in any way after the forwarded SIGTERM is never permanent', () => {
    for (const ended of [{ signal: 'SIGTERM', exitCode: null }, { exitCode: 143 }, { exitCode: 1 }, { signal: 'SIGKILL', exitCode: null }, { exitCode: 75 }]) {
      const failure = classified({ stopped: true, ...ended });
      expect(failure).toMatchObject({ kind: 'transient', reason: 'command-stopped', message: expect.stringMatching(/stopped by the task's shutdown/) });
      expect(failure.attemptsAllowed).toBeUndefined();
    }
  });

  it('SIGTERM from outside the worker (signal or exit 143) is transient too', () => {
    expect(classified({ signal: 'SIGTERM', exitCode: null })).toMatchObject({ kind: 'transient', reason: 'command-stopped' });
    expect(classified({ exitCode: 143 })).toMatchObject({ kind: 'transient', reason: 'command-stopped', message: expect.stringMatching(/code 143 .*SIGTERM/) });
  });

  it('a program killed because the worker gave the message up is transient, whatever else happened', () => {
    expect(classified({ aborted: true, signal: 'SIGKILL', exitCode: null, timedOut: true })).toMatchObject({ kind: 'transient', reason: 'command-stopped', message: expect.stringMatching(/gave the message up/) });
    expect(classified({ aborted: true, exitCode: null })).toMatchObject({ kind: 'transient' });
  });

  it('every failure is a subclass the worker classifies, never a plain Error', () => {
    for (const overrides of [{ exitCode: 1 }, { exitCode: 75 }, { timedOut: true, exitCode: 1 }, { stopped: true, exitCode: 1 }, { aborted: true }]) {
      const outcome = exitOutcome(result(overrides), settings);
      const error = (outcome as { error: Error }).error;
      expect(error instanceof PermanentError || error instanceof TransientError).toBe(true);
    }
  });
});

describe('exitOutcome with real programs', () => {
  const run = (script: string, timeoutMs = 10_000) =>
    runProgram({ file: '/bin/sh', args: ['-c', script], cwd: tmpdir(), env: TEST_ENV, timeoutMs, killGraceMs: 200 }).then((ran) => exitOutcome(ran, settings));

  it.each([
    ['exit 0', undefined],
    ['echo "try later" >&2; exit 75', 'command-tempfail'],
    ['echo "bad input" >&2; exit 2', 'command-failed'],
    ['kill -SEGV $$', 'command-failed'],
    ['kill -TERM $$', 'command-stopped'],
    ['sleep 30', 'command-timeout'],
  ])('%s', async (script, reason) => {
    const outcome = await run(script, 300);
    if (reason === undefined) expect(outcome).toEqual({ kind: 'done' });
    else expect(outcome.kind === 'failed' && classifyFailure(outcome.error).reason).toBe(reason);
  });
});
