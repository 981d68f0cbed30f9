import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, startS3Server } from '../../../../local/src/s3-server';
import { startStrictS3Front } from '../../../../local/src/strict-s3-front';
import { classifyFailure, ObjectChangedError } from '../../../../shared/errors';
import type { ObjectRef, OpenedObject, OpenReadOptions } from '../../../src/ports/object-store';
import { S3ObjectStore } from '../../../src/store/s3-object-store';
import { MemoryStore } from '../../../test/fakes/memory-store';
import type { ArchiveEntry } from '../archive-entry';
import { CorruptArchiveError } from '../archive-errors';
import type { SequentialArchive } from '../sequential-archive';
import { openTarArchive } from '../tar-archive';
import { gnuTarGz, packTar, packTarGz, randomBytesOf, type TarItem } from './archive-builders';

const MiB = 1024 * 1024;
const ref = { bucket: 'exports', key: 'in/archive.tar.gz' };

/** A memory store that also counts the bytes each streamed read has handed out so far. */
class CountingStore extends MemoryStore {
  delivered = 0;
  readonly bodies: Readable[] = [];
  override async openRead(target: ObjectRef, options: OpenReadOptions): Promise<OpenedObject> {
    const opened = await super.openRead(target, options);
    this.bodies.push(opened.body);
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.delivered += chunk.length;
        callback(null, chunk);
      },
    });
    return { head: opened.head, body: pipeline(opened.body, counter, () => undefined) };
  }
}

function archiveOf(bytes: Buffer, compression: 'gzip' | 'none' = 'gzip'): { store: CountingStore; archive: SequentialArchive; etag: string } {
  const store = new CountingStore();
  const etag = store.add(ref.bucket, ref.key, bytes);
  return { store, archive: openTarArchive(store, ref, { etag, compression }), etag };
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** One pass reading every body: the entries and each one's bytes as text. */
async function listing(archive: SequentialArchive): Promise<{ entries: ArchiveEntry[]; contents: string[]; stats: Awaited<ReturnType<SequentialArchive['pass']>> }> {
  const entries: ArchiveEntry[] = [];
  const contents: string[] = [];
  const stats = await archive.pass(async (entry, body) => {
    entries.push(entry);
    contents.push((await readAll(body)).toString());
  });
  return { entries, contents, stats };
}

/** What a pass fails with (it must fail). */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the pass to fail');
}

const file = (name: string, content: string | Buffer = `content of ${name}`): TarItem => ({ name, content });

describe('openTarArchive: entries', () => {
  it('lists what GNU tar wrote, in archive order, with each file\'s bytes: long names (GNU and pax), unicode, empty files', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(170)}.jpg`;
    const files = [
      { path: 'manifest.csv', content: 'image\nphotos/ü 1.jpg\n' },
      { path: 'photos/ü 1.jpg', content: 'jpeg bytes' },
      { path: 'photos/empty.jpg', content: '' },
      { path: 'photos/日本語/写真.png', content: 'png bytes' },
      { path: long, content: 'long' },
    ];
    for (const format of ['gnu', 'pax'] as const) {
      const { entries, contents } = await listing(archiveOf(gnuTarGz(files, format)).archive);
      expect(entries.map((entry) => [entry.index, entry.kind, entry.path, entry.size])).toEqual([
        [0, 'directory', './', 0],
        [1, 'directory', `./${'d'.repeat(120)}/`, 0],
        [2, 'file', `./${long}`, 4],
        [3, 'file', './manifest.csv', 22],
        [4, 'directory', './photos/', 0],
        [5, 'file', './photos/empty.jpg', 0],
        [6, 'file', './photos/ü 1.jpg', 10],
        [7, 'directory', './photos/日本語/', 0],
        [8, 'file', './photos/日本語/写真.png', 9],
      ]);
      // Past ustar's 100-byte name and 155-byte prefix: only GNU's long-name entries or pax headers can carry it.
      expect(entries[2]!.path.length).toBeGreaterThan(255);
      expect(contents).toEqual(['', '', 'long', 'image\nphotos/ü 1.jpg\n', '', '', 'jpeg bytes', '', 'png bytes']);
    }
  });

  it('reads the older header formats GNU tar can still write (ustar, pre-POSIX v7)', async () => {
    for (const format of ['ustar', 'v7'] as const) {
      const { entries, contents } = await listing(archiveOf(gnuTarGz([{ path: 'a/b.txt', content: 'bee' }], format)).archive);
      expect(entries.map((entry) => [entry.kind, entry.path])).toEqual([['directory', './'], ['directory', './a/'], ['file', './a/b.txt']]);
      expect(contents).toEqual(['', '', 'bee']);
    }
  });

  it('lists hostile entries as stored and never follows links: their bodies are empty', async () => {
    const name300 = 'n'.repeat(300);
    const { entries, contents } = await listing(archiveOf(await packTarGz([
      file('../evil.jpg', 'escape'),
      file('/abs/path.jpg', 'absolute'),
      { name: 'link-to-passwd', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'hard-link', type: 'link', linkname: '../evil.jpg' },
      { name: 'a-fifo', type: 'fifo' },
      { name: 'a-device', type: 'character-device' },
      { name: 'dir/', type: 'directory' },
      file(name300, 'long name'),
      file('ünïcödé/名前.jpg', 'unicode'),
      file('empty.jpg', ''),
    ])).archive);
    expect(entries).toEqual([
      { index: 0, kind: 'file', path: '../evil.jpg', size: 6 },
      { index: 1, kind: 'file', path: '/abs/path.jpg', size: 8 },
      { index: 2, kind: 'link', path: 'link-to-passwd', size: 0 },
      { index: 3, kind: 'link', path: 'hard-link', size: 0 },
      { index: 4, kind: 'other', path: 'a-fifo', size: 0 },
      { index: 5, kind: 'other', path: 'a-device', size: 0 },
      { index: 6, kind: 'directory', path: 'dir/', size: 0 },
      { index: 7, kind: 'file', path: name300, size: 9 },
      { index: 8, kind: 'file', path: 'ünïcödé/名前.jpg', size: 7 },
      { index: 9, kind: 'file', path: 'empty.jpg', size: 0 },
    ]);
    expect(contents).toEqual(['escape', 'absolute', '', '', '', '', '', 'long name', 'unicode', '']);
  });

  it('does not wait for the bytes of a directory whose header claims a size (tar-stream never hands them over)', async () => {
    const tar = await packTar([file('dir-with-size', Buffer.alloc(1024)), file('next.txt', 'next')]);
    // Retyped as a directory ('5'), its checksum recomputed: the 1,024 zero bytes that follow read as end blocks.
    tar[156] = 0x35;
    tar.fill(0x20, 148, 156);
    const sum = tar.subarray(0, 512).reduce((total, byte) => total + byte, 0);
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const { entries, contents } = await listing(archiveOf(gzipSync(tar)).archive);
    expect(entries.map((entry) => [entry.kind, entry.path, entry.size])).toEqual([['directory', 'dir-with-size', 0], ['file', 'next.txt', 4]]);
    expect(contents).toEqual(['', 'next']);
  });

  it('reads a plain TAR (no compression) and one of concatenated gzip members', async () => {
    const items = [file('a.txt'), file('b.txt'), file('c.txt')];
    const tar = await packTar(items);
    expect((await listing(archiveOf(tar, 'none').archive)).contents).toEqual(['content of a.txt', 'content of b.txt', 'content of c.txt']);
    // Members split mid-TAR, the way pigz or a concatenating uploader writes them.
    const members = Buffer.concat([gzipSync(tar.subarray(0, 700)), gzipSync(tar.subarray(700, 1600)), gzipSync(tar.subarray(1600))]);
    const { entries, contents, stats } = await listing(archiveOf(members).archive);
    expect(entries.map((entry) => entry.path)).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect(contents).toEqual(['content of a.txt', 'content of b.txt', 'content of c.txt']);
    expect(stats).toEqual({ entries: 3, compressedBytes: members.length, bytes: tar.length });
  });

  it('gives identical entries and stats on every pass', async () => {
    const { archive, store } = archiveOf(gnuTarGz([{ path: 'a/1.jpg', content: 'one' }, { path: 'a/2.jpg', content: randomBytesOf(100_000) }, { path: 'm.csv', content: 'x' }]));
    const first = await listing(archive);
    const second = await listing(archive);
    expect(second.entries).toEqual(first.entries);
    expect(second.stats).toEqual(first.stats);
    expect(first.stats.compressedBytes).toBe(store.object(ref.bucket, ref.key)!.size);
    expect(store.calls.openRead).toBe(2);
  });
});

describe('openTarArchive: bodies and memory', () => {
  it('streams a 20 MiB file without reading ahead of its reader: a paused reader stops the download', async () => {
    const big = randomBytesOf(20 * MiB, 7);
    const { archive, store } = archiveOf(await packTarGz([file('small.txt'), file('big.bin', big), file('after.txt', 'after')]));
    const archiveBytes = store.object(ref.bucket, ref.key)!.size;
    const hash = createHash('sha256');
    let largestChunk = 0;
    let deliveredWhilePaused = 0;
    const after: string[] = [];
    await archive.pass(async (entry, body) => {
      if (entry.path !== 'big.bin') {
        after.push((await readAll(body)).toString());
        return;
      }
      let read = 0;
      for await (const chunk of body) {
        const bytes = chunk as Buffer;
        hash.update(bytes);
        largestChunk = Math.max(largestChunk, bytes.length);
        read += bytes.length;
        if (read >= 2 * MiB && deliveredWhilePaused === 0) {
          // The reader stops for a while, 2 MiB in: upstream must stop too, a few buffers later.
          await new Promise((resolve) => setTimeout(resolve, 200));
          deliveredWhilePaused = store.delivered;
        }
      }
    });
    expect(hash.digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
    expect(largestChunk).toBeLessThanOrEqual(64 * 1024);
    expect(deliveredWhilePaused).toBeGreaterThan(2 * MiB);
    expect(deliveredWhilePaused).toBeLessThan(3 * MiB);
    expect(store.delivered).toBe(archiveBytes);
    expect(after).toEqual(['content of small.txt', 'after']);
  });

  it('skips a body the visit leaves unread, or stops reading midway, and goes on with the next entry', async () => {
    const big = randomBytesOf(3 * MiB, 3);
    const { archive } = archiveOf(await packTarGz([file('unread.bin', big), file('one.txt', 'one'), file('half-read.bin', big), file('two.txt', 'two'), file('resumed.bin', big), file('three.txt', 'three')]));
    const seen: string[] = [];
    const stats = await archive.pass(async (entry, body) => {
      if (entry.path === 'unread.bin') return;
      if (entry.path === 'half-read.bin') {
        for await (const _chunk of body) break;
        return;
      }
      if (entry.path === 'resumed.bin') {
        body.resume();
        return;
      }
      seen.push((await readAll(body)).toString());
    });
    expect(seen).toEqual(['one', 'two', 'three']);
    expect(stats.entries).toBe(6);
  });
});

describe('openTarArchive: failures', () => {
  it('fails a truncated TAR.GZ as corrupt, naming the archive and how far it got, and no content', async () => {
    const archiveBytes = await packTarGz([file('secret-1.txt', 'TOP SECRET one'), file('big.bin', randomBytesOf(2 * MiB)), file('secret-2.txt', 'TOP SECRET two')]);
    const { archive } = archiveOf(archiveBytes.subarray(0, Math.floor(archiveBytes.length * 0.6)));
    const error = await failureOf(listing(archive));
    expect(error).toBeInstanceOf(CorruptArchiveError);
    expect(classifyFailure(error)).toMatchObject({ kind: 'permanent', reason: 'corrupt-archive' });
    const message = (error as Error).message;
    expect(message).toMatch(/^s3:\/\/exports\/in\/archive\.tar\.gz is a corrupt archive: the gzip stream ends early \(truncated\), after 1 entries and \d+ bytes of TAR \(\d+ bytes of the object read\)$/);
    expect(message).not.toMatch(/SECRET|secret/);
  });

  it('fails a TAR.GZ with a flipped byte in its compressed data as corrupt', async () => {
    const archiveBytes = await packTarGz([file('a.txt', 'a'.repeat(50_000)), file('b.bin', randomBytesOf(200_000))]);
    for (const at of [Math.floor(archiveBytes.length / 2), archiveBytes.length - 6]) {
      const damaged = Buffer.from(archiveBytes);
      damaged[at]! ^= 0x55;
      const error = await failureOf(listing(archiveOf(damaged).archive));
      expect(error).toBeInstanceOf(CorruptArchiveError);
      expect((error as Error).message).toMatch(/is a corrupt archive: the (gzip|TAR)/);
    }
  });

  it('fails a TAR whose second header is damaged, after the first entry', async () => {
    const tar = await packTar([file('a.txt'), file('b.txt'), file('c.txt')]);
    const damaged = Buffer.from(tar);
    damaged[1024 + 10]! ^= 0x01;
    for (const [bytes, compression] of [[damaged, 'none'], [gzipSync(damaged), 'gzip']] as const) {
      const visited: string[] = [];
      const error = await failureOf(archiveOf(bytes, compression).archive.pass(async (entry, body) => {
        visited.push(entry.path);
        await readAll(body);
      }));
      expect(error).toBeInstanceOf(CorruptArchiveError);
      expect((error as Error).message).toMatch(/a TAR header is damaged \(bad checksum or unknown format\), after 1 entries and/);
      expect(visited).toEqual(['a.txt']);
    }
  });

  it('fails a gzip that holds no TAR as "gzip but not a TAR", however short', async () => {
    for (const [inside, why] of [
      [Buffer.from('image,label\n'.repeat(100)), 'its first block is no TAR header'],
      [Buffer.from('short'), 'it holds 5 bytes, less than one TAR header'],
      [Buffer.alloc(0), 'it decompresses to nothing'],
    ] as const) {
      const error = await failureOf(listing(archiveOf(gzipSync(inside)).archive));
      expect(error).toBeInstanceOf(CorruptArchiveError);
      expect((error as Error).message).toBe(`s3://exports/in/archive.tar.gz is gzip but not a TAR: ${why}`);
    }
  });

  it('accepts an empty TAR (its end blocks only): a pass with no entries', async () => {
    expect((await listing(archiveOf(gzipSync(Buffer.alloc(10240))).archive)).stats).toMatchObject({ entries: 0 });
  });

  it('fails with ObjectChangedError when the archive was replaced since its ETag was read', async () => {
    const { archive, store } = archiveOf(await packTarGz([file('a.txt')]));
    await listing(archive);
    store.add(ref.bucket, ref.key, await packTarGz([file('b.txt')]));
    const error = await failureOf(listing(archive));
    expect(error).toBeInstanceOf(ObjectChangedError);
    expect(classifyFailure(error)).toMatchObject({ kind: 'transient', reason: 'source-changed' });
  });

  it('rejects with the abort\'s own reason, midway through an entry, and stops reading the object', async () => {
    const { archive, store } = archiveOf(await packTarGz([file('a.txt'), file('big.bin', randomBytesOf(8 * MiB)), file('c.txt')]));
    for (const reason of [new Error('the message was given up'), Symbol('end-pass-early')]) {
      const deliveredBefore = store.delivered;
      const controller = new AbortController();
      const visited: string[] = [];
      const error = await failureOf(archive.pass(async (entry, body) => {
        visited.push(entry.path);
        for await (const _chunk of body) {
          if (entry.path === 'big.bin') controller.abort(reason);
        }
      }, controller.signal));
      expect(error).toBe(reason);
      expect(visited).toEqual(['a.txt', 'big.bin']);
      expect(store.bodies.at(-1)!.destroyed).toBe(true);
      // Aborted at big.bin's first chunk: a few buffers of its 8 MiB were read, not the rest.
      expect(store.delivered - deliveredBefore).toBeLessThan(2 * MiB);
    }
  });

  it('rejects with the abort\'s reason from the archive\'s own signal too, between entries', async () => {
    const store = new MemoryStore();
    const etag = store.add(ref.bucket, ref.key, await packTarGz([file('a.txt'), file('b.txt')]));
    const controller = new AbortController();
    const archive = openTarArchive(store, ref, { etag, compression: 'gzip' }, { signal: controller.signal });
    const reason = new Error('SIGTERM: the task is stopping');
    const error = await failureOf(archive.pass(async (_entry, body) => {
      await readAll(body);
      controller.abort(reason);
    }));
    expect(error).toBe(reason);
    await expect(archive.pass(async () => undefined)).rejects.toBe(reason);
  });

  it('rejects with the abort\'s reason when it came while the object was being opened', async () => {
    const { store, etag } = archiveOf(await packTarGz([file('a.txt')]));
    const controller = new AbortController();
    const reason = new Error('aborted during the GET');
    const opening = store.openRead.bind(store);
    store.openRead = async (target, options) => {
      const opened = await opening(target, { ifMatch: options.ifMatch! });
      controller.abort(reason);
      return opened;
    };
    const visited: string[] = [];
    const error = await failureOf(openTarArchive(store, ref, { etag, compression: 'gzip' }).pass(async (entry) => void visited.push(entry.path), controller.signal));
    expect(error).toBe(reason);
    expect(visited).toEqual([]);
  });

  it('rejects with the visit\'s own error and stops reading the object', async () => {
    const { archive, store } = archiveOf(await packTarGz([file('a.txt'), file('big.bin', randomBytesOf(4 * MiB)), file('c.txt')]));
    const refused = new Error('the batch upload failed');
    const error = await failureOf(archive.pass(async (entry, body) => {
      await readAll(body);
      if (entry.path === 'a.txt') throw refused;
    }));
    expect(error).toBe(refused);
    expect(store.bodies[0]!.destroyed).toBe(true);
    expect(store.delivered).toBeLessThan(store.object(ref.bucket, ref.key)!.size);
  });

  it('passes a failure of the object\'s read (a dropped connection) on unchanged, for the caller to retry', async () => {
    const archiveBytes = await packTarGz([file('a.txt'), file('big.bin', randomBytesOf(2 * MiB))]);
    const dropped = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const store = new MemoryStore();
    const etag = store.add(ref.bucket, ref.key, archiveBytes);
    store.openRead = async () => {
      async function* cut() {
        yield archiveBytes.subarray(0, 100_000);
        throw dropped;
      }
      return { head: { etag, size: archiveBytes.length, metadata: {} }, body: Readable.from(cut(), { objectMode: false }) };
    };
    const error = await failureOf(listing(openTarArchive(store, ref, { etag, compression: 'gzip' })));
    expect(error).toBe(dropped);
    expect(classifyFailure(error)).toMatchObject({ kind: 'transient', reason: 'network' });
  });
});

describe('openTarArchive on the code path AWS runs: S3ObjectStore, the strict front, s3rver', () => {
  it('reads every entry of a TAR.GZ, twice alike, and fails with ObjectChangedError once the object is replaced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tar-s3rver-'));
    const server = await startS3Server({ dataDir: dir, port: 0, buckets: [ref.bucket] });
    const front = await startStrictS3Front({ upstream: server.endpoint, statements: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${ref.bucket}/in/*` }] });
    const client = (endpoint: string) => new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    const [direct, worker] = [client(server.endpoint), client(front.endpoint)];
    try {
      const big = randomBytesOf(5 * MiB, 11);
      const { ETag } = await direct.send(new PutObjectCommand({ Bucket: ref.bucket, Key: ref.key, Body: await packTarGz([file('manifest.csv', 'image\nbig.bin\n'), file('big.bin', big)]) }));
      const archive = openTarArchive(new S3ObjectStore(worker), ref, { etag: ETag!.replace(/"/g, ''), compression: 'gzip' });
      const hashes: string[] = [];
      const first = await archive.pass(async (entry, body) => void hashes.push(`${entry.index} ${entry.path} ${createHash('sha256').update(await readAll(body)).digest('hex')}`));
      const second = await archive.pass(async (_entry, body) => void (await readAll(body)));
      expect(hashes).toEqual([`0 manifest.csv ${createHash('sha256').update('image\nbig.bin\n').digest('hex')}`, `1 big.bin ${createHash('sha256').update(big).digest('hex')}`]);
      expect(second).toEqual(first);

      await direct.send(new PutObjectCommand({ Bucket: ref.bucket, Key: ref.key, Body: await packTarGz([file('other.txt')]) }));
      await expect(archive.pass(async () => undefined)).rejects.toBeInstanceOf(ObjectChangedError);
    } finally {
      direct.destroy();
      worker.destroy();
      await front.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
