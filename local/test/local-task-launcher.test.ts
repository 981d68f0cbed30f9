import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTaskLauncher } from '../src/local-task-launcher';
import { writeFakeWorker } from './factories';

let dir: string;
let workerPath: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'launcher-'));
  workerPath = writeFakeWorker(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Exit = { worker: number; code: number | null; signal: NodeJS.Signals | null };

function launcherWith(env: NodeJS.ProcessEnv, logDir: string) {
  const exits: Exit[] = [];
  const waiters: (() => void)[] = [];
  const launcher = new LocalTaskLauncher({
    workerPath,
    env: { PATH: process.env.PATH, QUEUE_URL: '/tmp/q.db', ...env },
    logDir,
    onExit: (worker, code, signal) => {
      exits.push({ worker, code, signal });
      waiters.splice(0).forEach((wake) => wake());
    },
  });
  const exited = async (count: number) => {
    while (exits.length < count) await new Promise<void>((wake) => waiters.push(wake));
  };
  return { launcher, exits, exited };
}

describe('LocalTaskLauncher', () => {
  it('counts workers while they run and none once they have drained and exited', async () => {
    const { launcher, exits, exited } = launcherWith({ FAKE_LIFETIME_MS: '400' }, join(dir, 'logs-a'));
    expect(await launcher.launch(3)).toEqual({ launched: 3, failures: [] });
    expect(await launcher.countRunning()).toBe(3);
    expect(launcher.pids()).toHaveLength(3);
    await exited(3);
    expect(await launcher.countRunning()).toBe(0);
    expect(launcher.pids()).toEqual([]);
    expect({ started: launcher.startedCount, peak: launcher.peakRunning }).toEqual({ started: 3, peak: 3 });
    expect(exits.map((exit) => exit.code)).toEqual([0, 0, 0]);
  });

  it('writes each worker its own log of stdout and stderr, with the environment it was given', async () => {
    const logDir = join(dir, 'logs-b');
    const { launcher, exited } = launcherWith({ FAKE_LIFETIME_MS: '50' }, logDir);
    await launcher.launch(2);
    await exited(2);
    // The log stream is closed on exit; give its last write a moment to land.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const worker of [1, 2]) {
      const lines = readFileSync(join(logDir, `worker-${worker}.log`), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
      expect(lines).toEqual(expect.arrayContaining([{ message: 'worker started', queue: '/tmp/q.db' }, { message: 'to stderr' }]));
    }
  });

  it('reports a worker that crashed through onExit with its exit code', async () => {
    const { launcher, exits, exited } = launcherWith({ FAKE_LIFETIME_MS: '20', FAKE_EXIT_CODE: '3' }, join(dir, 'logs-c'));
    await launcher.launch(1);
    await exited(1);
    expect(exits).toEqual([{ worker: 1, code: 3, signal: null }]);
  });

  it('stopAll sends SIGTERM and waits until every worker has exited', async () => {
    const logDir = join(dir, 'logs-d');
    const { launcher, exits } = launcherWith({ FAKE_LIFETIME_MS: '60000' }, logDir);
    await launcher.launch(2);
    // Signalled only once both have installed their SIGTERM handler (they log 'worker started' after it): a fixed
    // wait lost the race on a loaded machine, and a child signalled before its handler dies of the signal.
    const started = (worker: number) => {
      try {
        return readFileSync(join(logDir, `worker-${worker}.log`), 'utf8').includes('worker started');
      } catch {
        return false;
      }
    };
    while (!started(1) || !started(2)) await new Promise((resolve) => setTimeout(resolve, 20));
    await launcher.stopAll();
    expect(await launcher.countRunning()).toBe(0);
    expect(exits.map((exit) => exit.code)).toEqual([0, 0]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(readFileSync(join(logDir, 'worker-1.log'), 'utf8')).toContain('stopping on SIGTERM');
  });

  it('reports a worker that cannot be started as a launch failure rather than throwing', async () => {
    const { launcher } = launcherWith({ BROKEN: 'nul\0byte' }, join(dir, 'logs-e'));
    const report = await launcher.launch(2);
    expect(report).toEqual({ launched: 0, failures: [expect.objectContaining({ reason: 'spawn-failed' }), expect.objectContaining({ reason: 'spawn-failed' })] });
    expect(await launcher.countRunning()).toBe(0);
  });
});
