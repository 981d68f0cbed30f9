import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LaunchReport, TaskLauncher } from '../../scaler/src/ports/task-launcher';

export interface LocalTaskLauncherOptions {
  /** The worker entry point: the same bundle the container runs. */
  readonly workerPath: string;
  /** The environment each worker gets, exactly as a Fargate task definition would set it. */
  readonly env: NodeJS.ProcessEnv;
  readonly logDir: string;
  readonly onExit?: (worker: number, code: number | null, signal: NodeJS.Signals | null) => void;
}

/** The task-launcher port on one machine: each "task" is a worker process, counted while it runs. */
export class LocalTaskLauncher implements TaskLauncher {
  private readonly running = new Map<number, ChildProcess>();
  private started = 0;
  private peak = 0;

  constructor(private readonly options: LocalTaskLauncherOptions) {
    mkdirSync(options.logDir, { recursive: true });
  }

  get startedCount(): number {
    return this.started;
  }

  get peakRunning(): number {
    return this.peak;
  }

  pids(): number[] {
    return [...this.running.values()].map((child) => child.pid ?? 0).filter((pid) => pid > 0);
  }

  async countRunning(): Promise<number> {
    return this.running.size;
  }

  async launch(count: number): Promise<LaunchReport> {
    const failures: { reason: string; detail?: string }[] = [];
    let launched = 0;
    for (let i = 0; i < count; i++) {
      try {
        this.startWorker();
        launched++;
      } catch (error) {
        failures.push({ reason: 'spawn-failed', detail: error instanceof Error ? error.message : String(error) });
      }
    }
    return { launched, failures };
  }

  /** Sends the signal to every worker and waits for all of them to exit (their own grace period applies). */
  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const exits = [...this.running.values()].map((child) => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => child.pid === undefined && resolve());
    }));
    for (const child of this.running.values()) child.kill(signal);
    await Promise.all(exits);
  }

  private startWorker(): void {
    // Spawn first: an invalid environment throws here, before a log file or a worker number is taken.
    const child = spawn(process.execPath, [this.options.workerPath], { env: this.options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const worker = ++this.started;
    const log = createWriteStream(join(this.options.logDir, `worker-${worker}.log`), { flags: 'a' });
    // A full disk must not take the pipeline down with an unhandled stream error; the worker's exit still counts.
    log.on('error', () => undefined);
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.running.set(worker, child);
    this.peak = Math.max(this.peak, this.running.size);
    let reported = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (reported) return;
      reported = true;
      this.running.delete(worker);
      log.end();
      this.options.onExit?.(worker, code, signal);
    };
    // 'error' without 'exit' means the process never started (e.g. too many processes): it is not running either.
    child.once('error', () => {
      if (child.pid === undefined) finish(null, null);
    });
    child.once('exit', finish);
  }
}
