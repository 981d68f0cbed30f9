import { classifyFailure, type FailureKind } from '../errors';
import { parseMessageBody, type ObjectEvent } from '../events/parse-message';
import type { Log } from '../log/logger';
import type { WorkerStats } from '../metrics/worker-stats';
import { OUTPUT_METADATA, outputKey } from '../naming/output-key';
import type { ReceivedMessage } from '../ports/queue';
import type { ObjectStore } from '../ports/object-store';
import type { OutputSpec, Processor } from '../ports/processor';
import { retryTransient, type RetryPolicy } from './retry';

export interface MessageHandlerConfig {
  readonly destBucket: string;
  readonly destPrefix: string;
  readonly sourcePrefix: string;
  readonly maxInputBytes: number;
  readonly allowedSourceBuckets?: readonly string[];
}

export interface MessageHandlerDeps {
  readonly store: ObjectStore;
  readonly processor: Processor;
  readonly config: MessageHandlerConfig;
  readonly retry: RetryPolicy;
  readonly log: Log;
  readonly stats: WorkerStats;
  readonly now?: () => number;
}

/** What the queue loop does with a message once its records are handled. */
export type MessageOutcome = { readonly action: 'delete' } | ReleaseOutcome;

export interface ReleaseOutcome {
  readonly action: 'release';
  readonly kind: Exclude<FailureKind, 'missing'>;
  readonly reason: string;
  readonly detail: string;
  readonly key?: string;
}

/**
 * Handles every record of one message. The message is deleted only when every record is processed or skipped;
 * any failure releases it, and a record that already has its outputs is skipped cheaply on the next delivery.
 */
export async function handleMessage(message: ReceivedMessage, deps: MessageHandlerDeps): Promise<MessageOutcome> {
  let objects: readonly ObjectEvent[];
  try {
    const parsed = parseMessageBody(message.body, deps.config.allowedSourceBuckets);
    if (parsed.kind === 'test-event') {
      deps.log.info('skipped', { messageId: message.messageId, reason: 's3-test-event' });
      return { action: 'delete' };
    }
    objects = parsed.objects;
  } catch (error) {
    return releaseFor(error);
  }
  for (const object of objects) {
    if (isFolderMarker(object)) {
      // The S3 console's "create folder" writes an empty `name/` object; it is not input and never will be.
      deps.stats.recordSkipped();
      deps.log.info('skipped', { messageId: message.messageId, bucket: object.bucket, key: object.key, reason: 'folder marker' });
      continue;
    }
    try {
      await handleObject(object, message.receiveCount, deps);
    } catch (error) {
      const failure = classifyFailure(error);
      if (failure.kind === 'missing') {
        deps.stats.recordSkipped();
        deps.log.info('skipped', { messageId: message.messageId, bucket: object.bucket, key: object.key, reason: 'source missing' });
        continue;
      }
      return { ...releaseFor(error), key: object.key };
    }
  }
  return { action: 'delete' };
}

function isFolderMarker(object: ObjectEvent): boolean {
  return object.key.endsWith('/') && (object.size ?? 0) === 0;
}

function releaseFor(error: unknown): ReleaseOutcome {
  const failure = classifyFailure(error);
  return { action: 'release', kind: failure.kind === 'permanent' ? 'permanent' : 'transient', reason: failure.reason, detail: failure.message };
}

async function handleObject(object: ObjectEvent, receiveCount: number, deps: MessageHandlerDeps): Promise<void> {
  const { store, processor, config, retry, log, stats } = deps;
  const now = deps.now ?? Date.now;
  const started = now();
  const keyFor = (spec: OutputSpec) =>
    outputKey({ destPrefix: config.destPrefix, sourcePrefix: config.sourcePrefix, sourceKey: object.key, outputName: spec.name, extension: spec.extension });

  // Only a redelivery can find its own outputs, so first deliveries skip the HEAD calls.
  const planned = processor.plannedOutputs();
  if (receiveCount > 1 && planned !== undefined && object.etag !== undefined) {
    const etag = object.etag;
    const heads = await Promise.all(planned.map((spec) => retryTransient(() => store.head({ bucket: config.destBucket, key: keyFor(spec) }), retry)));
    if (heads.every((head) => head?.metadata[OUTPUT_METADATA.sourceEtag] === etag)) {
      stats.recordSkipped();
      log.info('skipped', { bucket: object.bucket, key: object.key, reason: 'outputs already exist for this ETag', etag });
      return;
    }
  }

  const source = await retryTransient(() => store.get({ bucket: object.bucket, key: object.key }, { maxBytes: config.maxInputBytes }), retry);
  const outputs = await processor.process({
    bytes: source.body,
    source: { bucket: object.bucket, key: object.key, etag: source.etag, size: source.size, contentType: source.contentType },
  });
  const metadata = {
    [OUTPUT_METADATA.sourceBucket]: object.bucket,
    [OUTPUT_METADATA.sourceKey]: encodeURIComponent(object.key),
    [OUTPUT_METADATA.sourceEtag]: source.etag,
  };
  await Promise.all(
    outputs.map((output) =>
      retryTransient(() => store.put({ bucket: config.destBucket, key: keyFor(output) }, output.body, { contentType: output.contentType, metadata }), retry),
    ),
  );
  const bytesOut = outputs.reduce((total, output) => total + output.body.length, 0);
  const durationMs = now() - started;
  stats.recordProcessed(source.size, bytesOut, outputs.length, durationMs);
  log.info('processed', {
    bucket: object.bucket,
    key: object.key,
    sizes: outputs.map((output) => output.name),
    bytesIn: source.size,
    bytesOut,
    durationMs,
  });
}
