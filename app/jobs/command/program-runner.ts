import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CommandSpawnError } from './command-errors';
import { DEFAULT_STDERR_TAIL, StderrTail, type StderrTailLimits } from './stderr-tail';

export interface RunProgramOptions {
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The program's whole environment (see `programEnvironment`): nothing of the worker's is inherited. */
  readonly env: Readonly<Record<string, string>>;
  /** COMMAND_TIMEOUT_SECONDS × 1000: past this the process group gets SIGTERM, then SIGKILL after `killGraceMs`. */
  readonly timeoutMs: number;
  /** COMMAND_KILL_GRACE_SECONDS × 1000 (default 5000); 0 sends SIGKILL at once on a timeout. */
  readonly killGraceMs?: number;
  /** The worker gave the message up: the whole process group is killed at once (SIGKILL). */
  readonly signal?: AbortSignal;
  /**
   * The task is stopping (the Spot notice): SIGTERM is forwarded to the whole process group, and the program may
   * still finish normally. Killing it when the grace period ends is the worker's call, through `signal`.
   */
  readonly stopSignal?: AbortSignal;
  readonly stderrTail?: StderrTailLimits;
}

export interface RunResult {
  /** The exit code, or null when a signal ended the program (or it never started: stopped or aborted before). */
  readonly exitCode: number | null;
  /** The signal that ended the program, e.g. `SIGKILL`, or null. */
  readonly signal: string | null;
  /** It ran past `timeoutMs` and was sent SIGTERM (then SIGKILL if it outlived the grace). */
  readonly timedOut: boolean;
  /** `stopSignal` fired while it ran (SIGTERM was forwarded), or before it could start (it never ran). */
  readonly stopped: boolean;
  /** `signal` fired while it ran (SIGKILL was sent), or before it could start (it never ran). */
  readonly aborted: boolean;
  /** The last lines of its stderr, bounded (see stderr-tail.ts). */
  readonly stderrTail: string;
  readonly durationMs: number;
}

/**
 * After the program exits and its group is killed, how long to wait for stderr to reach end of file. Only a process
 * that left the group (setsid) and still holds the pipe makes this wait run out; the tail is then taken as it is.
 */
const STDERR_CLOSE_WAIT_MS = 1000;
const DEFAULT_KILL_GRACE_MS = 5000;

/**
 * Runs one program in its own process group and waits for it. Never throws for the program's failure (that is the
 * result's job, see exit-outcome.ts); rejects only when it cannot be started: a CommandSpawnError (permanent) for
 * a missing or non-executable program.
 *
 * - `detached: true` makes the program lead a new process group, so one signal reaches everything it started
 *   (`sh -c` and its children, a Python pool...), and a Ctrl-C or a signal to the worker's own group does not.
 * - stdout goes to /dev/null: it may hold the file's content, and nothing can block on a full pipe.
 * - When the program exits, its group is sent SIGKILL: whatever it left in the background (`sleep 1000 &`) dies
 *   with it. A process that made itself a new session (setsid, daemonise) has left the group and is out of reach;
 *   a Fargate task's end still takes it.
 */
export function runProgram(options: RunProgramOptions): Promise<RunResult> {
  const { signal, stopSignal } = options;
  if (signal?.aborted || stopSignal?.aborted) {
    return Promise.resolve({
      exitCode: null, signal: null, timedOut: false, stopped: stopSignal?.aborted === true && signal?.aborted !== true, aborted: signal?.aborted === true,
      stderrTail: '', durationMs: 0,
    });
  }
  return new Promise<RunResult>((resolve, reject) => {
    const started = performance.now();
    const tail = new StderrTail(options.stderrTail ?? DEFAULT_STDERR_TAIL);
    let timedOut = false;
    let stopped = false;
    let aborted = false;
    let graceTimer: NodeJS.Timeout | undefined;

    let child: ChildProcess;
    try {
      child = spawn(options.file, [...options.args], { cwd: options.cwd, env: { ...options.env }, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      reject(error);
      return;
    }
    const killGroup = (name: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, name);
      } catch {
        // ESRCH: the group is already empty. Nothing else is expected, and throwing here would crash the worker.
      }
    };
    const onTimeout = (): void => {
      timedOut = true;
      const grace = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
      if (grace <= 0) {
        killGroup('SIGKILL');
        return;
      }
      killGroup('SIGTERM');
      graceTimer = setTimeout(() => killGroup('SIGKILL'), grace);
    };
    const onAbort = (): void => {
      aborted = true;
      killGroup('SIGKILL');
    };
    const onStop = (): void => {
      stopped = true;
      killGroup('SIGTERM');
    };
    const timeoutTimer = setTimeout(onTimeout, Math.max(0, options.timeoutMs));
    signal?.addEventListener('abort', onAbort, { once: true });
    stopSignal?.addEventListener('abort', onStop, { once: true });
    const detach = (): void => {
      clearTimeout(timeoutTimer);
      clearTimeout(graceTimer);
      signal?.removeEventListener('abort', onAbort);
      stopSignal?.removeEventListener('abort', onStop);
    };

    child.stderr!.on('data', (chunk: Buffer) => tail.push(chunk));
    child.stderr!.on('error', () => undefined);

    child.once('error', (error: NodeJS.ErrnoException) => {
      // Emitted instead of 'spawn' when the program cannot start; the group signals above never throw here.
      detach();
      reject(spawnFailure(error, options.file, options.cwd));
    });
    child.once('exit', (code, endSignal) => {
      const durationMs = performance.now() - started;
      // At once: while a member is left the group's id (the leader's pid) cannot be reused, so this reaches only ours.
      killGroup('SIGKILL');
      detach();
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(closeTimer);
        resolve({ exitCode: code, signal: endSignal, timedOut, stopped, aborted, stderrTail: tail.toString(), durationMs: Math.round(durationMs) });
      };
      const closeTimer = setTimeout(() => {
        child.stderr!.destroy();
        finish();
      }, STDERR_CLOSE_WAIT_MS);
      if (child.stderr!.readableEnded || child.stderr!.destroyed) finish();
      else child.stderr!.once('close', finish);
    });
  });
}

function spawnFailure(error: NodeJS.ErrnoException, file: string, cwd: string): Error {
  if (error.code === 'ENOENT' && !existsSync(cwd)) {
    return new Error(`cannot start COMMAND's program ${file}: its working directory ${cwd} does not exist`, { cause: error });
  }
  if (error.code === 'ENOENT') {
    return new CommandSpawnError('command-not-found', `COMMAND's program ${file} was not found (${error.code}): install it in the image, or give its absolute path`, { cause: error });
  }
  if (error.code === 'EACCES' || error.code === 'ENOEXEC') {
    return new CommandSpawnError('command-not-executable', `COMMAND's program ${file} cannot be executed (${error.code}): make it executable (chmod +x) or name its interpreter first`, { cause: error });
  }
  return error;
}
