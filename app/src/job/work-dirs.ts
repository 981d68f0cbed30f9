import { readFileSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Private temporary directories on the task's disk:
 *
 * ```
 * <root>/                       WORK_DIR, default <os.tmpdir()>/blueprint-work (0700)
 *   <pid>-<random>/             one per worker process, named with its pid so a later start can tell it is dead
 *     msg-<random>/             one per message, 0700 (mkdtemp)
 *       input/<file name>       the downloaded object, its name taken from the key so extensions still work
 *       output/                 {outputDir}: everything left here is uploaded
 *       tmp/                    the program's TMPDIR
 * ```
 * A message's directory is removed whatever happened (`remove()`); a worker killed with SIGKILL leaves its
 * directory behind, and the next worker to start on the machine removes it (`sweepLeftovers`).
 */
export const WORK_ROOT_NAME = 'blueprint-work';

export function defaultWorkRoot(tempDir: string = tmpdir()): string {
  return join(tempDir, WORK_ROOT_NAME);
}

export interface MessageWorkDir {
  readonly path: string;
  readonly inputDir: string;
  readonly outputDir: string;
  /** The program's TMPDIR, so its temporary files are removed with the message's and counted in its disk budget. */
  readonly tmpDir: string;
  /** Removes the whole directory; never throws for a missing one, so it is safe to call twice. */
  remove(): Promise<void>;
}

/** The process directories this process created: `sweepLeftovers` never touches them. */
const ownProcessDirs = new Set<string>();

export class WorkDirs {
  private constructor(
    readonly root: string,
    /** `<root>/<pid>-<random>`. */
    readonly processDir: string,
  ) {}

  /** Creates the root (if needed) and this process's directory in it. Sweep leftovers first (`sweepLeftovers`). */
  static async open(root: string): Promise<WorkDirs> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    const processDir = await mkdtemp(join(root, `${process.pid}-`));
    ownProcessDirs.add(processDir);
    return new WorkDirs(root, processDir);
  }

  /** A new private directory for one message, with input/, output/ and tmp/ in it. */
  async create(): Promise<MessageWorkDir> {
    const path = await mkdtemp(join(this.processDir, 'msg-'));
    const dir: MessageWorkDir = {
      path,
      inputDir: join(path, 'input'),
      outputDir: join(path, 'output'),
      tmpDir: join(path, 'tmp'),
      remove: () => removeTree(path),
    };
    try {
      await Promise.all([dir.inputDir, dir.outputDir, dir.tmpDir].map((sub) => mkdir(sub, { mode: 0o700 })));
    } catch (error) {
      await dir.remove();
      throw error;
    }
    return dir;
  }

  /** Removes this process's directory and everything left in it (at the end of a run). */
  async close(): Promise<void> {
    await removeTree(this.processDir);
    ownProcessDirs.delete(this.processDir);
  }
}

export interface SweepOptions {
  /** Whether the process with this pid still runs (default: `process.kill(pid, 0)`, a zombie counting as gone). */
  readonly isAlive?: (pid: number) => boolean;
}

/**
 * Removes the process directories under `root` whose owner is gone: left by a worker that was killed (SIGKILL, the
 * OOM killer) before it could clean up. A directory of a live process is kept, since several workers may share one
 * machine and one root. A directory named with this process's own pid that this process did not create is a
 * leftover of an earlier process that had the same pid (a container restarted on a kept volume), and is removed.
 * Entries not named `<pid>-...` are not ours and are left alone. Returns the directories removed, for the log.
 */
export async function sweepLeftovers(root: string, options: SweepOptions = {}): Promise<string[]> {
  const isAlive = options.isAlive ?? processIsAlive;
  let names: string[];
  try {
    names = await readdir(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const removed: string[] = [];
  for (const name of names.sort()) {
    const match = /^(\d+)-/.exec(name);
    if (match === null) continue;
    const path = join(root, name);
    const pid = Number(match[1]);
    if (ownProcessDirs.has(path)) continue;
    if (pid !== process.pid && isAlive(pid)) continue;
    const stats = await lstat(path).catch(() => undefined);
    if (stats === undefined || !stats.isDirectory()) continue;
    // A program leads its own process group, so its worker's death did not take it along: it still runs in there.
    await killProcessesWorkingIn(path);
    await removeTree(path);
    removed.push(path);
  }
  return removed;
}

/**
 * SIGKILLs every process whose working directory is under `dir` (Linux /proc; elsewhere nothing is found). Programs run
 * in their message's directory, so this finds the ones a killed worker left running, and nothing else.
 */
export async function killProcessesWorkingIn(dir: string): Promise<number[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const killed: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => undefined);
    if (cwd === undefined || !(cwd === dir || cwd.startsWith(`${dir}/`))) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to signal.
    }
  }
  return killed;
}

/** `process.kill(pid, 0)`: ESRCH is gone, EPERM is someone else's live process; a zombie (Linux) counts as gone. */
export function processIsAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true;
  }
}

const MAX_NAME_BYTES = 255;
const MAX_EXTENSION_BYTES = 32;

/**
 * The input file's name: the key's last segment, so a program that looks at the extension (`.geojson`) still can.
 * `''`, `.` and `..` (a key ending in `/`, or a hostile one) become `input`; a name longer than a file name may be
 * (255 bytes; an S3 key may have 1024) is shortened, keeping its extension.
 */
export function inputFileName(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (name === '' || name === '.' || name === '..') return 'input';
  if (Buffer.byteLength(name, 'utf8') <= MAX_NAME_BYTES) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 && Buffer.byteLength(name.slice(dot), 'utf8') <= MAX_EXTENSION_BYTES ? name.slice(dot) : '';
  const stemBytes = Buffer.from(name.slice(0, name.length - extension.length), 'utf8');
  let end = MAX_NAME_BYTES - Buffer.byteLength(extension, 'utf8');
  while (end > 0 && (stemBytes[end] & 0xc0) === 0x80) end -= 1;
  return stemBytes.subarray(0, end).toString('utf8') + extension;
}

/**
 * `rm -rf`, which also removes what the program made unwritable (a `chmod 0500` directory stops a non-root worker
 * from deleting the files in it): on EACCES/EPERM every directory in the tree is made writable and it tries again.
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw error;
    await makeWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) await makeWritable(join(dir, entry.name));
}
