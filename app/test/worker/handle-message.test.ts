import { PermanentError } from '../../../shared/errors';
import { buildS3Event } from '../../../shared/events/s3-event-shape';
import { MemoryLog } from '../../../shared/log/logger';
import { WorkerStats } from '../../src/metrics/worker-stats';
import type { BytesOutput, JobSource, ObjectInput, ObjectJob } from '../../src/job/object-job';
import type { ReceivedMessage } from '../../../shared/ports/queue';
import { handleMessage, type MessageHandlerConfig } from '../../src/worker/handle-message';
import { sourceKeyOf } from '../../../shared/naming/output-metadata';
import { userMetadataBytes } from '../../../shared/naming/s3-limits';
import { MemoryStore } from '../fakes/memory-store';

const SIZES = ['224x224', '299x299'];
const named = (size: string, relativeKey: string) => `${size}/${relativeKey.replace(/\.[^./]+$/, '')}.jpg`;

class NotAnImageError extends PermanentError {
  override readonly name = 'NotAnImageError';
  readonly reason = 'unsupported-format';
}

/** Upper-cases the input once per size: enough to check what went where without decoding images. */
class EchoJob implements ObjectJob {
  readonly name = 'echo';
  readonly consumes = 'bytes' as const;
  readonly inputs: ObjectInput[] = [];
  plannedOutputs(source: Pick<JobSource, 'relativeKey'>) {
    return SIZES.map((size) => ({ name: named(size, source.relativeKey) }));
  }
  describe() {
    return {};
  }
  async process(input: ObjectInput): Promise<BytesOutput[]> {
    if (input.kind !== 'bytes') throw new TypeError('bytes only');
    this.inputs.push(input);
    const text = input.bytes.toString();
    if (text === 'not an image') throw new NotAnImageError('input is not a supported image format');
    return SIZES.map((size) => ({ name: named(size, input.source.relativeKey), contentType: 'image/jpeg', body: Buffer.from(`${size}:${text.toUpperCase()}`) }));
  }
}

const config: MessageHandlerConfig = { destBucket: 'dest', destPrefix: 'out/', sourcePrefix: 'in/', maxInputBytes: 1000, maxReceiveCount: 5 };

function setup(overrides: Partial<MessageHandlerConfig> = {}) {
  const store = new MemoryStore();
  const processor = new EchoJob();
  const log = new MemoryLog();
  const stats = new WorkerStats();
  const deps = {
    store, job: processor, log, stats,
    config: { ...config, ...overrides },
    retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined },
  };
  const handle = (body: string, receiveCount = 1) => handleMessage(message(body, receiveCount), deps);
  return { store, processor, log, stats, handle };
}

let ids = 0;
function message(body: string, receiveCount: number, attributes: Record<string, string> = {}): ReceivedMessage {
  return { messageId: `m${++ids}`, receiptHandle: `r${ids}`, body, receiveCount, attributes };
}

const event = (store: MemoryStore, ...keys: string[]) =>
  buildS3Event(keys.map((key) => ({ bucket: 'src', key, size: store.object('src', key)?.size ?? 0, etag: store.object('src', key)?.etag ?? 'none' })));

const allDone = { failures: [] };

describe('handleMessage', () => {
  it('writes every output under DEST_PREFIX/<size>/ with the source folders kept and the source in metadata', async () => {
    const { store, handle, log } = setup();
    const etag = store.add('src', 'in/a b/ü+x.png', 'pixels');
    await expect(handle(event(store, 'in/a b/ü+x.png'))).resolves.toMatchObject(allDone);
    expect(store.keys('dest')).toEqual(['out/224x224/a b/ü+x.jpg', 'out/299x299/a b/ü+x.jpg']);
    expect(store.object('dest', 'out/224x224/a b/ü+x.jpg')?.body.toString()).toBe('224x224:PIXELS');
    expect(store.object('dest', 'out/299x299/a b/ü+x.jpg')?.metadata).toEqual({
      'source-bucket': 'src',
      'source-key': encodeURIComponent('in/a b/ü+x.png'),
      'source-etag': etag,
    });
    expect(log.messages('processed')[0]).toMatchObject({ key: 'in/a b/ü+x.png', outputs: 2, bytesIn: 6 });
  });

  it('processes every record of a multi-record message', async () => {
    const { store, handle, stats } = setup();
    store.add('src', 'in/1.jpg', 'one');
    store.add('src', 'in/2.jpg', 'two');
    await expect(handle(event(store, 'in/1.jpg', 'in/2.jpg'))).resolves.toMatchObject({ recordCount: 2, failures: [] });
    expect(store.keys('dest')).toHaveLength(4);
    expect(stats.totals().processed).toBe(2);
  });

  it('acknowledges an s3:TestEvent without work', async () => {
    const { handle, store, log } = setup();
    await expect(handle(JSON.stringify({ Event: 's3:TestEvent', Bucket: 'src' }))).resolves.toMatchObject({ recordCount: 0, failures: [] });
    expect(store.calls.get).toBe(0);
    expect(log.messages('skipped')[0]).toMatchObject({ reason: 's3-test-event' });
  });

  it('fails a malformed body as one permanent failure whose body is the original', async () => {
    const { handle } = setup();
    const outcome = await handle('{"not":"s3"}');
    expect(outcome).toMatchObject({ recordCount: 1, failures: [{ index: 0, kind: 'permanent', reason: 'malformed-message' }] });
    expect(outcome.bodyFor([0])).toBe('{"not":"s3"}');
  });

  it('fails input the processor rejects as permanent, naming the key and reason', async () => {
    const { store, handle } = setup();
    store.add('src', 'in/text.jpg', 'not an image');
    await expect(handle(event(store, 'in/text.jpg'))).resolves.toMatchObject({
      failures: [{ kind: 'permanent', reason: 'unsupported-format', key: 'in/text.jpg' }],
    });
    expect(store.keys('dest')).toEqual([]);
  });

  it('refuses a source over MAX_INPUT_BYTES as permanent', async () => {
    const { store, handle } = setup({ maxInputBytes: 3 });
    store.add('src', 'in/big.jpg', 'too big');
    await expect(handle(event(store, 'in/big.jpg'))).resolves.toMatchObject({ failures: [{ kind: 'permanent', reason: 'input-too-large' }] });
  });

  it('skips a source deleted before it was processed, and still processes the other records', async () => {
    const { store, handle, log, stats } = setup();
    store.add('src', 'in/kept.jpg', 'kept');
    const body = buildS3Event([
      { bucket: 'src', key: 'in/gone.jpg', size: 4, etag: 'x' },
      { bucket: 'src', key: 'in/kept.jpg', size: 4, etag: store.object('src', 'in/kept.jpg')!.etag },
    ]);
    await expect(handle(body)).resolves.toMatchObject(allDone);
    expect(log.messages('skipped')[0]).toMatchObject({ key: 'in/gone.jpg', reason: 'source missing' });
    expect(store.keys('dest')).toHaveLength(2);
    expect(stats.totals()).toMatchObject({ processed: 1, skipped: 1 });
  });

  it('skips S3 console folder markers', async () => {
    const { store, handle } = setup();
    await expect(handle(buildS3Event([{ bucket: 'src', key: 'in/folder/', size: 0, etag: 'd41d8cd98f00b204e9800998ecf8427e' }]))).resolves.toMatchObject(allDone);
    expect(store.calls.get).toBe(0);
  });

  it('retries transient store failures in process before giving up, then releases as transient', async () => {
    const { store, handle } = setup();
    store.add('src', 'in/a.jpg', 'a');
    const slowDown = Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    store.failNext.put.push(slowDown);
    await expect(handle(event(store, 'in/a.jpg'))).resolves.toMatchObject(allDone);
    store.failNext.get.push(slowDown, slowDown, slowDown);
    await expect(handle(event(store, 'in/a.jpg'))).resolves.toMatchObject({ failures: [{ kind: 'transient', reason: 'throttled' }] });
  });

  it('acknowledges a redelivery whose outputs already exist for the same ETag without reprocessing', async () => {
    const { store, handle, processor, log } = setup();
    store.add('src', 'in/a.jpg', 'a');
    const body = event(store, 'in/a.jpg');
    await handle(body);
    const getsAfterFirst = store.calls.get;
    await expect(handle(body, 2)).resolves.toMatchObject(allDone);
    expect(processor.inputs).toHaveLength(1);
    expect(store.calls.get).toBe(getsAfterFirst);
    expect(log.messages('skipped')[0]).toMatchObject({ reason: 'outputs already exist for this ETag' });
  });

  it('reprocesses a redelivery when the source changed since the outputs were written', async () => {
    const { store, handle, processor } = setup();
    store.add('src', 'in/a.jpg', 'old');
    await handle(event(store, 'in/a.jpg'));
    store.add('src', 'in/a.jpg', 'new');
    await handle(event(store, 'in/a.jpg'), 2);
    expect(processor.inputs).toHaveLength(2);
    expect(store.object('dest', 'out/224x224/a.jpg')?.body.toString()).toBe('224x224:NEW');
  });

  it('does not take an old version\'s outputs for done work when the source has moved on', async () => {
    const { store, handle, processor } = setup();
    store.add('src', 'in/a.jpg', 'v1');
    const eventV1 = event(store, 'in/a.jpg');
    // v1's outputs were written by a task given up before its read-back; v2 was uploaded meanwhile.
    await handle(eventV1);
    store.add('src', 'in/a.jpg', 'v2');
    await handle(eventV1, 2);
    expect(processor.inputs).toHaveLength(2);
    expect(store.object('dest', 'out/224x224/a.jpg')?.body.toString()).toBe('224x224:V2');
  });

  it('spends no HEAD on the outputs of a first delivery, only the one that reads the source back', async () => {
    const { store, handle } = setup();
    store.add('src', 'in/a.jpg', 'a');
    await handle(event(store, 'in/a.jpg'));
    expect(store.calls).toEqual({ get: 1, head: 1, put: 2, download: 0, upload: 0, createIfAbsent: 0, list: 0, readRange: 0, openRead: 0, uploadStream: 0 });
  });

  it('fails a bad record alone: the records after it are still processed', async () => {
    const { store, handle } = setup();
    store.add('src', 'in/1.jpg', 'one');
    store.add('src', 'in/bad.jpg', 'not an image');
    store.add('src', 'in/3.jpg', 'three');
    const outcome = await handle(event(store, 'in/1.jpg', 'in/bad.jpg', 'in/3.jpg'));
    expect(outcome).toMatchObject({ recordCount: 3, failures: [{ index: 1, key: 'in/bad.jpg', reason: 'unsupported-format' }] });
    expect(store.keys('dest')).toEqual(['out/224x224/1.jpg', 'out/224x224/3.jpg', 'out/299x299/1.jpg', 'out/299x299/3.jpg']);
    // The failed record's own body names only it.
    expect(JSON.parse(outcome.bodyFor([1])).Records.map((r: { s3: { object: { key: string } } }) => r.s3.object.key)).toEqual(['in/bad.jpg']);
  });

  it('fails a malformed record alone, with the other records processed', async () => {
    const { store, handle } = setup();
    store.add('src', 'in/1.jpg', 'one');
    const body = JSON.parse(event(store, 'in/1.jpg'));
    body.Records.unshift({ ...body.Records[0], eventName: 'ObjectRemoved:Delete' });
    const outcome = await handle(JSON.stringify(body));
    expect(outcome).toMatchObject({ recordCount: 2, failures: [{ index: 0, kind: 'permanent', reason: 'malformed-message' }] });
    expect(store.keys('dest')).toHaveLength(2);
  });

  it('processes a record named twice in one message once', async () => {
    const { store, handle, processor } = setup();
    store.add('src', 'in/1.jpg', 'one');
    await expect(handle(event(store, 'in/1.jpg', 'in/1.jpg'))).resolves.toMatchObject({ recordCount: 1, failures: [] });
    expect(processor.inputs).toHaveLength(1);
  });

  it('checks the outputs of a re-queued part (it carries attempts) before redoing it', async () => {
    const { store, processor, log, stats } = setup();
    store.add('src', 'in/a.jpg', 'a');
    const deps = { store, job: processor, log, stats, config, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined } };
    await handleMessage(message(event(store, 'in/a.jpg'), 1), deps);
    await handleMessage(message(event(store, 'in/a.jpg'), 1, { attempts: '2' }), deps);
    expect(processor.inputs).toHaveLength(1);
  });

  it('refuses before any work a source whose output key would pass S3\'s 1024-byte limit', async () => {
    const { store, handle } = setup({ destPrefix: 'a-long-destination-prefix/' });
    const key = `in/${'k'.repeat(1000)}.jpg`;
    store.add('src', key, 'pixels');
    await expect(handle(event(store, key))).resolves.toMatchObject({
      failures: [{ kind: 'permanent', reason: 'output-key-too-long', detail: expect.stringMatching(/1024 bytes/) }],
    });
    expect(store.calls).toEqual({ get: 0, head: 0, put: 0, download: 0, upload: 0, createIfAbsent: 0, list: 0, readRange: 0, openRead: 0, uploadStream: 0 });
  });

  it('processes a legal key whose URL-encoded form would not fit S3\'s 2 KB of metadata', async () => {
    const { store, handle } = setup({ destPrefix: '' });
    // 337 three-byte characters: a 1015-byte key, 3,045 bytes URL-encoded.
    const key = `in/${'日'.repeat(337)}.jpg`;
    store.add('src', key, 'pixels');
    await expect(handle(event(store, key))).resolves.toMatchObject(allDone);
    const metadata = store.object('dest', `224x224/${'日'.repeat(337)}.jpg`)!.metadata;
    expect(sourceKeyOf(metadata)).toBe(key);
    expect(userMetadataBytes(metadata)).toBeLessThanOrEqual(2048);
  });

  it('when the source is overwritten while an older version is processed, the outputs end up showing the newer one', async () => {
    const { store, handle } = setup();
    store.add('src', 'in/a.jpg', 'version a');
    const eventA = event(store, 'in/a.jpg');
    // Version A's worker is slow to write; meanwhile B is uploaded and its message is processed to the end.
    let releaseA: () => void = () => undefined;
    const slowPut = store.put.bind(store);
    let holdNext = true;
    store.put = async (...args) => {
      if (holdNext) {
        holdNext = false;
        await new Promise<void>((resolve) => { releaseA = resolve; });
      }
      return slowPut(...args);
    };
    const handlingA = handle(eventA);
    await new Promise((resolve) => setImmediate(resolve));
    store.add('src', 'in/a.jpg', 'version b');
    await expect(handle(event(store, 'in/a.jpg'))).resolves.toMatchObject(allDone);
    expect(store.object('dest', 'out/224x224/a.jpg')?.body.toString()).toBe('224x224:VERSION B');
    releaseA();
    await expect(handlingA).resolves.toMatchObject(allDone);
    const newest = store.object('src', 'in/a.jpg')!.etag;
    for (const size of ['224x224', '299x299']) {
      expect(store.object('dest', `out/${size}/a.jpg`)?.body.toString()).toBe(`${size}:VERSION B`);
      expect(store.object('dest', `out/${size}/a.jpg`)?.metadata['source-etag']).toBe(newest);
    }
  });

  it('marks every record not yet attempted as failed when the message is given up', async () => {
    const { store, processor, log, stats } = setup();
    store.add('src', 'in/1.jpg', 'one');
    store.add('src', 'in/2.jpg', 'two');
    const controller = new AbortController();
    processor.process = async (input) => {
      controller.abort(new Error('deadline'));
      return SIZES.map((size) => ({ name: named(size, input.source.relativeKey), contentType: 'image/jpeg', body: input.kind === 'bytes' ? input.bytes : Buffer.alloc(0) }));
    };
    const deps = { store, job: processor, log, stats, config, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined } };
    const outcome = await handleMessage(message(event(store, 'in/1.jpg', 'in/2.jpg'), 1), deps, { signal: controller.signal });
    expect(outcome.failures.map((failure) => failure.index)).toEqual([0, 1]);
  });
});
