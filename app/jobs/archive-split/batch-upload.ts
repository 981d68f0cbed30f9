import type { ObjectStore } from '../../src/ports/object-store';
import { writeBatchZip, type BatchZipFile, type BatchZipStats } from './batch-zip';
import { manifestCsv, type Manifest } from './manifest';
import { problemsCsv } from './problems-csv';
import { BATCH_MANIFEST_NAME, BATCH_PROBLEMS_NAME, type PlannedBatch } from './split-plan';

/** S3 user metadata a finished part carries: a redelivery compares it with its own plan before rebuilding anything. */
export const FINGERPRINT_METADATA = 'split-fingerprint';
export const SOURCE_ETAG_METADATA = 'split-source-etag';

/**
 * Every entry's time in the batch ZIPs: fixed, so the same plan gives the same bytes. 2000-01-01 rather than 1980
 * (DOS time's first day), which a local-time conversion can push before the format's start.
 */
const BATCH_MTIME = new Date(2000, 0, 1);

/** Already uploaded by an earlier attempt for the same archive version and the same plan: nothing to rebuild. */
export async function isPartDone(store: ObjectStore, batch: PlannedBatch): Promise<boolean> {
  const head = await store.head({ bucket: batch.bucket, key: batch.key });
  return head?.metadata[FINGERPRINT_METADATA] === batch.fingerprint;
}

/**
 * One batch ZIP streamed straight into its multipart upload: the filtered manifest and problems.csv first, then the
 * files in the order given. The part appears in S3 only when the upload completes, fingerprint included, so a part
 * that exists is whole; a failure aborts the upload and leaves no part.
 */
export async function uploadBatch(
  store: ObjectStore,
  batch: PlannedBatch,
  manifest: Pick<Manifest, 'header'>,
  files: readonly BatchZipFile[],
  sourceEtag: string,
  signal: AbortSignal,
): Promise<BatchZipStats> {
  const zip = writeBatchZip({
    files,
    extras: [
      { name: BATCH_MANIFEST_NAME, content: Buffer.from(manifestCsv(manifest.header, batch.rows), 'utf8') },
      { name: BATCH_PROBLEMS_NAME, content: Buffer.from(problemsCsv(batch.problems), 'utf8') },
    ],
    mtime: BATCH_MTIME,
    signal,
  });
  const uploaded = store.uploadStream({ bucket: batch.bucket, key: batch.key }, zip.stream, {
    contentType: 'application/zip',
    metadata: { [FINGERPRINT_METADATA]: batch.fingerprint, [SOURCE_ETAG_METADATA]: sourceEtag },
    signal,
  });
  const [, stats] = await Promise.all([uploaded, zip.done]);
  return stats;
}
