import type { ObjectEvent } from '../../../../shared/events/parse-message';
import { MemoryLog } from '../../../../shared/log/logger';
import type { MessageJobContext } from '../../../src/job/message-job';
import type { MessageSender } from '../../../src/ports/message-sender';
import type { ObjectStore } from '../../../src/ports/object-store';
import type { ArchiveEntry } from '../archive-entry';
import { readArchiveSettings, type ArchiveSettings } from '../archive-settings';
import { readArchiveSplitSettings, type ArchiveSplitSettings } from '../archive-split-settings';
import type { Manifest, ManifestRow } from '../manifest';
import type { Problem, ProblemKind } from '../split-plan';

/** Builders for the archive-split job's pure modules: entries, manifests, settings, requests and problems. */

export const BUCKET = 'exports';
export const UPDATES_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/updates';
export const UPLOADS_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/upload-outcomes';

/** Settings as a deployment accepting requests for BUCKET with UPDATES_QUEUE would have them; `env` adds or overrides. */
export function archiveSettings(env: NodeJS.ProcessEnv = {}): ArchiveSettings {
  return readArchiveSettings({ ALLOWED_BUCKETS: BUCKET, ALLOWED_CALLBACK_QUEUES: UPDATES_QUEUE, ...env });
}

/** Settings that also split uploads under `uploads/`, reporting to UPLOADS_QUEUE. */
export function uploadSettings(env: NodeJS.ProcessEnv = {}): ArchiveSettings {
  return archiveSettings({ ARCHIVE_PREFIX: 'uploads/', CALLBACK_QUEUE_URL: UPLOADS_QUEUE, ...env });
}

/** A request message's fields; `overrides` replaces or adds fields (undefined removes one). */
export function requestFields(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    downloadId: 'dl-42', file: 'export.zip', exportPath: 'exports/2026/', totalSize: 123_456, updatesQueueUrl: UPDATES_QUEUE, s3Bucket: BUCKET, ...overrides,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

export const requestBody = (overrides: Record<string, unknown> = {}): string => JSON.stringify(requestFields(overrides));

export type EntrySpec = string | { readonly path: string; readonly kind?: ArchiveEntry['kind']; readonly size?: number };

/** Entries in archive order (index = position); a string is a file of 100 bytes, a path ending in `/` a folder. */
export function entries(...specs: readonly EntrySpec[]): ArchiveEntry[] {
  return specs.map((spec, index) => {
    const { path, kind, size } = typeof spec === 'string' ? { path: spec, kind: undefined, size: undefined } : spec;
    return { path, kind: kind ?? (path.endsWith('/') ? 'directory' : 'file'), size: size ?? 100, index };
  });
}

/** A manifest as parseManifest would return it: rows numbered from 1, the image column found case-insensitively. */
export function manifestOf(header: readonly string[], rows: readonly (readonly string[])[], path = 'manifest.csv', imageColumn = 'image'): Manifest {
  return {
    path,
    header,
    rows: rows.map((values, index): ManifestRow => ({ line: index + 1, values })),
    imageColumn: header.findIndex((name) => name.toLowerCase() === imageColumn.toLowerCase()),
  };
}

/** A two-column manifest (`image,label`) naming these images in order. */
export function imageManifest(images: readonly string[], path = 'manifest.csv'): Manifest {
  return manifestOf(['image', 'label'], images.map((image, index) => [image, `label-${index + 1}`]), path);
}

/** CSV text from lines, joined with `eol` and ended with one. */
export function csv(lines: readonly string[], eol = '\n'): Buffer {
  return Buffer.from(lines.map((line) => `${line}${eol}`).join(''));
}

/** `count` image paths, `images/00001.jpg` on. */
export function imagePaths(count: number, folder = 'images/'): string[] {
  return Array.from({ length: count }, (_, index) => `${folder}${String(index + 1).padStart(5, '0')}.jpg`);
}

export function problem(kind: ProblemKind, overrides: Partial<Problem> = {}): Problem {
  return { kind, row: 1, image: 'images/00001.jpg', detail: 'no such file in the archive', ...overrides };
}

/** Builders for the job itself: its settings with a work root, the callback queue, the worker's context, S3 events. */

/** The job's settings as the worker reads them, with WORK_DIR at `workRoot` and requests for BUCKET reporting to UPDATES_QUEUE. */
export function archiveSplitSettings(workRoot: string, env: NodeJS.ProcessEnv = {}): ArchiveSplitSettings {
  return readArchiveSplitSettings({ ALLOWED_BUCKETS: BUCKET, ALLOWED_CALLBACK_QUEUES: UPDATES_QUEUE, WORK_DIR: workRoot, ...env });
}

/** A MessageSender that keeps every body sent, in order, with its queue; `failNext` errors are thrown first, one per call. */
export class RecordingSender implements MessageSender {
  readonly sent: { readonly queueUrl: string; readonly body: string }[] = [];
  readonly failNext: unknown[] = [];

  async sendAll(queueUrl: string, bodies: readonly string[]): Promise<void> {
    if (this.failNext.length > 0) throw this.failNext.shift();
    for (const body of bodies) this.sent.push({ queueUrl, body });
  }

  /** The bodies sent to one queue, parsed. */
  callbacks(queueUrl: string): Record<string, unknown>[] {
    return this.sent.filter((message) => message.queueUrl === queueUrl).map((message) => JSON.parse(message.body) as Record<string, unknown>);
  }

  async close(): Promise<void> {}
}

/** No waiting between in-process retries: a test's transient failures are spent at once. */
export const QUICK_RETRY = { retries: 1, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined } as const;

/** What the worker hands a message job for one delivery: attempt 1 of 3 unless told otherwise. */
export function messageJobContext(deps: {
  readonly store: ObjectStore;
  readonly sender: MessageSender;
  readonly log?: MemoryLog;
  readonly attempt?: number;
  readonly finalAttempt?: boolean;
  readonly signal?: AbortSignal;
}): MessageJobContext & { readonly log: MemoryLog } {
  const signal = deps.signal ?? new AbortController().signal;
  const attempt = deps.attempt ?? 1;
  return {
    signal,
    stopping: new AbortController().signal,
    log: deps.log ?? new MemoryLog(),
    store: deps.store,
    sender: deps.sender,
    retry: { ...QUICK_RETRY, signal },
    message: { messageId: 'message-1', attempt, finalAttempt: deps.finalAttempt ?? attempt >= 3 },
  };
}

/** One record of an S3 event, as parseMessage gives it to the job (key decoded, ETag without quotes). */
export function objectEvent(object: { readonly bucket?: string; readonly key: string; readonly size?: number; readonly etag?: string }): ObjectEvent {
  return { bucket: object.bucket ?? BUCKET, key: object.key, eventName: 'ObjectCreated:Put', ...(object.size !== undefined ? { size: object.size } : {}), ...(object.etag !== undefined ? { etag: object.etag } : {}) };
}
