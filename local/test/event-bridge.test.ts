import { EventEmitter } from 'node:events';
import { objectsNamedIn } from '../../shared/events/parse-message';
import { connectEventBridge, queueBodyFor } from '../src/event-bridge';
import { s3rverEvent } from './factories';

const all = { bucket: 'source', prefix: '' };

describe('queueBodyFor', () => {
  it('encodes the raw s3rver key the way AWS does', () => {
    const body = queueBodyFor(s3rverEvent('ObjectCreated:Put', 'a b/ü+x.jpg'), all)!;
    expect(JSON.parse(body).Records[0].s3.object.key).toBe('a+b/%C3%BC%2Bx.jpg');
    expect(objectsNamedIn(body)).toEqual([expect.objectContaining({ bucket: 'source', key: 'a b/ü+x.jpg', etag: 'abc', size: 5 })]);
  });

  it('names a multipart completion as AWS does and keeps Put and Copy as they are', () => {
    const eventName = (name: string) => JSON.parse(queueBodyFor(s3rverEvent(name, 'big.jpg'), all)!).Records[0].eventName;
    expect(eventName('ObjectCreated:Post')).toBe('ObjectCreated:CompleteMultipartUpload');
    expect(eventName('ObjectCreated:Put')).toBe('ObjectCreated:Put');
    expect(eventName('ObjectCreated:Copy')).toBe('ObjectCreated:Copy');
  });

  it('turns a Copy record, which s3rver sends without an ETag, into a body the worker accepts', () => {
    const objects = objectsNamedIn(queueBodyFor(s3rverEvent('ObjectCreated:Copy', 'copied.jpg'), all)!);
    expect(objects).toEqual([expect.objectContaining({ key: 'copied.jpg' })]);
    expect(objects[0]!.etag).toBeUndefined();
  });

  it('sends nothing for removals, other buckets, keys outside the prefix or without a configured suffix', () => {
    expect(queueBodyFor(s3rverEvent('ObjectRemoved:Delete', 'a.jpg'), all)).toBeUndefined();
    expect(queueBodyFor(s3rverEvent('ObjectCreated:Put', 'a.jpg', { bucket: 'destination' }), all)).toBeUndefined();
    expect(queueBodyFor(s3rverEvent('ObjectCreated:Put', 'other/a.jpg'), { bucket: 'source', prefix: 'in/' })).toBeUndefined();
    const images = { ...all, suffixes: ['.jpg', '.png'] };
    expect(queueBodyFor(s3rverEvent('ObjectCreated:Put', 'notes.txt'), images)).toBeUndefined();
    // S3 suffix filters are case-sensitive.
    expect(queueBodyFor(s3rverEvent('ObjectCreated:Put', 'LOUD.JPG'), images)).toBeUndefined();
    expect(queueBodyFor(s3rverEvent('ObjectCreated:Put', 'in/a.png'), images)).toBeDefined();
  });
});

describe('connectEventBridge', () => {
  const flush = () => new Promise((resolve) => setTimeout(resolve, 300));

  it('queues each matching event during the emit, before the emitter returns', () => {
    const server = new EventEmitter();
    const sent: string[] = [];
    connectEventBridge(server, { send: async (body) => sent.push(body) }, all, () => undefined);
    server.emit('event', s3rverEvent('ObjectCreated:Put', 'a b.jpg'));
    server.emit('event', s3rverEvent('ObjectCreated:Put', 'elsewhere.jpg', { bucket: 'destination' }));
    expect(sent.map((body) => JSON.parse(body).Records[0].s3.object.key)).toEqual(['a+b.jpg']);
  });

  it('retries a failed insert once and reports the event only if the retry fails too', async () => {
    const server = new EventEmitter();
    const attempts: string[] = [];
    const lost: string[] = [];
    let failures = 1;
    const sink = { send: async (body: string) => { attempts.push(body); if (failures-- > 0) throw new Error('database is locked'); } };
    connectEventBridge(server, sink, all, (body) => lost.push(body));
    server.emit('event', s3rverEvent('ObjectCreated:Put', 'once.jpg'));
    await flush();
    expect({ attempts: attempts.length, lost: lost.length }).toEqual({ attempts: 2, lost: 0 });

    failures = 2;
    server.emit('event', s3rverEvent('ObjectCreated:Put', 'twice.jpg'));
    await flush();
    expect(lost.map((body) => JSON.parse(body).Records[0].s3.object.key)).toEqual(['twice.jpg']);
  });
});
