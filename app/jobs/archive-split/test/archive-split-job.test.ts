import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { PermanentError, SourceMissingError } from '../../../../shared/errors';
import { MemoryLog } from '../../../../shared/log/logger';
import { WorkDirs } from '../../../src/job/work-dirs';
import { MemoryStore } from '../../../test/fakes/memory-store';
import { CorruptArchiveError, ManifestMissingError, NotAnArchiveError, SizeMismatchError, SplitRequestError } from '../archive-errors';
import { ArchiveMissingError, ArchiveSplitJob } from '../archive-split-job';
import { FINGERPRINT_METADATA } from '../batch-upload';
import { callbackMarkerKey } from '../callback-marker';
import { photoPalette, writeTarExport, writeZipExport } from '../demo-export';
import { PROBLEM_KINDS, type ProblemKind } from '../split-plan';
import {
  archiveSplitSettings, BUCKET, messageJobContext, objectEvent, RecordingSender, requestBody, UPDATES_QUEUE, UPLOADS_QUEUE,
} from './factories';
import { yazlZip } from './zip-builders';

/**
 * The archive-split job as the worker drives it, one delivery at a time: what it sends to the callback queue, what
 * it leaves in the bucket and on disk, and what it throws for the worker to settle the message with.
 */

const BATCH = 50;
/** Rows 40 and 80 name photos the exports lack. */
const MISSING_EVERY = 40;
const ZIP_ROWS = 120;
const TAR_ROWS = 90;

let dir: string;
let photos: Buffer[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'archive-split-job-'));
  photos = await photoPalette(6);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Harness {
  readonly job: ArchiveSplitJob;
  readonly dirs: WorkDirs;
  readonly store: MemoryStore;
  readonly sender: RecordingSender;
  readonly log: MemoryLog;
}

/** A job with its own work root (so its leftovers are its own), over a fresh store. */
async function harness(env: NodeJS.ProcessEnv = {}): Promise<Harness> {
  const root = mkdtempSync(join(dir, 'work-'));
  const dirs = await WorkDirs.open(root);
  const job = new ArchiveSplitJob(archiveSplitSettings(root, { BATCH_SIZE: String(BATCH), ...env }), dirs, 1024 ** 3);
  return { job, dirs, store: new MemoryStore(), sender: new RecordingSender(), log: new MemoryLog() };
}

const contextOf = (h: Harness, delivery: { attempt?: number; finalAttempt?: boolean } = {}) => messageJobContext({ store: h.store, sender: h.sender, log: h.log, ...delivery });

/** Writes an export with `write`, stores it at `key` and returns its bytes. */
async function stored(h: Harness, key: string, write: (path: string) => Promise<void>): Promise<Buffer> {
  const path = join(dir, `${process.hrtime.bigint()}-${key.replace(/\//g, '_')}`);
  await write(path);
  const bytes = readFileSync(path);
  h.store.add(BUCKET, key, bytes);
  return bytes;
}

/** A request for `exports/<file>` as the original system sends it, its totalSize the stored object's. */
function requestFor(file: string, totalSize: number, overrides: Record<string, unknown> = {}): string {
  return requestBody({ downloadId: 'dl-42', file, exportPath: 'exports/', totalSize, ...overrides });
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** The id callback.ts documents: the same outcome of the same archive version always gets the same one. */
const dedupId = (downloadId: string, etag: string | null, status: string, batchFiles: readonly string[], reason: string | null) =>
  sha256(JSON.stringify([downloadId, etag, status, batchFiles, reason]));

function byKind(counts: Partial<Record<ProblemKind, number>>): Record<ProblemKind, number> {
  return Object.fromEntries(PROBLEM_KINDS.map((kind) => [kind, counts[kind] ?? 0])) as Record<ProblemKind, number>;
}

/** A batch ZIP checked by Info-ZIP, as its reader will: its names, and its problems.csv rows as the callback's fields. */
function unzipped(store: MemoryStore, key: string): { names: string[]; problems: Record<string, unknown>[] } {
  const path = join(dir, `${process.hrtime.bigint()}.zip`);
  writeFileSync(path, store.object(BUCKET, key)!.body);
  execFileSync('unzip', ['-tqq', path]);
  const names = execFileSync('unzip', ['-Z1', path], { encoding: 'utf8' }).trim().split('\n');
  const rows = parse(execFileSync('unzip', ['-p', path, 'problems.csv'], { encoding: 'utf8' }), { columns: true }) as Record<string, string>[];
  const problems = rows.map((row) => ({
    kind: row.kind, ...(row.row !== '' ? { row: Number(row.row) } : {}), ...(row.image !== '' ? { image: row.image } : {}), ...(row.entry !== '' ? { entry: row.entry } : {}), detail: row.detail,
  }));
  return { names, problems };
}

/** Every file under a directory, at any depth: what a message's work directory left behind. */
function filesUnder(path: string): string[] {
  return readdirSync(path, { recursive: true, withFileTypes: true }).filter((entry) => !entry.isDirectory()).map((entry) => join(entry.parentPath, entry.name));
}

function markers(store: MemoryStore): string[] {
  return store.keys(BUCKET).filter((key) => key.includes('.callback-'));
}

/**
 * No image's bytes in any text: raw (as Latin-1 or UTF-8 would show them), hex or base64, from the start, middle and
 * end of every photo. The offsets are multiples of 3, where a base64 of the whole photo has the slice's own encoding.
 */
function expectNoImageBytes(texts: readonly string[]): void {
  const all = texts.join('\n');
  for (const photo of photos) {
    for (const offset of [0, photo.length / 2, photo.length - 24].map((at) => Math.floor(at / 3) * 3)) {
      const slice = photo.subarray(offset, offset + 24);
      // A decoded slice's first and last characters may differ from the whole photo's decoding (split sequences).
      const decoded = [slice.toString('latin1'), slice.toString('utf8')].map((text) => text.slice(4, -4));
      const inJson = decoded.map((text) => JSON.stringify(text).slice(1, -1));
      for (const encoded of [...decoded, ...inJson, slice.toString('hex'), slice.toString('base64')]) {
        expect(all.includes(encoded)).toBe(false);
      }
    }
  }
  // JPEG's own marker, as any decoding of a photo would carry it.
  expect(all).not.toMatch(/JFIF/);
}

describe('a successful split', () => {
  it('ZIP: batch ZIPs in part order and one callback telling rows, images and every problem, with a marker beside the parts', async () => {
    const h = await harness();
    const bytes = await stored(h, 'exports/birds.zip', (path) => writeZipExport(path, ZIP_ROWS, photos, MISSING_EVERY));
    await h.job.handleRequest(requestFor('birds.zip', bytes.length), contextOf(h));

    const etag = h.store.object(BUCKET, 'exports/birds.zip')!.etag;
    const batchFiles = ['batch/birds-part1.zip', 'batch/birds-part2.zip', 'batch/birds-part3.zip'];
    const deduplicationId = dedupId('dl-42', etag, 'success', batchFiles, null);
    expect(h.sender.sent.map((message) => message.queueUrl)).toEqual([UPDATES_QUEUE]);
    const [callback] = h.sender.callbacks(UPDATES_QUEUE);
    // 119 rows of photos and a last row naming a path outside the export; photos 40 and 80 are not in it.
    expect(callback).toEqual({
      downloadId: 'dl-42', status: 'success', batchFiles, batchFileCount: 3, rows: ZIP_ROWS, images: ZIP_ROWS - 3,
      problems: [
        { kind: 'missing-file', row: 40, image: 'images/S000/S000040.jpg', detail: expect.any(String) },
        { kind: 'missing-file', row: 80, image: 'images/S000/S000080.jpg', detail: expect.any(String) },
        { kind: 'unsafe-path', row: 120, image: '../../etc/passwd', detail: expect.any(String) },
      ],
      problemCount: 3, problemsByKind: byKind({ 'missing-file': 2, 'unsafe-path': 1 }), deduplicationId,
    });
    // The callback's problems are the parts' problems.csv, in part order, word for word.
    const parts = batchFiles.map((key) => unzipped(h.store, key));
    expect(callback!.problems).toEqual(parts.flatMap((part) => part.problems));
    expect(parts.map((part) => part.names.length - 2)).toEqual([49, 49, 19]);
    expect(h.store.keys(BUCKET)).toEqual([...batchFiles, callbackMarkerKey('batch/', 'birds', 'success', deduplicationId), 'exports/birds.zip']);
    expect(h.store.object(BUCKET, callbackMarkerKey('batch/', 'birds', 'success', deduplicationId))!.body.toString()).toBe(h.sender.sent[0]!.body);
  });

  it('TAR.GZ: the same callback shape, its parts built through the spill, which is gone afterwards', async () => {
    const h = await harness();
    const bytes = await stored(h, 'exports/owls.tar.gz', (path) => writeTarExport(path, TAR_ROWS, photos, MISSING_EVERY));
    const seenDuringUploads: string[][] = [];
    const upload = h.store.uploadStream.bind(h.store);
    h.store.uploadStream = async (...args) => {
      seenDuringUploads.push(filesUnder(h.dirs.processDir));
      return upload(...args);
    };
    await h.job.handleRequest(requestFor('owls.tar.gz', bytes.length), contextOf(h));

    const batchFiles = ['batch/owls-part1.zip', 'batch/owls-part2.zip'];
    const [callback] = h.sender.callbacks(UPDATES_QUEUE);
    expect(callback).toEqual({
      downloadId: 'dl-42', status: 'success', batchFiles, batchFileCount: 2, rows: TAR_ROWS, images: TAR_ROWS - 2,
      problems: [
        { kind: 'missing-file', row: 40, image: 'images/S000/S000040.jpg', detail: expect.any(String) },
        { kind: 'missing-file', row: 80, image: 'images/S000/S000080.jpg', detail: expect.any(String) },
      ],
      problemCount: 2, problemsByKind: byKind({ 'missing-file': 2 }),
      deduplicationId: dedupId('dl-42', h.store.object(BUCKET, 'exports/owls.tar.gz')!.etag, 'success', batchFiles, null),
    });
    expect(callback!.problems).toEqual(batchFiles.flatMap((key) => unzipped(h.store, key).problems));
    // The shuffled TAR made the job spill entries of part 2 while part 1 was built; none of it is left.
    expect(h.log.messages('archive split')[0]).toMatchObject({ format: 'tar.gz', parts: 2, built: 2, kept: 0 });
    expect(h.log.messages('archive split')[0]!.spillHighWaterBytes).toBeGreaterThan(0);
    expect(seenDuringUploads.some((files) => files.length > 0)).toBe(true);
    expect(readdirSync(h.dirs.processDir)).toEqual([]);
  });
});

describe('at most two callbacks per outcome', () => {
  it('the same message handled twice sends one callback and rebuilds nothing: the marker and the parts\' fingerprints are found', async () => {
    const h = await harness();
    const bytes = await stored(h, 'exports/birds.zip', (path) => writeZipExport(path, ZIP_ROWS, photos, MISSING_EVERY));
    const body = requestFor('birds.zip', bytes.length);
    await h.job.handleRequest(body, contextOf(h));
    const parts = h.store.keys(BUCKET).filter((key) => key.endsWith('.zip') && key.startsWith('batch/'));
    const before = parts.map((key) => h.store.object(BUCKET, key)!);
    const uploads = h.store.calls.uploadStream;

    await h.job.handleRequest(body, contextOf(h, { attempt: 2 }));

    expect(h.sender.sent).toHaveLength(1);
    expect(h.store.calls.uploadStream).toBe(uploads);
    // The very objects of the first run, not equal copies: nothing was written again.
    parts.forEach((key, index) => expect(h.store.object(BUCKET, key)).toBe(before[index]));
    expect(before.every((object) => object.metadata[FINGERPRINT_METADATA]?.length === 64)).toBe(true);
    expect(h.log.messages('parts kept')).toEqual([{ kept: 3, toBuild: 0 }]);
    expect(h.log.messages('callback already sent')).toHaveLength(1);
    expect(markers(h.store)).toHaveLength(1);
  });

  it('a kill between the send and the marker sends the same callback again, with the same deduplication id - and never a third time', async () => {
    const h = await harness();
    const bytes = await stored(h, 'exports/birds.zip', (path) => writeZipExport(path, ZIP_ROWS, photos, MISSING_EVERY));
    const body = requestFor('birds.zip', bytes.length);
    await h.job.handleRequest(body, contextOf(h));
    // What a worker killed right after the send leaves: the callback went, the marker did not.
    const [marker] = markers(h.store);
    h.store.objects.delete(`${BUCKET}/${marker!}`);

    await h.job.handleRequest(body, contextOf(h, { attempt: 2 }));
    await h.job.handleRequest(body, contextOf(h, { attempt: 3 }));

    expect(h.sender.sent).toHaveLength(2);
    expect(h.sender.sent[1]!.body).toBe(h.sender.sent[0]!.body);
    const ids = h.sender.callbacks(UPDATES_QUEUE).map((callback) => callback.deduplicationId);
    expect(ids[1]).toBe(ids[0]);
    expect(markers(h.store)).toEqual([marker]);
  });
});

describe('failures the requester hears of', () => {
  /** Each permanent failure: what is stored, the request for it, and the error the worker must see. */
  const cases: readonly {
    readonly name: string;
    readonly stem?: string;
    readonly setUp: (h: Harness) => Promise<string>;
    readonly error: new (...args: never[]) => PermanentError;
    readonly reason: RegExp;
  }[] = [
    {
      name: 'not an archive', stem: 'notes', error: NotAnArchiveError, reason: /not a ZIP or TAR\.GZ|looks like/i,
      setUp: async (h) => {
        const text = Buffer.from('just some text with a .zip name\n');
        h.store.add(BUCKET, 'exports/notes.zip', text);
        return requestFor('notes.zip', text.length);
      },
    },
    {
      name: 'no manifest', stem: 'bare', error: ManifestMissingError, reason: /manifest\.csv/,
      setUp: async (h) => {
        const bytes = await yazlZip([{ name: 'export/images/S000/S000001.jpg', content: photos[0]! }, { name: 'export/readme.txt', content: Buffer.from('no manifest here') }]);
        h.store.add(BUCKET, 'exports/bare.zip', bytes);
        return requestFor('bare.zip', bytes.length);
      },
    },
    {
      name: 'corrupt', stem: 'cut', error: CorruptArchiveError, reason: /.+/,
      setUp: async (h) => {
        const whole = await stored(h, 'exports/cut.zip', (path) => writeZipExport(path, 60, photos, MISSING_EVERY));
        h.store.add(BUCKET, 'exports/cut.zip', whole.subarray(0, whole.length - 300));
        return requestFor('cut.zip', whole.length - 300);
      },
    },
    {
      name: 'size mismatch', stem: 'birds', error: SizeMismatchError, reason: /totalSize says 12\b/,
      setUp: async (h) => {
        await stored(h, 'exports/birds.zip', (path) => writeZipExport(path, 10, photos, MISSING_EVERY));
        return requestFor('birds.zip', 12);
      },
    },
    {
      name: 'archive missing', stem: 'gone', error: ArchiveMissingError, reason: /s3:\/\/exports\/exports\/gone\.zip does not exist/,
      setUp: async () => requestFor('gone.zip', 1000),
    },
    {
      name: 'a bad request whose downloadId and queue are valid', error: SplitRequestError, reason: /s3Bucket must be one of ALLOWED_BUCKETS/,
      setUp: async () => requestFor('birds.zip', 1000, { s3Bucket: 'someone-elses' }),
    },
  ];

  it.each(cases)('$name: a failure callback with the reason, and the error rethrown for the DLQ', async ({ setUp, error, reason, stem }) => {
    const h = await harness();
    const body = await setUp(h);
    const thrown = await h.job.handleRequest(body, contextOf(h)).then(() => undefined, (caught: unknown) => caught);

    expect(thrown).toBeInstanceOf(error);
    expect(thrown).toBeInstanceOf(PermanentError);
    const message = (thrown as Error).message;
    expect(message).toMatch(reason);
    expect(h.sender.callbacks(UPDATES_QUEUE)).toEqual([{
      downloadId: 'dl-42', status: 'failure', batchFiles: [], batchFileCount: 0, rows: 0, images: 0, problems: [], problemCount: 0,
      problemsByKind: byKind({}), deduplicationId: dedupId('dl-42', null, 'failure', [], message), reason: message,
    }]);
    expect(h.sender.sent).toHaveLength(1);
    // No part of a failed split is left; only a request naming its archive gets a marker (a bad one has no name to give).
    expect(h.store.keys(BUCKET).filter((key) => key.startsWith('batch/'))).toEqual(stem === undefined ? [] : [callbackMarkerKey('batch/', stem, 'failure', dedupId('dl-42', null, 'failure', [], message))]);
    expect(readdirSync(h.dirs.processDir)).toEqual([]);
  });

  it.each([
    ['an updatesQueueUrl that is not allowed', { updatesQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/999999999999/elsewhere' }, /updatesQueueUrl must be one of/],
    ['no usable downloadId', { downloadId: '' }, /downloadId must be/],
  ])('%s: no callback at all, and a SplitRequestError', async (_name, overrides, reason) => {
    const h = await harness();
    const thrown = await h.job.handleRequest(requestFor('birds.zip', 1000, overrides), contextOf(h)).then(() => undefined, (caught: unknown) => caught);
    expect(thrown).toBeInstanceOf(SplitRequestError);
    expect((thrown as Error).message).toMatch(reason);
    expect(h.sender.sent).toEqual([]);
    expect(h.store.keys(BUCKET)).toEqual([]);
  });

  it('an archive deleted while it is being split: the requester hears of it (ArchiveMissingError), as of one missing from the start', async () => {
    const h = await harness();
    const bytes = await stored(h, 'exports/birds.zip', (path) => writeZipExport(path, ZIP_ROWS, photos, MISSING_EVERY));
    // Gone after the HEAD that found it, before the first ranged read.
    const read = h.store.readRange.bind(h.store);
    h.store.readRange = async (...args) => {
      h.store.objects.delete(`${BUCKET}/exports/birds.zip`);
      return read(...args);
    };
    const thrown = await h.job.handleRequest(requestFor('birds.zip', bytes.length), contextOf(h)).then(() => undefined, (caught: unknown) => caught);

    // A SourceMissingError would be no one's failure: the worker turns it into a dead letter the requester never hears of.
    expect(thrown).toBeInstanceOf(ArchiveMissingError);
    expect(h.sender.callbacks(UPDATES_QUEUE)).toEqual([expect.objectContaining({ downloadId: 'dl-42', status: 'failure', reason: (thrown as Error).message })]);
    expect((thrown as Error).message).toMatch(/s3:\/\/exports\/exports\/birds\.zip no longer exists/);
  });

  it('a transient failure on the final attempt: a failure callback saying it gave up after N attempts; on an earlier attempt none', async () => {
    const h = await harness();
    const bytes = await stored(h, 'exports/birds.zip', (path) => writeZipExport(path, 10, photos, MISSING_EVERY));
    const body = requestFor('birds.zip', bytes.length);
    const slowDown = () => Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });

    // Every read of the archive fails; the callback's own calls (HEAD of the marker, the send) do not read.
    h.store.failNext.get.push(...Array.from({ length: 20 }, slowDown));
    await expect(h.job.handleRequest(body, contextOf(h, { attempt: 2, finalAttempt: false }))).rejects.toMatchObject({ name: 'SlowDown' });
    expect(h.sender.sent).toEqual([]);

    await expect(h.job.handleRequest(body, contextOf(h, { attempt: 3, finalAttempt: true }))).rejects.toMatchObject({ name: 'SlowDown' });
    expect(h.sender.callbacks(UPDATES_QUEUE)).toEqual([expect.objectContaining({ downloadId: 'dl-42', status: 'failure', reason: 'gave up after 3 attempts: Please reduce your request rate.' })]);
    expect(markers(h.store)).toHaveLength(1);
    expect(readdirSync(h.dirs.processDir)).toEqual([]);
  });

  it('a part failing midway through a TAR.GZ: the spill held entries then, and the work directory is gone afterwards', async () => {
    const h = await harness();
    const bytes = await stored(h, 'exports/owls.tar.gz', (path) => writeTarExport(path, TAR_ROWS, photos, MISSING_EVERY));
    let spilled: string[] = [];
    const upload = h.store.uploadStream.bind(h.store);
    h.store.uploadStream = async (...args) => {
      if (h.store.calls.uploadStream === 0) return upload(...args);
      spilled = filesUnder(h.dirs.processDir);
      args[1].destroy();
      // A permanent S3 answer for the second part: the split fails with part 2's entries still spilled.
      throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    };
    await expect(h.job.handleRequest(requestFor('owls.tar.gz', bytes.length), contextOf(h))).rejects.toMatchObject({ name: 'AccessDenied' });

    expect(spilled.length).toBeGreaterThan(0);
    expect(readdirSync(h.dirs.processDir)).toEqual([]);
    expect(h.sender.callbacks(UPDATES_QUEUE)).toEqual([expect.objectContaining({ status: 'failure', reason: expect.stringMatching(/^Access Denied/) })]);
  });
});

describe('uploads under ARCHIVE_PREFIX (the event form)', () => {
  const uploadEnv = { ARCHIVE_PREFIX: 'uploads/', CALLBACK_QUEUE_URL: UPLOADS_QUEUE };

  it('the key is the downloadId and the callback goes to CALLBACK_QUEUE_URL', async () => {
    const h = await harness(uploadEnv);
    const bytes = await stored(h, 'uploads/2026/birds.zip', (path) => writeZipExport(path, ZIP_ROWS, photos, MISSING_EVERY));
    const etag = h.store.object(BUCKET, 'uploads/2026/birds.zip')!.etag;
    await h.job.handleObject(objectEvent({ key: 'uploads/2026/birds.zip', size: bytes.length, etag }), contextOf(h));

    expect(h.sender.sent.map((message) => message.queueUrl)).toEqual([UPLOADS_QUEUE]);
    const batchFiles = ['batch/birds-part1.zip', 'batch/birds-part2.zip', 'batch/birds-part3.zip'];
    expect(h.sender.callbacks(UPLOADS_QUEUE)[0]).toMatchObject({
      downloadId: 'uploads/2026/birds.zip', status: 'success', batchFiles, rows: ZIP_ROWS, images: ZIP_ROWS - 3, problemCount: 3,
      deduplicationId: dedupId('uploads/2026/birds.zip', etag, 'success', batchFiles, null),
    });
  });

  it('an upload that is no archive: the failure callback goes to CALLBACK_QUEUE_URL too', async () => {
    const h = await harness(uploadEnv);
    const etag = h.store.add(BUCKET, 'uploads/notes.zip', 'a text file named like a ZIP\n');
    await expect(h.job.handleObject(objectEvent({ key: 'uploads/notes.zip', size: 29, etag }), contextOf(h))).rejects.toThrow(NotAnArchiveError);
    expect(h.sender.callbacks(UPLOADS_QUEUE)).toEqual([expect.objectContaining({ downloadId: 'uploads/notes.zip', status: 'failure' })]);
  });

  it('a late event for a version since replaced by a larger one: no failure after the success, and no second callback', async () => {
    const h = await harness(uploadEnv);
    const old = await stored(h, 'uploads/birds.zip', (path) => writeZipExport(path, 60, photos, MISSING_EVERY));
    const oldEtag = h.store.object(BUCKET, 'uploads/birds.zip')!.etag;
    const current = await stored(h, 'uploads/birds.zip', (path) => writeZipExport(path, ZIP_ROWS, photos, MISSING_EVERY));
    const currentEtag = h.store.object(BUCKET, 'uploads/birds.zip')!.etag;
    expect(current.length).not.toBe(old.length);
    await h.job.handleObject(objectEvent({ key: 'uploads/birds.zip', size: current.length, etag: currentEtag }), contextOf(h));

    // S3 delivers events out of order: the first upload's event comes last. Its size is that version's, not a mismatch.
    await h.job.handleObject(objectEvent({ key: 'uploads/birds.zip', size: old.length, etag: oldEtag }), contextOf(h));

    expect(h.sender.callbacks(UPLOADS_QUEUE)).toEqual([expect.objectContaining({ status: 'success', rows: ZIP_ROWS })]);
    expect(h.store.keys(BUCKET).filter((key) => key.includes('.callback-failure-'))).toEqual([]);
  });

  it('an upload deleted before the job ran: SourceMissingError (acknowledged as skipped), no callback, nothing written', async () => {
    const h = await harness(uploadEnv);
    await expect(h.job.handleObject(objectEvent({ key: 'uploads/gone.zip', size: 1000, etag: 'abc' }), contextOf(h, { attempt: 3, finalAttempt: true }))).rejects.toThrow(SourceMissingError);
    expect(h.sender.sent).toEqual([]);
    expect(h.store.keys(BUCKET)).toEqual([]);
    expect(readdirSync(h.dirs.processDir)).toEqual([]);
  });
});

describe('what leaves the job', () => {
  it('no callback body and no log line carries image bytes, on success or on failure', async () => {
    const h = await harness();
    const zip = await stored(h, 'exports/birds.zip', (path) => writeZipExport(path, ZIP_ROWS, photos, MISSING_EVERY));
    const tar = await stored(h, 'exports/owls.tar.gz', (path) => writeTarExport(path, TAR_ROWS, photos, MISSING_EVERY));
    await h.job.handleRequest(requestFor('birds.zip', zip.length), contextOf(h));
    await h.job.handleRequest(requestFor('owls.tar.gz', tar.length), contextOf(h));
    await expect(h.job.handleRequest(requestFor('birds.zip', 12), contextOf(h))).rejects.toThrow(SizeMismatchError);

    expect(h.sender.sent.map((message) => JSON.parse(message.body).status)).toEqual(['success', 'success', 'failure']);
    expect(h.log.lines.length).toBeGreaterThan(5);
    expectNoImageBytes([...h.sender.sent.map((message) => message.body), ...h.log.lines.map((line) => JSON.stringify(line))]);
    // The check above can fail: the photos' bytes are in the batch ZIPs it was not pointed at.
    expect(h.store.object(BUCKET, 'batch/birds-part1.zip')!.body.includes(photos[1]!)).toBe(true);
  });
});

