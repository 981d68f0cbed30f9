import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startWorker, type Harness, type LoadedRun, type LogLine, type RunningWorker } from '../../../../test/integration/worker-harness';
import { processIsGone } from '../helpers';

/**
 * What the command job's real-process tests share: a private folder per case (its WORK_DIR, its programs, and the
 * files those programs write about themselves outside the work dir), the worker started with JOB=command, and
 * small waits that fail with what was seen instead of running into jest's timeout.
 */
export interface Case {
  readonly dir: string;
  /** WORK_DIR for the worker: the per-process and per-message directories go here. */
  readonly workDir: string;
  /** A file of this case's own, outside the work dir (pid lists, run logs, markers). */
  file(name: string): string;
  /** Writes a /bin/sh script for COMMAND to run; returns its path. */
  script(name: string, body: string): string;
}

export function newCase(harness: Harness, name: string): Case {
  const dir = mkdtempSync(join(harness.dir, `${name}-`));
  const workDir = join(dir, 'work');
  mkdirSync(workDir);
  return {
    dir,
    workDir,
    file: (file) => join(dir, file),
    script: (file, body) => {
      const path = join(dir, file);
      writeFileSync(path, `${body.trim()}\n`, { mode: 0o755 });
      return path;
    },
  };
}

/** A shell word for a path this test made: single-quoted (the temp paths hold no quote). */
export function sq(path: string): string {
  if (path.includes("'")) throw new Error(`unexpected quote in ${path}`);
  return `'${path}'`;
}

/** The argv-form COMMAND running `script` with the input, the output dir and the key as $1, $2, $3. */
export function argvCommand(script: string): string {
  return JSON.stringify(['/bin/sh', script, '{input}', '{outputDir}', '{key}']);
}

/** Every worker a test started, with its WORK_DIR, so afterAll can end what a failed test left running. */
const started: { worker: RunningWorker; workDir: string }[] = [];

export function startCommandWorker(harness: Harness, run: LoadedRun, testCase: Case, command: string, env: Record<string, string> = {}): RunningWorker {
  const worker = startWorker(harness, run, { JOB: 'command', COMMAND: command, WORK_DIR: testCase.workDir, ...env });
  started.push({ worker, workDir: testCase.workDir });
  return worker;
}

/**
 * SIGKILLs whatever is still running: workers (the supervisor takes its child along) and the programs they started,
 * found by their TMPDIR inside one of these work dirs, so a recycled pid is never taken for ours.
 */
export function killLeftovers(): void {
  for (const { worker } of started) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  }
  const ours = started.map(({ workDir }) => `TMPDIR=${workDir}/`);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let environ: string[];
    try {
      environ = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!environ.some((entry) => ours.some((prefix) => entry.startsWith(prefix)))) continue;
    try {
      process.kill(Number(name), 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/** The numbers a program wrote one a line (`echo $$ >> pids`); [] before it wrote any. */
export function readPids(path: string): number[] {
  return readLines(path).map(Number).filter((pid) => Number.isSafeInteger(pid) && pid > 0);
}

export function readLines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((line) => line !== '');
}

/** Live (not zombie) processes whose process group is `pgid`, from /proc. */
export function liveGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so count from the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(name));
  }
  return members;
}

export function allGone(pids: readonly number[]): boolean {
  return pids.every(processIsGone);
}

/** The message's private directory, from the {input} path a program saw: `<WORK_DIR>/<pid>-x/msg-y/input/<file>`. */
export function messageDirOf(inputPath: string): string {
  return dirname(dirname(inputPath));
}

/** Polls `check` until it returns something other than undefined/false, or fails naming `what` after `ms`. */
export async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000, worker?: RunningWorker): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const seen = worker === undefined ? '' : `\nworker log:\n${worker.lines.map((line) => JSON.stringify(line)).join('\n')}\nstderr:\n${worker.stderr()}`;
      throw new Error(`timed out after ${ms} ms waiting for ${what}${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function linesWith(worker: RunningWorker, message: string): LogLine[] {
  return worker.lines.filter((line) => line.message === message);
}

/** The worker child's pid, as its log lines carry it (the harness's `child` is the supervisor). */
export function workerPid(worker: RunningWorker): number | undefined {
  const pid = linesWith(worker, 'worker started')[0]?.pid;
  return typeof pid === 'number' ? pid : undefined;
}

export async function listKeys(harness: Harness, bucket: string): Promise<string[]> {
  const page = await harness.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((object) => object.Key ?? '').sort();
}

export async function etagOf(harness: Harness, bucket: string, key: string): Promise<string> {
  const head = await harness.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return (head.ETag ?? '').replace(/"/g, '');
}

/** Exit code and, when it is not 0, the worker's stderr, so a failure shows why. */
export async function exitOf(worker: RunningWorker): Promise<{ code: number | null; stderr: string }> {
  const code = await worker.exited;
  return { code, stderr: code === 0 ? '' : worker.stderr() };
}
