import type { ExpectedRun, FanoutInvariantInput, PipelineLogLine, RunFindings, SummaryCell, WriteEvent } from '../src/fanout-invariants';
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

/**
 * A finished fan-out run where every invariant holds: two families, one run of five files in three batches (one broken
 * WAV), dispatched by one delivery, every batch settled once, aggregated once after the last settlement; a bad
 * manifest in the fan-out's DLQ with its reason.
 */
export function finishedFanoutRun(overrides: Partial<FanoutInvariantInput> = {}): FanoutInvariantInput {
  const families = ['loudness', 'spectrum'];
  const keys = ['audio/a.wav', 'audio/b.wav', 'audio/broken/empty.wav', 'audio/c.wav', 'audio/d.wav'];
  const run: ExpectedRun = {
    name: 'a', runId: 'chaos-a', manifestKey: 'manifests/a.json', keys, ordered: true, batchCount: 3, batchSize: 2, redelivered: false,
    broken: { 'audio/broken/empty.wav': 'empty file (0 bytes)' },
    expectedSummaries: { 'audio/a.wav': { loudness: { seconds: 2 }, spectrum: { dominant_band: '1k' } } },
  };
  const prefix = 'runs/chaos-a/';
  const ledgerKey = (family: string, batch: number) => `${prefix}ledger/${family}/${String(batch).padStart(6, '0')}.json`;
  const writes: WriteEvent[] = [
    { at: 1000, key: `${prefix}run.json` },
    ...[0, 1, 2].map((batch) => ({ at: 1001 + batch, key: `${prefix}batches/${String(batch).padStart(6, '0')}.json` })),
    { at: 1010, key: `${prefix}dispatched.json` },
    ...families.flatMap((family, f) => [0, 1, 2].map((batch) => ({ at: 2000 + 10 * batch + f, key: ledgerKey(family, batch) }))),
    { at: 3000, key: `${prefix}aggregate.json` },
    { at: 3100, key: `${prefix}summary.csv` },
    { at: 3101, key: `${prefix}summary.json` },
    { at: 3102, key: `${prefix}report.json` },
  ];
  const cell = (family: string, key: string): SummaryCell => (key.includes('broken')
    ? { status: 'failed', reason: `geojson: exited with code 65: ${family}: empty file (0 bytes)` }
    : { status: 'done', summary: family === 'loudness' ? { seconds: 2 } : { dominant_band: '1k' } });
  const summaryRows = keys.map((key) => ({ key, families: Object.fromEntries(families.map((family) => [family, cell(family, key)])) }));
  const findings: Record<string, RunFindings> = {
    'chaos-a': {
      keys: writes.map((write) => write.key),
      ledger: Object.fromEntries(families.map((family, f) => [family, Object.fromEntries([0, 1, 2].map((batch) => [batch, { status: 'done', at: new Date(2000 + 10 * batch + f).toISOString() }]))])),
      summaryRows,
      csvKeys: keys,
      report: {
        runId: 'chaos-a', files: 5, aggregatedAt: new Date(3050).toISOString(), failedBatches: [],
        families: Object.fromEntries(families.map((family) => [family, { batches: 3, batchesDone: 3, batchesFailed: 0, filesDone: 4, filesFailed: 1 }])),
      },
    },
    'chaos-bad': { keys: [], ledger: {} },
  };
  const fanout = (message: string, fields: Record<string, unknown>): PipelineLogLine => ({ ...logLine(message, fields), pipeline: 'fanout' });
  return {
    families,
    fanoutPipeline: 'fanout',
    aggregatorPipeline: 'summary',
    root: 'runs/',
    runs: [run],
    badManifests: [{ name: 'reserved setting', manifestKey: 'manifests/bad.json', messageId: 'm-bad', runIds: ['chaos-bad'], fieldIncludes: ['"settings"', 'LD_PRELOAD'] }],
    findings,
    writes,
    sentToFamilies: Object.fromEntries(families.map((family) => [family, [0, 1, 2].map((batch) => batchMessage('chaos-a', family, batch))])),
    left: [],
    deadLetters: [{
      queue: 'fanout', messageId: 'm-bad', body: '{"Records":[]}', receiveCount: 1, reasons: ['invalid-manifest'],
      details: ['manifest s3://source/manifests/bad.json: "settings" name LD_PRELOAD is reserved'],
    }],
    logLines: [
      fanout('dispatched', { runId: 'chaos-a', batches: 3 }),
      fanout('failed', { key: 'manifests/bad.json', reason: 'invalid-manifest', detail: 'manifest s3://source/manifests/bad.json: "settings" name LD_PRELOAD is reserved' }),
      { ...logLine('aggregated', { runId: 'chaos-a' }), pipeline: 'summary' },
    ],
    interruptedDispatches: [],
    memory: [{ worker: 'loudness-1-1', limitBytes: 4096, peakBytes: 70, oomKills: 0 }],
    frontRefusals: [],
    ...overrides,
  };
}

/** A batch message's body, as the fan-out sends it. */
export function batchMessage(runId: string, family: string, batch: number): string {
  return JSON.stringify({ kind: 'fanout-batch', v: 1, bucket: 'destination', root: 'runs/', runId, family, batch });
}
