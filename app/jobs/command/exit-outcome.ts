import { constants } from 'node:os';
import { CommandFailedError, CommandKilledError, CommandStoppedError, CommandTempFailError, CommandTimeoutError } from './command-errors';
import type { RunResult } from './program-runner';

export interface ExitOutcomeSettings {
  /** COMMAND_TRANSIENT_EXIT_CODES (default [75], EX_TEMPFAIL from sysexits.h). */
  readonly transientExitCodes: readonly number[];
  /** COMMAND_TIMEOUT_SECONDS, named in the timeout's message. */
  readonly timeoutSeconds: number;
}

export type CommandOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'failed'; readonly error: CommandFailedError | CommandTempFailError | CommandTimeoutError | CommandStoppedError | CommandKilledError };

/** A shell reports a child killed by signal N as exit code 128 + N; 143 is SIGTERM. */
const SIGNAL_EXIT_BASE = 128;
const SIGTERM_EXIT_CODE = SIGNAL_EXIT_BASE + constants.signals.SIGTERM;
const SIGKILL_EXIT_CODE = SIGNAL_EXIT_BASE + constants.signals.SIGKILL;

/**
 * The exit-code contract, decided here and nowhere else (first match wins):
 * 1. killed because the worker gave the message up (`aborted`) → transient `command-stopped`;
 * 2. exit code 0 → done: the program says its outputs are complete, even if it finished after a forwarded SIGTERM
 *    or within the grace period after a timeout's SIGTERM (a program must not exit 0 with partial outputs);
 * 3. ran past the timeout → transient `command-timeout`, one more attempt then permanent;
 * 4. SIGTERM was forwarded (the task is stopping) and the program then failed in any way → transient
 *    `command-stopped`: an interrupted run says nothing about the input, and dead-lettering good work is the
 *    costlier mistake;
 * 5. ended by SIGTERM (the signal, or exit code 143 from a shell) that the worker did not send → transient
 *    `command-stopped` as well: something outside stopped it, not the input;
 * 6. an exit code in COMMAND_TRANSIENT_EXIT_CODES → transient `command-tempfail`;
 * 7. anything else, including death by another signal (SIGSEGV; SIGKILL from the kernel's OOM killer) →
 *    permanent `command-failed`, with the code or signal and the bounded stderr tail.
 */
export function exitOutcome(result: RunResult, settings: ExitOutcomeSettings): CommandOutcome {
  const ended = describeEnd(result);
  const stderr = stderrSection(result.stderrTail);
  const after = `after ${seconds(result.durationMs)}`;
  if (result.aborted) {
    return failed(new CommandStoppedError(`COMMAND was killed (SIGKILL to its process group) ${after} because the worker gave the message up; it will be retried${stderr}`));
  }
  if (result.exitCode === 0) return { kind: 'done' };
  if (result.timedOut) {
    return failed(
      new CommandTimeoutError(`COMMAND ran past COMMAND_TIMEOUT_SECONDS=${settings.timeoutSeconds} and was stopped with its process group (${ended}); one more attempt, then permanent${stderr}`),
    );
  }
  if (result.stopped) {
    return failed(new CommandStoppedError(`COMMAND was stopped by the task's shutdown (SIGTERM forwarded) and ${ended} ${after}; it will be retried on another task${stderr}`));
  }
  if (result.signal === 'SIGTERM' || result.exitCode === SIGTERM_EXIT_CODE) {
    return failed(new CommandStoppedError(`COMMAND ${ended} ${after}, a SIGTERM the worker did not send (the task or machine stopping); it will be retried${stderr}`));
  }
  if (result.signal === 'SIGKILL' || result.exitCode === SIGKILL_EXIT_CODE) {
    // Not ours: the kernel's OOM killer, most likely. The task's memory is shared by every program in flight, so a good
    // input may be the one killed for a neighbour's use: worth one more attempt, then permanent.
    return failed(new CommandKilledError(`COMMAND ${ended} ${after}, a SIGKILL the worker did not send (most likely out of memory); one more attempt, then permanent${stderr}`));
  }
  if (result.exitCode !== null && settings.transientExitCodes.includes(result.exitCode)) {
    return failed(new CommandTempFailError(`COMMAND ${ended} ${after}, one of COMMAND_TRANSIENT_EXIT_CODES (${settings.transientExitCodes.join(',')}): it will be retried${stderr}`));
  }
  return failed(
    new CommandFailedError(
      `COMMAND ${ended} ${after}${result.signal === null && result.exitCode !== null ? `, not one of COMMAND_TRANSIENT_EXIT_CODES (${settings.transientExitCodes.join(',')})` : ''}: permanent${stderr}`,
      result.exitCode,
      result.signal,
      result.stderrTail,
    ),
  );
}

function failed(error: Extract<CommandOutcome, { kind: 'failed' }>['error']): CommandOutcome {
  return { kind: 'failed', error };
}

/** "exited with code 3", "was killed by SIGSEGV (...)", "exited with code 137 (128 + 9: a child killed by SIGKILL)". */
function describeEnd(result: RunResult): string {
  if (result.signal !== null) return `was killed by ${result.signal}${signalHint(result.signal)}`;
  if (result.exitCode === null) return 'ended without an exit code';
  const signalName = result.exitCode > SIGNAL_EXIT_BASE ? signalNameOf(result.exitCode - SIGNAL_EXIT_BASE) : undefined;
  const hint = signalName === undefined ? '' : ` (${SIGNAL_EXIT_BASE} + ${result.exitCode - SIGNAL_EXIT_BASE}: a shell reporting a process killed by ${signalName}${signalHint(signalName)})`;
  return `exited with code ${result.exitCode}${hint}`;
}

function signalHint(signal: string): string {
  if (signal === 'SIGKILL') return ', which is what the kernel sends when the task runs out of memory';
  if (signal === 'SIGSEGV' || signal === 'SIGBUS' || signal === 'SIGABRT') return ', a crash';
  return '';
}

function signalNameOf(value: number): string | undefined {
  return Object.entries(constants.signals).find(([, number]) => number === value)?.[0];
}

function stderrSection(tail: string): string {
  return tail === '' ? ' (stderr was empty)' : `; last lines of stderr:\n${tail}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
