import { getEventListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyFailure } from '../../../../shared/errors';
import { CommandSpawnError } from '../command-errors';
import { runProgram, type RunProgramOptions } from '../program-runner';
import { eventually, processIsGone, TEST_ENV } from './helpers';

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'program-runner-'));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

const sh = (script: string, extra: Partial<RunProgramOptions> = {}): Promise<Awaited<ReturnType<typeof runProgram>>> =>
  runProgram({ file: '/bin/sh', args: ['-c', script], cwd, env: TEST_ENV, timeoutMs: 10_000, ...extra });

const readPid = (name: string): number => Number(readFileSync(join(cwd, name), 'utf8').trim());

describe('runProgram', () => {
  it('reports a clean exit', async () => {
    const result = await sh('echo hello; exit 0');
    expect(result).toMatchObject({ exitCode: 0, signal: null, timedOut: false, stopped: false, aborted: false, stderrTail: '' });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('reports a failing exit code with the last lines of stderr, never throwing', async () => {
    const result = await sh('for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do echo "warning $i" >&2; done; echo "Error: invalid geometry" >&2; exit 3');
    expect(result.exitCode).toBe(3);
    const lines = result.stderrTail.split('\n');
    expect(lines).toHaveLength(20);
    expect(lines[0]).toBe('warning 7');
    expect(lines[19]).toBe('Error: invalid geometry');
  });

  it('runs in the given directory with exactly the given environment', async () => {
    const result = await runProgram({
      file: 'node', args: ['-e', 'process.stderr.write(process.cwd() + "|" + Object.keys(process.env).sort().join(","))'], cwd, env: { ...TEST_ENV, ONLY_THIS: '1' }, timeoutMs: 10_000,
    });
    expect(result.stderrTail).toBe(`${cwd}|ONLY_THIS,PATH`);
  });

  it('drains a chatty program: 64 MB on stdout and 8 MB on stderr do not block it, and the tail stays bounded', async () => {
    const result = await runProgram({
      file: 'node',
      args: ['-e', 'const b = Buffer.alloc(1 << 20, 120); for (let i = 0; i < 64; i++) process.stdout.write(b); for (let i = 0; i < 8; i++) process.stderr.write(b); process.stderr.write("\\nlast words\\n")'],
      cwd, env: TEST_ENV, timeoutMs: 10_000,
    });
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    expect(Buffer.byteLength(result.stderrTail)).toBeLessThanOrEqual(2048);
    expect(result.stderrTail.endsWith('last words')).toBe(true);
  });

  it('kills the whole process group on a timeout: SIGTERM first, and the group really dies', async () => {
    const result = await sh('sleep 30 & echo $! > child.pid; wait', { timeoutMs: 200, killGraceMs: 2000 });
    expect(result).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGTERM' });
    expect(result.durationMs).toBeLessThan(2000);
    expect(await eventually(() => processIsGone(readPid('child.pid')))).toBe(true);
  });

  it('follows with SIGKILL when the program ignores SIGTERM past the grace period', async () => {
    const result = await sh("trap '' TERM; echo ready >&2; sleep 30", { timeoutMs: 200, killGraceMs: 300 });
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    expect(result.durationMs).toBeGreaterThanOrEqual(450);
    expect(result.durationMs).toBeLessThan(3000);
  });

  it('goes straight to SIGKILL on a timeout when the grace is 0', async () => {
    const result = await sh('sleep 30', { timeoutMs: 100, killGraceMs: 0 });
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
  });

  it('leaves nothing behind: a grandchild in the background dies when the program exits', async () => {
    const result = await sh('sleep 1000 & echo $! > grandchild.pid; exit 0');
    expect(result.exitCode).toBe(0);
    const grandchild = readPid('grandchild.pid');
    expect(await eventually(() => processIsGone(grandchild))).toBe(true);
  });

  it('does not wait for ever on a process that left the group (setsid) and holds stderr', async () => {
    const started = Date.now();
    const result = await sh('setsid sh -c \'echo $$ > escaped.pid; exec sleep 30\' & while [ ! -s escaped.pid ]; do sleep 0.01; done; exit 0');
    const escaped = readPid('escaped.pid');
    try {
      expect(result.exitCode).toBe(0);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      process.kill(escaped, 'SIGKILL');
    }
  });

  it('kills the group at once with SIGKILL when the worker gives the message up', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const result = await sh("trap '' TERM; sleep 30 & echo $! > child.pid; wait", { signal: controller.signal });
    expect(result).toMatchObject({ aborted: true, timedOut: false, signal: 'SIGKILL' });
    expect(result.durationMs).toBeLessThan(2000);
    expect(await eventually(() => processIsGone(readPid('child.pid')))).toBe(true);
  });

  it('forwards a stop as SIGTERM to every process of the group, and a program may still finish normally', async () => {
    const stop = new AbortController();
    const script = [
      "trap 'echo parent got TERM >&2' TERM",
      // The inner shell is in the same group: it gets the SIGTERM too, not only the process we spawned.
      'sh -c \'trap "echo child got TERM >&2; exit 0" TERM; sleep 30 & wait\' &',
      'echo > started; wait; wait; exit 0',
    ].join('\n');
    const running = sh(script, { stopSignal: stop.signal });
    await eventually(() => {
      try {
        return readFileSync(join(cwd, 'started'), 'utf8') !== '';
      } catch {
        return false;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop.abort();
    const result = await running;
    expect(result).toMatchObject({ stopped: true, aborted: false, timedOut: false, exitCode: 0 });
    expect(result.stderrTail).toContain('child got TERM');
    expect(result.stderrTail).toContain('parent got TERM');
  });

  it('reports a program ended by the forwarded SIGTERM as stopped', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 100);
    const result = await sh('sleep 30', { stopSignal: stop.signal });
    expect(result).toMatchObject({ stopped: true, signal: 'SIGTERM', exitCode: null });
  });

  it('does not start a program when the worker is already stopping or has given up', async () => {
    const stop = new AbortController();
    stop.abort();
    await expect(sh('touch ran', { stopSignal: stop.signal })).resolves.toMatchObject({ stopped: true, aborted: false, exitCode: null });
    const abort = new AbortController();
    abort.abort();
    await expect(sh('touch ran', { signal: abort.signal })).resolves.toMatchObject({ aborted: true, exitCode: null });
    expect(() => readFileSync(join(cwd, 'ran'))).toThrow();
  });

  it('removes its listeners from long-lived signals once the program ends', async () => {
    const stop = new AbortController();
    const abort = new AbortController();
    await sh('exit 0', { stopSignal: stop.signal, signal: abort.signal });
    await sh('exit 1', { stopSignal: stop.signal, signal: abort.signal });
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
  });

  it('rejects with a permanent command-not-found naming the program when it does not exist', async () => {
    const failure = runProgram({ file: 'no-such-program-xyz', args: [], cwd, env: TEST_ENV, timeoutMs: 1000 });
    await expect(failure).rejects.toBeInstanceOf(CommandSpawnError);
    await expect(failure).rejects.toThrow(/no-such-program-xyz was not found/);
    expect(classifyFailure(await failure.catch((error: unknown) => error))).toMatchObject({ kind: 'permanent', reason: 'command-not-found' });
  });

  it('rejects with a permanent command-not-executable when the file may not be executed', async () => {
    const script = join(cwd, 'script.sh');
    writeFileSync(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    const failure = runProgram({ file: script, args: [], cwd, env: TEST_ENV, timeoutMs: 1000 });
    await expect(failure).rejects.toMatchObject({ reason: 'command-not-executable', kind: 'permanent' });
    await expect(failure).rejects.toThrow(script);
  });
});
