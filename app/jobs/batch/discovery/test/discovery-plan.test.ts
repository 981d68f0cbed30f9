import type { RecordMessage } from '../../record-message';
import { checkOrder, isAfter, planChunk, startAfter } from '../discovery-plan';
import { recordId } from './factories';

const record = (n: number): RecordMessage => ({ id: recordId(n), bucket: 'recordings', key: `a/${recordId(n)}.wav`, date: '2026-12-01' });
const range = (from: number, to: number): RecordMessage[] => Array.from({ length: to - from + 1 }, (_, i) => record(from + i));

describe('startAfter', () => {
  it('resumes after the watermark, and a backfill starts from the beginning', () => {
    expect(startAfter('rec-000010', false)).toBe('rec-000010');
    expect(startAfter(undefined, false)).toBeUndefined();
    expect(startAfter('rec-000010', true)).toBeUndefined();
  });
});

describe('planChunk', () => {
  it('sends the records without a result, in order, and advances to the chunk\'s last id', () => {
    const chunk = range(1, 10);
    const plan = planChunk(chunk, new Set([recordId(2), recordId(10)]), undefined);
    expect(plan.send.map((each) => each.id)).toEqual(chunk.map((each) => each.id).filter((id) => id !== recordId(2) && id !== recordId(10)));
    expect(plan.skippedWithResult).toBe(2);
    expect(plan.advanceTo).toBe(recordId(10));
    expect(plan.watermark).toBe(recordId(10));
  });

  it('advances past a chunk whose records all have results without sending anything', () => {
    const chunk = range(11, 15);
    const plan = planChunk(chunk, new Set(chunk.map((each) => each.id)), recordId(10));
    expect(plan.send).toEqual([]);
    expect(plan.skippedWithResult).toBe(5);
    expect(plan.advanceTo).toBe(recordId(15));
  });

  it('never moves the watermark backwards: a backfill chunk below it sends but leaves it', () => {
    const plan = planChunk(range(1, 10), new Set(), recordId(30));
    expect(plan.send).toHaveLength(10);
    expect(plan.advanceTo).toBeUndefined();
    expect(plan.watermark).toBe(recordId(30));
    expect(planChunk(range(21, 30), new Set(), recordId(30)).advanceTo).toBeUndefined();
    expect(planChunk(range(25, 34), new Set(), recordId(30)).advanceTo).toBe(recordId(34));
  });

  it('refuses an empty chunk and one larger than a SendMessageBatch', () => {
    expect(() => planChunk([], new Set(), undefined)).toThrow(/1 to 10 records, got 0/);
    expect(() => planChunk(range(1, 11), new Set(), undefined)).toThrow(/got 11/);
  });
});

describe('checkOrder', () => {
  it('accepts ids strictly ascending after the start', () => {
    expect(() => checkOrder([recordId(2), recordId(3)], recordId(1))).not.toThrow();
    expect(() => checkOrder([], recordId(1))).not.toThrow();
  });

  it('names the id that breaks the order, a repeat, or one not after the start', () => {
    expect(() => checkOrder([recordId(3), recordId(2)], undefined)).toThrow(`id "${recordId(2)}" came after "${recordId(3)}"`);
    expect(() => checkOrder([recordId(3), recordId(3)], undefined)).toThrow(/broke its order/);
    expect(() => checkOrder([recordId(1)], recordId(1))).toThrow(/broke its order/);
  });
});

describe('isAfter', () => {
  it('orders by UTF-8 bytes as DynamoDB sort keys do, where UTF-16 order differs', () => {
    // U+FF5E sorts before U+1F600 in UTF-8 (EF.. < F0..) but after it in UTF-16 code units (FF5E > D83D).
    expect(isAfter('\u{1F600}', '\uFF5E')).toBe(true);
    expect('\u{1F600}' > '\uFF5E').toBe(false);
    expect(isAfter('b', 'a')).toBe(true);
    expect(isAfter('a', 'a')).toBe(false);
  });
});
