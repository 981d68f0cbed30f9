import { InvalidImageError } from '../../src/errors';
import { buildS3Event } from '../../src/events/s3-event-shape';
import { MemoryLog } from '../../src/log/logger';
import { WorkerStats } from '../../src/metrics/worker-stats';
import type { OutputSpec, Processor, ProcessorInput, ProcessorOutput } from '../../src/ports/processor';
import type { ReceivedMessage } from '../../src/ports/queue';
import { handleMessage, type MessageHandlerConfig } from '../../src/worker/handle-message';
import { MemoryStore } from '../fakes/memory-store';

const SPECS: OutputSpec[] = [
  { name: '224x224', extension: '.jpg', contentType: 'image/jpeg' },
  { name: '299x299', extension: '.jpg', contentType: 'image/jpeg' },
];

/** Upper-cases the input once per size: enough to check what went where without decoding images. */
class EchoProcessor implements Processor {
  readonly name = 'echo';
  readonly inputs: ProcessorInput[] = [];
  plannedOutputs() {
    return SPECS;
  }
  async process(input: ProcessorInput): Promise<ProcessorOutput[]> {
    this.inputs.push(input);
    const text = input.bytes.toString();
    if (text === 'not an image') throw new InvalidImageError('unsupported-format', 'input is not a supported image format');
    return SPECS.map((spec) => ({ ...spec, body: Buffer.from(`${spec.name}:${text.toUpperCase()}`) }));
  }
}

const config: MessageHandlerConfig = { destBucket: 'dest', destPrefix: 'out/', sourcePrefix: 'in/', maxInputBytes: 1000 };

function setup(overrides: Partial<MessageHandlerConfig> = {}) {
  const store = new MemoryStore();
  const processor = new EchoProcessor();
  const log = new MemoryLog();
  const stats = new WorkerStats();
  const deps = {
    store, processor, log, stats,
    config: { ...config, ...overrides },
    retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined },
  };
  const handle = (body: string, receiveCount = 1) => handleMessage(message(body, receiveCount), deps);
  return { store, processor, log, stats, handle };
}

let ids = 0;
function message(body: string, receiveCount: number): ReceivedMessage {
  return { messageId: `m${++ids}`, receiptHandle: `r${ids}`, body, receiveCount };
}

const event = (store: MemoryStore, ...keys: string[]) =>
  buildS3Event(keys.map((key) => ({ bucket: 'src', key, size: store.object('src', key)?.size ?? 0, etag: store.object('src', key)?.etag ?? 'none' })));

describe('handleMessage', () => {
  it('writes every output under DEST_PREFIX/<size>/ with the source folders kept and the source in metadata', async () => {
    const { store, handle, log } = setup();
    const etag = store.add('src', 'in/a b/ü+x.png', 'pixels');
    await expect(handle(event(store, 'in/a b/ü+x.png'))).resolves.toEqual({ action: 'delete' });
    expect(store.keys('dest')).toEqual(['out/224x224/a b/ü+x.jpg', 'out/299x299/a b/ü+x.jpg']);
    expect(store.object('dest', 'out/224x224/a b/ü+x.jpg')?.body.toString()).toBe('224x224:PIXELS');
    expect(store.object('dest', 'out/299x299/a b/ü+x.jpg')?.metadata).toEqual({
      'source-bucket': 'src',
      'source-key': encodeURIComponent('in/a b/ü+x.png'),
      'source-etag': etag,
    });
    expect(log.messages('processed')[0]).toMatchObject({ key: 'in/a b/ü+x.png', sizes: ['224x224', '299x299'], bytesIn: 6 });
  });

  it('processes every record of a multi-record message', async () => {
    const { store, handle, stats } = setup();
    store.add('src', 'in/1.jpg', 'one');
    store.add('src', 'in/2.jpg', 'two');
    await expect(handle(event(store, 'in/1.jpg', 'in/2.jpg'))).resolves.toEqual({ action: 'delete' });
    expect(store.keys('dest')).toHaveLength(4);
    expect(stats.totals().processed).toBe(2);
  });

  it('acknowledges an s3:TestEvent without work', async () => {
    const { handle, store, log } = setup();
    await expect(handle(JSON.stringify({ Event: 's3:TestEvent', Bucket: 'src' }))).resolves.toEqual({ action: 'delete' });
    expect(store.calls.get).toBe(0);
    expect(log.messages('skipped')[0]).toMatchObject({ reason: 's3-test-event' });
  });

  it('releases a malformed body as a permanent failure so redrive moves it to the DLQ', async () => {
    const { handle } = setup();
    await expect(handle('{"not":"s3"}')).resolves.toMatchObject({ action: 'release', kind: 'permanent', reason: 'malformed-message' });
  });

  it('releases input the processor rejects as permanent, naming the key and reason', async () => {
    const { store, handle } = setup();
    store.add('src', 'in/text.jpg', 'not an image');
    await expect(handle(event(store, 'in/text.jpg'))).resolves.toMatchObject({
      action: 'release', kind: 'permanent', reason: 'unsupported-format', key: 'in/text.jpg',
    });
    expect(store.keys('dest')).toEqual([]);
  });

  it('refuses a source over MAX_INPUT_BYTES as permanent', async () => {
    const { store, handle } = setup({ maxInputBytes: 3 });
    store.add('src', 'in/big.jpg', 'too big');
    await expect(handle(event(store, 'in/big.jpg'))).resolves.toMatchObject({ action: 'release', kind: 'permanent', reason: 'input-too-large' });
  });

  it('skips a source deleted before it was processed, and still processes the other records', async () => {
    const { store, handle, log, stats } = setup();
    store.add('src', 'in/kept.jpg', 'kept');
    const body = buildS3Event([
      { bucket: 'src', key: 'in/gone.jpg', size: 4, etag: 'x' },
      { bucket: 'src', key: 'in/kept.jpg', size: 4, etag: store.object('src', 'in/kept.jpg')!.etag },
    ]);
    await expect(handle(body)).resolves.toEqual({ action: 'delete' });
    expect(log.messages('skipped')[0]).toMatchObject({ key: 'in/gone.jpg', reason: 'source missing' });
    expect(store.keys('dest')).toHaveLength(2);
    expect(stats.totals()).toMatchObject({ processed: 1, skipped: 1 });
  });

  it('skips S3 console folder markers', async () => {
    const { store, handle } = setup();
    await expect(handle(buildS3Event([{ bucket: 'src', key: 'in/folder/', size: 0, etag: 'd41d8cd98f00b204e9800998ecf8427e' }]))).resolves.toEqual({ action: 'delete' });
    expect(store.calls.get).toBe(0);
  });

  it('retries transient store failures in process before giving up, then releases as transient', async () => {
    const { store, handle } = setup();
    store.add('src', 'in/a.jpg', 'a');
    const slowDown = Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    store.failNext.put.push(slowDown);
    await expect(handle(event(store, 'in/a.jpg'))).resolves.toEqual({ action: 'delete' });
    store.failNext.get.push(slowDown, slowDown, slowDown);
    await expect(handle(event(store, 'in/a.jpg'))).resolves.toMatchObject({ action: 'release', kind: 'transient', reason: 'throttled' });
  });

  it('acknowledges a redelivery whose outputs already exist for the same ETag without reprocessing', async () => {
    const { store, handle, processor, log } = setup();
    store.add('src', 'in/a.jpg', 'a');
    const body = event(store, 'in/a.jpg');
    await handle(body);
    const getsAfterFirst = store.calls.get;
    await expect(handle(body, 2)).resolves.toEqual({ action: 'delete' });
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

  it('does not spend HEAD calls on first deliveries', async () => {
    const { store, handle } = setup();
    store.add('src', 'in/a.jpg', 'a');
    await handle(event(store, 'in/a.jpg'));
    expect(store.calls).toEqual({ get: 1, head: 0, put: 2 });
  });
});
