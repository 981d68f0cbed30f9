/**
 * The exact shape AWS gives S3 event notifications, for code that must produce them (the local pipeline's bridge,
 * tests, benchmarks). Keeping the producer beside the parser means the two cannot drift apart.
 */
export interface S3EventRecordInput {
  readonly bucket: string;
  /** The real key, as the uploader wrote it; encoded here the way AWS encodes it. */
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  /** Without the `s3:` prefix, as AWS writes it in records. Default `ObjectCreated:Put`. */
  readonly eventName?: string;
  readonly eventTime?: Date;
  readonly region?: string;
}

/**
 * AWS form-encodes keys in notifications: each path segment percent-encoded, slashes kept, a space as `+`.
 * `a b/ü+x.jpg` becomes `a+b/%C3%BC%2Bx.jpg`.
 */
export function encodeS3EventKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%20/g, '+'))
    .join('/');
}

let sequence = 0;

/** An S3 event notification body with one record per input, as SQS would deliver it. */
export function buildS3Event(records: readonly S3EventRecordInput[]): string {
  return JSON.stringify({
    Records: records.map((record) => {
      const eventTime = (record.eventTime ?? new Date()).toISOString();
      sequence = (sequence + 1) % 0xffff;
      return {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: record.region ?? 'us-east-1',
        eventTime,
        eventName: record.eventName ?? 'ObjectCreated:Put',
        userIdentity: { principalId: 'AWS:LOCAL' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'LOCAL', 'x-amz-id-2': 'LOCAL' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'object-created',
          bucket: { name: record.bucket, ownerIdentity: { principalId: 'LOCAL' }, arn: `arn:aws:s3:::${record.bucket}` },
          object: {
            key: encodeS3EventKey(record.key),
            size: record.size,
            eTag: record.etag.replace(/"/g, ''),
            sequencer: `${Date.parse(eventTime).toString(16).toUpperCase()}${sequence.toString(16).padStart(4, '0')}`,
          },
        },
      };
    }),
  });
}
