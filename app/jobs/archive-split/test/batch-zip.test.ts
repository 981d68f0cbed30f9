import { getDefaultHighWaterMark, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as yauzl from 'yauzl';
import { writeBatchZip, type BatchZipFile } from '../batch-zip';
import { openZipArchive, type RangeReader } from '../zip-archive';
import { MiB, TailSink, bufferReader, collect, infoZip, memoryFile, noise, unzipCheck, unzipEntry, virtualZip64 } from './zip-builders';

const mtime = new Date(2000, 0, 1);
const extras = [
  { name: 'manifest.csv', content: Buffer.from('image,label\n'.repeat(500)) },
  { name: 'problems.csv', content: Buffer.from('row,problem\n') },
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The compression method of each entry, by name, as the central directory gives it. */
async function methods(zip: Buffer): Promise<Record<string, number>> {
  const file = await yauzl.fromBufferPromise(zip);
  const out: Record<string, number> = {};
  for await (const entry of file.eachEntry()) out[entry.fileName] = entry.compressionMethod;
  return out;
}

/** A file whose open() takes `delayMs`, recording how many opens are under way at once. */
function slowFile(name: string, content: Buffer, delayMs: number, gauge: { now: number; max: number; opens: string[] }): BatchZipFile {
  const inner = memoryFile(name, content);
  return {
    nameInZip: name,
    size: content.length,
    async open(signal) {
      gauge.opens.push(name);
      gauge.now++;
      gauge.max = Math.max(gauge.max, gauge.now);
      try {
        await sleep(delayMs);
        return await inner.open(signal);
      } finally {
        gauge.now--;
      }
    },
  };
}

describe('writeBatchZip: output', () => {
  const photos = [noise(300_000, 1), noise(20_000, 2), Buffer.alloc(0), noise(5_000, 3)];
  const files = () => photos.map((content, i) => memoryFile(`batch/photo-${i}.jpg`, content));

  it('stores the files and deflates the extras, in a ZIP that unzip tests clean, with the exact names and bytes', async () => {
    // A small prefetch bound, so the 300 KB file is streamed in its turn and the others are read ahead.
    const { stream, done } = writeBatchZip({ files: files(), extras, mtime, prefetchBytes: 256 * 1024 });
    const zip = await collect(stream);
    const stats = await done;

    const { testOutput, names } = unzipCheck(zip);
    expect(testOutput).toMatch(/No errors detected/);
    expect(names).toEqual(['manifest.csv', 'problems.csv', 'batch/photo-0.jpg', 'batch/photo-1.jpg', 'batch/photo-2.jpg', 'batch/photo-3.jpg']);
    photos.forEach((content, i) => expect(unzipEntry(zip, `batch/photo-${i}.jpg`).equals(content)).toBe(true));
    expect(unzipEntry(zip, 'manifest.csv').equals(extras[0].content)).toBe(true);
    expect(await methods(zip)).toEqual({
      'manifest.csv': 8, 'problems.csv': 8, 'batch/photo-0.jpg': 0, 'batch/photo-1.jpg': 0, 'batch/photo-2.jpg': 0, 'batch/photo-3.jpg': 0,
    });
    expect(stats).toEqual({ files: 4, extras: 2, bytes: zip.length, zip64: false });
  });

  it('gives the same bytes for the same input, whatever the prefetch settings', async () => {
    const first = await collect(writeBatchZip({ files: files(), extras, mtime }).stream);
    await sleep(1_100); // a clock that leaked into the output would now differ
    const second = await collect(writeBatchZip({ files: files(), extras, mtime, prefetchBytes: 0, prefetchEntries: 0 }).stream);
    expect(second.equals(first)).toBe(true);
  });

  it('copies entries from an Info-ZIP archive read by ranged GETs, stored and deflated alike, byte for byte', async () => {
    const items = Array.from({ length: 60 }, (_, i) => ({ path: `src/${i}.${i % 2 === 0 ? 'jpg' : 'txt'}`, content: i % 2 === 0 ? noise(3_000 + i * 100, i + 1) : Buffer.from(`line ${i}\n`.repeat(200)) }));
    const source = infoZip(items);
    const archive = await openZipArchive(bufferReader(source), source.length, { blockBytes: 64 * 1024 });
    const { stream, done } = writeBatchZip({
      files: archive.entries.map((entry) => ({ nameInZip: `out/${entry.path}`, size: entry.size, open: (signal) => archive.openEntry(entry, signal) })),
      extras,
      mtime,
    });
    const zip = await collect(stream);
    expect((await done).files).toBe(60);
    const { testOutput, names } = unzipCheck(zip);
    expect(testOutput).toMatch(/No errors detected/);
    expect(names).toEqual(['manifest.csv', 'problems.csv', ...items.map((item) => `out/${item.path}`)]);
    for (const item of [items[0], items[1], items[59]]) expect(unzipEntry(zip, `out/${item.path}`).equals(item.content)).toBe(true);
  });

  it('refuses an unsafe name before anything is read', async () => {
    const counter = { opened: 0, bytes: 0 };
    expect(() => writeBatchZip({ files: [memoryFile('ok.jpg', noise(10), counter), memoryFile('../evil.jpg', noise(10), counter)], extras: [], mtime })).toThrow(/invalid relative path/);
    await sleep(20);
    expect(counter.opened).toBe(0);
  });
});

describe('writeBatchZip: prefetch and backpressure', () => {
  it('overlaps the opens of small following files, within prefetchEntries', async () => {
    const run = async (prefetchEntries: number) => {
      const gauge = { now: 0, max: 0, opens: [] as string[] };
      const files = Array.from({ length: 40 }, (_, i) => slowFile(`${i}.jpg`, noise(1_000, i + 1), 20, gauge));
      const started = Date.now();
      await collect(writeBatchZip({ files, extras: [], mtime, prefetchEntries }).stream);
      return { ...gauge, ms: Date.now() - started };
    };
    const serial = await run(0);
    const overlapped = await run(8);
    expect(serial.max).toBe(1);
    expect(overlapped.max).toBeGreaterThan(4);
    // Eight read ahead plus the one in its turn.
    expect(overlapped.max).toBeLessThanOrEqual(9);
    expect(overlapped.ms).toBeLessThan(serial.ms / 2);
  });

  it('opens a file larger than prefetchBytes / 4 only in its turn, and reads smaller ones past it', async () => {
    const events: string[] = [];
    const tracked = (name: string, content: Buffer): BatchZipFile => {
      const inner = memoryFile(name, content);
      return {
        nameInZip: name,
        size: content.length,
        async open(signal) {
          events.push(`open ${name}`);
          const stream = await inner.open(signal);
          stream.once('end', () => events.push(`end ${name}`));
          return stream;
        },
      };
    };
    const files = [tracked('a.jpg', noise(10_000, 1)), tracked('big.jpg', noise(200_000, 2)), tracked('c.jpg', noise(10_000, 3))];
    await collect(writeBatchZip({ files, extras: [], mtime, prefetchBytes: 64 * 1024 }).stream);
    // c.jpg is read ahead across big.jpg; big.jpg waits for a.jpg to be written.
    expect(events.indexOf('open c.jpg')).toBeLessThan(events.indexOf('open big.jpg'));
    expect(events.indexOf('end a.jpg')).toBeLessThan(events.indexOf('open big.jpg'));
  });

  it('reads nothing past the prefetch bound while the consumer does not read, and finishes once it does', async () => {
    const counter = { opened: 0, bytes: 0 };
    const contents = Array.from({ length: 200 }, (_, i) => noise(10_000, i + 1));
    const prefetchBytes = 64 * 1024;
    const { stream, done } = writeBatchZip({ files: contents.map((c, i) => memoryFile(`${i}.jpg`, c, counter)), extras: [], mtime, prefetchBytes });
    await sleep(200);
    // What the stalled pipes downstream hold (yazl's output and the byte counter, a stream buffer a side: a few files
    // written before the stall) plus the prefetch budget: a bound set by the settings, not by the 2 MB of input. The
    // buffer is Node's default high-water mark, 16 KiB on Node 20 and 64 KiB from Node 22.
    const pipes = 4 * getDefaultHighWaterMark(false) + 10_000;
    expect(counter.bytes).toBeLessThanOrEqual(prefetchBytes + pipes);
    // Files of 10,000 bytes: as many as that bound holds, and a file or two being opened.
    expect(counter.opened).toBeLessThanOrEqual(Math.ceil((prefetchBytes + pipes) / 10_000) + 2);

    const zip = await collect(stream);
    expect((await done).files).toBe(200);
    expect(counter.bytes).toBe(200 * 10_000);
    expect(unzipCheck(zip).testOutput).toMatch(/No errors detected/);
  });

  it('streams a large file without reading it ahead of a consumer that has stopped', async () => {
    const counter = { opened: 0, bytes: 0 };
    const big = noise(8 * MiB, 5);
    const { stream } = writeBatchZip({ files: [memoryFile('big.jpg', big, counter)], extras: [], mtime, prefetchBytes: 1 * MiB });
    await sleep(200);
    // A chunk or two in each stage of the pipes, not the 8 MiB.
    expect(counter.bytes).toBeLessThan(1 * MiB);
    stream.resume();
    await new Promise((resolve) => stream.once('end', resolve));
    expect(counter.bytes).toBe(big.length);
  });
});

describe('writeBatchZip: failures', () => {
  it('destroys the stream with the error of a file that cannot be opened (read ahead or in turn)', async () => {
    for (const position of [0, 3]) {
      const failure = new Error('no such entry');
      const files = Array.from({ length: 5 }, (_, i) => (i === position
        ? { nameInZip: `${i}.jpg`, size: 10, open: async () => { throw failure; } }
        : memoryFile(`${i}.jpg`, noise(10, i + 1))));
      const { stream, done } = writeBatchZip({ files, extras, mtime });
      await expect(collect(stream)).rejects.toBe(failure);
      await expect(done).rejects.toBe(failure);
    }
  });

  it('destroys the stream with the error of a streamed file that fails mid-read', async () => {
    const failure = new Error('connection reset');
    let sent = 0;
    const failing: BatchZipFile = {
      nameInZip: 'big.jpg',
      size: 4 * MiB,
      async open() {
        return new Readable({
          read() {
            if (sent >= MiB) {
              this.destroy(failure);
              return;
            }
            sent += 64 * 1024;
            this.push(Buffer.alloc(64 * 1024));
          },
        });
      },
    };
    const { stream, done } = writeBatchZip({ files: [failing], extras, mtime, prefetchBytes: MiB });
    await expect(collect(stream)).rejects.toBe(failure);
    await expect(done).rejects.toBe(failure);
  });

  it.each([
    ['fewer', 90, 1_000],
    ['more', 110, 1_000],
    ['fewer (streamed)', 90_000, 100],
    ['more (streamed)', 110_000, 100],
  ])('fails when a file gives %s bytes than its declared size', async (_name, actual, prefetchKiB) => {
    const lying = { ...memoryFile('x.jpg', noise(actual)), size: actual < 1_000 ? 100 : 100_000 };
    const { stream } = writeBatchZip({ files: [lying], extras, mtime, prefetchBytes: prefetchKiB * 1024 });
    await expect(collect(stream)).rejects.toThrow(/bytes/);
  });

  it('stops on the signal: the stream is destroyed with its reason and no further file is opened', async () => {
    const gauge = { now: 0, max: 0, opens: [] as string[] };
    const files = Array.from({ length: 50 }, (_, i) => slowFile(`${i}.jpg`, noise(1_000, i + 1), 10, gauge));
    const controller = new AbortController();
    const { stream, done } = writeBatchZip({ files, extras, mtime, prefetchEntries: 2, signal: controller.signal });
    const reading = collect(stream);
    await sleep(60);
    const reason = new Error('stop requested');
    controller.abort(reason);
    await expect(reading).rejects.toBe(reason);
    await expect(done).rejects.toBe(reason);
    const opensAtAbort = gauge.opens.length;
    await sleep(100);
    expect(gauge.opens.length).toBe(opensAtAbort);
    expect(opensAtAbort).toBeLessThan(50);
  });

  it('stops reading when the consumer destroys the stream (a failed upload)', async () => {
    let sourceClosed = false;
    const endless: BatchZipFile = {
      nameInZip: 'big.jpg',
      size: 64 * MiB,
      async open() {
        // Asynchronous like a socket: a source that pushes synchronously into a flowing consumer starves the timers.
        const source = new Readable({ read() { setImmediate(() => this.push(Buffer.alloc(64 * 1024))); } });
        source.once('close', () => { sourceClosed = true; });
        return source;
      },
    };
    const { stream, done } = writeBatchZip({ files: [endless], extras: [], mtime, prefetchBytes: MiB });
    const seen: Error[] = [];
    stream.on('error', (error) => seen.push(error)).resume();
    await sleep(50);
    const failure = new Error('upload aborted');
    stream.destroy(failure);
    await expect(done).rejects.toBe(failure);
    expect(seen).toEqual([failure]);
    await sleep(10);
    expect(sourceClosed).toBe(true);
  });
});

describe('ZIP64 end to end', () => {
  it('carries an entry over 4 GiB from a ZIP64 archive read by ranged GETs into a ZIP64 batch ZIP', async () => {
    const started = Date.now();
    const bigSize = 4 * 1024 * MiB + 100 * MiB + 7;
    const after = Buffer.from('the entry after the big one\n');
    const source = virtualZip64(bigSize, after);
    // Each GET yields to the event loop as a network read would: a reader that never does starves every timer.
    const reader: RangeReader = async (start, end, signal) => {
      await new Promise((resolve) => setImmediate(resolve));
      return source.reader(start, end, signal);
    };
    const archive = await openZipArchive(reader, source.size);
    expect(archive.entries).toEqual([
      { path: 'big.bin', kind: 'file', size: bigSize, index: 0 },
      { path: 'after.txt', kind: 'file', size: after.length, index: 1 },
    ]);

    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 100);
    const sink = new TailSink(MiB);
    const { stream, done } = writeBatchZip({
      files: archive.entries.map((entry) => ({ nameInZip: `out/${entry.path}`, size: entry.size, open: (signal) => archive.openEntry(entry, signal) })),
      extras: [extras[0]],
      mtime,
    });
    try {
      await pipeline(stream, sink);
    } finally {
      clearInterval(sampler);
    }
    const stats = await done;
    expect(stats).toMatchObject({ files: 2, zip64: true, bytes: sink.bytes });
    // What 4.1 GiB through the reader and the writer adds to the process: well under the job's 512 MiB for a whole
    // worker. The growth, not the total: in the full suite this jest worker already holds other files' modules (a run
    // measured 703 MiB in all there, against 255-308 MiB with this file alone).
    expect(peakRss - rssBefore).toBeLessThan(256 * MiB);
    expect(sink.bytes).toBeGreaterThan(bigSize);

    // The output's own records, from its last MiB: the big entry's central record carries the source's CRC-32 (so
    // the 4.1 GiB went through unaltered) and ZIP64 sizes; end records are ZIP64.
    const { bytes: tail, offset } = sink.tail();
    const record = tail.indexOf(Buffer.from('out/big.bin')) - 46;
    expect(tail.readUInt32LE(record)).toBe(0x02014b50);
    expect(tail.readUInt32LE(record + 16)).toBe(source.bigCrc);
    expect(tail.readUInt32LE(record + 20)).toBe(0xffffffff);
    expect(tail.readUInt32LE(tail.length - 22)).toBe(0x06054b50);
    expect(tail.readUInt32LE(tail.length - 42)).toBe(0x07064b50);

    // And read back as a ZIP: the listing needs only the tail, and after.txt (its header past 4 GiB) lies in it.
    const tailReader: RangeReader = async (start, end) => {
      const out = Buffer.alloc(end - start + 1);
      if (end >= offset) tail.copy(out, Math.max(0, offset - start), Math.max(0, start - offset), end - offset + 1);
      return out;
    };
    const written = await openZipArchive(tailReader, sink.bytes, { blockBytes: 64 * 1024 });
    expect(written.entries.map((e) => [e.path, e.size])).toEqual([['manifest.csv', extras[0].content.length], ['out/big.bin', bigSize], ['out/after.txt', after.length]]);
    expect((await collect(await written.openEntry(written.entries[2]))).equals(after)).toBe(true);

    const seconds = (Date.now() - started) / 1000;
    console.log(`ZIP64 end to end: ${(sink.bytes / 2 ** 30).toFixed(2)} GiB in ${seconds.toFixed(1)} s (${(sink.bytes / MiB / seconds).toFixed(0)} MB/s), peak RSS ${(peakRss / MiB).toFixed(0)} MiB, ${archive.stats.requests} GETs`);
  }, 600_000);
});
