import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

/**
 * TAR and TAR.GZ archives for the TAR reader's tests, built in the test: with tar-stream's packer for entries a normal
 * tool will not write (`../x`, absolute paths, devices), and with GNU tar for what real uploads look like.
 */

/** One entry to pack: a file (its content), a directory, a link, or a special file. */
export type TarItem =
  | { readonly name: string; readonly content: Buffer | string }
  | { readonly name: string; readonly type: 'directory' }
  | { readonly name: string; readonly type: 'symlink' | 'link'; readonly linkname: string }
  | { readonly name: string; readonly type: 'fifo' | 'character-device' | 'block-device' };

/** A plain TAR of `items`, in order, by tar-stream's packer (pax headers for long or non-ASCII names). */
export async function packTar(items: readonly TarItem[]): Promise<Buffer> {
  const packer = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of packer as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
  })();
  for (const item of items) {
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      const mtime = new Date('2026-01-02T03:04:05Z');
      if ('content' in item) packer.entry({ name: item.name, mtime, mode: 0o644 }, typeof item.content === 'string' ? Buffer.from(item.content) : item.content, done);
      else if (item.type === 'symlink' || item.type === 'link') packer.entry({ name: item.name, type: item.type, linkname: item.linkname, mtime }, done);
      else packer.entry({ name: item.name, type: item.type, mtime, mode: item.type === 'directory' ? 0o755 : 0o644 }, done);
    });
  }
  packer.finalize();
  await collected;
  return Buffer.concat(chunks);
}

export async function packTarGz(items: readonly TarItem[]): Promise<Buffer> {
  return gzipSync(await packTar(items));
}

/**
 * A TAR.GZ as GNU tar writes it (`--format` gnu, pax, ustar, v7), of files written to a temporary directory; entries in
 * name order, each directory before its contents.
 */
export function gnuTarGz(files: readonly { readonly path: string; readonly content: Buffer | string }[], format: 'gnu' | 'pax' | 'ustar' | 'v7' = 'gnu'): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'tar-builder-'));
  try {
    const root = join(dir, 'root');
    mkdirSync(root);
    for (const file of files) {
      mkdirSync(dirname(join(root, file.path)), { recursive: true });
      writeFileSync(join(root, file.path), file.content);
    }
    const out = join(dir, 'out.tar.gz');
    execFileSync('tar', ['czf', out, `--format=${format}`, '--sort=name', '--owner=0', '--group=0', '--mtime=2026-01-02 03:04:05Z', '-C', root, '.'], { env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Incompressible, reproducible bytes. */
export function randomBytesOf(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(Math.ceil(size / 4) * 4);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < bytes.length; i += 4) {
    // xorshift32: fast, and gzip cannot shrink it.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes.writeUInt32LE(state, i);
  }
  return bytes.subarray(0, size);
}
