import { TransientError } from '../../../../shared/errors';
import { CorruptArchiveError } from '../archive-errors';
import { writeBatchZip } from '../batch-zip';
import { openZipArchive, type RangeReader, type ZipArchive } from '../zip-archive';
import { MiB, bufferReader, collect, dataOffset, infoZip, memoryFile, noise, patchName, unzipCheck, yazlZip } from './zip-builders';

const text = (s: string) => Buffer.from(s);

async function open(zip: Buffer, options: Parameters<typeof openZipArchive>[2] = {}): Promise<ZipArchive> {
  return openZipArchive(bufferReader(zip), zip.length, options);
}

async function readAll(archive: ZipArchive, path: string): Promise<Buffer> {
  const entry = archive.entries.find((e) => e.path === path);
  if (entry === undefined) throw new Error(`no entry ${path}`);
  return collect(await archive.openEntry(entry));
}

describe('openZipArchive: listing', () => {
  it('lists an Info-ZIP archive in central-directory order with kinds and sizes, and reads stored and deflated entries back', async () => {
    const photo = noise(50_000, 7);
    const csv = text('image,label\n'.repeat(2_000));
    const zip = infoZip([
      { path: 'dir/', content: '' },
      { path: 'dir/photo.jpg', content: photo },
      { path: 'dir/manifest.csv', content: csv },
      { path: 'empty.txt', content: '' },
    ]);
    const archive = await open(zip);

    expect(archive.entries).toEqual([
      { path: 'dir/', kind: 'directory', size: 0, index: 0 },
      { path: 'dir/photo.jpg', kind: 'file', size: photo.length, index: 1 },
      { path: 'dir/manifest.csv', kind: 'file', size: csv.length, index: 2 },
      { path: 'empty.txt', kind: 'file', size: 0, index: 3 },
    ]);
    // The CSV is repetitive, so zip deflated it; the noise it stored.
    expect(zip.length).toBeLessThan(photo.length + csv.length / 10);
    expect((await readAll(archive, 'dir/photo.jpg')).equals(photo)).toBe(true);
    expect((await readAll(archive, 'dir/manifest.csv')).equals(csv)).toBe(true);
    expect((await readAll(archive, 'empty.txt')).length).toBe(0);
    await archive.close();
  });

  it('lists a symlink stored by zip -y as a link, never following it', async () => {
    const zip = infoZip([{ path: 'real.jpg', content: 'jpeg' }, { path: 'alias.jpg', linkTo: '../../etc/passwd' }], ['-y']);
    const archive = await open(zip);
    expect(archive.entries.map((e) => [e.path, e.kind, e.size])).toEqual([
      ['real.jpg', 'file', 4],
      ['alias.jpg', 'link', '../../etc/passwd'.length],
    ]);
  });

  it('lists encrypted entries and unsupported compression methods as other', async () => {
    const encrypted = await open(infoZip([{ path: 'secret.jpg', content: 'x'.repeat(100) }], ['-P', 'pw']));
    expect(encrypted.entries[0]).toMatchObject({ path: 'secret.jpg', kind: 'other' });
    await expect(encrypted.openEntry(encrypted.entries[0])).rejects.toThrow(/encrypted or compressed with an unsupported method/);

    const bzipped = await open(infoZip([{ path: 'a.csv', content: 'hello\n'.repeat(1_000) }], ['-Z', 'bzip2']));
    expect(bzipped.entries[0]).toMatchObject({ path: 'a.csv', kind: 'other', size: 6_000 });
  });

  it('lists unsafe names as stored (traversal, absolute, backslash) instead of refusing the archive', async () => {
    let zip = infoZip([
      { path: 'xx/evil.jpg', content: 'a' },
      { path: 'xetc/x', content: 'b' },
      { path: 'a_b', content: 'c' },
      { path: 'fine.jpg', content: 'd' },
    ]);
    zip = patchName(zip, 'xx/evil.jpg', '../evil.jpg');
    zip = patchName(zip, 'xetc/x', '/etc/x');
    zip = patchName(zip, 'a_b', 'a\\b');
    const archive = await open(zip);
    expect(archive.entries.map((e) => e.path)).toEqual(['../evil.jpg', '/etc/x', 'a\\b', 'fine.jpg']);
    expect(archive.entries.every((e) => e.kind === 'file')).toBe(true);
    // Listed is not refused: the entry is still readable (the planner, not the reader, decides not to use it).
    expect((await readAll(archive, '../evil.jpg')).toString()).toBe('a');
  });

  it('decodes names as UTF-8 when the flag says so, else as CP437', async () => {
    const utf8 = await open(await yazlZip([{ name: 'café/ü.jpg', content: text('x') }]));
    expect(utf8.entries[0].path).toBe('café/ü.jpg');

    // The same name's bytes with the UTF-8 flag (general purpose bit 11) cleared in both headers: now CP437.
    const zip = await yazlZip([{ name: 'caf\u00e9.jpg', content: text('x') }]);
    clearUtf8Flag(zip);
    const cp437 = await open(zip);
    // UTF-8's é is 0xC3 0xA9, which CP437 reads as ├ and ⌐.
    expect(cp437.entries[0].path).toBe('caf├⌐.jpg');
  });

  it('reads ZIP64 archives: Info-ZIP with -fz and yazl with forceZip64Format', async () => {
    const a = noise(10_000, 1);
    const b = text('b'.repeat(5_000));
    for (const zip of [
      infoZip([{ path: 'a.jpg', content: a }, { path: 'b.txt', content: b }], ['-fz']),
      await yazlZip([{ name: 'a.jpg', content: a }, { name: 'b.txt', content: b, compress: true }], { forceZip64Format: true }),
    ]) {
      // Both really carry ZIP64 end records (the locator's signature), so this is the ZIP64 path being read.
      expect(zip.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]))).toBe(true);
      const archive = await open(zip);
      expect(archive.entries.map((e) => [e.path, e.size])).toEqual([['a.jpg', a.length], ['b.txt', b.length]]);
      expect((await readAll(archive, 'a.jpg')).equals(a)).toBe(true);
      expect((await readAll(archive, 'b.txt')).equals(b)).toBe(true);
    }
  });

  it('lists 70,000 entries (a ZIP64 entry count) from a generated archive', async () => {
    const count = 70_000;
    const files = Array.from({ length: count }, (_, i) => memoryFile(`img/${String(i).padStart(6, '0')}.jpg`, Buffer.from([i & 0xff])));
    const { stream, done } = writeBatchZip({ files, extras: [], mtime: new Date('2026-01-01T00:00:00Z') });
    const zip = await collect(stream);
    // The writer's side of the same ZIP64 need: end records for an entry count past 65535, which unzip reads.
    expect((await done).zip64).toBe(true);
    expect(unzipCheck(zip).names).toHaveLength(count);

    const archive = await open(zip);
    expect(archive.entries).toHaveLength(count);
    expect(archive.entries[count - 1]).toEqual({ path: 'img/069999.jpg', kind: 'file', size: 1, index: count - 1 });
    expect((await readAll(archive, 'img/069999.jpg'))[0]).toBe(69_999 & 0xff);
    // The central directory (about 5 MB) is read in a few block-sized GETs, not one per record.
    expect(archive.stats.requests).toBeLessThan(10);
  }, 120_000);
});

describe('openZipArchive: corruption and failures', () => {
  const content = 'row-1,the-secret-content\n'.repeat(40);

  it('fails a stored entry whose bytes were altered with a CorruptArchiveError naming the entry, not its content', async () => {
    const zip = infoZip([{ path: 'ok.txt', content: 'fine' }, { path: 'photos/bad.jpg', content }], ['-0']);
    zip[dataOffset(zip, 'photos/bad.jpg') + 10] ^= 0xff;
    const archive = await open(zip);
    expect((await readAll(archive, 'ok.txt')).toString()).toBe('fine');

    const error = await readAll(archive, 'photos/bad.jpg').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptArchiveError);
    expect((error as CorruptArchiveError).reason).toBe('corrupt-archive');
    expect((error as Error).message).toMatch(/ZIP entry 1 \("photos\/bad\.jpg"\): CRC-32 mismatch/);
    expect((error as Error).message).not.toMatch(/secret/);
  });

  it('fails a deflated entry whose bytes were altered with a CorruptArchiveError', async () => {
    const zip = infoZip([{ path: 'data.csv', content: noise(2_000, 3).toString('hex') }]);
    const start = dataOffset(zip, 'data.csv');
    for (let i = 20; i < 60; i++) zip[start + i] ^= 0x55;
    const archive = await open(zip);
    await expect(readAll(archive, 'data.csv')).rejects.toThrow(CorruptArchiveError);
  });

  it('sanitises control characters in a path named by an error', async () => {
    // A UTF-8 name (yazl sets the flag): CP437 would have decoded the byte 0x0A as a glyph, not a line feed.
    const zip = await yazlZip([{ name: 'a\nb.jpg', content: text(content) }]);
    zip[dataOffset(zip, 'a\nb.jpg') + 3] ^= 1;
    const archive = await open(zip);
    await expect(readAll(archive, 'a\nb.jpg')).rejects.toThrow('ZIP entry 0 ("a\\u000ab.jpg"): CRC-32 mismatch');
  });

  it.each([
    ['truncated', (zip: Buffer) => zip.subarray(0, zip.length - 30), /End of central directory record signature not found/],
    ['not a ZIP', () => noise(5_000, 9), /End of central directory record signature not found/],
    ['empty', () => Buffer.alloc(0), /End of central directory record signature not found/],
    ['a broken central directory', (zip: Buffer) => {
      const copy = Buffer.from(zip);
      copy.writeUInt32LE(0x12345678, copy.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])));
      return copy;
    }, /invalid central directory file header signature/],
    ['a central directory past the end', (zip: Buffer) => {
      const copy = Buffer.from(zip);
      copy.writeUInt32LE(copy.length + 1_000, copy.length - 22 + 16);
      return copy;
    }, /unexpected EOF/],
  ])('refuses %s at open with a CorruptArchiveError carrying yauzl\'s structural message', async (_name, damage, message) => {
    const zip = damage(infoZip([{ path: 'a.jpg', content }, { path: 'b.jpg', content }]));
    const error = await open(zip).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptArchiveError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/secret/);
  });

  it('passes the reader\'s own failures through unchanged: an outage is not a corrupt archive', async () => {
    const zip = infoZip([{ path: 'a.jpg', content }], ['-0']);
    const outage = new TransientError('network', 'connection reset');
    await expect(openZipArchive(async () => { throw outage; }, zip.length)).rejects.toBe(outage);

    const inner = bufferReader(zip);
    let failing = false;
    const flaky: RangeReader = async (start, end, signal) => {
      if (failing) throw outage;
      return inner(start, end, signal);
    };
    const archive = await openZipArchive(flaky, zip.length, { blockBytes: 64, cachedBlocks: 1 });
    failing = true;
    await expect(readAll(archive, 'a.jpg')).rejects.toBe(outage);
  });

  it('stops reading when the entry\'s signal aborts, with the abort as the error', async () => {
    const big = noise(2 * MiB, 4);
    const zip = infoZip([{ path: 'big.jpg', content: big }], ['-0']);
    const reader = bufferReader(zip);
    const archive = await openZipArchive(reader, zip.length, { blockBytes: 64 * 1024 });
    const controller = new AbortController();
    const stream = await archive.openEntry(archive.entries[0], controller.signal);
    let received = 0;
    const reading = (async () => {
      for await (const chunk of stream) {
        received += (chunk as Buffer).length;
        if (received >= 256 * 1024) controller.abort();
      }
    })();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
    const callsAtAbort = reader.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reader.calls.length).toBe(callsAtAbort);
    expect(received).toBeLessThan(big.length);
  });
});

describe('openZipArchive: block cache', () => {
  it('reads N small adjacent entries with about one GET per block, not one per entry', async () => {
    const count = 200;
    const size = 10_000;
    const items = Array.from({ length: count }, (_, i) => ({ path: `img/${i}.jpg`, content: noise(size, i + 1) }));
    const zip = infoZip(items, ['-0']);
    const blockBytes = 256 * 1024;
    const archive = await open(zip, { blockBytes, cachedBlocks: 4 });
    const afterListing = archive.stats.requests;
    for (const item of items) expect((await readAll(archive, item.path)).equals(item.content)).toBe(true);

    const requests = archive.stats.requests - afterListing;
    const blocks = Math.ceil(zip.length / blockBytes);
    // ~2 MB of entries in 256 KiB blocks: about 8 GETs, where one per entry would be 200 (400 with local headers).
    expect(requests).toBeLessThanOrEqual(blocks);
    expect(requests).toBeGreaterThanOrEqual(Math.floor((count * size) / blockBytes) - 1);
    expect(archive.stats.bytesRead).toBeLessThanOrEqual(2 * zip.length);
    console.log(`block cache: ${count} entries of ${size} B read with ${requests} GETs (${(requests / count).toFixed(3)} per entry), listing ${afterListing}`);
  });

  it('shares one GET among concurrent reads of the same block', async () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ path: `${i}.jpg`, content: noise(1_000, i + 1) }));
    const zip = infoZip(items, ['-0']);
    const archive = await open(zip, { blockBytes: 1 * MiB });
    const before = archive.stats.requests;
    const contents = await Promise.all(items.map((item) => readAll(archive, item.path)));
    contents.forEach((c, i) => expect(c.equals(items[i].content)).toBe(true));
    // The whole archive is one block, already fetched for the listing.
    expect(archive.stats.requests - before).toBe(0);
    expect(before).toBe(1);
  });

  it('streams an entry larger than a block in block-sized GETs without holding it whole', async () => {
    const blockBytes = 64 * 1024;
    const big = noise(4 * MiB, 5);
    const zip = infoZip([{ path: 'small.jpg', content: 'x' }, { path: 'big.jpg', content: big }], ['-0']);
    const reader = bufferReader(zip);
    const archive = await openZipArchive(reader, zip.length, { blockBytes, cachedBlocks: 2 });
    const callsBeforeOpen = reader.calls.length;
    const stream = await archive.openEntry(archive.entries[1]);

    // A consumer that has taken one chunk and stopped: the reads stay a few blocks ahead, not the whole entry.
    const first = await new Promise<Buffer>((resolve) => stream.once('data', (chunk: Buffer) => {
      stream.pause();
      resolve(chunk);
    }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const fetchedWhilePaused = reader.calls.slice(callsBeforeOpen).reduce((sum, [s, e]) => sum + e - s + 1, 0);
    // The GET being consumed, the one ahead, and a chunk in each stage of yauzl's pipes: 64 blocks stay unread.
    expect(fetchedWhilePaused).toBeLessThanOrEqual(8 * blockBytes);

    const rest = await collect(stream);
    expect(Buffer.concat([first, rest]).equals(big)).toBe(true);
    expect(Math.max(...reader.calls.map(([s, e]) => e - s + 1))).toBeLessThanOrEqual(blockBytes);
    expect(reader.calls.length).toBeGreaterThanOrEqual(big.length / blockBytes);
  });
});

/** Clears general purpose bit 11 (UTF-8 names) in every local and central header. */
function clearUtf8Flag(zip: Buffer): void {
  for (const [signature, flagOffset] of [[0x04034b50, 6], [0x02014b50, 8]] as const) {
    const sig = Buffer.alloc(4);
    sig.writeUInt32LE(signature);
    for (let at = zip.indexOf(sig); at !== -1; at = zip.indexOf(sig, at + 4)) {
      zip.writeUInt16LE(zip.readUInt16LE(at + flagOffset) & ~0x800, at + flagOffset);
    }
  }
}
