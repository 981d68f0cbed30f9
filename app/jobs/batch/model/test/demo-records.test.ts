import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PermanentError } from '../../../../../shared/errors';
import { batchDemoRecords, writeBatchDemoSet } from '../../demo-records';
import { loadAudioAnomalyModel } from '../audio-anomaly-model';

describe('batchDemoRecords', () => {
  const records = batchDemoRecords({ count: 300, seed: 1 });

  it('is mostly normal, with anomalies and a few broken files of every kind, shuffled', () => {
    const count = (expected: string) => records.filter((record) => record.expected === expected).length;
    expect([count('normal'), count('anomalous'), count('broken')]).toEqual([246, 45, 9]);
    expect(new Set(records.filter((record) => record.expected === 'broken').map((record) => record.kind))).toEqual(new Set(['truncated', 'text', 'empty', 'zero-channels']));
    expect(new Set(records.filter((record) => record.expected === 'anomalous').map((record) => record.kind))).toEqual(new Set(['clicks', 'squeal', 'dropout']));
    expect(records.slice(0, 30).every((record) => record.expected === 'normal')).toBe(false);
    expect(new Set(records.map((record) => record.id)).size).toBe(300);
    expect(records[0]).toMatchObject({ id: 'rec-000001', fileName: 'rec-000001.wav' });
  });

  it('is the same for the same seed and different for another', () => {
    const again = batchDemoRecords({ count: 300, seed: 1 });
    expect(again.map((record) => [record.kind, Buffer.from(record.bytes).toString('base64')])).toEqual(records.map((record) => [record.kind, Buffer.from(record.bytes).toString('base64')]));
    expect(batchDemoRecords({ count: 300, seed: 2 }).map((record) => record.kind)).not.toEqual(records.map((record) => record.kind));
  });

  it('comes out as expected from the shipped model: every record, one batch call', async () => {
    const model = await loadAudioAnomalyModel(join(__dirname, '..', 'audio-anomaly-model.json'));
    const outcomes = await model.score(records, new AbortController().signal);
    const actual = outcomes.map((outcome) => {
      if (!outcome.ok) return 'broken';
      return outcome.details?.anomalous === 'yes' ? 'anomalous' : 'normal';
    });
    expect(actual).toEqual(records.map((record) => record.expected));
    for (const outcome of outcomes) if (!outcome.ok) expect(outcome.error).toBeInstanceOf(PermanentError);
  });

  it('handles the small sizes: none, and one (a broken file, so a tiny demo still shows a dead letter)', () => {
    expect(batchDemoRecords({ count: 0, seed: 1 })).toEqual([]);
    expect(batchDemoRecords({ count: 1, seed: 1 }).map((record) => record.expected)).toEqual(['broken']);
    expect(() => batchDemoRecords({ count: -1, seed: 1 })).toThrow(RangeError);
  });

  it('writes the files and returns the manifest without bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'batch-demo-'));
    const manifest = await writeBatchDemoSet(dir, { count: 12, seed: 3 });
    expect((await readdir(dir)).sort()).toEqual(manifest.map((record) => record.fileName).sort());
    expect(manifest[0]).not.toHaveProperty('bytes');
    const first = batchDemoRecords({ count: 12, seed: 3 })[0];
    expect(Buffer.compare(await readFile(join(dir, first.fileName)), Buffer.from(first.bytes))).toBe(0);
  });
});
