import type { ExpectedInput, InvariantInput, LogLine, OutputObject } from '../src/invariants';

/** Builders for chaos-suite tests: a consistent finished run that each test then breaks in one way. */
export const SIZES = [{ width: 32, height: 32 }, { width: 48, height: 40 }] as const;
export const NAMING = { destPrefix: '', sourcePrefix: '', extension: '.jpg' } as const;

export function goodInput(n: number): ExpectedInput {
  return { caseId: 'good', messageId: `m-good-${n}`, key: `good/img-${n}.jpg`, etag: `etag-${n}`, expected: 'processed' };
}

export function outputsFor(input: ExpectedInput): OutputObject[] {
  return SIZES.map((size) => ({ key: `${size.width}x${size.height}/${input.key!.replace(/\.[^.]+$/, '')}.jpg`, sourceEtag: input.etag, sourceKey: input.key, ...size }));
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
    deadLetters: [{ messageId: 'm-bad', keys: ['matrix/corrupt.jpg'], reasons: ['corrupt-image'] }],
    logLines: [
      ...goods.map((g) => logLine('processed', { key: g.key })),
      logLine('failed', { messageId: 'm-bad', key: 'matrix/corrupt.jpg', kind: 'permanent', reason: 'corrupt-image' }),
      logLine('skipped', { key: 'matrix/deleted.jpg', reason: 'source missing' }),
      logLine('skipped', { messageId: 'm-test', reason: 's3-test-event' }),
    ],
    outputRules: { job: 'resize', sizes: SIZES, naming: NAMING },
    distinctWritesByKey: Object.fromEntries(goods.flatMap(outputsFor).map((o) => [o.key, 1])),
    currentSourceEtags: Object.fromEntries([...goods, inputs[3]].map((input) => [input.key!, input.etag!])),
    sigterms: [],
    shutdownGraceSeconds: 5,
    ...overrides,
  };
}

/**
 * `finishedRun` plus the classes added for hostile S3 behaviour: a message of three records with a bad one in the
 * middle, a key overwritten while it was processed (two versions), a render that timed out twice (its last attempt a
 * re-queued part with a new id), an output key over S3's limit, and one worker's memory cgroup.
 */
export function runWithNewClasses(overrides: Partial<InvariantInput> = {}): InvariantInput {
  const base = finishedRun();
  const mixedGood = [1, 2].map((n): ExpectedInput => ({ caseId: 'several-records-one-bad', messageId: 'm-mixed', key: `mixed/good-${n}.jpg`, etag: `e-mixed-${n}`, expected: 'processed' }));
  const raced: ExpectedInput = { caseId: 'overwrite-race', messageId: 'm-race', key: 'race/a.jpg', etag: 'e-new', expected: 'processed', versions: 2 };
  const inputs: ExpectedInput[] = [
    ...base.inputs,
    mixedGood[0],
    { caseId: 'several-records-one-bad', messageId: 'm-mixed', key: 'mixed/bad.jpg', etag: 'e-mixed-bad', expected: 'dlq', reason: 'corrupt-image' },
    mixedGood[1],
    raced,
    { caseId: 'render-timeout', messageId: 'm-slow', key: 'slow/render.png', etag: 'e-slow', expected: 'dlq', reason: 'render-timeout' },
    { caseId: 'output-key-too-long', messageId: 'm-long', key: 'long/key.jpg', etag: 'e-long', expected: 'dlq', reason: 'output-key-too-long' },
  ];
  const outputs = [...base.outputs, ...mixedGood.flatMap(outputsFor), ...outputsFor(raced)];
  return {
    ...base,
    inputs,
    outputs,
    deadLetters: [
      ...base.deadLetters,
      { messageId: 'm-mixed', keys: ['mixed/bad.jpg'], reasons: ['corrupt-image'] },
      { messageId: 'm-slow', keys: ['slow/render.png'], reasons: ['render-timeout'] },
      { messageId: 'm-long', keys: ['long/key.jpg'], reasons: ['output-key-too-long'] },
    ],
    logLines: [
      ...base.logLines,
      ...mixedGood.map((g) => logLine('processed', { key: g.key })),
      logLine('failed', { messageId: 'm-mixed', key: 'mixed/bad.jpg', kind: 'permanent', reason: 'corrupt-image', outcome: 'dead-lettered' }),
      logLine('processed', { key: 'race/a.jpg' }),
      logLine('source changed while processing: processing the newer version too', { key: 'race/a.jpg' }),
      logLine('failed', { messageId: 'm-slow', key: 'slow/render.png', kind: 'transient', reason: 'render-timeout', outcome: 'retry' }),
      logLine('failed', { messageId: 'm-slow-part', key: 'slow/render.png', kind: 'transient', reason: 'render-timeout', outcome: 'dead-lettered' }),
      logLine('failed', { messageId: 'm-long', key: 'long/key.jpg', kind: 'permanent', reason: 'output-key-too-long', outcome: 'dead-lettered' }),
    ],
    distinctWritesByKey: { ...base.distinctWritesByKey, ...Object.fromEntries(outputsFor(raced).map((o) => [o.key, 2])) },
    currentSourceEtags: { ...base.currentSourceEtags, ...Object.fromEntries([...mixedGood, raced].map((input) => [input.key!, input.etag!])) },
    memory: [{ worker: '1-1', limitBytes: 4096 * 1024 * 1024, peakBytes: 2048 * 1024 * 1024, oomKills: 0 }],
    frontRefusals: [],
    ...overrides,
  };
}

/** A command-job input: its stats.json counts `features`; a `large/` key also leaves a copy. */
export function commandInput(n: number, features = n, key = `good/item-${n}.geojson`): ExpectedInput {
  const large = key.startsWith('large/');
  return {
    caseId: large ? 'large-multipart' : 'good', messageId: `m-cmd-${n}`, key, etag: `etag-${n}`, expected: 'processed',
    outputFacts: { 'stats.json': { featureCount: features }, ...(large ? { 'source-copy.geojson': { md5: `etag-${n}` } } : {}) },
    ...(large ? { extraFiles: ['source-copy.geojson'] } : {}),
  };
}

/** The outputs the command job leaves for an input: `<key>/stats.json` (and the copy of a large one), as read back. */
export function commandOutputsFor(input: ExpectedInput): OutputObject[] {
  const stats = { key: `${input.key!}/stats.json`, sourceEtag: input.etag, sourceKey: input.key, facts: { featureCount: Number(input.outputFacts?.['stats.json']?.featureCount) } };
  const copy = input.extraFiles?.includes('source-copy.geojson') ? [{ key: `${input.key!}/source-copy.geojson`, sourceEtag: input.etag, sourceKey: input.key, facts: { md5: String(input.etag) } }] : [];
  return [stats, ...copy];
}

/**
 * A finished command-job run: two good files and a large one processed, a broken file dead-lettered for exit 65, a
 * deleted source skipped, nothing left behind.
 */
export function commandRun(overrides: Partial<InvariantInput> = {}): InvariantInput {
  const goods = [commandInput(1), commandInput(2), commandInput(3, 100, 'large/big-0.geojson')];
  const broken: ExpectedInput = {
    caseId: 'broken-notes', messageId: 'm-broken', key: 'broken/notes.geojson', etag: 'e-broken', expected: 'dlq', reason: 'command-failed',
    detailIncludes: ['exited with code 65', 'not valid JSON'],
  };
  const deleted: ExpectedInput = { caseId: 'deleted-before-processing', messageId: 'm-gone', key: 'matrix/deleted.geojson', etag: 'e-gone', expected: 'skipped' };
  const outputs = goods.flatMap(commandOutputsFor);
  return {
    inputs: [...goods, broken, deleted],
    outputs,
    deadLetters: [{ messageId: 'm-broken', keys: ['broken/notes.geojson'], reasons: ['command-failed'] }],
    logLines: [
      ...goods.map((g) => logLine('processed', { key: g.key })),
      logLine('failed', {
        messageId: 'm-broken', key: 'broken/notes.geojson', kind: 'permanent', reason: 'command-failed', outcome: 'dead-lettered',
        detail: 'COMMAND exited with code 65 after 0.3 s: permanent; last lines of stderr:\ngeojson-stats: not valid JSON: syntax error at line 1, column 1',
      }),
      logLine('skipped', { key: 'matrix/deleted.geojson', reason: 'source missing' }),
    ],
    outputRules: { job: 'command', destPrefix: '', sourcePrefix: '', files: ['stats.json'] },
    distinctWritesByKey: Object.fromEntries(outputs.map((o) => [o.key, 1])),
    currentSourceEtags: Object.fromEntries([...goods, broken].map((input) => [input.key!, input.etag!])),
    sigterms: [],
    shutdownGraceSeconds: 3,
    leftovers: { workDirs: [], programs: [] },
    ...overrides,
  };
}
