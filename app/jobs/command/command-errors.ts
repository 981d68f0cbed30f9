import { PermanentError, TransientError } from '../../../shared/errors';

/**
 * The command job's own errors. Each is a subclass of shared/errors.ts, so `classifyFailure` decides permanent or
 * transient from the class alone, and each message names the problem (the exit code, the timeout, the variable).
 */

/** The program exited with a code (or died of a signal) that says this input will never succeed. */
export class CommandFailedError extends PermanentError {
  override readonly name = 'CommandFailedError';
  readonly reason = 'command-failed';
  constructor(
    message: string,
    /** The program's exit code, or null when a signal ended it. */
    readonly exitCode: number | null,
    /** The signal's name (SIGSEGV, SIGKILL from the OOM killer, ...), or null when it exited with a code. */
    readonly signal: string | null,
    /** The last lines of its stderr, bounded (see program-runner.ts): never the input file's content beyond that. */
    readonly stderrTail: string,
  ) {
    super(message);
  }
}

/** The program cannot be started at all: no such file, or not executable. No retry can change that. */
export class CommandSpawnError extends PermanentError {
  override readonly name = 'CommandSpawnError';
  readonly reason: 'command-not-found' | 'command-not-executable';
  constructor(reason: 'command-not-found' | 'command-not-executable', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** The program exited with one of COMMAND_TRANSIENT_EXIT_CODES (default 75, EX_TEMPFAIL): it asks to be retried. */
export class CommandTempFailError extends TransientError {
  override readonly name = 'CommandTempFailError';
  constructor(message: string) {
    super('command-tempfail', message);
  }
}

/**
 * The program ran past COMMAND_TIMEOUT_SECONDS and was killed with its process group. Worth one more attempt on a
 * quieter task, then permanent: an input that takes this long twice is the input, not the machine.
 */
export class CommandTimeoutError extends TransientError {
  override readonly name = 'CommandTimeoutError';
  constructor(message: string) {
    super('command-timeout', message, { attemptsAllowed: 2 });
  }
}

/** Killed by a SIGKILL the worker did not send (the OOM killer): once may be a neighbour's memory, twice is the input. */
export class CommandKilledError extends TransientError {
  override readonly name = 'CommandKilledError';
  constructor(message: string) {
    super('command-killed', message, { attemptsAllowed: 2 });
  }
}

/**
 * The program ended because the worker stopped it (the Spot notice's SIGTERM, forwarded) or gave the message up
 * (SIGKILL), or something outside sent it SIGTERM. Never the input's fault: the message is released and retried.
 */
export class CommandStoppedError extends TransientError {
  override readonly name = 'CommandStoppedError';
  constructor(message: string) {
    super('command-stopped', message);
  }
}

