import type S3rver from 's3rver';
import { buildS3Event } from '../../app/src/events/s3-event-shape';

/**
 * Turns an s3rver event into the body AWS would put on the queue. s3rver's records carry the raw key and call a
 * multipart completion `ObjectCreated:Post`; AWS encodes keys and says `CompleteMultipartUpload`. s3rver also says
 * Post for browser form uploads, which `aws s3 cp` never makes, so every Post is taken to be a multipart completion.
 * Returns undefined for events the cloud notification would not send (other buckets, removals, filtered keys).
 */
export function queueBodyFor(event: S3rver.S3rverEvent, filter: { bucket: string; prefix: string }): string | undefined {
  const records = event.Records.filter(
    (record) => record.eventName.startsWith('ObjectCreated:') && record.s3.bucket.name === filter.bucket && record.s3.object.key.startsWith(filter.prefix),
  );
  if (records.length === 0) return undefined;
  return buildS3Event(
    records.map((record) => ({
      bucket: record.s3.bucket.name,
      key: record.s3.object.key,
      size: record.s3.object.size,
      etag: record.s3.object.eTag,
      eventName: record.eventName === 'ObjectCreated:Post' ? 'ObjectCreated:CompleteMultipartUpload' : record.eventName,
      eventTime: new Date(record.eventTime),
    })),
  );
}
