import { classifyFailure } from '../../../../shared/errors';
import { planBatches } from '../batches';
import { batchKey } from '../../../../shared/fanout/run-layout';
import { ManifestError, parseManifest } from '../manifest';

const origin = { bucket: 'research', key: 'runs-in/manifest.json', etag: 'e1' };

function refusal(text: string): string {
  try {
    parseManifest(text, origin);
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    expect(classifyFailure(error)).toMatchObject({ kind: 'permanent', reason: 'invalid-manifest' });
    return (error as Error).message;
  }
  throw new Error('expected a ManifestError');
}

describe('parseManifest', () => {
  it('reads keys, a run id and settings, dropping a key listed twice', () => {
    expect(parseManifest(JSON.stringify({ runId: 'dawn-chorus-2026', keys: ['a.wav', 'b c.wav', 'a.wav'], settings: { MIN_FREQ_HZ: '500' } }), origin)).toEqual({
      runId: 'dawn-chorus-2026', source: { keys: ['a.wav', 'b c.wav'] }, settings: { MIN_FREQ_HZ: '500' },
    });
  });

  it('reads a prefix instead of keys', () => {
    expect(parseManifest('{"prefix":"audio/2026/"}', origin).source).toEqual({ prefix: 'audio/2026/' });
  });

  it('names a run after the manifest\'s version: a redelivery is the same run, an overwrite a new one', () => {
    const text = '{"keys":["a.wav"]}';
    const first = parseManifest(text, origin).runId;
    expect(parseManifest(text, origin).runId).toBe(first);
    expect(parseManifest(text, { ...origin, etag: 'e2' }).runId).not.toBe(first);
    expect(first).toMatch(/^run-[0-9a-f]{16}$/);
  });

  it.each([
    ['not json', /is not valid JSON/],
    ['[]', /must be a JSON object/],
    ['{}', /exactly one of "keys" .* or "prefix"/],
    ['{"keys":["a"],"prefix":"p/"}', /exactly one of/],
    ['{"keys":[]}', /"keys" must be a non-empty list/],
    ['{"keys":["a", 3]}', /"keys"\[1\] must be an object key/],
    ['{"keys":["folder/"]}', /"keys"\[0\] must be an object key/],
    [JSON.stringify({ keys: ['x'.repeat(1025)] }), /"keys"\[0\] is longer than S3's 1024 bytes/],
    ['{"prefix":""}', /"prefix" must be a non-empty string/],
    ['{"keys":["a"],"runId":"Has Spaces"}', /"runId" must be 1 to 64 of a-z/],
    ['{"keys":["a"],"runId":"-x"}', /"runId"/],
    ['{"keys":["a"],"settings":{"lower":"x"}}', /"settings" name "lower" must be CAPITALS/],
    ['{"keys":["a"],"settings":{"N":5}}', /"settings"."N" must be a string/],
    ['{"keys":["a"],"settings":{"LD_PRELOAD":"/tmp/x.so"}}', /"settings" name LD_PRELOAD is reserved/],
    ['{"keys":["a"],"settings":{"N":"a\\u0000b"}}', /without control characters/],
    ['{"keys":["a"],"files":["b"]}', /unknown field "files"/],
  ])('refuses %s with a reason naming the field', (text, message) => {
    expect(refusal(text)).toMatch(message);
  });
});

describe('planBatches', () => {
  it('splits the keys in order, the last batch holding the rest', () => {
    const keys = Array.from({ length: 7 }, (_, n) => `${n}.wav`);
    expect(planBatches(keys, 3)).toEqual([
      { index: 0, keys: ['0.wav', '1.wav', '2.wav'] },
      { index: 1, keys: ['3.wav', '4.wav', '5.wav'] },
      { index: 2, keys: ['6.wav'] },
    ]);
    expect(planBatches(keys).map((batch) => batch.keys.length)).toEqual([7]);
    expect(planBatches([], 3)).toEqual([]);
    expect(() => planBatches(keys, 0)).toThrow(/positive integer/);
  });

  it('stores each batch where the batches list in order', () => {
    expect(batchKey({ root: 'runs/', runId: 'run-1' }, 12)).toBe('runs/run-1/batches/000012.json');
    expect([batchKey({ root: '', runId: 'r' }, 10), batchKey({ root: '', runId: 'r' }, 9)].sort()).toEqual(['r/batches/000009.json', 'r/batches/000010.json']);
  });
});
