import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../app/src/config';
import { buildS3Event } from '../../../app/src/events/s3-event-shape';
import { MemoryLog } from '../../../app/src/log/logger';
import { WorkerStats } from '../../../app/src/metrics/worker-stats';
import { ResizeProcessor } from '../../../app/src/processors/resize-processor';
import { handleMessage } from '../../../app/src/worker/handle-message';
import { MemoryStore } from '../../../app/test/fakes/memory-store';
import { BAD_INPUT_MATRIX, MATRIX_MAX_INPUT_BYTES, MATRIX_SOURCE_BUCKET, matrixTable, type MatrixCase } from '../src/bad-input-matrix';

/**
 * Each case's written-down outcome checked against the worker's own message handler in process, so a wrong
 * expectation shows up here in seconds rather than as a failed invariant after a chaos run.
 */
const config = loadConfig({
  QUEUE_URL: '/tmp/unused.db', DEST_BUCKET: 'destination', SIZES: '32x32,48x40', MAX_INPUT_BYTES: String(MATRIX_MAX_INPUT_BYTES),
  ALLOWED_SOURCE_BUCKETS: MATRIX_SOURCE_BUCKET,
}, 2);

async function runCase(matrixCase: MatrixCase) {
  const store = new MemoryStore();
  const uploaded = [];
  for (const object of matrixCase.objects) {
    const bytes = await object.bytes();
    uploaded.push({ key: object.key, etag: store.add(MATRIX_SOURCE_BUCKET, object.key, bytes), size: bytes.length });
  }
  const delivery = matrixCase.delivery;
  const body = delivery.kind === 'raw-body' ? delivery.body(uploaded) : buildS3Event(uploaded.map((object) => ({ bucket: MATRIX_SOURCE_BUCKET, ...object })));
  if (delivery.kind === 'deleted-before-processing') for (const object of uploaded) store.objects.delete(`${MATRIX_SOURCE_BUCKET}/${object.key}`);
  const log = new MemoryLog();
  const outcome = await handleMessage(
    { messageId: 'm-1', receiptHandle: 'r-1', body, receiveCount: 1, attributes: {} },
    { store, processor: new ResizeProcessor(config.resize), config, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined }, log, stats: new WorkerStats() },
  );
  return { outcome, outputs: store.keys('destination'), log, uploaded };
}

describe('the bad-input matrix', () => {
  it('covers every input the issue lists, each with a unique id', () => {
    const ids = BAD_INPUT_MATRIX.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining([
      'corrupt-jpeg', 'truncated-png', 'zero-byte', 'text-as-jpg', 'pixel-bomb', 'over-max-input-bytes', 'animated-gif', 'cmyk-jpeg',
      'png-16-bit', 'exif-rotated', 'grayscale', 'alpha-png', 'unsupported-format', 'key-spaces', 'key-plus', 'key-percent',
      'key-unicode', 'key-deep', 'deleted-before-processing', 'malformed-json', 'non-s3-json', 's3-test-event', 'sns-wrapped',
      'several-records',
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

  it.each(BAD_INPUT_MATRIX.map((c) => [c.id, c] as const))('%s has the outcome written down for it', async (_id, matrixCase) => {
    const { outcome, outputs, log, uploaded } = await runCase(matrixCase);
    if (matrixCase.expected === 'dlq') {
      expect(outcome.failures).toEqual([expect.objectContaining({ kind: 'permanent', reason: matrixCase.reason })]);
      expect(outputs).toEqual([]);
    } else if (matrixCase.expected === 'skipped') {
      expect(outcome.failures).toEqual([]);
      expect(outputs).toEqual([]);
      expect(log.messages('skipped')).toHaveLength(1);
    } else {
      expect(outcome.failures).toEqual([]);
      expect(outputs).toHaveLength(uploaded.length * 2);
      expect(log.messages('processed').map((fields) => fields.key).sort()).toEqual(uploaded.map((object) => object.key).sort());
    }
  });

  it('is the table README-chaos.md shows', () => {
    const readme = readFileSync(join(__dirname, '..', 'README-chaos.md'), 'utf8');
    expect(readme).toContain(matrixTable());
  });
});
