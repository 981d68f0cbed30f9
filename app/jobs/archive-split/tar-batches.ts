import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { Log } from '../../../shared/log/logger';
import type { BatchZipFile } from './batch-zip';
import type { SequentialArchive } from './sequential-archive';
import type { PlannedBatch, PlannedFile } from './split-plan';
import { TarPassPlan, type EntryDecision } from './tar-pass-plan';

export interface TarBatchesInput {
  readonly archive: SequentialArchive;
  /** Every batch of the plan; those in `done` are never rebuilt. */
  readonly batches: readonly PlannedBatch[];
  /** Parts an earlier attempt uploaded: nothing is kept on disk for them. */
  readonly done: ReadonlySet<number>;
  /** An empty private directory for spilled entries; the caller removes it whatever happens. */
  readonly spillDir: string;
  readonly diskBudgetBytes: number;
  /** Builds one batch ZIP from the files given, in their order, and resolves once it is uploaded. */
  build(batch: PlannedBatch, files: readonly BatchZipFile[]): Promise<void>;
  readonly signal: AbortSignal;
  readonly log: Log;
}

export interface TarBatchesOutcome {
  /** Reads of the archive for building (the listing read is the caller's). */
  readonly passes: number;
  readonly spillHighWaterBytes: number;
}

/** Thrown into a pass to stop reading once nothing later in the archive can help (the planner says so). */
const END_PASS_EARLY = Symbol('end-pass-early');

/**
 * A TAR.GZ's batches, built while the archive streams past: the TarPassPlan decides, entry by entry, whether it goes
 * into the one open batch ZIP, waits on disk within the budget, or waits for another pass; this carries that out.
 *
 * The open batch's ZIP is written by the same writer as a ZIP archive's (writeBatchZip), with its files in the order
 * they will be available: those on disk first, then the rest in archive order (an entry's index is its position in the
 * archive, and every file the open batch still lacks is ahead in the stream). A stream file's `open()` waits for the
 * pass to reach it; the pass hands the entry over and waits until the ZIP has consumed it before reading on, so one
 * entry at a time is in flight and nothing is held whole.
 */
export async function buildTarBatches(input: TarBatchesInput): Promise<TarBatchesOutcome> {
  const { batches, spillDir } = input;
  const byPart = new Map(batches.map((batch) => [batch.part, batch]));
  const planner = new TarPassPlan({
    // A batch may hold one entry under two names (rows spelling its path differently): the planner counts it once.
    batches: batches.map((batch) => ({ part: batch.part, entries: uniqueEntries(batch.files).map((file) => ({ entryIndex: file.entryIndex, size: file.size })) })),
    diskBudgetBytes: input.diskBudgetBytes,
    done: input.done,
  });
  const spillPath = (entryIndex: number) => join(spillDir, `entry-${entryIndex}`);
  /** `deletions`: where a file read once and no longer needed records its removal, for the batch to await. */
  const fromDisk = (file: PlannedFile, deletions?: Promise<unknown>[]): BatchZipFile => ({
    nameInZip: file.nameInZip,
    size: file.size,
    async open() {
      const stream = createReadStream(spillPath(file.entryIndex));
      if (deletions !== undefined) stream.once('close', () => deletions.push(rm(spillPath(file.entryIndex), { force: true })));
      return stream;
    },
  });
  const removeSpilled = (entries: readonly number[]) => Promise.all(entries.map((entryIndex) => rm(spillPath(entryIndex), { force: true })));

  /** Batches whose every file waits on disk: built now, so their disk is free before the stream needs it. */
  const buildReadyFromDisk = async () => {
    for (let ready = planner.readyFromDisk(); ready.length > 0; ready = planner.readyFromDisk()) {
      const batch = byPart.get(ready[0]!.part)!;
      await input.build(batch, batch.files.map((file) => fromDisk(file)));
      await removeSpilled(planner.markBuiltFromDisk(batch.part));
    }
  };

  let open: OpenBatch | undefined;
  await buildReadyFromDisk();
  while (!planner.isComplete) {
    input.signal.throwIfAborted();
    planner.startPass();
    const passAbort = new AbortController();
    const stopPass = () => passAbort.abort(input.signal.reason);
    input.signal.addEventListener('abort', stopPass, { once: true });
    try {
      await input.archive.pass(async (entry, body) => {
        const decision = planner.onEntry(entry.index, entry.size);
        await carryOut(decision, entry.index, body);
        if (open === undefined) await buildReadyFromDisk();
        if (open === undefined && planner.canEndPassEarly) passAbort.abort(END_PASS_EARLY);
      }, passAbort.signal);
    } catch (error) {
      if (!(passAbort.signal.aborted && passAbort.signal.reason === END_PASS_EARLY)) throw error;
    } finally {
      input.signal.removeEventListener('abort', stopPass);
    }
    await buildReadyFromDisk();
    const outcome = planner.endPass();
    input.log.info('archive pass', {
      pass: planner.passes, finishedParts: outcome.finishedInPass.length, remainingParts: outcome.remainingParts.length,
      spilledBytes: planner.spilledBytes, spillHighWaterBytes: planner.highWaterBytes,
    });
  }
  return { passes: planner.passes, spillHighWaterBytes: planner.highWaterBytes };

  async function carryOut(decision: EntryDecision, entryIndex: number, body: Readable): Promise<void> {
    switch (decision.action) {
      case 'skip':
      case 'defer':
        body.resume();
        await finished(body);
        return;
      case 'spill':
        await pipeline(body, createWriteStream(spillPath(entryIndex), { flags: 'wx', mode: 0o600 }));
        return;
      case 'open-then-stream': {
        const batch = byPart.get(decision.part)!;
        const onDisk = new Set(decision.fromDisk);
        const deleteAfter = new Set(decision.deleteAfterWriting);
        const diskFiles = batch.files.filter((file) => onDisk.has(file.entryIndex));
        const streamed = batch.files.filter((file) => !onDisk.has(file.entryIndex)).sort((a, b) => a.entryIndex - b.entryIndex);
        open = new OpenBatch(decision.part, streamed.map((file) => file.entryIndex), diskFiles.length, (entryIndex) => join(spillDir, `copy-${entryIndex}`));
        const diskWritten = open;
        // An entry under two names is read from disk twice: removed after the second.
        const lastName = new Map(diskFiles.map((file, position) => [file.entryIndex, position]));
        const files = [
          ...diskFiles.map((file, position) => {
            const last = lastName.get(file.entryIndex) === position;
            const disk = fromDisk(file, last && deleteAfter.has(file.entryIndex) ? diskWritten.deletions : undefined);
            return { ...disk, open: async () => diskWritten.track(await disk.open()) };
          }),
          ...streamed.map((file) => ({ nameInZip: file.nameInZip, size: file.size, open: () => diskWritten.arrival(file.entryIndex) })),
        ];
        open.building = input.build(batch, files);
        // Settled here too, so a failure while no entry is being handed over is not an unhandled rejection.
        open.building.catch(() => undefined);
        await hand(open, decision, entryIndex, body);
        return;
      }
      case 'stream':
        await hand(open!, decision, entryIndex, body);
        return;
    }
  }

  /**
   * Gives the entry to the open batch's ZIP (teeing it to disk when another batch needs it too) and waits until it has
   * been consumed, and for the batch's files from disk to be written (the planner already counts those as freed).
   */
  async function hand(batch: OpenBatch, decision: { alsoSpill: boolean; completes: boolean }, entryIndex: number, body: Readable): Promise<void> {
    const toZip = new PassThrough();
    const copies = [pipeline(body, toZip).catch(() => undefined)];
    if (decision.alsoSpill) {
      const toDisk = new PassThrough();
      body.pipe(toDisk);
      copies.push(pipeline(toDisk, createWriteStream(spillPath(entryIndex), { flags: 'wx', mode: 0o600 })));
    }
    await batch.deliver(entryIndex, toZip);
    await Promise.race([Promise.all([finished(toZip), ...copies, batch.diskFilesWritten()]), batch.building!.then(() => {
      throw new Error(`batch ZIP ${batch.part} finished without reading archive entry ${entryIndex}`);
    })]);
    if (decision.completes) {
      await batch.building;
      await Promise.all([...batch.deletions, batch.removeCopies()]);
      planner.closeOpenBatch();
      open = undefined;
    }
  }
}

/** The batch ZIP being written during a pass: where each streamed entry is expected, and its disk files' progress. */
class OpenBatch {
  building: Promise<void> | undefined;
  /** Removals of disk files this batch was the last to need, started as each is read. */
  readonly deletions: Promise<unknown>[] = [];
  /** Per streamed entry: how many of the batch's files are it, and the stream opener each of them waits for. */
  private readonly waiting = new Map<number, { names: number; opener: Promise<() => Readable>; resolve: (open: () => Readable) => void }>();
  private readonly copies: string[] = [];
  private readonly allDiskFilesRead: Promise<void>;
  private diskFileRead!: () => void;

  constructor(readonly part: number, streamedEntries: readonly number[], diskFiles: number, private readonly copyPath: (entryIndex: number) => string) {
    for (const entryIndex of streamedEntries) {
      const slot = this.waiting.get(entryIndex);
      if (slot !== undefined) {
        this.waiting.set(entryIndex, { ...slot, names: slot.names + 1 });
        continue;
      }
      let resolve!: (open: () => Readable) => void;
      const opener = new Promise<() => Readable>((settle) => (resolve = settle));
      this.waiting.set(entryIndex, { names: 1, opener, resolve });
    }
    let left = diskFiles;
    this.allDiskFilesRead = new Promise<void>((resolve) => {
      if (left === 0) resolve();
      this.diskFileRead = () => {
        left--;
        if (left === 0) resolve();
      };
    });
  }

  async arrival(entryIndex: number): Promise<Readable> {
    return (await this.waiting.get(entryIndex)!.opener)();
  }

  /**
   * Hands the entry to the file(s) waiting for it. One name: the stream itself. Several names (the ZIP writes them one
   * after the other, so one stream cannot feed both without holding all of it): a copy on disk that each name reads,
   * outside the spill budget, removed with the batch. Resolves once the entry may be read by the ZIP.
   */
  async deliver(entryIndex: number, body: Readable): Promise<void> {
    const slot = this.waiting.get(entryIndex);
    if (slot === undefined) throw new Error(`archive entry ${entryIndex} is not one the open batch ZIP ${this.part} expects`);
    if (slot.names === 1) {
      slot.resolve(() => body);
      return;
    }
    const path = this.copyPath(entryIndex);
    this.copies.push(path);
    await pipeline(body, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    slot.resolve(() => createReadStream(path));
  }

  removeCopies(): Promise<unknown> {
    return Promise.all(this.copies.map((path) => rm(path, { force: true })));
  }

  /** A disk file's stream as the ZIP opens it: counted once it has been read to the end (or failed, which fails the ZIP). */
  track(stream: Readable): Readable {
    void finished(stream).catch(() => undefined).then(this.diskFileRead);
    return stream;
  }

  /**
   * Every file the batch took from disk has been read: the prefetch may consume a streamed entry before them, and the
   * planner has already counted their disk as free, so the pass must not spill more until they are.
   */
  diskFilesWritten(): Promise<void> {
    return this.allDiskFilesRead;
  }
}

/** Each archive entry once, in the order of its first file. */
function uniqueEntries(files: readonly PlannedFile[]): PlannedFile[] {
  const seen = new Set<number>();
  return files.filter((file) => !seen.has(file.entryIndex) && seen.add(file.entryIndex));
}
