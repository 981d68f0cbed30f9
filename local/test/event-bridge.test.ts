import { parseMessageBody } from '../../app/src/events/parse-message';
import { queueBodyFor } from '../src/event-bridge';

const s3rverEvent = (eventName: string, key: string, bucket = 'source') => ({
  Records: [{ eventName, eventTime: '2026-11-23T00:00:00.000Z', s3: { bucket: { name: bucket }, object: { key, size: 5, eTag: '"abc"' } } }],
});

describe('queueBodyFor', () => {
  it('encodes the raw s3rver key the way AWS does', () => {
    const body = queueBodyFor(s3rverEvent('ObjectCreated:Put', 'a b/ü+x.jpg'), { bucket: 'source', prefix: '' })!;
    expect(JSON.parse(body).Records[0].s3.object.key).toBe('a+b/%C3%BC%2Bx.jpg');
    const parsed = parseMessageBody(body);
    expect(parsed).toEqual({ kind: 'objects', objects: [expect.objectContaining({ bucket: 'source', key: 'a b/ü+x.jpg', etag: 'abc', size: 5 })] });
  });

  it('names a multipart completion as AWS does', () => {
    const body = queueBodyFor(s3rverEvent('ObjectCreated:Post', 'big.jpg'), { bucket: 'source', prefix: '' })!;
    expect(JSON.parse(body).Records[0].eventName).toBe('ObjectCreated:CompleteMultipartUpload');
  });

  it('sends nothing for removals, other buckets or keys outside the prefix', () => {
    expect(queueBodyFor(s3rverEvent('ObjectRemoved:Delete', 'a.jpg'), { bucket: 'source', prefix: '' })).toBeUndefined();
    expect(queueBodyFor(s3rverEvent('ObjectCreated:Put', 'a.jpg', 'destination'), { bucket: 'source', prefix: '' })).toBeUndefined();
    expect(queueBodyFor(s3rverEvent('ObjectCreated:Put', 'other/a.jpg'), { bucket: 'source', prefix: 'in/' })).toBeUndefined();
  });
});
