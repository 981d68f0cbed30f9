import { parse } from 'csv-parse/sync';
import { batchKey, checkpointKey, ledgerKey, reportKey, resultsKey, runRecordKey, summaryCsvKey, triggerKey } from '../../../../shared/fanout/run-layout';
import type { LedgerEntry } from '../../../../shared/fanout/run-record';
import { TransientError } from '../../../../shared/errors';
import { settingsEnvironment } from '../../command/command-job';
import { MemoryStore } from '../../../test/fakes/memory-store';
import { AGGREGATE_QUEUE, DEST, eventFor, familyQueue, FAMILIES, pipelines, ROOT, SOURCE } from './fanout-kit';

const run = { root: ROOT, runId: 'r1' };
const json = (store: MemoryStore, key: string) => JSON.parse(store.object(DEST, key)!.body.toString()) as Record<string, unknown>;

function storeWith(files: Record<string, string>, manifest: unknown = { runId: 'r1', keys: Object.keys(files) }) {
  const store = new MemoryStore();
  for (const [key, body] of Object.entries(files)) store.add(SOURCE, key, body);
  store.add(SOURCE, 'm/manifest.json', typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  return store;
}

const FIVE = { 'a/1.wav': 'one', 'a/2.wav': 'two', 'a/3.wav': 'broken', 'a/4.wav': 'four', 'a/5.wav': 'five' };

describe('a manifest, its families and its one aggregation', () => {
  it('dispatches one message per batch per family, then aggregates once into a row per file with each family\'s result', async () => {
    const store = storeWith(FIVE);
    const p = pipelines(store, { batchSize: 2 });
    expect((await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'))).failures).toEqual([]);
    for (const family of FAMILIES) expect(p.sender.count(familyQueue(family))).toBe(3);
    expect(json(store, runRecordKey(run))).toMatchObject({ batchCount: 3, fileCount: 5, families: [...FAMILIES] });
    expect(json(store, batchKey(run, 2))).toMatchObject({ keys: ['a/5.wav'], bucket: SOURCE });

    expect(await p.drain()).toEqual([]);
    expect(p.sender.count(AGGREGATE_QUEUE)).toBe(1);
    expect(p.log.messages('aggregated')).toHaveLength(1);
    const rows = parse(store.object(DEST, summaryCsvKey(run))!.body, { columns: true }) as Record<string, string>[];
    expect(rows.map((row) => row.key)).toEqual(Object.keys(FIVE));
    expect(rows[0]).toMatchObject({ 'loudness.status': 'done', 'loudness.length': '3', 'spectrum.status': 'done', 'spectrum.family': 'spectrum' });
    expect(rows[2]).toMatchObject({ 'loudness.status': 'failed', 'spectrum.status': 'failed' });
    expect(rows[2]!['loudness.reason']).toContain('a/3.wav is not audio');
    expect(json(store, reportKey(run))).toMatchObject({ files: 5, failedFileCount: 2, failedBatches: [], families: { loudness: { batchesDone: 3, filesDone: 4, filesFailed: 1 } } });
  });

  it('does not dispatch a redelivered manifest a second time, even when it comes twice at once', async () => {
    const store = storeWith(FIVE);
    const p = pipelines(store);
    const event = await eventFor(store, SOURCE, 'm/manifest.json');
    await Promise.all([p.fanout(event), p.fanout(event)]);
    await p.fanout(event, { receiveCount: 2 });
    // Two concurrent first deliveries may both send (neither has marked the run dispatched yet): families settle each
    // batch once whatever they receive. A delivery after the dispatch sends nothing.
    const sent = p.sender.count(familyQueue('loudness'));
    expect([3, 6]).toContain(sent);
    await p.fanout(event, { receiveCount: 3 });
    expect(p.sender.count(familyQueue('loudness'))).toBe(sent);
    expect(p.log.messages('skipped').some((fields) => fields.reason === 'run already dispatched')).toBe(true);
    expect(await p.drain()).toEqual([]);
    expect(p.sender.count(AGGREGATE_QUEUE)).toBe(1);
    expect(p.log.messages('aggregated')).toHaveLength(1);
    // Each batch settled once per family, however often it was delivered (two copies running at the very same time
    // may both analyse their files; only one settles).
    expect(p.log.messages('batch settled').filter((fields) => fields.family === 'loudness')).toHaveLength(3);
    expect(new Set(p.jobs.loudness!.seen)).toEqual(new Set(Object.keys(FIVE)));
  });

  it('finishes a dispatch a killed task began: the redelivery sends what the first attempt could not', async () => {
    const store = storeWith(FIVE);
    const p = pipelines(store);
    const event = await eventFor(store, SOURCE, 'm/manifest.json');
    p.sender.failNext = 5;
    const first = await p.fanout(event);
    expect(first.failures[0]).toMatchObject({ kind: 'transient' });
    expect(store.object(DEST, runRecordKey(run))).toBeDefined();
    expect((await p.fanout(event, { receiveCount: 2 })).failures).toEqual([]);
    expect(await p.drain()).toEqual([]);
    expect(store.object(DEST, reportKey(run))).toBeDefined();
  });

  it('refuses a manifest that reuses another manifest\'s run id, naming both, and dispatches nothing for it', async () => {
    const store = storeWith(FIVE);
    const p = pipelines(store);
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    store.add(SOURCE, 'other/manifest.json', JSON.stringify({ runId: 'r1', keys: ['a/1.wav'] }));
    const before = p.sender.sentTo.length;
    const outcome = await p.fanout(await eventFor(store, SOURCE, 'other/manifest.json'));
    expect(outcome.failures[0]).toMatchObject({ kind: 'permanent', reason: 'invalid-manifest' });
    expect(outcome.failures[0]!.detail).toContain('already the run of s3://source/m/manifest.json');
    expect(p.sender.sentTo.length).toBe(before);
  });

  it('dead-letters a bad manifest with the field named, and creates no run', async () => {
    const store = storeWith(FIVE, { runId: 'r1', keys: ['a/1.wav', 7] });
    const p = pipelines(store);
    const outcome = await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    expect(outcome.failures[0]).toMatchObject({ kind: 'permanent', reason: 'invalid-manifest' });
    expect(outcome.failures[0]!.detail).toContain('"keys"[1]');
    expect(store.keys(DEST)).toEqual([]);
    expect(p.sender.sentTo).toEqual([]);
  });

  it('freezes a prefix manifest\'s listing: a redelivery after more uploads batches the same files', async () => {
    const store = storeWith(FIVE, { runId: 'r1', prefix: 'a/' });
    const p = pipelines(store);
    const event = await eventFor(store, SOURCE, 'm/manifest.json');
    p.sender.failNext = 5;
    await p.fanout(event);
    store.add(SOURCE, 'a/6.wav', 'six');
    await p.fanout(event, { receiveCount: 2 });
    expect(json(store, runRecordKey(run))).toMatchObject({ fileCount: 5 });
    expect(await p.drain()).toEqual([]);
    expect(p.jobs.loudness!.seen).not.toContain('a/6.wav');
  });
});

describe('a prefix manifest whose first attempt froze its listing and died', () => {
  it('never lends that listing to another manifest claiming the same run id', async () => {
    const store = storeWith({ 'a/1.wav': 'one', 'b/1.wav': 'b-one' }, { runId: 'r1', prefix: 'b/' });
    store.add(SOURCE, 'other/manifest.json', JSON.stringify({ runId: 'r1', prefix: 'a/' }));
    const p = pipelines(store);
    const createIfAbsent = store.createIfAbsent.bind(store);
    store.createIfAbsent = async (ref, body, options) => {
      if (ref.key === runRecordKey(run)) throw Object.assign(new Error('killed'), { code: 'ECONNRESET' });
      return createIfAbsent(ref, body, options);
    };
    expect((await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'))).failures[0]).toMatchObject({ kind: 'transient' });
    store.createIfAbsent = createIfAbsent;
    const outcome = await p.fanout(await eventFor(store, SOURCE, 'other/manifest.json'));
    expect(outcome.failures[0]).toMatchObject({ kind: 'permanent', reason: 'invalid-manifest' });
    expect(outcome.failures[0]!.detail).toContain('already the run of s3://source/m/manifest.json');
    expect((await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'), { receiveCount: 2 })).failures).toEqual([]);
    expect(await p.drain()).toEqual([]);
    expect(p.jobs.loudness!.seen).toEqual(['b/1.wav']);
  });
});

describe('a family worker killed between its results and its settlement', () => {
  it('settles the batch once on redelivery and the run is still aggregated exactly once', async () => {
    const store = storeWith(FIVE);
    const p = pipelines(store, { batchSize: 5 });
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    const [loudnessBatch] = p.sender.take(familyQueue('loudness'));
    // The ledger's conditional create fails as if the task died there: results written, batch not settled.
    const createIfAbsent = store.createIfAbsent.bind(store);
    let failures = 0;
    store.createIfAbsent = async (ref, body, options) => {
      // Both in-process attempts fail: the message is released, as a dead task's would be.
      if (failures < 2 && ref.key === ledgerKey(run, 'loudness', 0)) {
        failures++;
        throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET' });
      }
      return createIfAbsent(ref, body, options);
    };
    const outcome = await p.family('loudness', loudnessBatch!);
    expect(outcome.failures[0]).toMatchObject({ kind: 'transient' });
    expect(store.object(DEST, resultsKey(run, 'loudness', 0))).toBeDefined();
    expect(store.object(DEST, ledgerKey(run, 'loudness', 0))).toBeUndefined();
    expect(await p.drain()).toEqual([]);
    expect(store.object(DEST, triggerKey(run))).toBeUndefined();
    // The redelivery (same message id) finishes it.
    expect((await p.family('loudness', loudnessBatch!, { messageId: 'm-loud', receiveCount: 2 })).failures).toEqual([]);
    expect(await p.drain()).toEqual([]);
    expect(p.sender.count(AGGREGATE_QUEUE)).toBe(1);
    expect(store.object(DEST, reportKey(run))).toBeDefined();
  });

  it('resends the aggregation request when the task that created the trigger died before sending it', async () => {
    const store = storeWith({ 'a/1.wav': 'one' });
    const p = pipelines(store, { batchSize: 5 });
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    const [spectrumBatch] = p.sender.take(familyQueue('spectrum'));
    await p.drain();
    p.sender.failNext = 2;
    const outcome = await p.family('spectrum', spectrumBatch!, { messageId: 'last' });
    expect(outcome.failures[0]).toMatchObject({ kind: 'transient' });
    expect(store.object(DEST, triggerKey(run))).toBeDefined();
    expect(p.sender.count(AGGREGATE_QUEUE)).toBe(0);
    // Another batch's redelivery must not send it; this message's own redelivery does.
    await p.family('loudness', p.sender.take(familyQueue('loudness'))[0] ?? spectrumBatch!.replace('spectrum', 'loudness'), { messageId: 'other', receiveCount: 2 });
    expect(p.sender.count(AGGREGATE_QUEUE)).toBe(0);
    await p.family('spectrum', spectrumBatch!, { messageId: 'last', receiveCount: 2 });
    expect(p.sender.count(AGGREGATE_QUEUE)).toBe(1);
    expect(await p.drain()).toEqual([]);
    expect(p.log.messages('aggregated')).toHaveLength(1);
  });
});

describe('a run with dead-lettered batches', () => {
  it('records the batch as failed, aggregates the run anyway, and reports the batch and its missing list', async () => {
    const store = storeWith(FIVE);
    const p = pipelines(store, { batchSize: 2 });
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    store.objects.delete(`${DEST}/${batchKey(run, 1)}`);
    const failures = await p.drain();
    // One dead letter per family; the aggregator still runs.
    expect(failures).toHaveLength(2);
    expect(failures[0]!.failures[0]).toMatchObject({ kind: 'permanent', reason: 'invalid-run-state' });
    expect(json(store, reportKey(run))).toMatchObject({ missingBatchLists: [1] });
    expect(json(store, ledgerKey(run, 'loudness', 1))).toMatchObject({ status: 'failed' } satisfies Partial<LedgerEntry>);
    const report = json(store, reportKey(run));
    expect(report.failedBatches).toEqual([
      { family: 'loudness', batch: 1, reason: expect.stringContaining('batch 1') },
      { family: 'spectrum', batch: 1, reason: expect.stringContaining('batch 1') },
    ]);
    const rows = parse(store.object(DEST, summaryCsvKey(run))!.body, { columns: true }) as Record<string, string>[];
    expect(rows.map((row) => row.key)).toEqual(['a/1.wav', 'a/2.wav', 'a/5.wav']);
  });

  it('dead-letters a batch message naming another bucket without touching this run\'s ledger', async () => {
    const store = storeWith(FIVE);
    const p = pipelines(store, { batchSize: 2 });
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    // A batch message the family cannot take (its run names another bucket): dead-lettered, its files still listed.
    const [first, second] = p.sender.take(familyQueue('loudness'));
    const foreign = second!.replace(`"bucket":"${DEST}"`, '"bucket":"elsewhere"');
    expect((await p.family('loudness', foreign)).failures[0]).toMatchObject({ kind: 'permanent', reason: 'invalid-batch' });
    p.sender.queues.set(familyQueue('loudness'), [first!, ...p.sender.take(familyQueue('loudness'))]);
    await p.drain();
    expect(store.object(DEST, reportKey(run))).toBeUndefined();
  });

  it('on the last attempt turns files still failing transiently into a failed batch, so the run ends', async () => {
    const store = storeWith({ 'a/1.wav': 'one', 'a/2.wav': 'two' });
    const p = pipelines(store, { batchSize: 5 });
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    const [batch] = p.sender.take(familyQueue('loudness'));
    const get = store.get.bind(store);
    store.get = async (ref, options) => {
      if (ref.key === 'a/2.wav') throw Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
      return get(ref, options);
    };
    expect((await p.family('loudness', batch!)).failures[0]).toMatchObject({ kind: 'transient' });
    expect(store.object(DEST, ledgerKey(run, 'loudness', 0))).toBeUndefined();
    const last = await p.family('loudness', batch!, { receiveCount: 3 });
    expect(last.failures[0]).toMatchObject({ kind: 'transient' });
    expect(json(store, ledgerKey(run, 'loudness', 0))).toMatchObject({ status: 'failed', files: 2, failedFiles: 1 });
    store.get = get;
    expect(await p.drain()).toEqual([]);
    const rows = parse(store.object(DEST, summaryCsvKey(run))!.body, { columns: true }) as Record<string, string>[];
    expect(rows.map((row) => row['loudness.status'])).toEqual(['done', 'failed']);
  });

  it('never aggregates a run that is not complete, whatever asks', async () => {
    const store = storeWith(FIVE);
    const p = pipelines(store);
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    const outcome = await p.aggregate(JSON.stringify({ kind: 'fanout-aggregate', v: 1, bucket: DEST, root: ROOT, runId: 'r1' }));
    expect(outcome.failures[0]).toMatchObject({ kind: 'transient', reason: 'run-incomplete' });
    expect(store.object(DEST, reportKey(run))).toBeUndefined();
  });

  it('refuses a batch message on the wrong family\'s queue', async () => {
    const store = storeWith(FIVE);
    const p = pipelines(store);
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    const [batch] = p.sender.take(familyQueue('loudness'));
    const outcome = await p.family('spectrum', batch!);
    expect(outcome.failures[0]).toMatchObject({ kind: 'permanent', reason: 'invalid-batch' });
  });
});

describe('per-run settings', () => {
  it('hands a manifest\'s settings to the family\'s job with every file, and the command job passes them prefixed', async () => {
    const store = storeWith({ 'a/1.wav': 'one' }, { runId: 'r1', keys: ['a/1.wav'], settings: { THRESHOLD_DB: '-40' } });
    const p = pipelines(store);
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    await p.drain();
    expect(p.jobs.loudness!.settingsSeen).toEqual([{ THRESHOLD_DB: '-40' }]);
    expect(settingsEnvironment({ THRESHOLD_DB: '-40', LD_PRELOAD: '/x.so' })).toEqual({ BLUEPRINT_SETTING_THRESHOLD_DB: '-40', BLUEPRINT_SETTING_LD_PRELOAD: '/x.so' });
  });
});

describe('a batch cut short', () => {
  const timeout = (key: string) => new TransientError('command-timeout', `${key} ran past COMMAND_TIMEOUT_SECONDS`, { attemptsAllowed: 2 });

  it('fails a file whose kind of failure allows two attempts on the second, and settles the batch, instead of dead-lettering it unrecorded', async () => {
    const store = storeWith({ 'a/1.wav': 'one', 'a/2.wav': 'two', 'a/3.wav': 'three' });
    const p = pipelines(store, { batchSize: 5 });
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    const [batch] = p.sender.take(familyQueue('loudness'));
    p.jobs.loudness!.beforeEach = (key) => { if (key === 'a/2.wav') throw timeout(key); };
    expect((await p.family('loudness', batch!)).failures[0]).toMatchObject({ kind: 'transient', attemptsAllowed: 2 });
    expect(store.object(DEST, ledgerKey(run, 'loudness', 0))).toBeUndefined();
    expect((await p.family('loudness', batch!, { receiveCount: 2 })).failures).toEqual([]);
    expect(json(store, ledgerKey(run, 'loudness', 0))).toMatchObject({ status: 'done', files: 3, failedFiles: 1 });
    // The first attempt's finished file was kept, not done again.
    expect(p.jobs.loudness!.seen.filter((key) => key === 'a/1.wav')).toHaveLength(1);
  });

  it('keeps what a batch finished before its deadline, and settles it failed on the last allowed attempt even though its signal has given up', async () => {
    const store = storeWith({ 'a/1.wav': 'one', 'a/2.wav': 'two', 'a/3.wav': 'three' });
    const p = pipelines(store, { batchSize: 5 });
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    const [batch] = p.sender.take(familyQueue('loudness'));
    const deadline = (attempt: number) => {
      const controller = new AbortController();
      p.jobs.loudness!.beforeEach = (key) => {
        if (key === 'a/2.wav') controller.abort(new TransientError('deadline-exceeded', `attempt ${attempt} ran past MESSAGE_DEADLINE_SECONDS`, { attemptsAllowed: 2 }));
      };
      return { signal: controller.signal };
    };
    expect((await p.family('loudness', batch!, {}, deadline(1))).failures[0]).toMatchObject({ reason: 'deadline-exceeded' });
    expect(json(store, checkpointKey(run, 'loudness', 0)).files).toEqual([expect.objectContaining({ key: 'a/1.wav', status: 'done' })]);
    expect(store.object(DEST, resultsKey(run, 'loudness', 0))).toBeUndefined();
    expect((await p.family('loudness', batch!, { receiveCount: 2 }, deadline(2))).failures[0]).toMatchObject({ reason: 'deadline-exceeded' });
    expect(json(store, ledgerKey(run, 'loudness', 0))).toMatchObject({ status: 'failed', reason: expect.stringContaining('deadline-exceeded') });
    expect(p.jobs.loudness!.seen.filter((key) => key === 'a/1.wav')).toHaveLength(1);
  });

  it('hands a batch back on the Spot notice even on its last attempt: a stop is not the files\' fault', async () => {
    const store = storeWith({ 'a/1.wav': 'one', 'a/2.wav': 'two' });
    const p = pipelines(store, { batchSize: 5 });
    await p.fanout(await eventFor(store, SOURCE, 'm/manifest.json'));
    const [batch] = p.sender.take(familyQueue('loudness'));
    const stop = new AbortController();
    p.jobs.loudness!.beforeEach = (key) => {
      if (key === 'a/2.wav') {
        stop.abort();
        throw new TransientError('command-stopped', 'the program ended on the forwarded SIGTERM');
      }
    };
    const outcome = await p.family('loudness', batch!, { receiveCount: 3 }, { signal: new AbortController().signal, stopping: stop.signal });
    expect(outcome.failures[0]).toMatchObject({ kind: 'transient', reason: 'command-stopped' });
    expect(store.object(DEST, ledgerKey(run, 'loudness', 0))).toBeUndefined();
    p.jobs.loudness!.beforeEach = () => undefined;
    expect((await p.family('loudness', batch!, { receiveCount: 4 })).failures).toEqual([]);
    expect(json(store, ledgerKey(run, 'loudness', 0))).toMatchObject({ status: 'done', failedFiles: 0 });
  });
});
