import { mkdir } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InputTooLargeError } from '../../../shared/errors';
import type { Log } from '../../../shared/log/logger';
import { retryTransient, type RetryPolicy } from '../../../shared/retry';
import { mapLimited } from '../../../shared/runtime/map-limited';
import type { ObjectHead, ObjectStore } from '../../src/ports/object-store';
import type { ArchiveEntry } from './archive-entry';
import { ManifestError, NotAnArchiveError, SizeMismatchError } from './archive-errors';
import { detectArchiveFormat, FORMAT_DETECTION_BYTES } from './archive-format';
import type { ArchiveSettings } from './archive-settings';
import { isPartDone, uploadBatch } from './batch-upload';
import type { BatchZipFile } from './batch-zip';
import { MAX_PATH_BYTES, normaliseEntryPath, printablePath, unsafePathReason } from './entry-paths';
import { findManifestEntry, parseManifest, type Manifest } from './manifest';
import type { PlannedBatch, SplitPlan } from './split-plan';
import { planSplit } from './split-plan';
import type { SplitRequest } from './split-request';
import { buildTarBatches } from './tar-batches';
import { openTarArchive } from './tar-archive';
import { openZipArchive } from './zip-archive';

export interface SplitContext {
  readonly store: ObjectStore;
  readonly settings: ArchiveSettings;
  /** In-process retries for each S3 call (a ranged read, a HEAD); a failure past them fails the attempt. */
  readonly retry: RetryPolicy;
  readonly signal: AbortSignal;
  readonly log: Log;
  /** A private, empty directory for the TAR path's spilled entries; the caller removes it whatever happens. */
  readonly spillDir: string;
  readonly diskBudgetBytes: number;
}

export interface SplitOutcome {
  readonly format: 'zip' | 'tar.gz' | 'tar';
  readonly sourceEtag: string;
  readonly plan: SplitPlan;
  /** Parts written by this attempt, and parts an earlier attempt had finished (same archive version, same plan). */
  readonly built: number;
  readonly kept: number;
  /** Reads of the whole archive (TAR only: the listing read and the building reads); 0 for a ZIP. */
  readonly passes: number;
  readonly spillHighWaterBytes: number;
  /** Archive bytes fetched from S3 (compressed bytes for a TAR.GZ). */
  readonly bytesRead: number;
  readonly archiveBytes: number;
}

/**
 * One archive split into its batch ZIPs, or an error: permanent for the archive itself (not an archive, no or bad
 * manifest, corrupt, size other than the request said), transient for the rest. Parts a previous attempt uploaded for
 * the same archive version and the same plan are kept, not rebuilt, so a redelivery after a kill redoes only the part
 * that was in flight. Sending the outcome is the caller's.
 */
export async function splitArchive(request: SplitRequest, context: SplitContext): Promise<SplitOutcome | undefined> {
  const { store, log } = context;
  const source = request.source;
  const head = await retried(context, () => store.head(source));
  if (head === undefined) return undefined;
  // An event's size is the size of the version it announced: when S3 delivers it after a newer upload's (out of
  // order), the object now there is another version, split as it is, not a mismatch.
  if (request.expectedSize !== undefined && request.expectedSize !== head.size && (request.expectedEtag === undefined || request.expectedEtag === head.etag)) {
    throw new SizeMismatchError(`the archive s3://${source.bucket}/${source.key} is ${head.size} bytes, but the request's totalSize says ${request.expectedSize}`);
  }
  if (head.size === 0) throw new NotAnArchiveError(`s3://${source.bucket}/${source.key} is empty (0 bytes): not a ZIP or TAR.GZ archive`);
  const etag = head.etag;
  const readRange = (start: number, end: number, signal?: AbortSignal) =>
    retried(context, () => store.readRange(source, { start, end }, { ifMatch: etag, ...(signal !== undefined ? { signal } : {}) }));
  const format = detectArchiveFormat(await readRange(0, Math.min(head.size, FORMAT_DETECTION_BYTES) - 1), source.key);
  log.info('archive opened', { bucket: source.bucket, key: source.key, format, bytes: head.size });
  if (format === 'zip') return splitZip(request, context, head, readRange);
  return splitTar(request, context, head, format);
}

async function splitZip(
  request: SplitRequest,
  context: SplitContext,
  head: ObjectHead,
  readRange: (start: number, end: number, signal?: AbortSignal) => Promise<Buffer>,
): Promise<SplitOutcome> {
  const zip = await openZipArchive(readRange, head.size, { signal: context.signal });
  try {
    if (zip.entries.length > context.settings.maxArchiveEntries) {
      throw new InputTooLargeError(`the archive lists ${zip.entries.length} entries, more than MAX_ARCHIVE_ENTRIES (${context.settings.maxArchiveEntries}): split the export, or raise MAX_ARCHIVE_ENTRIES with the task's memory`);
    }
    const manifestEntry = findManifestEntry(zip.entries, context.settings.manifestName);
    checkManifestSize(manifestEntry, context.settings);
    const manifest = parseManifest(await readAll(await zip.openEntry(manifestEntry, context.signal), context.settings.maxManifestBytes), manifestEntry.path, manifestOptions(context.settings));
    const plan = planFor(request, manifest, zip.entries, head.etag, context.settings);
    const pending = await partsToBuild(plan, context);
    for (const batch of pending) {
      // In archive order, not the rows': an export's files are seldom stored in manifest order, and read as the rows
      // name them each one costs a block GET of its own once the archive outgrows the block cache (a 51 MiB ZIP of
      // shuffled entries was read as 6 GB). The batch ZIP lists them in this order; its manifest.csv keeps the rows'.
      const inArchiveOrder = [...batch.files].sort((a, b) => a.entryIndex - b.entryIndex);
      const files: BatchZipFile[] = inArchiveOrder.map((file) => ({
        nameInZip: file.nameInZip,
        size: file.size,
        open: (signal?: AbortSignal) => zip.openEntry(zip.entries[file.entryIndex]!, signal),
      }));
      await buildPart(context, batch, manifest, files, head.etag);
    }
    return {
      format: 'zip', sourceEtag: head.etag, plan, built: pending.length, kept: plan.batches.length - pending.length,
      passes: 0, spillHighWaterBytes: 0, bytesRead: zip.stats.bytesRead, archiveBytes: head.size,
    };
  } finally {
    await zip.close();
  }
}

async function splitTar(request: SplitRequest, context: SplitContext, head: ObjectHead, format: 'tar.gz' | 'tar'): Promise<SplitOutcome> {
  const fetched = { bytes: 0 };
  const archive = openTarArchive(countingStreamedReads(context.store, fetched), request.source, { etag: head.etag, compression: format === 'tar.gz' ? 'gzip' : 'none' }, { signal: context.signal });
  const { entries, manifest } = await listTar(archive, context);
  const plan = planFor(request, manifest, entries, head.etag, context.settings);
  const pending = await partsToBuild(plan, context);
  const toBuild = new Set(pending);
  const done = new Set(plan.batches.filter((batch) => !toBuild.has(batch)).map((batch) => batch.part));
  let passes = 1;
  let spillHighWaterBytes = 0;
  if (pending.length > 0) {
    await mkdir(context.spillDir, { recursive: true, mode: 0o700 });
    const built = await buildTarBatches({
      archive,
      batches: plan.batches,
      done,
      spillDir: context.spillDir,
      diskBudgetBytes: context.diskBudgetBytes,
      signal: context.signal,
      log: context.log,
      build: (batch, files) => buildPart(context, batch, manifest, files, head.etag),
    });
    passes += built.passes;
    spillHighWaterBytes = built.spillHighWaterBytes;
  }
  return { format, sourceEtag: head.etag, plan, built: pending.length, kept: plan.batches.length - pending.length, passes, spillHighWaterBytes, bytesRead: fetched.bytes, archiveBytes: head.size };
}

/**
 * The listing read of a TAR: every entry's header, and the bytes of the files that could be the manifest (its name
 * matches, at any depth): which one is becomes known only once the whole listing is, so the shallowest seen so far
 * are kept (the last copy of each path, at most two paths: more at one depth is an error anyway) and deeper ones
 * dropped, never a copy of every `manifest.csv` in the archive.
 */
async function listTar(archive: ReturnType<typeof openTarArchive>, context: SplitContext): Promise<{ entries: ArchiveEntry[]; manifest: Manifest }> {
  const { settings } = context;
  const entries: ArchiveEntry[] = [];
  let candidates = new Map<string, { index: number; bytes: Buffer }>();
  let shallowest = Number.POSITIVE_INFINITY;
  const wanted = settings.manifestName.toLowerCase();
  await archive.pass(async (entry, body) => {
    if (entries.length === settings.maxArchiveEntries) {
      throw new InputTooLargeError(`the archive lists more than MAX_ARCHIVE_ENTRIES (${settings.maxArchiveEntries}) entries: split the export, or raise MAX_ARCHIVE_ENTRIES with the task's memory`);
    }
    // A PAX header may carry megabytes of path: what is kept is enough to report it as too long, not all of it.
    entries.push(Buffer.byteLength(entry.path) > MAX_PATH_BYTES ? { ...entry, path: entry.path.slice(0, MAX_PATH_BYTES + 1) } : entry);
    if (entry.kind !== 'file' || entry.size > settings.maxManifestBytes || unsafePathReason(entry.path) !== undefined) return;
    const path = normaliseEntryPath(entry.path);
    if (path.slice(path.lastIndexOf('/') + 1).toLowerCase() !== wanted) return;
    const depth = path.split('/').length;
    if (depth > shallowest || (depth === shallowest && !candidates.has(path) && candidates.size >= 2)) return;
    if (depth < shallowest) {
      shallowest = depth;
      candidates = new Map();
    }
    candidates.set(path, { index: entry.index, bytes: await readAll(body, settings.maxManifestBytes) });
  }, context.signal);
  const manifestEntry = findManifestEntry(entries, settings.manifestName);
  checkManifestSize(manifestEntry, settings);
  const kept = [...candidates.values()].find((candidate) => candidate.index === manifestEntry.index);
  if (kept === undefined) throw new ManifestError(`the manifest ${printablePath(manifestEntry.path)} could not be read from the archive`);
  return { entries, manifest: parseManifest(kept.bytes, manifestEntry.path, manifestOptions(settings)) };
}

function planFor(request: SplitRequest, manifest: Manifest, entries: readonly ArchiveEntry[], etag: string, settings: ArchiveSettings): SplitPlan {
  return planSplit({ manifest, entries, settings, stem: request.stem, outputBucket: request.outputBucket, sourceEtag: etag });
}

/** The parts not already in S3 with this plan's fingerprint, HEADed a few at a time. */
async function partsToBuild(plan: SplitPlan, context: SplitContext): Promise<SplitPlan['batches']> {
  const done = await mapLimited(plan.batches, HEADS_AT_ONCE, (batch) => retried(context, () => isPartDone(context.store, batch)));
  const pending = plan.batches.filter((_, i) => !done[i]);
  if (pending.length < plan.batches.length) context.log.info('parts kept', { kept: plan.batches.length - pending.length, toBuild: pending.length });
  return pending;
}

const HEADS_AT_ONCE = 8;

/** One batch ZIP built and uploaded, whichever way the archive is read. */
async function buildPart(context: SplitContext, batch: PlannedBatch, manifest: Manifest, files: readonly BatchZipFile[], sourceEtag: string): Promise<void> {
  const stats = await uploadBatch(context.store, batch, manifest, files, sourceEtag, context.signal);
  context.log.info('batch uploaded', { key: batch.key, part: batch.part, rows: batch.rows.length, files: stats.files, bytes: stats.bytes, zip64: stats.zip64 });
}

/** Each S3 call with the worker's in-process retries, given up with the message. */
function retried<T>(context: SplitContext, call: () => Promise<T>): Promise<T> {
  return retryTransient(call, { ...context.retry, signal: context.signal });
}

function manifestOptions(settings: ArchiveSettings): { imageColumn: string; maxBytes: number; maxRows: number } {
  return { imageColumn: settings.imageColumn, maxBytes: settings.maxManifestBytes, maxRows: settings.maxManifestRows };
}

function checkManifestSize(entry: ArchiveEntry, settings: ArchiveSettings): void {
  if (entry.size > settings.maxManifestBytes) {
    throw new ManifestError(`the manifest ${entry.path} is ${entry.size} bytes, over MAX_MANIFEST_BYTES (${settings.maxManifestBytes})`);
  }
}

async function readAll(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      stream.destroy();
      throw new ManifestError(`the manifest holds more than MAX_MANIFEST_BYTES (${maxBytes}) bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * The store, counting the bytes its streamed reads deliver: a building read that stops early (nothing later in the
 * archive can help) never reports its own count, and what S3 sent is what the split cost.
 */
function countingStreamedReads(store: ObjectStore, fetched: { bytes: number }): ObjectStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'openRead') {
        return async (...args: Parameters<ObjectStore['openRead']>) => {
          const opened = await target.openRead(...args);
          const counted = new Transform({
            transform(chunk: Buffer, _encoding, callback) {
              fetched.bytes += chunk.length;
              callback(null, chunk);
            },
          });
          pipeline(opened.body, counted).catch(() => undefined);
          return { ...opened, body: counted };
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
