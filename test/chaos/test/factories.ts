import type { ExpectedInput, InvariantInput, LogLine, OutputObject } from '../src/invariants';

/** Builders for chaos-suite tests: a consistent finished run that each test then breaks in one way. */
export const SIZES = [{ width: 32, height: 32 }, { width: 48, height: 40 }] as const;
export const NAMING = { destPrefix: '', sourcePrefix: '', extension: '.jpg' } as const;

export function goodInput(n: number): ExpectedInput {
  return { caseId: 'good', messageId: `m-good-${n}`, key: `good/img-${n}.jpg`, etag: `etag-${n}`, expected: 'processed' };
}

export function outputsFor(input: ExpectedInput): OutputObject[] {
  return SIZES.map((size) => ({ key: `${size.width}x${size.height}/${input.key!.replace(/\.[^.]+$/, '')}.jpg`, sourceEtag: input.etag, ...size }));
}

export function logLine(message: string, fields: Record<string, unknown> = {}): LogLine {
  return { level: 'INFO', message, timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, 0)).toISOString(), pid: 100, ...fields };
}

export function at(seconds: number): string {
  return new Date(Date.UTC(2026, 0, 1, 0, 0, seconds)).toISOString();
}

/** Three good images, one corrupt file dead-lettered, one deleted source skipped, one test event skipped. */
export function finishedRun(overrides: Partial<InvariantInput> = {}): InvariantInput {
  const goods = [1, 2, 3].map(goodInput);
  const inputs: ExpectedInput[] = [
    ...goods,
    { caseId: 'corrupt-jpeg', messageId: 'm-bad', key: 'matrix/corrupt.jpg', etag: 'e-bad', expected: 'dlq', reason: 'corrupt-image' },
    { caseId: 'deleted-before-processing', messageId: 'm-gone', key: 'matrix/deleted.jpg', etag: 'e-gone', expected: 'skipped' },
    { caseId: 's3-test-event', messageId: 'm-test', expected: 'skipped' },
  ];
  return {
    inputs,
    outputs: goods.flatMap(outputsFor),
    deadLetterIds: ['m-bad'],
    logLines: [
      ...goods.map((g) => logLine('processed', { key: g.key })),
      logLine('failed', { messageId: 'm-bad', key: 'matrix/corrupt.jpg', kind: 'permanent', reason: 'corrupt-image' }),
      logLine('skipped', { key: 'matrix/deleted.jpg', reason: 'source missing' }),
      logLine('skipped', { messageId: 'm-test', reason: 's3-test-event' }),
    ],
    sizes: SIZES,
    naming: NAMING,
    distinctWritesByKey: Object.fromEntries(goods.flatMap(outputsFor).map((o) => [o.key, 1])),
    sigterms: [],
    shutdownGraceSeconds: 5,
    ...overrides,
  };
}
