import { parseRecordMessage, recordMessageBody } from '../record-message';

const good = { id: 'rec-000123', bucket: 'recordings', key: '2026/12/01/rec 000123.wav', date: '2026-12-01' };

describe('record messages', () => {
  it('round-trips a record', () => {
    expect(parseRecordMessage(recordMessageBody(good))).toEqual(good);
  });

  it.each([
    ['not json', 'must be JSON'],
    ['[1]', 'must be a JSON object'],
    [JSON.stringify({ ...good, kind: 'fanout-batch', v: 1 }), '"kind": "batch-record"'],
    [JSON.stringify({ kind: 'batch-record', v: 1, ...good, id: '' }), 'field "id"'],
    [JSON.stringify({ kind: 'batch-record', v: 1, ...good, id: 'a'.repeat(300) }), 'field "id"'],
    [JSON.stringify({ kind: 'batch-record', v: 1, ...good, id: 'a\nb' }), 'field "id"'],
    [JSON.stringify({ kind: 'batch-record', v: 1, ...good, bucket: 'Bad_Bucket' }), 'field "bucket"'],
    [JSON.stringify({ kind: 'batch-record', v: 1, ...good, key: 'folder/' }), 'field "key"'],
    [JSON.stringify({ kind: 'batch-record', v: 1, ...good, key: 'k'.repeat(1025) }), 'field "key"'],
    [JSON.stringify({ kind: 'batch-record', v: 1, ...good, key: 'a/\u001b[2Jb.wav' }), 'field "key"'],
    [JSON.stringify({ kind: 'batch-record', v: 1, ...good, key: 'a/\u007fb.wav' }), 'field "key"'],
    [JSON.stringify({ kind: 'batch-record', v: 1, ...good, date: '2026-13-01' }), 'field "date"'],
  ])('refuses %s naming the problem, as a permanent invalid-record', (body, message) => {
    expect(() => parseRecordMessage(body)).toThrow(expect.objectContaining({ reason: 'invalid-record', message: expect.stringContaining(message) }));
  });
});
