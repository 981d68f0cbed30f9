import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../app/src/config';
import { resizeJobModule } from '../../../app/jobs/resize';
import { ResizeJob } from '../../../app/jobs/resize/resize-job';
import { planSettlement } from '../../../app/src/worker/settlement';
import { OUTPUT_METADATA } from '../../../shared/naming/output-metadata';
import { runMatrixCase } from './run-matrix-case';
import {
  BAD_INPUT_MATRIX, CJK_KEY, MATRIX_MAX_INPUT_BYTES, MATRIX_SOURCE_BUCKET, matrixCases, matrixTable, OVERLONG_KEY, SLOW_RENDER_SETTINGS, type MatrixCase,
} from '../src/bad-input-matrix';

/**
 * Each case's written-down outcome checked against the worker's own message handler in process, so a wrong
 * expectation shows up here in seconds rather than as a failed invariant after a chaos run.
 */
const env = {
  QUEUE_URL: '/tmp/unused.db', DEST_BUCKET: 'destination', SIZES: '32x32,48x40', MAX_INPUT_BYTES: String(MATRIX_MAX_INPUT_BYTES),
  ALLOWED_SOURCE_BUCKETS: MATRIX_SOURCE_BUCKET,
};
const config = { ...loadConfig(env, 2), ...resizeJobModule.readSettings(env, { cpuCount: 2, memoryLimitBytes: 4 * 1024 ** 3 }) };
const slowEnv = { ...env, ...SLOW_RENDER_SETTINGS };
const slowConfig = { ...loadConfig(slowEnv, 2), ...resizeJobModule.readSettings(slowEnv, { cpuCount: 2, memoryLimitBytes: 4 * 1024 ** 3 }) };

function runCase(matrixCase: MatrixCase, caseConfig = config) {
  return runMatrixCase(matrixCase, { job: new ResizeJob(caseConfig.resize), config: caseConfig });
}

describe('the bad-input matrix', () => {
  it('covers every input the issue lists, each with a unique id', () => {
    const ids = BAD_INPUT_MATRIX.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining([
      'corrupt-jpeg', 'truncated-png', 'zero-byte', 'text-as-jpg', 'pixel-bomb', 'over-max-input-bytes', 'animated-gif', 'cmyk-jpeg',
      'png-16-bit', 'exif-rotated', 'grayscale', 'alpha-png', 'unsupported-format', 'key-spaces', 'key-plus', 'key-percent',
      'key-unicode', 'key-deep', 'deleted-before-processing', 'malformed-json', 'non-s3-json', 's3-test-event', 'sns-wrapped',
      'several-records', 'several-records-one-bad', 'overwrite-race-queued', 'overwrite-race-live', 'output-key-too-long', 'key-cjk-900-bytes',
      'decode-heavy-png16', 'decode-heavy-progressive-jpeg', 'svg-as-jpg', 'render-timeout', 'sigterm-during-render',
    ]));
    for (const c of BAD_INPUT_MATRIX) expect(c.expected === 'dlq').toBe(c.reason !== undefined);
  });

  it('builds the pixel bomb tiny and the oversized file just over the limit', async () => {
    const bomb = await BAD_INPUT_MATRIX.find((c) => c.id === 'pixel-bomb')!.objects[0].bytes();
    const big = await BAD_INPUT_MATRIX.find((c) => c.id === 'over-max-input-bytes')!.objects[0].bytes();
    expect(bomb.length).toBeLessThan(2_000);
    expect(big.length).toBeGreaterThan(MATRIX_MAX_INPUT_BYTES);
    expect(big.length).toBeLessThan(MATRIX_MAX_INPUT_BYTES * 1.5);
  });

  it('builds keys at S3\'s limits: a legal source key whose output key is one byte too many, and a 920-byte CJK key', () => {
    expect(Buffer.byteLength(OVERLONG_KEY)).toBe(1020);
    expect(Buffer.byteLength(`32x32/${OVERLONG_KEY}`)).toBeGreaterThan(1024);
    expect(Buffer.byteLength(CJK_KEY)).toBe(920);
    expect([...CJK_KEY].filter((ch) => ch === '漢').length).toBeGreaterThanOrEqual(295);
    expect(encodeURIComponent(CJK_KEY).length).toBeGreaterThan(2048);
    // s3rver keeps each segment as a file name (255 bytes with its own suffix).
    for (const key of [OVERLONG_KEY, CJK_KEY]) for (const segment of key.split('/')) expect(Buffer.byteLength(segment)).toBeLessThanOrEqual(202);
  });

  it.each(matrixCases('main').map((c) => [c.id, c] as const))('%s has the outcome written down for it', async (_id, matrixCase) => {
    const { failures, outputs, log, uploaded, store } = await runCase(matrixCase);
    const ownOutcomes = matrixCase.objects.filter((object) => object.expected !== undefined);
    if (ownOutcomes.length > 0) {
      // Records with their own outcome fail alone; the others are processed.
      expect(failures).toEqual(ownOutcomes.map((object) => expect.objectContaining({ kind: 'permanent', key: object.key, reason: object.reason })));
      const good = uploaded.filter((object) => !ownOutcomes.some((own) => own.key === object.key));
      expect(outputs).toHaveLength(good.length * 2);
      expect(log.messages('processed').map((fields) => fields.key).sort()).toEqual(good.map((object) => object.key).sort());
    } else if (matrixCase.expected === 'dlq') {
      expect(failures).toEqual([expect.objectContaining({ kind: 'permanent', reason: matrixCase.reason })]);
      expect(outputs).toEqual([]);
    } else if (matrixCase.expected === 'skipped') {
      expect(failures).toEqual([]);
      expect(outputs).toEqual([]);
      expect(log.messages('skipped')).toHaveLength(1);
    } else {
      expect(failures).toEqual([]);
      expect(outputs).toHaveLength(uploaded.length * 2);
      expect([...new Set(log.messages('processed').map((fields) => fields.key))].sort()).toEqual(uploaded.map((object) => object.key).sort());
      // Every output names its source's current version, in whichever metadata form fits.
      for (const key of outputs) {
        const metadata = store.object('destination', key)!.metadata;
        expect(metadata[OUTPUT_METADATA.sourceEtag]).toBe(uploaded.find((object) => key.endsWith(object.key.replace(/\.[^.]+$/, '.jpg')))?.etag);
      }
      if (matrixCase.id === 'key-cjk-900-bytes') {
        for (const key of outputs) expect(Object.keys(store.object('destination', key)!.metadata)).toContain(OUTPUT_METADATA.sourceKeyBase64);
      }
    }
  });

  it('slow-render cases: the image outlives RENDER_TIMEOUT_SECONDS=2, worth one more attempt, then dead-lettered', async () => {
    // The other slow-render case is the same image; what differs (a SIGTERM mid-render) only the chaos run can do.
    const [slowCase, ...sameImage] = matrixCases('slow-render');
    expect(sameImage.map((c) => c.id)).toEqual(['sigterm-during-render']);
    await slowCase.objects[0].bytes();
    const started = Date.now();
    const { failures, outputs } = await runCase(slowCase, slowConfig);
    const tookMs = Date.now() - started;
    expect(failures).toEqual([expect.objectContaining({ kind: 'transient', reason: 'render-timeout', attemptsAllowed: 2 })]);
    expect(outputs).toEqual([]);
    expect(planSettlement({ receiveCount: 2, carriedAttempts: 0, maxReceiveCount: 3, recordCount: 1, failures })).toMatchObject({
      action: 'reroute', deadLetter: [expect.objectContaining({ reason: 'render-timeout' })], retry: [],
    });
    // Stopped near the timeout, not after the whole decode (the image alone takes seconds more).
    expect(tookMs).toBeLessThan(2_000 + 1_500);
  }, 60_000);

  it('is the table README-chaos.md shows', () => {
    const readme = readFileSync(join(__dirname, '..', 'README-chaos.md'), 'utf8');
    expect(readme).toContain(matrixTable());
  });
});
