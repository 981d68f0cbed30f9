import { workerThreadpoolSize } from '../../src/runtime/threadpool-size';

const env = { QUEUE_URL: '/tmp/queue.db', DEST_BUCKET: 'dest' };

describe('workerThreadpoolSize', () => {
  it('gives one pool thread per size of every message in flight, and four more', () => {
    expect(workerThreadpoolSize({ ...env, CONCURRENCY: '4', SIZES: '224x224,299x299' })).toBe('12');
    expect(workerThreadpoolSize({ ...env, CONCURRENCY: '256', SIZES: '1x1,2x2,3x3,4x4,5x5' })).toBe('1024');
  });

  it('leaves an invalid configuration to the worker, which reports it', () => {
    expect(workerThreadpoolSize({ DEST_BUCKET: 'dest' })).toBeUndefined();
  });
});
