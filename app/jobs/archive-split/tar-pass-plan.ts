/**
 * Decides, entry by entry, what a pass over a TAR.GZ does with each entry when the archive must be split into batch
 * ZIPs that only exist one at a time. A TAR.GZ reads front to back only, in its own order, and each batch ZIP streams
 * into one multipart upload, so an entry can go into the open ZIP, wait on local disk for a later batch, or wait for
 * another pass. Pure and synchronous: the orchestration does every read, write and upload and reports back.
 *
 * Why it always finishes (each pass that starts with an unfinished batch finishes at least one):
 * at the start of a pass no batch is open, no batch is blocked, and every unfinished batch still has an entry off
 * disk (batches wholly on disk were built from `readyFromDisk()` before the previous pass ended or before this one
 * started). Let `e` be the first entry of the pass that an unfinished batch needs and that is not on disk. Every entry
 * before `e` was skipped without blocking anything (unneeded, or already on disk), and readying batches from disk in
 * between only finishes batches, so when `e` arrives no batch is open and none of `e`'s batches is blocked: `e` opens
 * the lowest of them, B. From then on every entry B still lacks is streamed into B whatever the budget (streaming
 * costs no disk), and no other batch can be opened or built while B is open. Every entry of B is in the archive (the
 * listing pass dropped the absent ones), so B completes before the pass ends. `endPass()` checks this and throws
 * instead of looping when the archive lacks an entry. Hence at most as many passes as unfinished batches, and disk
 * never above the budget because nothing is spilled that does not fit.
 */

/** A batch ZIP as the listing pass planned it: the archive entries it holds, by their index in the archive. */
export interface PlannedBatch {
  readonly part: number;
  readonly entries: readonly { readonly entryIndex: number; readonly size: number }[];
}

export interface TarPassPlanInput {
  readonly batches: readonly PlannedBatch[];
  /** Bytes of entries that may sit on local disk at once; 0 never spills (except entries of size 0). */
  readonly diskBudgetBytes: number;
  /** Parts an earlier attempt already uploaded: never rebuilt, so nothing is kept for them. */
  readonly done?: ReadonlySet<number>;
}

export type EntryDecision =
  /** No unfinished batch needs this copy: not planned, only for done parts, already on disk or in the open ZIP. */
  | { readonly action: 'skip' }
  /** Write it to disk: an unfinished batch that can still be built in this pass needs it; counted against the budget. */
  | { readonly action: 'spill' }
  /** Over budget, or every batch needing it already waits for another pass: drop it, its batches wait. */
  | { readonly action: 'defer' }
  /** Write it into the open batch ZIP; tee it to disk too when `alsoSpill`. */
  | {
      readonly action: 'stream';
      readonly part: number;
      readonly alsoSpill: boolean;
      /** This was the open batch's last entry: finish the ZIP, then `closeOpenBatch()`. */
      readonly completes: boolean;
    }
  /**
   * No batch was open: open batch `part`, write `fromDisk` into it first, delete the files in `deleteAfterWriting`
   * (no other batch needs them, and the budget already counts them as gone), then stream this entry as for 'stream'.
   */
  | {
      readonly action: 'open-then-stream';
      readonly part: number;
      readonly fromDisk: readonly number[];
      readonly deleteAfterWriting: readonly number[];
      readonly alsoSpill: boolean;
      readonly completes: boolean;
    };

/** A batch whose entries are all on disk: it can be built now, without the stream. */
export interface DiskBatch {
  readonly part: number;
  readonly fromDisk: readonly number[];
}

export interface PassOutcome {
  /** Every batch is built: no further pass. */
  readonly complete: boolean;
  /** Parts still to build, ascending: they need another pass. */
  readonly remainingParts: readonly number[];
  /** Parts finished between `startPass()` and `endPass()`, in the order they finished. */
  readonly finishedInPass: readonly number[];
}

interface BatchState {
  readonly part: number;
  readonly entries: readonly number[];
  status: 'pending' | 'open' | 'built';
  /** Entries not on disk: 0 while pending means it can be built from disk alone. */
  offDisk: number;
  /** While open: entries it still waits for from the stream. */
  toStream: Set<number>;
}

interface EntryState {
  readonly size: number;
  /** Unfinished batches (pending or open) that hold it. */
  readonly needers: Set<number>;
  onDisk: boolean;
  /** The pass that last saw it, so a second sighting in one pass is caught. */
  seenInPass: number;
}

const SKIP: EntryDecision = Object.freeze({ action: 'skip' });
const SPILL: EntryDecision = Object.freeze({ action: 'spill' });
const DEFER: EntryDecision = Object.freeze({ action: 'defer' });

export class TarPassPlan {
  private readonly batches = new Map<number, BatchState>();
  private readonly entries = new Map<number, EntryState>();
  private readonly budget: number;
  /** Pending batches that cannot be opened in this pass: an entry of theirs went by and is not on disk. */
  private readonly blocked = new Set<number>();
  /** Pending batches wholly on disk. */
  private readonly ready = new Set<number>();
  private open: BatchState | undefined;
  private unfinished = 0;
  private inPass = false;
  private passCount = 0;
  private finishedThisPass: number[] = [];
  private spilled = 0;
  private highWater = 0;

  constructor(input: TarPassPlanInput) {
    const { batches, diskBudgetBytes, done = new Set<number>() } = input;
    if (Number.isNaN(diskBudgetBytes) || diskBudgetBytes < 0) {
      throw new RangeError(`diskBudgetBytes must be a non-negative number of bytes, got ${diskBudgetBytes}`);
    }
    this.budget = diskBudgetBytes;
    const sizes = new Map<number, number>();
    const parts = new Set<number>();
    for (const batch of batches) {
      if (!Number.isSafeInteger(batch.part)) throw new RangeError(`a part must be an integer, got ${batch.part}`);
      if (parts.has(batch.part)) throw new RangeError(`part ${batch.part} is planned twice`);
      parts.add(batch.part);
      const inBatch = new Set<number>();
      for (const { entryIndex, size } of batch.entries) {
        if (!Number.isSafeInteger(entryIndex) || entryIndex < 0) throw new RangeError(`part ${batch.part}: entry index ${entryIndex} is not a non-negative integer`);
        if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`part ${batch.part}: entry ${entryIndex} has size ${size}, not a non-negative integer`);
        if (inBatch.has(entryIndex)) throw new RangeError(`part ${batch.part} lists entry ${entryIndex} twice`);
        inBatch.add(entryIndex);
        const known = sizes.get(entryIndex);
        if (known !== undefined && known !== size) throw new RangeError(`entry ${entryIndex} has size ${known} in one batch and ${size} in part ${batch.part}`);
        sizes.set(entryIndex, size);
      }
      if (done.has(batch.part)) continue;
      const state: BatchState = { part: batch.part, entries: [...inBatch], status: 'pending', offDisk: inBatch.size, toStream: new Set() };
      this.batches.set(batch.part, state);
      this.unfinished += 1;
      if (state.offDisk === 0) this.ready.add(state.part);
      for (const entryIndex of inBatch) {
        let entry = this.entries.get(entryIndex);
        if (entry === undefined) {
          entry = { size: sizes.get(entryIndex) ?? 0, needers: new Set(), onDisk: false, seenInPass: 0 };
          this.entries.set(entryIndex, entry);
        }
        entry.needers.add(batch.part);
      }
    }
  }

  /** Bytes of spilled entries on disk now. */
  get spilledBytes(): number {
    return this.spilled;
  }

  get highWaterBytes(): number {
    return this.highWater;
  }

  /** Passes started so far. */
  get passes(): number {
    return this.passCount;
  }

  get openPart(): number | undefined {
    return this.open?.part;
  }

  get isComplete(): boolean {
    return this.unfinished === 0;
  }

  get remainingParts(): readonly number[] {
    return [...this.batches.values()].filter((b) => b.status !== 'built').map((b) => b.part).sort((a, b) => a - b);
  }

  /**
   * Nothing later in this pass can finish a batch or usefully fill the disk (no batch open, every unfinished one
   * blocked), so the caller may stop reading tens of GB and end the pass now. Never true before the pass has
   * finished a batch, so the progress argument above still holds.
   */
  get canEndPassEarly(): boolean {
    return this.inPass && this.open === undefined && this.blocked.size === this.unfinished;
  }

  startPass(): void {
    if (this.inPass) throw new Error(`pass ${this.passCount} has not ended`);
    this.passCount += 1;
    this.inPass = true;
    this.blocked.clear();
    this.finishedThisPass = [];
  }

  /** One entry as the stream reaches it; `size` is its header's size, checked against the plan. */
  onEntry(entryIndex: number, size: number): EntryDecision {
    if (!this.inPass) throw new Error('onEntry outside a pass: call startPass() first');
    if (this.open !== undefined && this.open.toStream.size === 0) {
      throw new Error(`part ${this.open.part} is complete: closeOpenBatch() before the next entry`);
    }
    const entry = this.entries.get(entryIndex);
    if (entry === undefined) return SKIP;
    if (entry.seenInPass === this.passCount) {
      throw new Error(`entry ${entryIndex} seen twice in pass ${this.passCount}: each occurrence needs its own index`);
    }
    entry.seenInPass = this.passCount;
    if (size !== entry.size) throw new Error(`entry ${entryIndex} is ${size} bytes in the archive but ${entry.size} in the plan: the archive changed`);
    if (entry.needers.size === 0 || entry.onDisk) return SKIP;

    if (this.open !== undefined) {
      const open = this.open;
      if (open.toStream.delete(entryIndex)) {
        return { action: 'stream', part: open.part, alsoSpill: this.teeForOthers(entry, open.part), completes: open.toStream.size === 0 };
      }
      // The open batch may hold this entry already: written from disk at opening, and deleted then.
      if (entry.needers.size === (entry.needers.has(open.part) ? 1 : 0)) return SKIP;
      if (this.hasUnblockedNeeder(entry, open.part) && this.fits(entry.size)) {
        this.putOnDisk(entry);
        return SPILL;
      }
      this.blockNeeders(entry, open.part);
      return DEFER;
    }

    const target = this.lowestUnblockedNeeder(entry);
    // Spilling for batches that already wait for another pass would take budget from batches this pass can finish.
    if (target === undefined) return DEFER;
    return this.openBatch(target, entryIndex, entry);
  }

  /** After the ZIP of the open batch is finished (its last entry came with `completes`); returns its part. */
  closeOpenBatch(): number {
    const open = this.open;
    if (open === undefined) throw new Error('no batch is open');
    if (open.toStream.size > 0) throw new Error(`part ${open.part} still waits for entries ${[...open.toStream].join(', ')}`);
    this.open = undefined;
    // Frees nothing: what it took from disk alone went at opening, and what was teed meanwhile was teed for batches
    // that cannot have finished while this one was open.
    this.finish(open);
    return open.part;
  }

  /**
   * Batches that can be built from disk now, ascending by part. Empty while a batch is open, because only one ZIP
   * may be open at a time; build these as soon as they appear, since building them frees disk for later spills.
   */
  readyFromDisk(): readonly DiskBatch[] {
    if (this.open !== undefined) return [];
    return [...this.ready].sort((a, b) => a - b).map((part) => ({ part, fromDisk: this.batchState(part).entries }));
  }

  /** After a batch from `readyFromDisk()` was built and uploaded; returns the spilled entries to delete now. */
  markBuiltFromDisk(part: number): readonly number[] {
    if (this.open !== undefined) throw new Error(`part ${this.open.part} is open: only one ZIP at a time`);
    if (!this.ready.has(part)) throw new Error(`part ${part} is not ready from disk`);
    this.ready.delete(part);
    return this.finish(this.batchState(part));
  }

  /** At the end of the stream, after closing the open batch and building `readyFromDisk()`. */
  endPass(): PassOutcome {
    if (!this.inPass) throw new Error('no pass to end');
    if (this.open !== undefined) {
      throw new Error(`pass ${this.passCount} ended with part ${this.open.part} open, lacking entries ${[...this.open.toStream].join(', ')}: the archive lacks them`);
    }
    if (this.ready.size > 0) throw new Error(`parts ${[...this.ready].join(', ')} are ready from disk: build them before ending the pass`);
    this.inPass = false;
    if (this.unfinished > 0 && this.finishedThisPass.length === 0) {
      // By the argument at the top this means the archive lacks entries; another pass would find nothing more.
      const unseen = [...this.entries].filter(([, e]) => e.needers.size > 0 && !e.onDisk && e.seenInPass !== this.passCount).map(([i]) => i);
      throw new Error(`pass ${this.passCount} finished no batch; entries never seen in it: ${unseen.slice(0, 20).join(', ')}${unseen.length > 20 ? ', ...' : ''}`);
    }
    return { complete: this.unfinished === 0, remainingParts: this.remainingParts, finishedInPass: this.finishedThisPass };
  }

  private openBatch(batch: BatchState, entryIndex: number, entry: EntryState): EntryDecision {
    this.open = batch;
    batch.status = 'open';
    const fromDisk: number[] = [];
    const deleteAfterWriting: number[] = [];
    for (const i of batch.entries) {
      const e = this.entryState(i);
      if (!e.onDisk) {
        if (i !== entryIndex) batch.toStream.add(i);
        continue;
      }
      fromDisk.push(i);
      // Freed now rather than at close so the budget serves the spills of this batch's whole streaming span.
      if (e.needers.size === 1) {
        e.onDisk = false;
        this.spilled -= e.size;
        deleteAfterWriting.push(i);
      }
    }
    const alsoSpill = this.teeForOthers(entry, batch.part);
    return { action: 'open-then-stream', part: batch.part, fromDisk, deleteAfterWriting, alsoSpill, completes: batch.toStream.size === 0 };
  }

  /** An entry streamed into `part` goes to disk too when another batch of this pass needs it and it fits. */
  private teeForOthers(entry: EntryState, part: number): boolean {
    if (entry.needers.size === 1) return false;
    if (this.hasUnblockedNeeder(entry, part) && this.fits(entry.size)) {
      this.putOnDisk(entry);
      return true;
    }
    this.blockNeeders(entry, part);
    return false;
  }

  private fits(size: number): boolean {
    return this.spilled + size <= this.budget;
  }

  private putOnDisk(entry: EntryState): void {
    entry.onDisk = true;
    this.spilled += entry.size;
    this.highWater = Math.max(this.highWater, this.spilled);
    for (const part of entry.needers) {
      const batch = this.batchState(part);
      if (batch.status !== 'pending') continue;
      batch.offDisk -= 1;
      if (batch.offDisk === 0) this.ready.add(part);
    }
  }

  private hasUnblockedNeeder(entry: EntryState, except: number | undefined): boolean {
    for (const part of entry.needers) if (part !== except && !this.blocked.has(part)) return true;
    return false;
  }

  private lowestUnblockedNeeder(entry: EntryState): BatchState | undefined {
    let lowest: number | undefined;
    for (const part of entry.needers) if (!this.blocked.has(part) && (lowest === undefined || part < lowest)) lowest = part;
    return lowest === undefined ? undefined : this.batchState(lowest);
  }

  /** This entry went by off disk, so its batches (but the one it streamed into) cannot be opened in this pass. */
  private blockNeeders(entry: EntryState, except: number | undefined): void {
    for (const part of entry.needers) if (part !== except) this.blocked.add(part);
  }

  /** Marks the batch built and frees the spilled entries no unfinished batch needs any more. */
  private finish(batch: BatchState): number[] {
    batch.status = 'built';
    this.unfinished -= 1;
    this.blocked.delete(batch.part);
    if (this.inPass) this.finishedThisPass.push(batch.part);
    const freed: number[] = [];
    for (const i of batch.entries) {
      const e = this.entryState(i);
      e.needers.delete(batch.part);
      if (e.onDisk && e.needers.size === 0) {
        e.onDisk = false;
        this.spilled -= e.size;
        freed.push(i);
      }
    }
    return freed;
  }

  private batchState(part: number): BatchState {
    const batch = this.batches.get(part);
    if (batch === undefined) throw new Error(`part ${part} is not an unfinished planned batch`);
    return batch;
  }

  private entryState(entryIndex: number): EntryState {
    const entry = this.entries.get(entryIndex);
    if (entry === undefined) throw new Error(`entry ${entryIndex} is not planned`);
    return entry;
  }
}
