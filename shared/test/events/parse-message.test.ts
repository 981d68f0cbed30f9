import { MalformedMessageError } from '../../errors';
import { decodeS3EventKey, parseMessageBody } from '../../events/parse-message';
import { buildS3Event, encodeS3EventKey } from '../../events/s3-event-shape';

const record = (overrides: Record<string, unknown> = {}, object: Record<string, unknown> = {}) => ({
  eventVersion: '2.1',
  eventSource: 'aws:s3',
  eventName: 'ObjectCreated:Put',
  s3: { bucket: { name: 'photos' }, object: { key: 'a.jpg', size: 10, eTag: 'abc', sequencer: '01', ...object } },
  ...overrides,
});
const notification = (...records: unknown[]) => JSON.stringify({ Records: records });

function recordsOf(body: string, allowed?: string[]) {
  const parsed = parseMessageBody(body, allowed);
  if (parsed.kind !== 'records') throw new Error(`expected records, got ${parsed.kind}`);
  return parsed;
}

function objectsOf(body: string, allowed?: string[]) {
  return recordsOf(body, allowed).records.map((record) => {
    if (!record.ok) throw record.error;
    return record.object;
  });
}

/** The reason a body is malformed: of the whole message, or of its only record. */
function malformed(body: string, allowed?: string[]): string {
  let records;
  try {
    records = recordsOf(body, allowed).records;
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedMessageError);
    return (error as Error).message;
  }
  const failed = records.find((record) => !record.ok);
  if (failed === undefined || failed.ok) throw new Error('expected MalformedMessageError');
  expect(failed.error).toBeInstanceOf(MalformedMessageError);
  return failed.error.message;
}

describe('parseMessageBody', () => {
  it('decodes keys the way AWS encodes them: + is a space, %2B a plus, unicode percent-encoded', () => {
    const [object] = objectsOf(notification(record({}, { key: 'a+b/%C3%BC%2Bx.jpg' })));
    expect(object).toEqual({ bucket: 'photos', key: 'a b/ü+x.jpg', size: 10, etag: 'abc', eventName: 'ObjectCreated:Put', sequencer: '01' });
  });

  it('returns every record of a message, not only the first', () => {
    const objects = objectsOf(notification(record({}, { key: 'one.jpg' }), record({}, { key: 'two.jpg' }), record({}, { key: 'three.jpg' })));
    expect(objects.map((o) => o.key)).toEqual(['one.jpg', 'two.jpg', 'three.jpg']);
  });

  it.each(['ObjectCreated:Put', 'ObjectCreated:Post', 'ObjectCreated:Copy', 'ObjectCreated:CompleteMultipartUpload', 's3:ObjectCreated:Put'])(
    'accepts %s',
    (eventName) => {
      expect(objectsOf(notification(record({ eventName })))[0]?.eventName).toBe(eventName.replace(/^s3:/, ''));
    },
  );

  it('acknowledges the s3:TestEvent S3 sends when notifications are configured', () => {
    const body = JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Time: '2026-11-23T00:00:00Z', Bucket: 'photos' });
    expect(parseMessageBody(body)).toEqual({ kind: 'test-event' });
  });

  it('unwraps an S3 notification delivered through SNS', () => {
    const body = JSON.stringify({ Type: 'Notification', MessageId: 'm', TopicArn: 'arn:aws:sns:x', Message: notification(record({}, { key: 'deep/f%C3%B8lder/x.png' })) });
    expect(objectsOf(body)[0]?.key).toBe('deep/følder/x.png');
  });

  it('reads an EventBridge Object Created event, multipart included', () => {
    const body = JSON.stringify({
      version: '0', 'detail-type': 'Object Created', source: 'aws.s3',
      detail: { bucket: { name: 'photos' }, object: { key: 'raw/a+b.jpg', size: 5, etag: 'e-12' }, reason: 'CompleteMultipartUpload' },
    });
    expect(objectsOf(body)[0]).toEqual({ bucket: 'photos', key: 'raw/a b.jpg', size: 5, etag: 'e-12', eventName: 'ObjectCreated:CompleteMultipartUpload' });
  });

  it('strips the quotes some producers leave on ETags', () => {
    expect(objectsOf(notification(record({}, { eTag: '"q"' })))[0]?.etag).toBe('q');
  });

  it.each([
    ['invalid JSON', '{"Records": [', /not JSON/],
    ['a JSON array', '[1,2]', /not an object/],
    ['a JSON object that is not an S3 event', '{"hello":"world"}', /not an S3 event notification/],
    ['an empty Records list', notification(), /empty Records/],
    ['a removal event', notification(record({ eventName: 'ObjectRemoved:Delete' })), /"ObjectRemoved:Delete" event/],
    ['a record from another service', notification(record({ eventSource: 'aws:sqs' })), /aws:sqs/],
    ['a record without a bucket', notification({ ...record(), s3: { object: { key: 'a.jpg' } } }), /no bucket name/],
    ['a record without a key', notification(record({}, { key: '' })), /no object key/],
    ['a key that is not valid percent-encoding', notification(record({}, { key: 'bad%E0%A4%A.jpg' })), /not valid URL encoding/],
    ['an SNS envelope with a non-JSON message', JSON.stringify({ Type: 'Notification', Message: 'hi' }), /SNS notification's Message is not JSON/],
    ['an EventBridge deletion', JSON.stringify({ source: 'aws.s3', 'detail-type': 'Object Deleted', detail: {} }), /only "Object Created"/],
  ])('rejects %s with a MalformedMessageError naming the problem', (_name, body, message) => {
    expect(malformed(body)).toMatch(message);
  });

  it('fails only the bad record of a multi-record message; the others stand', () => {
    const { records } = recordsOf(notification(record({}, { key: 'one.jpg' }), record({ eventName: 'ObjectRemoved:Delete' }), record({}, { key: 'three.jpg' })));
    expect(records.map((r) => r.ok)).toEqual([true, false, true]);
    expect(!records[1].ok && records[1].error.message).toMatch(/record 2 of 3 is a "ObjectRemoved:Delete" event/);
  });

  it('builds a body of any subset of records that parses like the original, and the original for all of them', () => {
    const body = notification(record({}, { key: 'one.jpg' }), record({}, { key: 'two.jpg' }), record({}, { key: 'three.jpg' }));
    const parsed = recordsOf(body);
    expect(parsed.bodyFor([0, 1, 2])).toBe(body);
    expect(objectsOf(parsed.bodyFor([2, 0])).map((object) => object.key)).toEqual(['three.jpg', 'one.jpg']);
  });

  it('processes the records of a test event that carries some, instead of dropping them', () => {
    const body = JSON.stringify({ Event: 's3:TestEvent', Records: [record({}, { key: 'real.jpg' })] });
    expect(objectsOf(body).map((object) => object.key)).toEqual(['real.jpg']);
  });

  it('never puts body content in the error, which ends up in logs', () => {
    expect(malformed(`secret-token-123 ${'x'.repeat(10_000)}`)).toBe('message body is not JSON (10017 bytes)');
    expect(malformed('{"password":"hunter2"}')).not.toContain('hunter2');
  });

  it('rejects events naming a bucket outside the allowed list', () => {
    expect(malformed(notification(record()), ['other'])).toMatch(/"photos", which is not an allowed source bucket/);
    expect(recordsOf(notification(record(), record({}, { key: 'b.jpg' })), ['other']).records.every((r) => !r.ok)).toBe(true);
    expect(objectsOf(notification(record()), ['photos'])).toHaveLength(1);
  });
});

describe('encodeS3EventKey and buildS3Event', () => {
  it('encodes like AWS: segments percent-encoded, slashes kept, spaces as +', () => {
    expect(encodeS3EventKey('a b/ü+x.jpg')).toBe('a+b/%C3%BC%2Bx.jpg');
  });

  it.each(['plain.jpg', 'with space.jpg', 'plus+sign.jpg', '100% done.png', 'ünïcödé/日本語/写真.jpg', 'deep/a/b/c/d/e/f.jpeg', "quote's & (brackets)[1].jpg", 'tilde~star*.jpg'])(
    'round-trips %s through a built event and the parser',
    (key) => {
      const body = buildS3Event([{ bucket: 'src', key, size: 3, etag: '"tag"' }]);
      expect(objectsOf(body)).toEqual([expect.objectContaining({ bucket: 'src', key, size: 3, etag: 'tag', eventName: 'ObjectCreated:Put' })]);
    },
  );

  it('builds the AWS record shape with an encoded key and the given event name', () => {
    const body = JSON.parse(buildS3Event([{ bucket: 'src', key: 'a b.jpg', size: 1, etag: 'e', eventName: 'ObjectCreated:CompleteMultipartUpload' }]));
    expect(body.Records[0]).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      eventName: 'ObjectCreated:CompleteMultipartUpload',
      s3: { bucket: { name: 'src', arn: 'arn:aws:s3:::src' }, object: { key: 'a+b.jpg', size: 1, eTag: 'e' } },
    });
    expect(typeof body.Records[0].s3.object.sequencer).toBe('string');
  });

  it('decodeS3EventKey inverts encodeS3EventKey', () => {
    expect(decodeS3EventKey(encodeS3EventKey('x/y z+%.jpg'))).toBe('x/y z+%.jpg');
  });
});
