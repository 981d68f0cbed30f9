import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { defaultWorkRoot, inputFileName, processIsAlive, sweepLeftovers, WorkDirs } from '../../src/job/work-dirs';
import { bundleFixture } from '../../jobs/command/test/helpers';

let base: string;
let root: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'work-dirs-'));
  root = join(base, 'root');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('WorkDirs', () => {
  it('defaults under the temporary directory', () => {
    expect(defaultWorkRoot('/scratch')).toBe('/scratch/blueprint-work');
  });

  it('makes a per-process directory named with the pid and private per-message directories', async () => {
    const dirs = await WorkDirs.open(root);
    expect(dirs.processDir).toMatch(new RegExp(`/root/${process.pid}-[^/]+$`));
    const one = await dirs.create();
    const two = await dirs.create();
    expect(one.path).not.toBe(two.path);
    expect(one.path.startsWith(`${dirs.processDir}/msg-`)).toBe(true);
    for (const dir of [one.path, one.inputDir, one.outputDir, one.tmpDir]) expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(root).mode & 0o777).toBe(0o700);
    await dirs.close();
    expect(existsSync(dirs.processDir)).toBe(false);
  });

  it('remove() removes everything, even what the program made read-only, and is safe to call twice', async () => {
    const dirs = await WorkDirs.open(root);
    const message = await dirs.create();
    mkdirSync(join(message.outputDir, 'deep', 'er'), { recursive: true });
    writeFileSync(join(message.outputDir, 'deep', 'er', 'f.json'), '{}');
    chmodSync(join(message.outputDir, 'deep'), 0o500);
    await message.remove();
    await message.remove();
    expect(existsSync(message.path)).toBe(false);
    await dirs.close();
  });

  const asRoot = process.getuid?.() === 0 ? it : it.skip;
  asRoot('removeTree, run as an ordinary user, removes a tree the program locked with chmod 0500', () => {
    // As in the worker's image: the user owns the message directory, and the program locked a folder inside it.
    const owned = join(base, 'owned');
    const tree = join(owned, 'locked');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    writeFileSync(join(tree, 'sub', 'f'), 'x');
    chmodSync(base, 0o755);
    for (const path of [owned, tree, join(tree, 'sub'), join(tree, 'sub', 'f')]) chownSync(path, 1000, 1000);
    chmodSync(join(tree, 'sub'), 0o500);
    const script = bundleFixture(join(__dirname, 'fixtures', 'remove-tree.ts'), base);
    const ran = spawnSync(process.execPath, [script, tree], { uid: 1000, gid: 1000, encoding: 'utf8' });
    expect(ran.stderr).toBe('');
    expect(ran.status).toBe(0);
    expect(existsSync(tree)).toBe(false);
  });
});

describe('sweepLeftovers', () => {
  it('removes the directory of a worker killed with SIGKILL mid-work, and keeps a live worker\'s', async () => {
    const script = bundleFixture(join(__dirname, 'fixtures', 'hold-work-dir.ts'), base);
    const start = async () => {
      const child = spawn(process.execPath, [script, root], { stdio: ['ignore', 'pipe', 'inherit'] });
      const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      return { child, ...(JSON.parse(line) as { processDir: string; messageDir: string }) };
    };
    const killed = await start();
    const live = await start();
    try {
      expect(readdirSync(join(killed.messageDir, 'input'))).toEqual(['big.geojson']);
      killed.child.kill('SIGKILL');
      await once(killed.child, 'exit');

      const removed = await sweepLeftovers(root);

      expect(removed).toEqual([killed.processDir]);
      expect(existsSync(killed.processDir)).toBe(false);
      expect(existsSync(live.messageDir)).toBe(true);
    } finally {
      live.child.kill('SIGKILL');
      await once(live.child, 'exit');
    }
    expect(await sweepLeftovers(root)).toEqual([live.processDir]);
  });

  it('never removes this process\'s own directory, but does remove one an earlier process with the same pid left', async () => {
    const dirs = await WorkDirs.open(root);
    const message = await dirs.create();
    const earlier = join(root, `${process.pid}-earlier`);
    mkdirSync(join(earlier, 'msg-x'), { recursive: true });
    expect(await sweepLeftovers(root)).toEqual([earlier]);
    expect(existsSync(message.path)).toBe(true);
    await dirs.close();
  });

  it('leaves alone what is not named <pid>-..., and answers [] for a missing root', async () => {
    mkdirSync(join(root, 'someone-elses'), { recursive: true });
    writeFileSync(join(root, '99999999-a-file'), '');
    expect(await sweepLeftovers(root, { isAlive: () => false })).toEqual([]);
    expect(readdirSync(root).sort()).toEqual(['99999999-a-file', 'someone-elses']);
    expect(await sweepLeftovers(join(base, 'missing'))).toEqual([]);
  });

  it('kills a program its dead worker left running in the directory before removing it, and nothing running elsewhere', async () => {
    const leftover = join(root, '99999998-gone', 'msg-1', 'tmp');
    const elsewhere = join(base, 'elsewhere');
    mkdirSync(leftover, { recursive: true });
    mkdirSync(elsewhere);
    const orphan = spawn('sleep', ['100'], { cwd: leftover, detached: true, stdio: 'ignore' });
    const bystander = spawn('sleep', ['100'], { cwd: elsewhere, detached: true, stdio: 'ignore' });
    const orphanExit = once(orphan, 'exit');
    try {
      expect(await sweepLeftovers(root, { isAlive: () => false })).toEqual([join(root, '99999998-gone')]);
      expect((await orphanExit)[1]).toBe('SIGKILL');
      expect(bystander.exitCode).toBeNull();
      expect(bystander.signalCode).toBeNull();
    } finally {
      orphan.kill('SIGKILL');
      bystander.kill('SIGKILL');
    }
  });

  it('asks isAlive about each owner', async () => {
    for (const name of ['101-a', '202-b']) mkdirSync(join(root, name), { recursive: true });
    expect(await sweepLeftovers(root, { isAlive: (pid) => pid === 101 })).toEqual([join(root, '202-b')]);
  });
});

describe('processIsAlive', () => {
  it('is true for this process and false for a finished one', async () => {
    expect(processIsAlive(process.pid)).toBe(true);
    const child = spawn('true');
    await once(child, 'exit');
    expect(processIsAlive(child.pid!)).toBe(false);
  });
});

describe('inputFileName', () => {
  it.each([
    ['in/a/x.geojson', 'x.geojson'],
    ['x', 'x'],
    ['in/folder/', 'input'],
    ['in/..', 'input'],
    ['.', 'input'],
    ['a b/ü ñ.json', 'ü ñ.json'],
  ])('%j → %j', (key, name) => {
    expect(inputFileName(key)).toBe(name);
  });

  it('shortens a name longer than 255 bytes, keeping its extension and whole characters', () => {
    const name = inputFileName(`in/${'日'.repeat(400)}.geojson`);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name.endsWith('日.geojson')).toBe(true);
    expect(name).not.toContain('\uFFFD');
  });
});
