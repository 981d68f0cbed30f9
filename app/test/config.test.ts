import { loadConfig } from '../src/config';
import { ConfigError } from '../../shared/errors';
import { detectCpuCount } from '../src/runtime/cpu-count';

const base = { QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs', DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs-dlq', DEST_BUCKET: 'dest' };

function problems(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env }, 2);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('needs DLQ_URL with an SQS queue (the worker dead-letters itself), not with a local queue file', () => {
    const { DLQ_URL: _dlq, ...withoutDlq } = base;
    expect(() => loadConfig(withoutDlq, 2)).toThrow(/DLQ_URL is missing/);
    expect(loadConfig({ QUEUE_URL: '/tmp/queue.db', DEST_BUCKET: 'dest' }, 2)).toMatchObject({ queueKind: 'local', deadLetterQueueUrl: '' });
  });

  it('applies the documented defaults, with the default job and its concurrency from the vCPUs', () => {
    const config = loadConfig(base, 2);
    expect(config).toMatchObject({
      queueKind: 'sqs', destPrefix: '', sourcePrefix: '', concurrency: 4, receiveBatchSize: 10, waitSeconds: 20, idlePolls: 2,
      visibilityTimeoutSeconds: 60, shutdownGraceSeconds: 100, maxInputBytes: 104857600, transientRetries: 3, logLevel: 'INFO',
      deadLetterQueueUrl: base.DLQ_URL, maxReceiveCount: 5, messageDeadlineSeconds: 300, outageWaitSeconds: 900, job: 'resize',
    });
    expect(config.allowedSourceBuckets).toBeUndefined();
  });

  it('reads every variable', () => {
    const config = loadConfig({
      ...base, DEST_PREFIX: '/resized', SOURCE_PREFIX: 'in/', ALLOWED_SOURCE_BUCKETS: 'a, b', CONCURRENCY: '7', RECEIVE_BATCH_SIZE: '5',
      WAIT_SECONDS: '3', IDLE_POLLS: '4', VISIBILITY_TIMEOUT_SECONDS: '90', SHUTDOWN_GRACE_SECONDS: '50', MAX_INPUT_BYTES: '1000',
      TRANSIENT_RETRIES: '1', THROUGHPUT_LOG_SECONDS: '10', METRICS_NAMESPACE: 'NS', LOG_LEVEL: 'debug', JOB: 'resize',
      MAX_RECEIVE_COUNT: '3', MESSAGE_DEADLINE_SECONDS: '60', OUTAGE_WAIT_SECONDS: '120',
    }, 2);
    expect(config).toMatchObject({
      destPrefix: 'resized/', sourcePrefix: 'in/', allowedSourceBuckets: ['a', 'b'], concurrency: 7, receiveBatchSize: 5, waitSeconds: 3,
      idlePolls: 4, visibilityTimeoutSeconds: 90, shutdownGraceSeconds: 50, maxInputBytes: 1000, transientRetries: 1, throughputLogSeconds: 10,
      metricsNamespace: 'NS', logLevel: 'DEBUG', maxReceiveCount: 3, messageDeadlineSeconds: 60, outageWaitSeconds: 120, job: 'resize',
    });
  });

  it('reads a fan-out family\'s settings, taking one batch message per receive unless told otherwise', () => {
    const family = { ...base, FANOUT_FAMILY: 'loudness', AGGREGATE_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/summary', RUNS_PREFIX: 'runs' };
    expect(loadConfig(family, 1)).toMatchObject({ receiveBatchSize: 1, family: { name: 'loudness', aggregateQueueUrl: family.AGGREGATE_QUEUE_URL, runsPrefix: 'runs/' } });
    expect(loadConfig({ ...family, RECEIVE_BATCH_SIZE: '4' }, 1).receiveBatchSize).toBe(4);
    expect(problems({ ...base, FANOUT_FAMILY: 'Loud Ness' })).toContain('FANOUT_FAMILY="Loud Ness" is invalid');
    expect(problems({ ...base, FANOUT_FAMILY: 'loudness' })).toContain('AGGREGATE_QUEUE_URL is missing');
  });

  it('chooses the local queue for a path or file: URL', () => {
    expect(loadConfig({ ...base, QUEUE_URL: '.local/queue.db' }, 1)).toMatchObject({ queueKind: 'local', queueUrl: '.local/queue.db' });
    expect(loadConfig({ ...base, QUEUE_URL: 'file:///tmp/q.db' }, 1)).toMatchObject({ queueKind: 'local', queueUrl: '/tmp/q.db' });
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({ ...base, ALLOWED_SOURCE_BUCKETS: 'a,b' }, 1);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.allowedSourceBuckets)).toBe(true);
  });

  it.each([
    [{ JOB: 'thumbnail' }, 'JOB="thumbnail" is invalid: expected one of resize, command'],
    [{ RECEIVE_BATCH_SIZE: '11' }, 'RECEIVE_BATCH_SIZE="11" is invalid: expected an integer from 1 to 10'],
    [{ WAIT_SECONDS: '21' }, 'WAIT_SECONDS="21" is invalid: expected an integer from 0 to 20'],
    [{ CONCURRENCY: 'two' }, 'CONCURRENCY="two" is invalid: expected an integer from 1 to 4096'],
    [{ SHUTDOWN_GRACE_SECONDS: '120' }, 'SHUTDOWN_GRACE_SECONDS="120" is invalid: expected an integer from 0 to 110'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL="loud" is invalid'],
    [{ MAX_INPUT_BYTES: '1.5' }, 'MAX_INPUT_BYTES="1.5" is invalid: expected an integer of at least 1'],
  ])('names the variable, the value and the expected form for %j', (env, message) => {
    expect(problems(env)).toContain(message);
  });

  it('reports every problem at once, missing variables included', () => {
    const message = problems({ QUEUE_URL: '', DEST_BUCKET: '', IDLE_POLLS: '0' });
    expect(message.split('\n')).toEqual([
      expect.stringMatching(/^QUEUE_URL is missing: expected an SQS queue URL/),
      expect.stringMatching(/^DEST_BUCKET is missing/),
      expect.stringMatching(/^IDLE_POLLS="0" is invalid/),
    ]);
  });
});

describe('detectCpuCount', () => {
  const files = (entries: Record<string, string>) => (path: string) => {
    if (path in entries) return entries[path]!;
    throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  };

  it('uses the cgroup v2 quota, rounded up', () => {
    expect(detectCpuCount(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }), 16)).toBe(2);
    expect(detectCpuCount(files({ '/sys/fs/cgroup/cpu.max': '400000 100000' }), 16)).toBe(4);
  });

  it('treats "max" as no quota and falls back to the host', () => {
    expect(detectCpuCount(files({ '/sys/fs/cgroup/cpu.max': 'max 100000' }), 8)).toBe(8);
  });

  it('reads cgroup v1 when v2 is absent', () => {
    expect(detectCpuCount(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '200000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }), 8)).toBe(2);
    expect(detectCpuCount(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }), 8)).toBe(8);
  });

  it('never exceeds the host and never goes below one', () => {
    expect(detectCpuCount(files({ '/sys/fs/cgroup/cpu.max': '1600000 100000' }), 2)).toBe(2);
    expect(detectCpuCount(files({ '/sys/fs/cgroup/cpu.max': '1000 100000' }), 2)).toBe(1);
    expect(detectCpuCount(files({}), 3)).toBe(3);
  });
});
