import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listOutputFiles } from '../output-files';

let base: string;
let out: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'output-files-'));
  out = join(base, 'output');
  mkdirSync(out);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('listOutputFiles', () => {
  it('lists regular files recursively as sorted relative POSIX paths with their sizes', async () => {
    mkdirSync(join(out, 'b', 'deep er'), { recursive: true });
    mkdirSync(join(out, 'empty folder'));
    writeFileSync(join(out, 'stats.json'), '{"features":3}');
    writeFileSync(join(out, 'b', 'deep er', 'näme with spaces ü 日本.txt'), 'abc');
    writeFileSync(join(out, 'a.csv'), '');
    const listing = await listOutputFiles(out);
    expect(listing.files).toEqual([
      { relativePath: 'a.csv', path: join(out, 'a.csv'), bytes: 0 },
      { relativePath: 'b/deep er/näme with spaces ü 日本.txt', path: join(out, 'b', 'deep er', 'näme with spaces ü 日本.txt'), bytes: 3 },
      { relativePath: 'stats.json', path: join(out, 'stats.json'), bytes: 14 },
    ]);
    expect(listing.skipped).toEqual([]);
    expect(listing.totalBytes).toBe(17);
  });

  it('gives nothing for an empty output directory', async () => {
    expect(await listOutputFiles(out)).toEqual({ files: [], skipped: [], totalBytes: 0 });
  });

  it('skips and reports symbolic links: to /etc/passwd, to a folder elsewhere, dangling, relative ones escaping', async () => {
    writeFileSync(join(out, 'ok.json'), '{}');
    symlinkSync('/etc/passwd', join(out, 'passwd'));
    symlinkSync('/etc', join(out, 'etc'));
    symlinkSync('../../../../../../etc/hostname', join(out, 'up'));
    symlinkSync('/no/such/file', join(out, 'dangling'));
    symlinkSync('ok.json', join(out, 'alias.json'));
    const listing = await listOutputFiles(out);
    expect(listing.files.map((file) => file.relativePath)).toEqual(['ok.json']);
    expect(listing.skipped).toEqual(['alias.json', 'dangling', 'etc', 'passwd', 'up'].map((relativePath) => ({ relativePath, reason: 'symbolic-link' })));
  });

  it('skips FIFOs and sockets', async () => {
    expect(spawnSync('mkfifo', [join(out, 'pipe')]).status).toBe(0);
    const server = createServer();
    server.listen(join(out, 'socket'));
    await once(server, 'listening');
    try {
      const listing = await listOutputFiles(out);
      expect(listing.files).toEqual([]);
      expect(listing.skipped).toEqual([{ relativePath: 'pipe', reason: 'fifo' }, { relativePath: 'socket', reason: 'socket' }]);
    } finally {
      server.close();
    }
  });

  it('skips a name that is not UTF-8, which no S3 key could name', async () => {
    writeFileSync(Buffer.concat([Buffer.from(`${out}/`), Buffer.from([0x66, 0xff, 0x2e, 0x6a])]), 'x');
    const listing = await listOutputFiles(out);
    expect(listing.files).toEqual([]);
    expect(listing.skipped).toEqual([{ relativePath: 'f\uFFFD.j', reason: 'name-not-utf8' }]);
  });

  it('lists nothing when the program replaced its output directory with a link, or removed it', async () => {
    rmSync(out, { recursive: true });
    expect(await listOutputFiles(out)).toEqual({ files: [], skipped: [{ relativePath: '.', reason: 'output-dir-missing' }], totalBytes: 0 });
    symlinkSync('/etc', out);
    expect(await listOutputFiles(out)).toEqual({ files: [], skipped: [{ relativePath: '.', reason: 'output-dir-not-a-directory' }], totalBytes: 0 });
  });

  it('keeps a hard link: it is a regular file the program could as well have copied', async () => {
    writeFileSync(join(base, 'input.json'), '[]');
    linkSync(join(base, 'input.json'), join(out, 'copy.json'));
    expect((await listOutputFiles(out)).files.map((file) => file.relativePath)).toEqual(['copy.json']);
  });

  it('works on an output directory reached through a linked parent', async () => {
    writeFileSync(join(out, 'x.json'), '1');
    renameSync(base, `${base}-real`);
    symlinkSync(`${base}-real`, base);
    try {
      expect((await listOutputFiles(out)).files.map((file) => file.relativePath)).toEqual(['x.json']);
    } finally {
      rmSync(base);
      renameSync(`${base}-real`, base);
    }
  });
});
