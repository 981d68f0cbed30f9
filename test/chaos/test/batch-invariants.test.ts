import { checkBatchInvariants, type BatchInvariantInput } from '../src/batch-invariants';
import { appliedPuts, storeFaultChooser, storeOperationOf } from '../src/store-fault-proxy';

const body = (id: string) => JSON.stringify({ kind: 'batch-record', v: 1, id, bucket: 'source', key: `recordings/${id}.wav`, date: '2026-12-01' });
const letter = (id: string, reason: string, kind = 'permanent') => ({ messageId: `m-${id}`, body: body(id), receiveCount: 1, reasons: [reason], failures: [{ reason, kind, detail: `${reason} for ${id}` }] });

/** A run where everything held: a and b scored, c broken, d's input missing; discovery killed once and resumed. */
function healthy(): BatchInvariantInput {
  return {
    records: [{ id: 'a', expect: 'scored' }, { id: 'b', expect: 'scored' }, { id: 'c', expect: 'undecodable-audio' }, { id: 'd', expect: 'input-missing' }],
    results: [{ id: 'a', modelVersion: 'v1', score: 0.5 }, { id: 'b', modelVersion: 'v1', score: 2 }],
    deadLetters: [letter('c', 'undecodable-audio'), letter('d', 'input-missing')],
    left: [],
    sent: ['a', 'b', 'c', 'd'].map(body),
    applied: new Map([['a', new Set(['t1'])], ['b', new Set(['t1', 't2'])]]),
    shippedModelVersion: 'v1',
    discovery: { killed: true, sentBeforeKill: 10, rerunStartedAfter: 'b', rerunExitCode: 0, chunkSize: 10 },
  };
}

describe('checkBatchInvariants', () => {
  it('holds for a run where every record ended as it should, counting a second scoring as at-least-once', () => {
    const { violations, counts } = checkBatchInvariants(healthy());
    expect(violations).toEqual([]);
    expect(counts).toMatchObject({ records: 4, valid: 2, broken: 1, missingInput: 1, scored: 2, lost: 0, duplicatesScored: 1, scoringsApplied: 3, deadLettered: { 'undecodable-audio': 1, 'input-missing': 1 },
      deadLetteredRecords: { 'undecodable-audio': 1, 'input-missing': 1 }, unscoredDeadLettered: 2,
    });
  });

  it('counts a record dead-lettered twice (discovery sent it twice) once among the records, twice among the letters', () => {
    const input = { ...healthy(), deadLetters: [...healthy().deadLetters, { ...letter('c', 'undecodable-audio'), messageId: 'm-c2' }], sent: [...healthy().sent, body('c')] };
    const { violations, counts } = checkBatchInvariants(input);
    expect(violations).toEqual([]);
    expect(counts).toMatchObject({ deadLetters: 3, deadLettered: { 'undecodable-audio': 2 }, deadLetteredRecords: { 'undecodable-audio': 1 }, unscoredDeadLettered: 2, sentTwice: 1 });
  });

  it('counts a record with neither a result nor a dead letter as lost', () => {
    const input = { ...healthy(), results: healthy().results.filter((result) => result.id !== 'b'), applied: new Map([['a', new Set(['t1'])]]) };
    const report = checkBatchInvariants(input);
    expect(report.counts.lost).toBe(1);
    expect(report.violations).toEqual(['record b (scored) has no result and is not in the DLQ: lost']);
  });

  it('flags a broken record that got a result, and one dead-lettered for the wrong reason', () => {
    const input = { ...healthy(), results: [...healthy().results, { id: 'c', modelVersion: 'v1', score: 1 }], deadLetters: [letter('c', 'undecodable-audio'), letter('d', 'download-timeout', 'transient')] };
    input.applied = new Map([...healthy().applied, ['c', new Set(['t1'])]]);
    expect(checkBatchInvariants(input).violations).toEqual(['record c (undecodable-audio) has a result, score 1', 'record d is in the DLQ for download-timeout, expected input-missing']);
  });

  it('flags a valid record dead-lettered for a permanent reason; reports one whose failures were all transient', () => {
    const permanent = { ...healthy(), results: [healthy().results[0]!], applied: new Map([['a', new Set(['t1'])]]), deadLetters: [...healthy().deadLetters, letter('b', 's3-rejected')] };
    expect(checkBatchInvariants(permanent).violations).toEqual([expect.stringContaining('valid record b is in the DLQ for a permanent failure: s3-rejected')]);
    const transient = { ...permanent, deadLetters: [...healthy().deadLetters, letter('b', 'result-not-durable', 'transient')] };
    const report = checkBatchInvariants(transient);
    expect(report.violations).toEqual([]);
    expect(report.counts.transientExhaustion).toEqual([{ id: 'b', reasons: 'result-not-durable' }]);
  });

  it('counts a scored record whose message was dead-lettered as finished work, not a violation', () => {
    const report = checkBatchInvariants({ ...healthy(), deadLetters: [...healthy().deadLetters, letter('a', 'result-not-durable', 'transient')] });
    expect(report.violations).toEqual([]);
    expect(report.counts.finishedWorkDeadLettered).toBe(1);
  });

  it('flags results for no record, from another model, or never seen written; messages left; foreign dead letters', () => {
    const input = {
      ...healthy(),
      results: [...healthy().results, { id: 'zz', modelVersion: 'v0', score: 1 }],
      applied: new Map([['b', new Set(['t1'])], ['zz', new Set(['t1'])]]),
      left: [{ messageId: 'm-x', body: body('a') }],
      deadLetters: [...healthy().deadLetters, { ...letter('q', 'invalid-record'), body: '{}' }],
    };
    expect(checkBatchInvariants(input).violations).toEqual([
      'the results table holds an item for "zz", which is no record',
      'record zz\'s result is from model "v0", the shipped model is v1',
      'the DLQ holds message m-q, which is no record\'s (invalid-record)',
      'the queue still holds message m-x (record a)',
      'record a has a result no put of which was seen through the store proxy',
    ]);
  });

  it('flags discovery sending more than its chunk in flight twice, a rerun from the beginning, a record never sent', () => {
    const twice = { ...healthy(), sent: [...['a', 'b', 'c', 'd'].map(body), body('a')], discovery: { ...healthy().discovery, killed: false } };
    expect(checkBatchInvariants(twice).violations).toEqual(['discovery sent 1 records more than once; it was never killed, so none may repeat']);
    const restarted = { ...healthy(), discovery: { ...healthy().discovery, rerunStartedAfter: undefined } };
    expect(checkBatchInvariants(restarted).violations).toEqual(['discovery was killed after sending 10 records, yet its rerun started from the beginning: the watermark did not hold']);
    const skipped = { ...healthy(), sent: ['a', 'b', 'c'].map(body) };
    expect(checkBatchInvariants(skipped).violations).toEqual(['record d was never sent to the queue: discovery skipped it']);
  });

  it('flags a run that did not finish', () => {
    expect(checkBatchInvariants({ ...healthy(), unfinished: 'deadline' }).violations).toEqual(['the run did not finish: deadline']);
  });
});

describe('the store fault proxy, pure parts', () => {
  it('tells the calls apart by X-Amz-Target', () => {
    expect(storeOperationOf('DynamoDB_20120810.BatchWriteItem')).toBe('BatchWriteItem');
    expect(storeOperationOf('DynamoDB_20120810.BatchGetItem')).toBe('BatchGetItem');
    expect(storeOperationOf('DynamoDB_20120810.Query')).toBe('other');
    expect(storeOperationOf(undefined)).toBe('other');
  });

  it('reads the applied puts of a BatchWriteItem, less those left unprocessed', () => {
    const put = (id: string) => ({ PutRequest: { Item: { id: { S: id }, scoredAt: { S: `at-${id}` } } } });
    const request = JSON.stringify({ RequestItems: { results: [put('a'), put('b')], other: [put('c')] } });
    expect(appliedPuts(request, '{}', 'results')).toEqual([{ id: 'a', scoredAt: 'at-a' }, { id: 'b', scoredAt: 'at-b' }]);
    expect(appliedPuts(request, JSON.stringify({ UnprocessedItems: { results: [put('b')] } }), 'results')).toEqual([{ id: 'a', scoredAt: 'at-a' }]);
    expect(appliedPuts('not json', '', 'results')).toEqual([]);
  });

  it('faults at the given rate, each kind in turn: a write first gets written-not-acknowledged, other calls never do', () => {
    const choose = storeFaultChooser(() => 0);
    expect([1, 2, 3, 4, 5].map(() => choose(1, 'BatchWriteItem'))).toEqual(['written-not-acknowledged', 'internal-error-500', 'throughput-exceeded-400', 'connection-reset', 'written-not-acknowledged']);
    expect([1, 2, 3, 4].map(() => choose(1, 'BatchGetItem'))).toEqual(['connection-reset', 'internal-error-500', 'throughput-exceeded-400', 'connection-reset']);
    expect(storeFaultChooser(() => 0.5)(0.4, 'BatchWriteItem')).toBeUndefined();
  });
});
