import { ConfigError } from '../../../../shared/errors';
import { isBucketName, readArchiveSettings } from '../archive-settings';
import { UPDATES_QUEUE, UPLOADS_QUEUE } from './factories';

function configError(env: NodeJS.ProcessEnv): string {
  try {
    readArchiveSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('archive-split settings', () => {
  it('defaults: 2000 rows a batch, manifest.csv, an image column, batch/, 64 MiB, no uploads, nothing allowed', () => {
    expect(readArchiveSettings({})).toEqual({
      batchSize: 2000, manifestName: 'manifest.csv', imageColumn: 'image', outputPrefix: 'batch/', allowedCallbackQueues: [], allowedBuckets: [],
      maxManifestBytes: 64 * 1024 * 1024, maxManifestRows: 200_000, maxArchiveEntries: 200_000,
    });
  });

  it('reads every variable, trimmed, and returns a frozen object', () => {
    const settings = readArchiveSettings({
      BATCH_SIZE: ' 500 ', MANIFEST_NAME: 'index.CSV', IMAGE_COLUMN: 'File Name', OUTPUT_PREFIX: 'out/parts/', ARCHIVE_PREFIX: 'uploads',
      CALLBACK_QUEUE_URL: UPLOADS_QUEUE, ALLOWED_CALLBACK_QUEUES: ` ${UPDATES_QUEUE} ,,${UPLOADS_QUEUE}`, ALLOWED_BUCKETS: 'exports, exports-eu', MAX_MANIFEST_BYTES: '1048576',
      MAX_MANIFEST_ROWS: '5000', MAX_ARCHIVE_ENTRIES: '6000',
    });
    expect(settings).toEqual({
      batchSize: 500, manifestName: 'index.CSV', imageColumn: 'File Name', outputPrefix: 'out/parts/', archivePrefix: 'uploads/',
      callbackQueueUrl: UPLOADS_QUEUE, allowedCallbackQueues: [UPLOADS_QUEUE, UPDATES_QUEUE], allowedBuckets: ['exports', 'exports-eu'], maxManifestBytes: 1048576,
      maxManifestRows: 5000, maxArchiveEntries: 6000,
    });
    expect(Object.isFrozen(settings)).toBe(true);
    expect(Object.isFrozen(settings.allowedBuckets)).toBe(true);
  });

  it('always allows CALLBACK_QUEUE_URL as a callback queue', () => {
    expect(readArchiveSettings({ CALLBACK_QUEUE_URL: UPLOADS_QUEUE }).allowedCallbackQueues).toEqual([UPLOADS_QUEUE]);
  });

  it('takes an empty OUTPUT_PREFIX as the bucket root, not as unset', () => {
    expect(readArchiveSettings({ OUTPUT_PREFIX: '' }).outputPrefix).toBe('');
    expect(readArchiveSettings({ OUTPUT_PREFIX: '  ' }).outputPrefix).toBe('');
  });

  it('names every bad variable at once, with the form expected', () => {
    const message = configError({
      BATCH_SIZE: '100001', MANIFEST_NAME: 'meta/manifest.csv', OUTPUT_PREFIX: 'batch', MAX_MANIFEST_BYTES: 'lots', ALLOWED_BUCKETS: 'exports,Bad_Bucket',
      ALLOWED_CALLBACK_QUEUES: 'https://a b',
    });
    expect(message).toMatch(/BATCH_SIZE="100001" is invalid: expected an integer from 1 to 100000/);
    expect(message).toMatch(/MANIFEST_NAME="meta\/manifest.csv" is invalid: expected a file name/);
    expect(message).toMatch(/OUTPUT_PREFIX="batch" is invalid: expected a folder ending with "\/"/);
    expect(message).toMatch(/MAX_MANIFEST_BYTES="lots" is invalid/);
    expect(message).toMatch(/ALLOWED_BUCKETS="exports,Bad_Bucket" is invalid: expected a comma-separated list of S3 bucket names/);
    expect(message).toMatch(/ALLOWED_CALLBACK_QUEUES="https:\/\/a b" is invalid/);
  });

  it.each(['/batch/', 'a//b/', '../out/', 'a/./b/'])('refuses OUTPUT_PREFIX %j', (prefix) => {
    expect(configError({ OUTPUT_PREFIX: prefix })).toMatch(/OUTPUT_PREFIX=/);
  });

  it.each([['0'], ['-5'], ['2.5']])('refuses BATCH_SIZE %s', (size) => {
    expect(configError({ BATCH_SIZE: size })).toMatch(/BATCH_SIZE/);
  });

  it('requires CALLBACK_QUEUE_URL with ARCHIVE_PREFIX', () => {
    expect(configError({ ARCHIVE_PREFIX: 'uploads/' })).toMatch(/CALLBACK_QUEUE_URL is missing: expected .*required with ARCHIVE_PREFIX/);
  });

  it('refuses an ARCHIVE_PREFIX holding OUTPUT_PREFIX: every batch ZIP would be split again', () => {
    expect(configError({ ARCHIVE_PREFIX: 'batch', CALLBACK_QUEUE_URL: UPLOADS_QUEUE })).toMatch(/ARCHIVE_PREFIX="batch" is invalid: .*split again/);
    expect(configError({ ARCHIVE_PREFIX: 'in/', OUTPUT_PREFIX: 'in/batches/', CALLBACK_QUEUE_URL: UPLOADS_QUEUE })).toMatch(/ARCHIVE_PREFIX/);
    // A folder whose name merely starts the same is another folder.
    expect(readArchiveSettings({ ARCHIVE_PREFIX: 'in', OUTPUT_PREFIX: 'inbox/', CALLBACK_QUEUE_URL: UPLOADS_QUEUE }).archivePrefix).toBe('in/');
    expect(readArchiveSettings({ ARCHIVE_PREFIX: 'uploads/', OUTPUT_PREFIX: '', CALLBACK_QUEUE_URL: UPLOADS_QUEUE }).archivePrefix).toBe('uploads/');
  });

  it('refuses a queue URL with spaces in CALLBACK_QUEUE_URL', () => {
    expect(configError({ CALLBACK_QUEUE_URL: 'https://sqs example' })).toMatch(/CALLBACK_QUEUE_URL="https:\/\/sqs example" is invalid/);
  });
});

describe('isBucketName', () => {
  it.each(['exports', 'my.bucket-1', 'abc', 'a'.repeat(63)])('accepts %s', (name) => expect(isBucketName(name)).toBe(true));
  it.each(['ab', 'a'.repeat(64), 'Exports', 'ex_ports', '-exports', 'exports-', 'ex..ports', '192.168.1.1', 'xn--abc', 'data-s3alias', ''])('refuses %j', (name) => {
    expect(isBucketName(name)).toBe(false);
  });
});
