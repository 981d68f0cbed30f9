import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { workerThreadpoolSize } from './threadpool-size';
import { EXIT_AFTER_NOTICE_MS, isExitingNotice, NOTICE_MARGIN_MS, SUPERVISED_CHILD_ENV } from './supervisor-protocol';

const DEFAULT_GRACE_SECONDS = 100;

/**
 * Runs the worker as a child process and mirrors its exit code. SIGTERM/SIGINT are passed on (a second one too); once
 * the child has said it is exiting, or its grace period plus a margin has passed, a child that has not exited is
 * SIGKILLed and the supervisor exits at once: 0 after a graceful stop, whatever a native thread was doing.
 */
export function supervise(): void {
  const threadpool = process.env.UV_THREADPOOL_SIZE ?? workerThreadpoolSize(process.env);
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? ''], {
    env: { ...process.env, [SUPERVISED_CHILD_ENV]: '1', ...(threadpool !== undefined ? { UV_THREADPOOL_SIZE: threadpool } : {}) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let noticedCode: number | undefined;
  let signalled = false;

  const finish = (code: number): never => process.exit(code);
  const killAfter = (ms: number, then: () => void): void => {
    setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      then();
    }, ms).unref();
  };

  child.on('message', (message: unknown) => {
    if (!isExitingNotice(message) || noticedCode !== undefined) return;
    noticedCode = message.code;
    killAfter(EXIT_AFTER_NOTICE_MS, () => finish(message.code));
  });
  child.on('exit', (code, signal) => {
    if (noticedCode !== undefined) finish(noticedCode);
    if (signal !== null) {
      // Nothing was handed back: the kernel (out of memory) or someone else killed the worker outright.
      report({ message: 'worker process killed', signal, hint: signal === 'SIGKILL' ? 'out of memory, or killed from outside' : undefined });
      finish(128 + (constants.signals[signal] ?? 0));
    }
    finish(code ?? 1);
  });
  child.on('error', (error) => {
    report({ message: 'worker process could not start', reason: error.message });
    finish(1);
  });

  for (const name of ['SIGTERM', 'SIGINT'] as const) {
    process.on(name, () => {
      forward(child, name);
      if (signalled) return;
      signalled = true;
      killAfter(graceSeconds() * 1000 + NOTICE_MARGIN_MS, () => {
        if (noticedCode === undefined) {
          report({ message: 'worker process did not finish its stop in time: killed', graceSeconds: graceSeconds() });
          finish(1);
        }
      });
    });
  }
}

function forward(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

/** The child validates SHUTDOWN_GRACE_SECONDS; here an unreadable value only means the default wait. */
function graceSeconds(): number {
  const value = Number(process.env.SHUTDOWN_GRACE_SECONDS);
  return Number.isFinite(value) && value >= 0 ? value : DEFAULT_GRACE_SECONDS;
}

/** The worker's log lines are JSON; the supervisor's few are too, so one Logs Insights query reads both. */
function report(fields: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ level: 'ERROR', service: 'worker-supervisor', timestamp: new Date().toISOString(), pid: process.pid, ...fields })}\n`);
}
