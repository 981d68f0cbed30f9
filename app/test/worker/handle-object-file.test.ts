import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PermanentError, TransientError } from '../../../shared/errors';
import { buildS3Event } from '../../../shared/events/s3-event-shape';
import { MemoryLog } from '../../../shared/log/logger';
import { openDiskWorkspaces } from '../../src/job/disk-workspaces';
import type { FileOutput, ObjectInput, ObjectJob } from '../../src/job/object-job';
import { WorkerStats } from '../../src/metrics/worker-stats';
import { handleMessage } from '../../src/worker/handle-message';
import { MemoryStore } from '../fakes/memory-store';

class NoMoreWork extends PermanentError {
  override readonly name = 'NoMoreWork';
  readonly reason = 'program-refused';
}

/** A `file` job that copies its input into two outputs, one nested, as a program writing files would. */
class CopyJob implements ObjectJob {
  readonly name = 'copy';
  readonly consumes = 'file' as const;
  readonly seen: { path: string; outputDir: string; content: string }[] = [];
  fail?: Error;
  plannedOutputs() {
    return undefined;
  }
  describe() {
    return {};
  }
  async process(input: ObjectInput): Promise<FileOutput[]> {
    if (input.kind !== 'file') throw new TypeError('files only');
    const content = readFileSync(input.path, 'utf8');
    this.seen.push({ path: input.path, outputDir: input.outputDir, content });
    if (this.fail !== undefined) throw this.fail;
    await mkdir(join(input.outputDir, 'nested'));
    writeFileSync(join(input.outputDir, 'copy.txt'), content.toUpperCase());
    writeFileSync(join(input.outputDir, 'nested', 'size.txt'), String(content.length));
    return [
      { name: `${input.source.relativeKey}/copy.txt`, contentType: 'text/plain', path: join(input.outputDir, 'copy.txt'), size: content.length },
      { name: `${input.source.relativeKey}/nested/size.txt`, contentType: 'text/plain', path: join(input.outputDir, 'nested', 'size.txt'), size: String(content.length).length },
    ];
  }
}

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'file-job-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function setup(budgetBytes = 1024 * 1024) {
  const store = new MemoryStore();
  const log = new MemoryLog();
  const job = new CopyJob();
  // Factor 1: the reservation is the object's size, so the budget's arithmetic is the test's.
  const workspaces = await openDiskWorkspaces({ root, budgetBytes, reserveFactor: 1 }, log);
  const deps = {
    store, job, workspaces, log, stats: new WorkerStats(),
    config: { destBucket: 'dest', destPrefix: 'out/', sourcePrefix: 'in/', maxInputBytes: 4, maxReceiveCount: 5 },
    retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined },
  };
  const handle = (...keys: string[]) =>
    handleMessage({ messageId: 'm', receiptHandle: 'r', receiveCount: 1, attributes: {}, body: buildS3Event(keys.map((key) => ({ bucket: 'src', key, size: store.object('src', key)?.size ?? 0, etag: store.object('src', key)?.etag ?? 'x' }))) }, deps);
  /** Every message directory under the root: empty once each object is done, whatever happened. */
  const leftovers = () => readdirSync(root, { recursive: true }).filter((entry) => String(entry).includes('msg-'));
  return { store, job, log, handle, leftovers };
}

describe('an object job that consumes files', () => {
  it('gets the object as a file named like its key, and its outputs are uploaded under DEST_PREFIX with the source ETag', async () => {
    const { store, job, handle, leftovers } = await setup();
    const etag = store.add('src', 'in/a b/ü+x.geojson', 'features');
    await expect(handle('in/a b/ü+x.geojson')).resolves.toMatchObject({ failures: [] });
    expect(job.seen).toEqual([{ path: expect.stringMatching(/\/input\/ü\+x\.geojson$/), outputDir: expect.stringMatching(/\/output$/), content: 'features' }]);
    expect(store.keys('dest')).toEqual(['out/a b/ü+x.geojson/copy.txt', 'out/a b/ü+x.geojson/nested/size.txt']);
    expect(store.object('dest', 'out/a b/ü+x.geojson/copy.txt')).toMatchObject({ body: Buffer.from('FEATURES'), metadata: { 'source-etag': etag } });
    expect(store.calls).toMatchObject({ get: 0, download: 1, upload: 2, put: 0 });
    expect(leftovers()).toEqual([]);
  });

  it('is not bound by MAX_INPUT_BYTES, which limits objects held in memory, but by the disk budget', async () => {
    const { store, handle } = await setup();
    store.add('src', 'in/big.txt', 'far more than four bytes');
    await expect(handle('in/big.txt')).resolves.toMatchObject({ failures: [] });
  });

  it('removes the directory when the job fails, and dead-letters a permanent failure with its reason', async () => {
    const { store, job, handle, leftovers } = await setup();
    job.fail = new NoMoreWork('the program refused this file');
    store.add('src', 'in/x.txt', 'x');
    await expect(handle('in/x.txt')).resolves.toMatchObject({ failures: [{ kind: 'permanent', reason: 'program-refused', key: 'in/x.txt' }] });
    expect(store.keys('dest')).toEqual([]);
    expect(leftovers()).toEqual([]);
  });

  it('starts a retried download from no file, so a transient failure never leaves half an object', async () => {
    const { store, job, handle } = await setup();
    store.add('src', 'in/x.txt', 'whole');
    const download = store.download.bind(store);
    let cut = false;
    // The connection drops after part of the body reached the disk.
    store.download = async (ref, path, options) => {
      if (cut) return download(ref, path, options);
      cut = true;
      store.calls.download++;
      writeFileSync(path, 'who', { flag: 'wx' });
      throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    };
    await expect(handle('in/x.txt')).resolves.toMatchObject({ failures: [] });
    expect(job.seen.map((seen) => seen.content)).toEqual(['whole']);
    expect(store.calls.download).toBe(2);
  });

  it('refuses an object whose size can never fit the disk budget, before downloading it', async () => {
    const { store, handle, leftovers } = await setup(10);
    store.add('src', 'in/x.txt', 'eleven byte');
    await expect(handle('in/x.txt')).resolves.toMatchObject({ failures: [{ kind: 'permanent', reason: 'disk-budget-exceeded' }] });
    expect(store.calls.download).toBe(0);
    expect(leftovers()).toEqual([]);
  });

  it('hands a transient failure back as transient, with the directory removed', async () => {
    const { store, job, handle, leftovers } = await setup();
    job.fail = new TransientError('command-tempfail', 'try later');
    store.add('src', 'in/x.txt', 'x');
    await expect(handle('in/x.txt')).resolves.toMatchObject({ failures: [{ kind: 'transient', reason: 'command-tempfail' }] });
    expect(leftovers()).toEqual([]);
  });

  it('stops uploading at the first output that fails, and settles only once no upload is still running', async () => {
    const { store, job, handle, leftovers } = await setup();
    store.add('src', 'in/many.txt', 'x');
    job.process = async (input: ObjectInput) => {
      if (input.kind !== 'file') throw new TypeError('files only');
      return Array.from({ length: 20 }, (_, n) => {
        writeFileSync(join(input.outputDir, `${n}.txt`), String(n));
        return { name: `many.txt/${n}.txt`, contentType: 'text/plain', path: join(input.outputDir, `${n}.txt`), size: 1 };
      });
    };
    let started = 0;
    let running = 0;
    store.upload = async (ref) => {
      started++;
      running++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      if (ref.key.endsWith('/1.txt')) throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    };
    await expect(handle('in/many.txt')).resolves.toMatchObject({ failures: [{ kind: 'permanent', reason: 'access-denied' }] });
    expect(running).toBe(0);
    expect(started).toBeLessThan(20);
    expect(leftovers()).toEqual([]);
  });

  it('refuses every output before the first upload when one output key would pass S3\'s 1024 bytes', async () => {
    const { store, job, handle } = await setup();
    store.add('src', 'in/x.txt', 'x');
    job.process = async (input: ObjectInput) => {
      if (input.kind !== 'file') throw new TypeError('files only');
      writeFileSync(join(input.outputDir, 'ok.txt'), 'ok');
      return [
        { name: 'x.txt/ok.txt', contentType: 'text/plain', path: join(input.outputDir, 'ok.txt'), size: 2 },
        { name: `x.txt/${'long/'.repeat(210)}z.txt`, contentType: 'text/plain', path: join(input.outputDir, 'ok.txt'), size: 2 },
      ];
    };
    await expect(handle('in/x.txt')).resolves.toMatchObject({ failures: [{ kind: 'permanent', reason: 'output-key-too-long' }] });
    expect(store.calls.upload).toBe(0);
  });
});
