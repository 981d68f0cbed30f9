import type S3rver from 's3rver';
import { buildS3Event } from '../../shared/events/s3-event-shape';

export interface BridgeFilter {
  readonly bucket: string;
  readonly prefix: string;
  /** Case-sensitive, like S3 notification suffix filters; empty or absent accepts every key. */
  readonly suffixes?: readonly string[];
}

/**
 * Turns an s3rver event into the body AWS would put on the queue. s3rver's records carry the raw key and call a
 * multipart completion `ObjectCreated:Post`; AWS encodes keys and says `CompleteMultipartUpload`. s3rver also says
 * Post for browser form uploads (POST Object), which `aws s3 cp` and the SDKs never make, and the event does not
 * say which of the two it was, so every Post is taken to be a multipart completion. s3rver's Copy records carry no
 * ETag; the body then has an empty one, which the worker reads as "unknown" (it only skips duplicate work by ETag).
 * Returns undefined for events the cloud notification would not send (other buckets, removals, filtered keys).
 */
export function queueBodyFor(event: S3rver.S3rverEvent, filter: BridgeFilter): string | undefined {
  const suffixes = filter.suffixes ?? [];
  const records = event.Records.filter(
    (record) =>
      record.eventName.startsWith('ObjectCreated:') &&
      record.s3.bucket.name === filter.bucket &&
      record.s3.object.key.startsWith(filter.prefix) &&
      (suffixes.length === 0 || suffixes.some((suffix) => record.s3.object.key.endsWith(suffix))),
  );
  if (records.length === 0) return undefined;
  return buildS3Event(
    records.map((record) => ({
      bucket: record.s3.bucket.name,
      key: record.s3.object.key,
      size: record.s3.object.size,
      etag: record.s3.object.eTag ?? '',
      eventName: record.eventName === 'ObjectCreated:Post' ? 'ObjectCreated:CompleteMultipartUpload' : record.eventName,
      eventTime: new Date(record.eventTime),
    })),
  );
}

/** The part of the local queue the bridge needs. */
export interface EventSink {
  send(body: string): Promise<unknown>;
}

/**
 * Puts every matching object-created event of the server on the queue. s3rver emits its event synchronously inside
 * the request handler, after the object is on disk and before the response is written, and LocalQueue.send commits
 * its SQLite insert synchronously before its promise settles: so by the time a client sees its upload succeed, the
 * message is durably queued, and a kill -9 of the pipeline cannot lose an acknowledged upload's event. An insert that
 * fails (the file locked beyond its busy timeout) is retried; if that fails too it is reported, never swallowed.
 */
export function connectEventBridge(
  server: { on(event: 'event', listener: (event: S3rver.S3rverEvent) => void): unknown },
  sink: EventSink,
  filter: BridgeFilter,
  onLost: (body: string, error: unknown) => void,
): void {
  server.on('event', (event) => {
    const body = queueBodyFor(event, filter);
    if (body === undefined) return;
    sink.send(body).catch(() =>
      new Promise((resolve) => setTimeout(resolve, 200))
        .then(() => sink.send(body))
        .catch((error: unknown) => onLost(body, error)),
    );
  });
}
