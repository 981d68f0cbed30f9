import { TarPassPlan, type EntryDecision, type PlannedBatch } from '../tar-pass-plan';

type Entry = { readonly entryIndex: number; readonly size: number };

function batch(part: number, ...entries: [number, number][]): PlannedBatch {
  return { part, entries: entries.map(([entryIndex, size]) => ({ entryIndex, size })) };
}

describe('TarPassPlan decisions', () => {
  it('skips entries no unfinished batch needs: unplanned ones and those of done parts', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 10]), batch(2, [1, 10])], diskBudgetBytes: 100, done: new Set([2]) });
    plan.startPass();
    expect(plan.onEntry(7, 5)).toEqual({ action: 'skip' });
    expect(plan.onEntry(1, 10)).toEqual({ action: 'skip' });
    expect(plan.remainingParts).toEqual([1]);
  });

  it('opens the batch of the first needed entry and streams the rest of it straight in', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 10], [1, 20])], diskBudgetBytes: 0 });
    plan.startPass();
    expect(plan.onEntry(0, 10)).toEqual({ action: 'open-then-stream', part: 1, fromDisk: [], deleteAfterWriting: [], alsoSpill: false, completes: false });
    expect(plan.openPart).toBe(1);
    expect(plan.onEntry(1, 20)).toEqual({ action: 'stream', part: 1, alsoSpill: false, completes: true });
    expect(plan.closeOpenBatch()).toBe(1);
    expect(plan.openPart).toBeUndefined();
    expect(plan.endPass()).toEqual({ complete: true, remainingParts: [], finishedInPass: [1] });
    expect(plan.passes).toBe(1);
  });

  it('completes a one-entry batch in its opening decision', () => {
    const plan = new TarPassPlan({ batches: [batch(4, [3, 1])], diskBudgetBytes: 0 });
    plan.startPass();
    expect(plan.onEntry(3, 1)).toMatchObject({ action: 'open-then-stream', part: 4, completes: true });
    expect(plan.closeOpenBatch()).toBe(4);
  });

  it('opens the lowest part among the batches that need the entry, and tees it for the others when it fits', () => {
    const plan = new TarPassPlan({ batches: [batch(3, [0, 10], [2, 1]), batch(2, [0, 10], [1, 1])], diskBudgetBytes: 10 });
    plan.startPass();
    expect(plan.onEntry(0, 10)).toMatchObject({ action: 'open-then-stream', part: 2, alsoSpill: true, completes: false });
    expect(plan.spilledBytes).toBe(10);
    expect(plan.onEntry(1, 1)).toEqual({ action: 'stream', part: 2, alsoSpill: false, completes: true });
    plan.closeOpenBatch();
    // Part 3 took entry 0 from disk, and nothing else needs it, so the caller deletes it after writing it.
    expect(plan.onEntry(2, 1)).toEqual({ action: 'open-then-stream', part: 3, fromDisk: [0], deleteAfterWriting: [0], alsoSpill: false, completes: true });
    expect(plan.spilledBytes).toBe(0);
    expect(plan.highWaterBytes).toBe(10);
  });

  it('streams a shared entry without teeing when over budget, and the other batch waits for the next pass', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 10], [1, 1]), batch(2, [0, 10], [2, 1])], diskBudgetBytes: 5 });
    plan.startPass();
    expect(plan.onEntry(0, 10)).toMatchObject({ action: 'open-then-stream', part: 1, alsoSpill: false });
    // Part 2 saw entry 0 go by off disk: opening it later in this pass would lack it.
    expect(plan.onEntry(2, 1)).toEqual({ action: 'defer' });
    expect(plan.onEntry(1, 1)).toMatchObject({ action: 'stream', part: 1, completes: true });
    plan.closeOpenBatch();
    expect(plan.endPass()).toEqual({ complete: false, remainingParts: [2], finishedInPass: [1] });
    plan.startPass();
    expect(plan.onEntry(0, 10)).toMatchObject({ action: 'open-then-stream', part: 2, alsoSpill: false, completes: false });
    expect(plan.onEntry(2, 1)).toMatchObject({ action: 'stream', part: 2, completes: true });
    plan.closeOpenBatch();
    expect(plan.endPass().complete).toBe(true);
    expect(plan.passes).toBe(2);
  });

  it('spills entries of a later batch while another is open, and builds that batch from disk once it is whole', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 1], [3, 1]), batch(2, [1, 4], [2, 6])], diskBudgetBytes: 10 });
    plan.startPass();
    expect(plan.onEntry(0, 1).action).toBe('open-then-stream');
    expect(plan.onEntry(1, 4)).toEqual({ action: 'spill' });
    expect(plan.onEntry(2, 6)).toEqual({ action: 'spill' });
    expect(plan.spilledBytes).toBe(10);
    expect(plan.readyFromDisk()).toEqual([]); // part 1 is open: one ZIP at a time
    expect(plan.onEntry(3, 1)).toMatchObject({ action: 'stream', part: 1, completes: true });
    plan.closeOpenBatch();
    expect(plan.readyFromDisk()).toEqual([{ part: 2, fromDisk: [1, 2] }]);
    expect(plan.markBuiltFromDisk(2)).toEqual([1, 2]);
    expect(plan.spilledBytes).toBe(0);
    expect(plan.endPass()).toEqual({ complete: true, remainingParts: [], finishedInPass: [1, 2] });
  });

  it('defers when the budget is full and blocks the batches needing the entry for this pass', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 1], [3, 1]), batch(2, [1, 4], [4, 1]), batch(3, [2, 4], [5, 1])], diskBudgetBytes: 5 });
    plan.startPass();
    plan.onEntry(0, 1);
    expect(plan.onEntry(1, 4)).toEqual({ action: 'spill' });
    expect(plan.onEntry(2, 4)).toEqual({ action: 'defer' });
    expect(plan.onEntry(3, 1)).toMatchObject({ action: 'stream', completes: true });
    plan.closeOpenBatch();
    expect(plan.onEntry(4, 1)).toEqual({ action: 'open-then-stream', part: 2, fromDisk: [1], deleteAfterWriting: [1], alsoSpill: false, completes: true });
    plan.closeOpenBatch();
    // Part 3 is blocked: entry 2 went by off disk, so entry 5 opens nothing.
    expect(plan.onEntry(5, 1)).toEqual({ action: 'defer' });
    expect(plan.endPass().remainingParts).toEqual([3]);
  });

  it('defers, without spending budget, an entry whose batches all wait for another pass already', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 1], [9, 1]), batch(2, [1, 5], [2, 1])], diskBudgetBytes: 1 });
    plan.startPass();
    plan.onEntry(0, 1);
    expect(plan.onEntry(1, 5)).toEqual({ action: 'defer' });
    // Entry 2 would fit, but part 2 cannot be built in this pass any more.
    expect(plan.onEntry(2, 1)).toEqual({ action: 'defer' });
    expect(plan.spilledBytes).toBe(0);
  });

  it('never spills an entry larger than the budget, and still streams it into its open batch', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 1], [2, 1]), batch(2, [1, 1000], [3, 1])], diskBudgetBytes: 100 });
    plan.startPass();
    plan.onEntry(0, 1);
    expect(plan.onEntry(1, 1000)).toEqual({ action: 'defer' });
    plan.onEntry(2, 1);
    plan.closeOpenBatch();
    expect(plan.onEntry(3, 1)).toEqual({ action: 'defer' });
    plan.endPass();
    plan.startPass();
    expect(plan.onEntry(1, 1000)).toMatchObject({ action: 'open-then-stream', part: 2, alsoSpill: false });
    expect(plan.onEntry(3, 1)).toMatchObject({ action: 'stream', completes: true });
    plan.closeOpenBatch();
    expect(plan.endPass().complete).toBe(true);
    expect(plan.highWaterBytes).toBe(0);
  });

  it('spills entries of size 0 even with a budget of 0', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 5], [2, 5]), batch(2, [1, 0])], diskBudgetBytes: 0 });
    plan.startPass();
    plan.onEntry(0, 5);
    expect(plan.onEntry(1, 0)).toEqual({ action: 'spill' });
    plan.onEntry(2, 5);
    plan.closeOpenBatch();
    expect(plan.readyFromDisk()).toEqual([{ part: 2, fromDisk: [1] }]);
    expect(plan.markBuiltFromDisk(2)).toEqual([1]);
    expect(plan.endPass().complete).toBe(true);
  });

  it('offers a batch with no entries at once, before any pass', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 5]), batch(2)], diskBudgetBytes: 0 });
    expect(plan.readyFromDisk()).toEqual([{ part: 2, fromDisk: [] }]);
    expect(plan.markBuiltFromDisk(2)).toEqual([]);
    expect(plan.readyFromDisk()).toEqual([]);
    expect(plan.remainingParts).toEqual([1]);
  });

  it('is complete from the start when every part is done or empty', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 5])], diskBudgetBytes: 0, done: new Set([1]) });
    expect(plan.isComplete).toBe(true);
    expect(plan.remainingParts).toEqual([]);
  });

  it('skips an entry already on disk from an earlier pass: the batch that opens takes it from disk', () => {
    // Part 2 spills entry 1, then entry 3 is deferred (budget full), so part 2 finishes in pass 2.
    const plan = new TarPassPlan({ batches: [batch(1, [0, 1], [4, 1]), batch(2, [1, 3], [3, 3])], diskBudgetBytes: 4 });
    plan.startPass();
    plan.onEntry(0, 1);
    expect(plan.onEntry(1, 3)).toEqual({ action: 'spill' });
    expect(plan.onEntry(2, 2)).toEqual({ action: 'skip' });
    expect(plan.onEntry(3, 3)).toEqual({ action: 'defer' });
    plan.onEntry(4, 1);
    plan.closeOpenBatch();
    plan.endPass();
    plan.startPass();
    expect(plan.onEntry(0, 1)).toEqual({ action: 'skip' });
    expect(plan.onEntry(1, 3)).toEqual({ action: 'skip' });
    expect(plan.onEntry(3, 3)).toEqual({ action: 'open-then-stream', part: 2, fromDisk: [1], deleteAfterWriting: [1], alsoSpill: false, completes: true });
  });

  it('skips, later in the pass, an entry the open batch took from disk and deleted at opening', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 1], [9, 1]), batch(2, [1, 5], [2, 1], [3, 1]), batch(3, [2, 1])], diskBudgetBytes: 1 });
    plan.startPass();
    plan.onEntry(0, 1);
    expect(plan.onEntry(1, 5)).toEqual({ action: 'defer' });
    expect(plan.onEntry(2, 1)).toEqual({ action: 'spill' }); // for part 3, which this pass can still build
    expect(plan.onEntry(3, 1)).toEqual({ action: 'defer' });
    plan.onEntry(9, 1);
    plan.closeOpenBatch();
    expect(plan.markBuiltFromDisk(3)).toEqual([]); // part 2 still needs entry 2
    plan.endPass();
    plan.startPass();
    plan.onEntry(0, 1);
    expect(plan.onEntry(1, 5)).toEqual({ action: 'open-then-stream', part: 2, fromDisk: [2], deleteAfterWriting: [2], alsoSpill: false, completes: false });
    expect(plan.onEntry(2, 1)).toEqual({ action: 'skip' });
    expect(plan.onEntry(3, 1)).toEqual({ action: 'stream', part: 2, alsoSpill: false, completes: true });
  });

  it('keeps a shared spilled entry until the last batch needing it is built', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 1], [9, 1]), batch(2, [1, 2]), batch(3, [1, 2], [2, 2])], diskBudgetBytes: 10 });
    plan.startPass();
    plan.onEntry(0, 1);
    plan.onEntry(1, 2);
    plan.onEntry(2, 2);
    plan.onEntry(9, 1);
    plan.closeOpenBatch();
    expect(plan.readyFromDisk().map((b) => b.part)).toEqual([2, 3]);
    expect(plan.markBuiltFromDisk(2)).toEqual([]);
    expect(plan.markBuiltFromDisk(3)).toEqual([1, 2]);
    expect(plan.spilledBytes).toBe(0);
  });

  it('tells the caller it may stop reading once nothing later in the pass can help', () => {
    const plan = new TarPassPlan({ batches: [batch(1, [0, 1], [2, 1]), batch(2, [1, 5], [3, 1])], diskBudgetBytes: 0 });
    plan.startPass();
    expect(plan.canEndPassEarly).toBe(false);
    plan.onEntry(0, 1);
    plan.onEntry(1, 5);
    expect(plan.canEndPassEarly).toBe(false); // part 1 is open
    plan.onEntry(2, 1);
    plan.closeOpenBatch();
    expect(plan.canEndPassEarly).toBe(true);
    expect(plan.endPass().remainingParts).toEqual([2]);
  });

  describe('refuses what would break its guarantees', () => {
    it('rejects malformed plans', () => {
      expect(() => new TarPassPlan({ batches: [batch(1), batch(1)], diskBudgetBytes: 0 })).toThrow('part 1 is planned twice');
      expect(() => new TarPassPlan({ batches: [batch(1, [0, 1], [0, 1])], diskBudgetBytes: 0 })).toThrow('lists entry 0 twice');
      expect(() => new TarPassPlan({ batches: [batch(1, [0, 1]), batch(2, [0, 2])], diskBudgetBytes: 0 })).toThrow('entry 0 has size 1');
      expect(() => new TarPassPlan({ batches: [batch(1, [-1, 1])], diskBudgetBytes: 0 })).toThrow(RangeError);
      expect(() => new TarPassPlan({ batches: [batch(1, [0, 1.5])], diskBudgetBytes: 0 })).toThrow(RangeError);
      expect(() => new TarPassPlan({ batches: [], diskBudgetBytes: -1 })).toThrow('diskBudgetBytes');
      expect(() => new TarPassPlan({ batches: [], diskBudgetBytes: Number.NaN })).toThrow('diskBudgetBytes');
    });

    it('rejects an entry outside a pass, seen twice in a pass, or of another size than planned', () => {
      const plan = new TarPassPlan({ batches: [batch(1, [0, 1], [1, 1])], diskBudgetBytes: 0 });
      expect(() => plan.onEntry(0, 1)).toThrow('startPass');
      plan.startPass();
      expect(() => plan.onEntry(1, 2)).toThrow('the archive changed');
      plan.onEntry(0, 1);
      expect(() => plan.onEntry(0, 1)).toThrow('seen twice');
    });

    it('rejects the next entry while a complete batch is not closed, and building from disk while a batch is open', () => {
      const plan = new TarPassPlan({ batches: [batch(1, [0, 1]), batch(2)], diskBudgetBytes: 0 });
      plan.startPass();
      plan.onEntry(0, 1);
      expect(() => plan.markBuiltFromDisk(2)).toThrow('only one ZIP at a time');
      expect(() => plan.onEntry(1, 1)).toThrow('closeOpenBatch');
      expect(() => plan.endPass()).toThrow('part 1 open');
    });

    it('rejects closing a batch that still waits for entries, and building one that is not whole on disk', () => {
      const plan = new TarPassPlan({ batches: [batch(1, [0, 1], [1, 1]), batch(2, [2, 1])], diskBudgetBytes: 0 });
      expect(() => plan.closeOpenBatch()).toThrow('no batch is open');
      expect(() => plan.markBuiltFromDisk(2)).toThrow('not ready from disk');
      plan.startPass();
      plan.onEntry(0, 1);
      expect(() => plan.closeOpenBatch()).toThrow('still waits for entries 1');
    });

    it('ends a pass with the open batch incomplete as an archive lacking entries', () => {
      const plan = new TarPassPlan({ batches: [batch(1, [0, 1], [1, 1])], diskBudgetBytes: 0 });
      plan.startPass();
      plan.onEntry(0, 1);
      expect(() => plan.endPass()).toThrow('lacking entries 1');
    });

    it('throws rather than loops when a pass finishes nothing', () => {
      const plan = new TarPassPlan({ batches: [batch(1, [5, 1])], diskBudgetBytes: 0 });
      plan.startPass();
      plan.onEntry(0, 1);
      expect(() => plan.endPass()).toThrow('entries never seen in it: 5');
    });

    it('requires the batches ready from disk to be built before the pass ends', () => {
      const plan = new TarPassPlan({ batches: [batch(1)], diskBudgetBytes: 0 });
      plan.startPass();
      expect(() => plan.endPass()).toThrow('ready from disk');
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Simulator: drives the plan as the orchestration would, holding the "disk" and the "ZIPs", and checks invariants.

type Order = 'manifest' | 'reversed' | 'random' | 'interleaved';
type Budget = 'zero' | 'tiny' | 'ample';

interface Case {
  readonly label: string;
  readonly batches: readonly PlannedBatch[];
  readonly archive: readonly Entry[];
  readonly budget: number;
  readonly done: ReadonlySet<number>;
}

interface SimResult {
  readonly passes: number;
  readonly spillActions: number;
  readonly highWater: number;
  readonly unfinishedAtStart: number;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function generateCase(seed: number, order: Order, budgetKind: Budget, options: { duplicates: boolean; empties: boolean; done: boolean }): Case {
  const rng = mulberry32(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
  const sizeOf = new Map<number, number>();
  let nextId = 0;
  const fresh = (): number => {
    const id = nextId++;
    const roll = rng();
    sizeOf.set(id, roll < 0.15 ? 0 : roll < 0.25 ? int(2_000, 5_000) : int(1, 500));
    return id;
  };
  const batchCount = int(1, 8);
  const lists: number[][] = [];
  for (let b = 0; b < batchCount; b += 1) {
    if (options.empties && rng() < 0.2) {
      lists.push([]);
      continue;
    }
    const list: number[] = [];
    for (let k = int(1, 6); k > 0; k -= 1) list.push(fresh());
    const earlier = lists.flat();
    if (options.duplicates && earlier.length > 0 && rng() < 0.5) {
      for (let k = int(1, 2); k > 0; k -= 1) {
        const shared = earlier[int(0, earlier.length - 1)];
        if (!list.includes(shared)) list.splice(int(0, list.length), 0, shared);
      }
    }
    lists.push(list);
  }
  // Ids in first-listed order are the manifest order; unplanned ones (earlier copies of a path, directories) go anywhere.
  const planned = [...new Set(lists.flat())];
  let ids: number[];
  switch (order) {
    case 'manifest':
      ids = [...planned];
      break;
    case 'reversed':
      ids = [...planned].reverse();
      break;
    case 'random':
      ids = shuffle([...planned], rng);
      break;
    case 'interleaved': {
      ids = [];
      const placed = new Set<number>();
      for (let k = 0; ids.length < planned.length; k += 1) {
        for (const list of lists) {
          const id = list[k];
          if (id !== undefined && !placed.has(id)) {
            placed.add(id);
            ids.push(id);
          }
        }
      }
      break;
    }
  }
  for (let k = int(0, 4); k > 0; k -= 1) ids.splice(int(0, ids.length), 0, fresh());
  // As in a real archive, an entry's index is its position.
  const indexOf = new Map(ids.map((id, position) => [id, position]));
  const archive = ids.map((id, position) => ({ entryIndex: position, size: sizeOf.get(id) ?? 0 }));
  const parts = shuffle(lists.map((_, b) => b + 1), rng).slice(0); // listed out of order on purpose
  const batches = parts.map((part) => ({ part, entries: lists[part - 1].map((id) => ({ entryIndex: indexOf.get(id) ?? -1, size: sizeOf.get(id) ?? 0 })) }));
  const plannedBytes = planned.reduce((sum, id) => sum + (sizeOf.get(id) ?? 0), 0);
  const largest = Math.max(1, ...planned.map((id) => sizeOf.get(id) ?? 0));
  const budget = budgetKind === 'zero' ? 0 : budgetKind === 'ample' ? plannedBytes : int(1, largest);
  const done = new Set(options.done ? lists.map((_, b) => b + 1).filter(() => rng() < 0.3) : []);
  const label = `seed ${seed}, ${order}, budget ${budgetKind}=${budget}, ${JSON.stringify(options)}`;
  return { label, batches, archive, budget, done };
}

function simulate(c: Case, endEarly: boolean): SimResult {
  const fail = (message: string): never => {
    throw new Error(`${c.label}: ${message}`);
  };
  const plan = new TarPassPlan({ batches: c.batches, diskBudgetBytes: c.budget, done: c.done });
  const disk = new Map<number, number>();
  const built = new Map<number, number[][]>();
  let open: { part: number; contents: number[] } | undefined;
  let spillActions = 0;
  let diskBytes = 0;
  const unfinishedAtStart = c.batches.filter((b) => !c.done.has(b.part)).length;

  const checkDisk = (): void => {
    if (diskBytes > c.budget) fail(`disk holds ${diskBytes} bytes, over the budget ${c.budget}`);
    if (plan.spilledBytes !== diskBytes) fail(`plan counts ${plan.spilledBytes} spilled bytes, disk holds ${diskBytes}`);
  };
  const spill = (entry: Entry): void => {
    if (disk.has(entry.entryIndex)) fail(`entry ${entry.entryIndex} spilled twice`);
    disk.set(entry.entryIndex, entry.size);
    diskBytes += entry.size;
    spillActions += 1;
  };
  const remove = (entryIndex: number): void => {
    const size = disk.get(entryIndex);
    if (size === undefined) fail(`entry ${entryIndex} deleted but not on disk`);
    disk.delete(entryIndex);
    diskBytes -= size ?? 0;
  };
  const record = (part: number, contents: number[]): void => {
    built.set(part, [...(built.get(part) ?? []), contents]);
  };
  const drain = (): void => {
    for (let ready = plan.readyFromDisk(); ready.length > 0; ready = plan.readyFromDisk()) {
      const { part, fromDisk } = ready[0];
      if (open !== undefined) fail(`part ${part} offered from disk while part ${open.part} is open`);
      for (const i of fromDisk) if (!disk.has(i)) fail(`part ${part} offered from disk without entry ${i}`);
      record(part, [...fromDisk]);
      for (const i of plan.markBuiltFromDisk(part)) remove(i);
      checkDisk();
    }
  };
  const closeIfComplete = (completes: boolean): void => {
    if (!completes || open === undefined) return;
    record(open.part, open.contents);
    if (plan.closeOpenBatch() !== open.part) fail('closed another part than the open one');
    open = undefined;
  };
  const apply = (entry: Entry, decision: EntryDecision): void => {
    switch (decision.action) {
      case 'skip':
      case 'defer':
        return;
      case 'spill':
        spill(entry);
        return;
      case 'stream':
        if (open?.part !== decision.part) fail(`streamed into part ${decision.part} while part ${open?.part} is open`);
        open?.contents.push(entry.entryIndex);
        break;
      case 'open-then-stream':
        if (open !== undefined) fail(`opened part ${decision.part} while part ${open.part} is open`);
        open = { part: decision.part, contents: [] };
        for (const i of decision.fromDisk) {
          if (!disk.has(i)) fail(`part ${decision.part} takes entry ${i} from disk but it is not there`);
          open.contents.push(i);
        }
        for (const i of decision.deleteAfterWriting) {
          if (!decision.fromDisk.includes(i)) fail(`deletes entry ${i} it did not write`);
          remove(i);
        }
        open.contents.push(entry.entryIndex);
        break;
    }
    if (decision.alsoSpill) spill(entry);
    checkDisk();
    closeIfComplete(decision.completes);
  };

  drain();
  while (!plan.isComplete) {
    if (plan.passes >= unfinishedAtStart) fail(`pass ${plan.passes + 1} needed for ${unfinishedAtStart} batches`);
    plan.startPass();
    const builtBefore = built.size;
    for (const entry of c.archive) {
      if (endEarly && plan.canEndPassEarly) break;
      apply(entry, plan.onEntry(entry.entryIndex, entry.size));
      drain();
    }
    drain();
    if (open !== undefined) fail(`part ${open.part} still open at the end of the pass`);
    const outcome = plan.endPass();
    if (built.size === builtBefore) fail(`pass ${plan.passes} finished no batch`);
    if (outcome.finishedInPass.length !== built.size - builtBefore) fail('finishedInPass disagrees with the batches built');
  }

  for (const b of c.batches) {
    const times = built.get(b.part) ?? [];
    if (c.done.has(b.part)) {
      if (times.length > 0) fail(`done part ${b.part} rebuilt`);
      continue;
    }
    if (times.length !== 1) fail(`part ${b.part} built ${times.length} times`);
    const got = [...times[0]].sort((x, y) => x - y);
    const want = b.entries.map((e) => e.entryIndex).sort((x, y) => x - y);
    if (JSON.stringify(got) !== JSON.stringify(want)) fail(`part ${b.part} built with ${JSON.stringify(got)}, planned ${JSON.stringify(want)}`);
  }
  if (disk.size > 0 || plan.spilledBytes !== 0) fail(`entries ${[...disk.keys()].join(', ')} left on disk`);
  return { passes: plan.passes, spillActions, highWater: plan.highWaterBytes, unfinishedAtStart };
}

describe('TarPassPlan driven over generated archives', () => {
  const orders: Order[] = ['manifest', 'reversed', 'random', 'interleaved'];
  const budgets: Budget[] = ['zero', 'tiny', 'ample'];
  const shapes = [
    { duplicates: false, empties: false, done: false },
    { duplicates: true, empties: false, done: false },
    { duplicates: true, empties: true, done: true },
    { duplicates: false, empties: true, done: true },
  ];

  it.each(orders)('%s order: every batch once and whole, disk within budget, one ZIP at a time, progress every pass', (order) => {
    let cases = 0;
    for (const budget of budgets) {
      for (const shape of shapes) {
        for (let seed = 1; seed <= 40; seed += 1) {
          const c = generateCase(seed * 7919 + cases, order, budget, shape);
          const full = simulate(c, false);
          // Stopping early changes no decision that matters: what is left of such a pass is skip or defer.
          const early = simulate(c, true);
          expect({ label: c.label, passes: early.passes, highWater: early.highWater }).toEqual({ label: c.label, passes: full.passes, highWater: full.highWater });
          expect(full.passes).toBeLessThanOrEqual(Math.max(0, full.unfinishedAtStart));
          cases += 1;
        }
      }
    }
    expect(cases).toBe(budgets.length * shapes.length * 40);
  });

  it('finishes manifest order in one pass with nothing spilled, even with a budget of 0', () => {
    for (let seed = 1; seed <= 200; seed += 1) {
      const shape = { duplicates: false, empties: seed % 2 === 0, done: seed % 3 === 0 };
      const c = generateCase(seed, 'manifest', 'zero', shape);
      const result = simulate(c, false);
      expect({ label: c.label, passes: result.passes <= 1, spills: result.spillActions }).toEqual({ label: c.label, passes: true, spills: 0 });
    }
  });

  it('finishes random order in one pass when the budget holds every planned entry', () => {
    for (let seed = 1; seed <= 200; seed += 1) {
      const c = generateCase(seed, 'random', 'ample', { duplicates: true, empties: true, done: seed % 2 === 0 });
      expect({ label: c.label, passes: simulate(c, false).passes <= 1 }).toEqual({ label: c.label, passes: true });
    }
  });

  it('finishes random order with a budget of 0 in at most as many passes as batches', () => {
    let multiPass = 0;
    for (let seed = 1; seed <= 200; seed += 1) {
      const c = generateCase(seed, 'random', 'zero', { duplicates: true, empties: false, done: false });
      const result = simulate(c, false);
      expect({ label: c.label, ok: result.passes <= c.batches.length }).toEqual({ label: c.label, ok: true });
      if (result.passes > 1) multiPass += 1;
    }
    // Otherwise the bound above would be checked on trivial cases only.
    expect(multiPass).toBeGreaterThan(50);
  });
});
