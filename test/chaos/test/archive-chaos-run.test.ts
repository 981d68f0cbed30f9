import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { archiveRunProblems, formatArchiveReport, runArchiveChaos, type ArchiveChaosResult } from '../src/archive-chaos';

/**
 * The bounded archive-split chaos run inside `npm test`: four exports (two ZIPs, two TAR.GZs, entries shuffled, 300-360
 * incompressible images each, some rows without their image; two of larger images, so their batch ZIPs go up in
 * parts) and two broken uploads (not an archive; no manifest), one request each; two real archive-split workers (the
 * worker bundle) behind lane proxies, the strict S3 front and the S3 fault proxy; random SIGKILLs while batch ZIPs are
 * built and uploaded, one at an UploadPart, one after S3 completed an upload, one between the callback and its marker,
 * one after the marker; two archive reads cut mid-body. The same code as `npm run chaos -- --job archive`, smaller.
 */
const ROOT = resolve(__dirname, '../../..');
const planned = { randomKills: 2, midUploadKills: 1, afterCompleteKills: 1, beforeMarkerKills: 1, afterMarkerKills: 1, bodyCuts: 2 };
const KiB = 1024;
let dir: string;
let result: ArchiveChaosResult;
const broken = (pattern: RegExp) => [...result.report.violations, ...result.logLeaks].filter((violation) => pattern.test(violation));

beforeAll(async () => {
  const t0 = Date.now();
  dir = mkdtempSync(join(tmpdir(), 'chaos-archive-'));
  const bundle = (entry: string, out: string) =>
    build({ entryPoints: [join(ROOT, entry)], outfile: join(dir, out), bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['sharp', 'better-sqlite3', 's3rver'], logLevel: 'error' });
  await Promise.all([bundle('app/src/main.ts', 'worker.js'), bundle('test/chaos/src/pipeline-process.ts', 'pipeline.js')]);
  const small = { minImageBytes: 4 * KiB, maxImageBytes: 14 * KiB };
  // 120 of these are ~9.6 MB: over the 8 MiB part size, so such a batch ZIP is a multipart upload.
  const large = { minImageBytes: 60 * KiB, maxImageBytes: 100 * KiB };
  result = await runArchiveChaos({
    dataDir: join(dir, 'run'),
    workerPath: join(dir, 'worker.js'),
    pipelinePath: join(dir, 'pipeline.js'),
    nodeModules: join(ROOT, 'node_modules'),
    seed: 20261214,
    exports: [
      { format: 'zip', images: 330, ...small },
      { format: 'tar.gz', images: 360, ...large },
      { format: 'zip', images: 300, ...large },
      { format: 'tar.gz', images: 320, ...small },
    ],
    workers: 2,
    batchSize: 120,
    diskBudgetMiB: 8,
    s3FaultRate: 0.15,
    headFaultRate: 0.1,
    putFaultRate: 0.3,
    multipartFaultRate: 0.25,
    slowMs: 1200,
    ...planned,
    // Measured 40-80 s on 2 cores shared with other work; the bound is for a hang, not a speed target.
    timeoutSeconds: 150,
    // CHAOS_VERBOSE=1 prints the run's progress (kills, arming) as it happens.
    ...(process.env.CHAOS_VERBOSE === '1' ? { progress: (line: string) => process.stderr.write(`chaos ${((Date.now() - t0) / 1000).toFixed(1)} s: ${line}\n`) } : {}),
  });
  process.stdout.write(`${formatArchiveReport('bounded chaos run, archive-split job', result)}\n`);
}, 240_000);

afterAll(() => {
  if (process.env.CHAOS_KEEP_DIR === '1') process.stdout.write(`chaos data kept in ${dir}\n`);
  else if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('bounded chaos run, archive-split job', () => {
  it('did what it claims: SIGKILLs at random while batch ZIPs are built, at an UploadPart, after a completed upload, before and after a marker; reads cut mid-body; S3 faults of every kind on GETs, PUTs, HEADs and multipart calls', () => {
    expect(archiveRunProblems(result, planned)).toEqual([]);
    expect(result.uploads.multipartCompleted).toBeGreaterThan(0);
    // The shuffled TAR.GZs: out-of-order entries spilled to disk within DISK_BUDGET_MIB.
    expect(result.workerLines.spillHighWaterBytes).toBeGreaterThan(0);
  });

  it('lost nothing: every request called back as a success, or dead-lettered with a failure callback; nothing left in the queue', () => {
    expect(result.report.counts.lost).toBe(0);
    expect(result.report.counts.succeeded).toBe(result.report.counts.good);
    expect(result.report.counts.failedAndDeadLettered).toBe(result.report.counts.broken);
    expect(broken(/lost|still holds|DLQ|callback/)).toEqual([]);
  });

  it('every batch ZIP a callback lists exists, passes unzip -t and holds exactly its manifest rows and images, byte for byte; no extra parts; no finished part rebuilt', () => {
    expect(result.report.counts.partsChecked).toBe(result.report.counts.partsExpected);
    expect(result.report.counts.imagesChecked).toBe(result.generated.images);
    expect(broken(/batch ZIP|part|unzip|manifest\.csv|problems\.csv|images|entries|accounts for/)).toEqual([]);
  });

  it('holds every invariant, with no image content and no secret in a log line, and nothing left on disk', () => {
    expect(result.report.violations).toEqual([]);
    expect(result.logLeaks).toEqual([]);
  });
});
