import { classifyFailure } from '../../../../shared/errors';
import { MemoryStore } from '../../../test/fakes/memory-store';
import { scoreBatch, type RecordOutcome, type ScoreBatchDeps } from '../score-batch';
import { AUDIO_BUCKET, FakeModel, MemoryResultStore, record } from './factories';

const settings: ScoreBatchDeps['settings'] = {
  downloadTimeoutMs: 200,
  downloadConcurrency: 4,
  inferenceTimeoutMs: 200,
  writeChunkSize: 3,
  storeTimeoutMs: 300,
  maxRecordBytes: 1000,
  allowedBuckets: [AUDIO_BUCKET],
};

function world(count: number) {
  const objects = new MemoryStore();
  const records = Array.from({ length: count }, (_, index) => record(index));
  for (const each of records) objects.add(each.bucket, each.key, 'x'.repeat(10 + Number(each.id.slice(-2))));
  const results = new MemoryResultStore();
  const model = new FakeModel();
  const deps: ScoreBatchDeps = { objects, results, model, settings, now: () => performance.now() };
  return { objects, records, results, model, deps };
}

const kinds = (outcomes: readonly RecordOutcome[]) => outcomes.map((outcome) => outcome.kind);
const reasonOf = (outcome: RecordOutcome | undefined) => (outcome?.kind === 'failed' ? classifyFailure(outcome.error) : undefined);

describe('scoreBatch', () => {
  it('scores every record with one model call and writes results in chunks, each with the model version', async () => {
    const { records, results, model, deps } = world(7);
    const { outcomes } = await scoreBatch(records, deps);
    expect(kinds(outcomes)).toEqual(Array(7).fill('scored'));
    expect(model.calls).toHaveLength(1);
    expect(results.writes.map((chunk) => chunk.length)).toEqual([3, 3, 1]);
    expect(results.results.get('rec-00004')).toMatchObject({ score: 14, modelVersion: 'fake-1' });
  });

  it('skips records that already have a result after one bulk lookup, and never fetches or rescores them', async () => {
    const { objects, records, results, model, deps } = world(5);
    await scoreBatch(records.slice(0, 2), deps);
    const getsBefore = objects.calls.get;
    const { outcomes } = await scoreBatch(records, deps);
    expect(kinds(outcomes)).toEqual(['skipped', 'skipped', 'scored', 'scored', 'scored']);
    expect(objects.calls.get - getsBefore).toBe(3);
    expect(model.calls[1]).toEqual(['rec-00002', 'rec-00003', 'rec-00004']);
    expect(results.existingCalls).toBe(2);
  });

  it('fails a record whose input is missing, undecodable, too large or in a foreign bucket alone, permanently', async () => {
    const { objects, records, results, deps } = world(6);
    objects.objects.delete(`${records[1]!.bucket}/${records[1]!.key}`);
    objects.add(records[2]!.bucket, records[2]!.key, 'broken');
    objects.add(records[3]!.bucket, records[3]!.key, 'y'.repeat(1001));
    const foreign = { ...records[4]!, bucket: 'someone-elses' };
    const { outcomes } = await scoreBatch([records[0]!, records[1]!, records[2]!, records[3]!, foreign, records[5]!], deps);
    expect(kinds(outcomes)).toEqual(['scored', 'failed', 'failed', 'failed', 'failed', 'scored']);
    expect(outcomes.slice(1, 5).map((outcome) => reasonOf(outcome)?.kind)).toEqual(['permanent', 'permanent', 'permanent', 'permanent']);
    expect(outcomes.slice(1, 5).map((outcome) => reasonOf(outcome)?.reason)).toEqual(['input-missing', 'undecodable-audio', 'input-too-large', 'bucket-not-allowed']);
    expect(reasonOf(outcomes[1])?.message).toContain(records[1]!.key);
    expect([...results.results.keys()].sort()).toEqual(['rec-00000', 'rec-00005']);
  });

  it('times out a download that hangs: that record is retried, the others are scored', async () => {
    const { objects, records, deps } = world(3);
    const realGet = objects.get.bind(objects);
    objects.get = (ref, options) => (ref.key === records[1]!.key ? new Promise(() => undefined) : realGet(ref, options));
    const { outcomes } = await scoreBatch(records, deps);
    expect(kinds(outcomes)).toEqual(['scored', 'failed', 'scored']);
    expect(reasonOf(outcomes[1])).toMatchObject({ kind: 'transient', reason: 'download-timeout' });
  });

  it('retries every record of a model call that outlives its timeout, even one that ignores its signal, and writes nothing', async () => {
    const { records, results, model, deps } = world(4);
    model.beforeCall = () => new Promise(() => undefined);
    const started = performance.now();
    const { outcomes } = await scoreBatch(records, deps);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(outcomes.map((outcome) => reasonOf(outcome)?.reason)).toEqual(Array(4).fill('inference-timeout'));
    expect(results.results.size).toBe(0);
  });

  it('a store that takes half a chunk: exactly the records it took are scored, the rest are retried', async () => {
    const { records, results, deps } = world(6);
    results.failWrite = { storeFirst: 2, mode: 'report' };
    const { outcomes } = await scoreBatch(records, deps);
    expect(kinds(outcomes)).toEqual(['scored', 'scored', 'failed', 'scored', 'scored', 'scored']);
    expect(reasonOf(outcomes[2])).toMatchObject({ kind: 'transient', reason: 'result-not-durable' });
    for (const [index, outcome] of outcomes.entries()) expect(outcome.kind === 'scored').toBe(results.results.has(records[index]!.id));
  });

  it('an adapter that throws mid-chunk: none of that chunk counts as scored, though some results may be stored', async () => {
    const { records, results, deps } = world(6);
    results.failWrite = { storeFirst: 2, mode: 'throw' };
    const { outcomes } = await scoreBatch(records, deps);
    expect(kinds(outcomes)).toEqual(['failed', 'failed', 'failed', 'scored', 'scored', 'scored']);
    expect(results.results.has('rec-00000')).toBe(true);
  });

  it('the same record twice in a batch is scored and written once, and both copies get its outcome', async () => {
    const { records, results, model, deps } = world(2);
    const { outcomes } = await scoreBatch([records[0]!, records[1]!, records[0]!], deps);
    expect(kinds(outcomes)).toEqual(['scored', 'scored', 'scored']);
    expect(model.calls[0]).toEqual(['rec-00000', 'rec-00001']);
    expect(results.writes.flat()).toEqual(['rec-00000', 'rec-00001']);
  });

  it('a failed lookup fails the whole batch, retryably (a throttled or absent table is not the records\' fault)', async () => {
    const { records, results, model, deps } = world(2);
    results.failExisting = Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });
    const failure = await scoreBatch(records, deps).then(() => undefined, (error: unknown) => classifyFailure(error));
    expect(failure).toMatchObject({ kind: 'transient', reason: 'result-lookup-failed' });
    expect(failure?.message).toContain('throttled');
    expect(model.calls).toHaveLength(0);
  });

  it('a store that stalls holds a batch no longer than STORE_TIMEOUT_MS, at the lookup or at a write', async () => {
    const stalledLookup = world(2);
    stalledLookup.results.existing = () => new Promise(() => undefined);
    const failure = await scoreBatch(stalledLookup.records, stalledLookup.deps).then(() => undefined, (error: unknown) => classifyFailure(error));
    expect(failure).toMatchObject({ kind: 'transient', reason: 'result-lookup-failed' });

    const stalledWrite = world(4);
    stalledWrite.results.write = () => new Promise(() => undefined);
    const { outcomes } = await scoreBatch(stalledWrite.records, stalledWrite.deps);
    expect(outcomes.map((outcome) => reasonOf(outcome)?.reason)).toEqual(Array(4).fill('result-not-durable'));
  });

  it('a result that could never be stored (a non-finite score, an oversized item) fails its record alone, permanently, before the write', async () => {
    const { records, results, model, deps } = world(4);
    const realScore = model.score.bind(model);
    model.score = async (inputs, signal) => (await realScore(inputs, signal)).map((outcome, index) => {
      if (!outcome.ok) return outcome;
      if (index === 1) return { ...outcome, score: Number.NaN };
      if (index === 2) return { ...outcome, details: { notes: 'x'.repeat(400 * 1024) } };
      return outcome;
    });
    const { outcomes } = await scoreBatch(records, deps);
    expect(kinds(outcomes)).toEqual(['scored', 'failed', 'failed', 'scored']);
    expect(outcomes.slice(1, 3).map((outcome) => reasonOf(outcome))).toEqual([
      expect.objectContaining({ kind: 'permanent', reason: 'invalid-result', message: expect.stringContaining('not a finite number') }),
      expect.objectContaining({ kind: 'permanent', reason: 'invalid-result', message: expect.stringContaining('bytes') }),
    ]);
    expect(results.writes.flat()).toEqual(['rec-00000', 'rec-00003']);
  });
});
