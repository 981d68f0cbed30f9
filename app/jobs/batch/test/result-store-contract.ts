import type { ResultStore, ScoredResult } from '../result-store';

/**
 * What every ResultStore adapter promises, run against a real server by each adapter's test file: the batch job
 * deletes a record's message only when `write` reports it written, and skips records `existing` reports, so both
 * must be exact for any number of ids, for repeated ids, and with another task writing the same ids at once.
 */
export interface StoreUnderTest {
  readonly store: ResultStore;
  /** A second store on the same storage, as another task would have. */
  another(): ResultStore;
  /** Every result stored, read around the port (a scan), to count them and see which write won. */
  stored(): Promise<ScoredResult[]>;
}

/** `fresh` gives a store on empty storage of its own (a new table or collection), so counts are exact. */
export function resultStoreContract(fresh: () => Promise<StoreUnderTest>): void {
  const result = (id: string, modelVersion = 'v1', score = 0.25): ScoredResult => ({
    id, score, modelVersion, scoredAt: '2026-12-02T10:00:00.000Z', details: { rms_db: -20.5, threshold: 0.8, band: 'low' },
  });
  const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const byId = (results: readonly ScoredResult[]) => [...results].sort((a, b) => a.id.localeCompare(b.id));

  it('finds none, some and all of the ids asked for, and nothing for no ids', async () => {
    const { store } = await fresh();
    const asked = ids('rec', 10);
    expect(await store.existing(asked)).toEqual(new Set());
    expect(await store.existing([])).toEqual(new Set());
    await store.write(asked.slice(0, 4).map((id) => result(id)));
    expect(await store.existing(asked)).toEqual(new Set(asked.slice(0, 4)));
    await store.write(asked.slice(4).map((id) => result(id)));
    expect(await store.existing([...asked, ...asked])).toEqual(new Set(asked));
  });

  it('reads more ids than one read chunk holds', async () => {
    const { store } = await fresh();
    const asked = ids('many', store.maxReadBatch * 2 + 7);
    const present = asked.filter((_, i) => i % 3 === 0);
    const outcome = await store.write(present.map((id) => result(id)));
    expect(outcome.failed).toEqual([]);
    expect(await store.existing(asked)).toEqual(new Set(present));
  });

  it('stores what it reports written, field for field', async () => {
    const under = await fresh();
    const { details: _none, ...withoutDetails } = result('b', 'v1', 0.9);
    const results = [result('a', 'v1', 0.1), withoutDetails, result('c', 'v3', 0)];
    expect(await under.store.write(results)).toEqual({ written: ['a', 'b', 'c'], failed: [] });
    expect(await under.store.existing(['a', 'b', 'c', 'd'])).toEqual(new Set(['a', 'b', 'c']));
    expect(byId(await under.stored())).toEqual(results);
  });

  it('keeps one result for an id written twice, in one call or two, and the latest write wins', async () => {
    const under = await fresh();
    const inOneCall = await under.store.write([result('twice', 'v1', 0.1), result('once', 'v1'), result('twice', 'v2', 0.2)]);
    expect(inOneCall.failed).toEqual([]);
    expect([...inOneCall.written].sort()).toEqual(['once', 'twice']);
    expect(byId(await under.stored())).toEqual([result('once', 'v1'), result('twice', 'v2', 0.2)]);

    expect((await under.store.write([result('twice', 'v3', 0.3)])).written).toEqual(['twice']);
    expect(byId(await under.stored())).toEqual([result('once', 'v1'), result('twice', 'v3', 0.3)]);
  });

  it('leaves exactly one result per id when two stores race to write the same 300 ids, and both report them written', async () => {
    const under = await fresh();
    const racing = ids('race', 300);
    const [first, second] = await Promise.all([
      under.store.write(racing.map((id) => result(id, 'v1', 0.1))),
      under.another().write(racing.map((id) => result(id, 'v2', 0.2))),
    ]);
    for (const outcome of [first, second]) {
      expect(outcome.failed).toEqual([]);
      expect([...outcome.written].sort()).toEqual([...racing].sort());
    }
    const stored = await under.stored();
    expect(stored).toHaveLength(300);
    expect(new Set(stored.map((each) => each.id))).toEqual(new Set(racing));
    // Either writer may win an id; what is stored is always one writer's whole result, never a mix.
    for (const each of stored) expect([result(each.id, 'v1', 0.1), result(each.id, 'v2', 0.2)]).toContainEqual(each);
  });

  it('writes more results than one write chunk holds', async () => {
    const under = await fresh();
    const results = ids('bulk', under.store.maxWriteBatch * 2 + 3).map((id) => result(id));
    const outcome = await under.store.write(results);
    expect(outcome.failed).toEqual([]);
    expect([...outcome.written].sort()).toEqual(results.map((each) => each.id).sort());
    expect(byId(await under.stored())).toEqual(byId(results));
  });
}
