import { loadWorkerAndJob } from '../../../src/config';
import { batchJobModule } from '..';
import { readBatchSettings } from '../batch-settings';

const runtime = { cpuCount: 2, memoryLimitBytes: 4 * 1024 ** 3 };
const base = { RESULTS_TABLE: 'results' };

describe('batch settings', () => {
  it('defaults to batches of 100, one batch per vCPU, DynamoDB, chunks of 500 and the issue\'s timeouts', () => {
    expect(readBatchSettings(base, runtime)).toMatchObject({
      batchSize: 100, flushMs: 1000, maxConcurrentBatches: 2, downloadTimeoutMs: 3000, inferenceTimeoutMs: 5000, writeChunkSize: 500,
      resultStore: { kind: 'dynamodb', table: 'results' },
    });
  });

  it('names every bad variable at once', () => {
    expect(() => readBatchSettings({ BATCH_SIZE: '0', INFERENCE_TIMEOUT_MS: 'soon', RESULT_STORE: 'redis' }, runtime)).toThrow(
      /RESULT_STORE="redis" is invalid[\s\S]*BATCH_SIZE="0" is invalid[\s\S]*INFERENCE_TIMEOUT_MS="soon" is invalid/,
    );
    expect(() => readBatchSettings({}, runtime)).toThrow(/RESULTS_TABLE/);
  });

  it('refuses a MongoDB URI carrying a password, without echoing it', () => {
    let message = '';
    try {
      readBatchSettings({ RESULT_STORE: 'mongodb', MONGODB_URI: 'mongodb://scorer:hunter2@db.example:27017/', MONGODB_DATABASE: 'scores' }, runtime);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/MONGODB_PASSWORD_FILE/);
    expect(message).not.toContain('hunter2');
  });

  it('sizes the worker\'s slots as the buffer: BATCH_SIZE × (MAX_CONCURRENCY + 1), so a full buffer stops receives', () => {
    const env = { ...base, JOB: 'batch', QUEUE_URL: '/tmp/q.db', BATCH_SIZE: '50', MAX_CONCURRENCY: '3' };
    expect(loadWorkerAndJob(env, runtime).config.concurrency).toBe(200);
    expect(batchJobModule.defaultConcurrency(4, base)).toBe(500);
    expect(loadWorkerAndJob({ ...env, CONCURRENCY: '120' }, runtime).config.concurrency).toBe(120);
    // It writes nothing to S3, so it needs no DEST_BUCKET; a job that does still requires one.
    expect(() => loadWorkerAndJob({ ...env, JOB: 'resize' }, runtime)).toThrow(/DEST_BUCKET/);
  });
});
