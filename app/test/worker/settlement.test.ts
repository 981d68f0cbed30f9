import { carriedAttempts, deadLetterAttributes, planSettlement, transientReleaseDelaySeconds, type RecordFailure, type SettlementInput } from '../../src/worker/settlement';

const permanent = (index: number): RecordFailure => ({ index, kind: 'permanent', reason: 'corrupt-image', detail: `record ${index} is corrupt` });
const transient = (index: number, attemptsAllowed?: number): RecordFailure => ({
  index, kind: 'transient', reason: 'throttled', detail: 'SlowDown', ...(attemptsAllowed !== undefined ? { attemptsAllowed } : {}),
});
const plan = (input: Partial<SettlementInput>) => planSettlement({ receiveCount: 1, carriedAttempts: 0, maxReceiveCount: 5, recordCount: 1, failures: [], ...input });

describe('planSettlement', () => {
  it('deletes a message with no failures', () => {
    expect(plan({ recordCount: 3 })).toEqual({ action: 'delete' });
  });

  it('releases a message whose every record failed transiently, with a delay growing per attempt', () => {
    expect(plan({ failures: [transient(0)] })).toEqual({ action: 'release', delaySeconds: 5, attempts: 1 });
    expect(plan({ receiveCount: 3, recordCount: 2, failures: [transient(0), transient(1)] })).toEqual({ action: 'release', delaySeconds: 20, attempts: 3 });
  });

  it('dead-letters a transient failure on the last attempt maxReceiveCount allows, counting attempts carried by a re-queue', () => {
    expect(plan({ receiveCount: 5, failures: [transient(0)] })).toMatchObject({ action: 'reroute', deadLetter: [transient(0)], retry: [] });
    expect(plan({ receiveCount: 2, carriedAttempts: 3, failures: [transient(0)] })).toMatchObject({ action: 'reroute', deadLetter: [transient(0)], attempts: 5 });
    expect(plan({ receiveCount: 4, failures: [transient(0)] }).action).toBe('release');
  });

  it('dead-letters a failure that allows fewer attempts once it has had them', () => {
    expect(plan({ failures: [transient(0, 2)] }).action).toBe('release');
    expect(plan({ receiveCount: 2, failures: [transient(0, 2)] })).toMatchObject({ action: 'reroute', deadLetter: [transient(0, 2)] });
  });

  it('dead-letters permanent failures at once and re-queues only the transient ones when some records are done', () => {
    expect(plan({ recordCount: 4, failures: [permanent(1), transient(3)] })).toEqual({
      action: 'reroute', deadLetter: [permanent(1)], retry: [transient(3)], attempts: 1, delaySeconds: 5,
    });
    // All records failed, but not all transiently: the permanent ones must not wait for the others' retries.
    expect(plan({ recordCount: 2, failures: [permanent(0), transient(1)] })).toMatchObject({ action: 'reroute', deadLetter: [permanent(0)], retry: [transient(1)] });
  });

  it('re-queues the failed part of a partly done message instead of releasing it whole', () => {
    expect(plan({ recordCount: 3, failures: [transient(2)] })).toMatchObject({ action: 'reroute', deadLetter: [], retry: [transient(2)] });
  });
});

describe('transientReleaseDelaySeconds', () => {
  it('doubles from 5 s and stops at SQS\'s 15-minute delay ceiling', () => {
    expect([1, 2, 3, 4].map(transientReleaseDelaySeconds)).toEqual([5, 10, 20, 40]);
    expect(transientReleaseDelaySeconds(30)).toBe(900);
  });
});

describe('carriedAttempts', () => {
  it.each([[{}, 0], [{ attempts: '3' }, 3], [{ attempts: 'x' }, 0], [{ attempts: '-2' }, 0], [{ attempts: '1.5' }, 0]])('%j -> %d', (attributes, expected) => {
    expect(carriedAttempts(attributes)).toBe(expected);
  });
});

describe('deadLetterAttributes', () => {
  const at = new Date('2026-12-01T00:00:00Z');

  it('says why each record failed, by its index in the dead letter, within SQS\'s ten attributes', () => {
    const attributes = deadLetterAttributes([permanent(4), transient(7)], { messageId: 'm-1', attempts: 5, at });
    expect(attributes).toEqual({
      'failure-reasons': 'corrupt-image,throttled',
      failures: JSON.stringify([
        { record: 0, reason: 'corrupt-image', kind: 'permanent', detail: 'record 4 is corrupt' },
        { record: 1, reason: 'throttled', kind: 'transient', detail: 'SlowDown' },
      ]),
      'failed-records': '2',
      'source-message-id': 'm-1',
      'attempts-used': '5',
      'dead-lettered-at': '2026-12-01T00:00:00.000Z',
    });
    expect(Object.keys(attributes).length).toBeLessThanOrEqual(10);
    // Never the re-queue attribute: a redriven dead letter starts its attempts afresh.
    expect(attributes).not.toHaveProperty('attempts');
  });

  it('bounds what it describes, so a dead letter of a thousand records stays far under SQS\'s 256 KB', () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ ...permanent(i), detail: 'x'.repeat(5000) }));
    const attributes = deadLetterAttributes(many, { messageId: 'm', attempts: 1, at });
    expect(JSON.parse(attributes.failures)).toHaveLength(50);
    expect(attributes['failed-records']).toBe('1000');
    expect(Buffer.byteLength(JSON.stringify(attributes))).toBeLessThan(32 * 1024);
  });
});
