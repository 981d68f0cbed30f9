import type { BenchResults } from '../src/bench-results';
import {
  accountingNote,
  ARCHIVE_PEAK_RSS_MIB,
  archiveSplitTargets,
  archiveSplitText,
  megabytesPerWorkerCpuSecond,
  memoryText,
  mib,
  splitIncomplete,
  throughputText,
  type ArchiveSplitMeasurement,
  type ArchiveSplitRun,
} from '../src/report/archive-report';
import { summaryMarkdown } from '../src/report/summary';
import { formatVerdict } from '../src/targets';
import { benchResults } from './factories';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** A 2 GiB ZIP split at 50 MB/s against a 100 MB/s raw read, in a 1024 MiB cgroup: every number round. */
function zipRun(overrides: Partial<ArchiveSplitRun> = {}): ArchiveSplitRun {
  const archiveBytes = 2 * GiB;
  return {
    label: 'ZIP, 2.0 GiB',
    format: 'zip',
    archiveBytes,
    images: 28_000,
    rows: 28_000,
    batchSize: 2000,
    expectedBatches: 14,
    rawRead: { bytes: archiveBytes, readSeconds: [archiveBytes / 1e6 / 100, archiveBytes / 1e6 / 80], readerCpuSeconds: [5, 6], megabytesPerSecond: 100 },
    memoryLimitMiB: 1024,
    diskBudgetMiB: 40960,
    seconds: archiveBytes / 1e6 / 50,
    megabytesPerSecond: 50,
    ratio: 0.5,
    peakRssMiB: 200,
    cgroup: { measured: true, limitMiB: 1024, peakMiB: 150, limitHits: 0, oomKills: 0 },
    killed: false,
    exitCode: 0,
    signal: null,
    workerCpuSeconds: 21.5,
    harnessCpuSeconds: 30,
    split: {
      format: 'zip', archiveBytes, bytesRead: archiveBytes, rows: 28_000, images: 28_000, parts: 14, passes: 0, spillHighWaterBytes: 0, seconds: 42.9, megabytesPerSecond: 50.1,
    },
    s3Traffic: { sentBytes: archiveBytes * 1.001, receivedBytes: archiveBytes },
    passLines: [],
    batchesUploaded: 14,
    sampledDiskHighWaterBytes: 0,
    callback: { status: 'success', batchFiles: ['batch/x-part1.zip'], batchFileCount: 14, rows: 28_000, images: 28_000, problemCount: 0 },
    spotCheck: { key: 'batch/x-part1.zip', bytes: 150 * MiB, ok: true, entries: 2002, images: 2000, detail: 'No errors detected in compressed data of spot-check.zip.' },
    deadLettered: 0,
    problems: [],
    ...overrides,
  };
}

/** The same content as a TAR.GZ: a listing read and one building read, 300 MiB spilled, at a quarter of the raw rate. */
function tarRun(overrides: Partial<ArchiveSplitRun> = {}): ArchiveSplitRun {
  const base = zipRun();
  return zipRun({
    label: 'TAR.GZ, 2.0 GiB',
    format: 'tar.gz',
    seconds: base.archiveBytes / 1e6 / 25,
    megabytesPerSecond: 25,
    ratio: 0.25,
    peakRssMiB: 300,
    split: { ...base.split!, format: 'tar.gz', bytesRead: base.archiveBytes, passes: 2, spillHighWaterBytes: 300 * MiB },
    s3Traffic: { sentBytes: base.archiveBytes * 2, receivedBytes: base.archiveBytes },
    passLines: [{ pass: 1, finishedParts: 14, remainingParts: 0, spilledBytes: 0, spillHighWaterBytes: 300 * MiB }],
    sampledDiskHighWaterBytes: 290 * MiB,
    ...overrides,
  });
}

function measurement(runs: readonly ArchiveSplitRun[] = [zipRun(), tarRun()]): ArchiveSplitMeasurement {
  return {
    measuredAt: '2026-12-03T08:00:00.000Z',
    alone: true,
    cores: 2,
    loadAverage: [1.2, 2.5],
    server: 's3rver 3.7.1 on 127.0.0.1 (in the bench process)',
    taskVcpu: 0.5,
    exports: [{ images: 28_000, imageBytes: 2 * GiB, rows: 28_000, minImageBytes: 50_000, maxImageBytes: 100_000, tarOrder: 'shuffled in windows', generatedSeconds: undefined }],
    uploads: [{ label: 'ZIP, 2.0 GiB', seconds: 10 }],
    runs,
  };
}

describe('archive split: a complete split', () => {
  it('is a success callback with every batch and the counts, and a first batch ZIP that passes unzip -t with its images and two CSVs', () => {
    expect(splitIncomplete(zipRun())).toEqual([]);
  });

  it('names what is missing: no callback, a failure, a batch short, counts off, problems in a clean export, a broken first batch', () => {
    expect(splitIncomplete(zipRun({ callback: undefined, spotCheck: undefined }))).toEqual(['no callback']);
    expect(splitIncomplete(zipRun({ callback: undefined, problems: ['no callback within 1800 s (worker exited 137)'] }))).toEqual(['no callback within 1800 s (worker exited 137)']);
    expect(splitIncomplete(zipRun({ callback: { ...zipRun().callback!, status: 'failure', reason: 'the archive is corrupt' }, spotCheck: undefined })))
      .toEqual(['callback failure: the archive is corrupt']);
    expect(splitIncomplete(zipRun({ callback: { ...zipRun().callback!, batchFileCount: 13, rows: 27_000, problemCount: 3 } }))).toEqual([
      '13 batch ZIPs, not 14',
      'callback counts 27000 rows and 28000 images, not 28000 and 28000',
      '3 problems reported for a clean export',
    ]);
    expect(splitIncomplete(zipRun({ spotCheck: { ...zipRun().spotCheck!, ok: false, detail: 'bad CRC' } }))).toEqual(['unzip -t failed on batch/x-part1.zip: bad CRC']);
    expect(splitIncomplete(zipRun({ spotCheck: { ...zipRun().spotCheck!, images: 1999, entries: 2001 } })))
      .toEqual(['batch/x-part1.zip holds 1999 images and 2001 entries, not 2000 and 2002']);
    expect(splitIncomplete(zipRun({ spotCheck: undefined }))).toEqual(['the first batch ZIP was not checked']);
  });

  it('expects as many images in the first batch as the export has when it is smaller than a batch', () => {
    const small = zipRun({ images: 300, rows: 300, expectedBatches: 1, callback: { ...zipRun().callback!, batchFileCount: 1, rows: 300, images: 300 }, spotCheck: { ...zipRun().spotCheck!, images: 300, entries: 302 } });
    expect(splitIncomplete(small)).toEqual([]);
  });
});

describe('archive split targets (issue 14)', () => {
  it('judges peak RSS under 512 MiB for every run, ZIP and TAR.GZ; throughput is not a target', () => {
    const checks = archiveSplitTargets(measurement([zipRun({ label: 'ZIP, 128 MiB', archiveBytes: 128 * MiB }), zipRun(), tarRun()]));
    expect(checks.map((check) => [check.target, check.measured, formatVerdict(check)])).toEqual([
      ['archive split (ZIP, 128 MiB): peak RSS under 512 MiB, not killed, every batch ZIP made', '200 MiB (39%); in a 1024 MiB memory cgroup (peak 150 MiB with page cache)', 'holds'],
      ['archive split (ZIP, 2.0 GiB): peak RSS under 512 MiB, not killed, every batch ZIP made', '200 MiB (39%); in a 1024 MiB memory cgroup (peak 150 MiB with page cache)', 'holds'],
      ['archive split (TAR.GZ, 2.0 GiB): peak RSS under 512 MiB, not killed, every batch ZIP made', '300 MiB (59%); in a 1024 MiB memory cgroup (peak 150 MiB with page cache)', 'holds'],
    ]);
    expect(checks.every((check) => check.note === undefined)).toBe(true);
  });

  it('misses at 512 MiB and above, when killed, and when the split is incomplete however little memory it took', () => {
    const [atLimit] = archiveSplitTargets(measurement([zipRun({ peakRssMiB: ARCHIVE_PEAK_RSS_MIB })]));
    expect(atLimit).toMatchObject({ holds: false, measured: '512 MiB (100%); in a 1024 MiB memory cgroup (peak 150 MiB with page cache)' });
    expect(atLimit!.note).toBeUndefined();

    const killedRun = zipRun({
      killed: true, signal: null, exitCode: 137, callback: undefined, spotCheck: undefined, cgroup: { measured: true, limitMiB: 1024, peakMiB: 1024, limitHits: 40, oomKills: 1 },
    });
    const [killed] = archiveSplitTargets(measurement([killedRun]));
    expect(killed).toMatchObject({ holds: false, measured: '200 MiB (39%), KILLED; in a 1024 MiB memory cgroup (peak 1024 MiB with page cache)', note: 'killed (OOM kill x1); no callback' });
    const [signalled] = archiveSplitTargets(measurement([{ ...killedRun, cgroup: { measured: false, reason: 'needs root' }, signal: 'SIGKILL' }]));
    expect(signalled!.note).toBe('killed (SIGKILL); no callback');

    const [short] = archiveSplitTargets(measurement([zipRun({ callback: { ...zipRun().callback!, batchFileCount: 13 } })]));
    expect(short).toMatchObject({ holds: false, note: '13 batch ZIPs, not 14' });
  });

  it('says when there was no memory cgroup: RSS is still judged', () => {
    const [check] = archiveSplitTargets(measurement([zipRun({ cgroup: { measured: false, reason: 'needs root' } })]));
    expect(check).toMatchObject({ holds: true, measured: '200 MiB (39%); no memory cgroup (RSS sampled only)' });
  });

  it('is not measured in results written before part 9', () => {
    expect(archiveSplitTargets(undefined).map(formatVerdict)).toEqual(['not measured']);
    expect(archiveSplitTargets(measurement([])).map(formatVerdict)).toEqual(['not measured']);
  });
});

describe('archive split throughput and memory, reported', () => {
  it('gives the largest ZIP\'s ratio, the worker\'s CPU per MB and the rate one vCPU of its own allows, and says why no bar is judged', () => {
    // 2147.5 MB over 21.5 worker CPU s: 99.9 MB per CPU s; the raw reader's best read 5 CPU s for the same bytes.
    expect(megabytesPerWorkerCpuSecond(zipRun())).toBeCloseTo(99.88, 2);
    expect(megabytesPerWorkerCpuSecond(zipRun({ workerCpuSeconds: 0 }))).toBeUndefined();
    const text = throughputText(measurement([zipRun({ label: 'ZIP, 128 MiB', archiveBytes: 128 * MiB, ratio: 0.9 }), zipRun(), tarRun()]));
    expect(text).toContain('the ZIP, 2.0 GiB split at 50.0 MB/s, **0.50x** the raw read\'s 100 MB/s.');
    expect(text).toContain('The worker used 21.5 CPU s (10.0 ms per MB; the raw reader 2.3 ms per MB), so with one vCPU to itself it would split at most 99.9 MB/s (1.00x the raw read)');
    expect(text).toContain('it kept 0.50 of a vCPU busy, while s3rver and the bench used 30.0 CPU s (0.70 of a vCPU) and the machine\'s load average was 1.2-2.5 on 2 cores.');
    expect(text).toContain('on a machine other work shares (two raw reads of one object differed by up to 1.3x). A bar such as 0.5x');
    expect(text).toContain('A bar such as 0.5x would be a verdict on s3rver and the machine\'s other load, not on the job');
    expect(throughputText(measurement([tarRun()]))).toBe('Throughput: no ZIP was split to the end, so there is no ratio to report.');
  });

  it('sets peak RSS against each ZIP\'s rows, and what the task\'s vCPU allows', () => {
    const small = zipRun({ label: 'ZIP, 128 MiB', archiveBytes: 128 * MiB, rows: 1_800, images: 1_800, peakRssMiB: 180 });
    const text = memoryText(measurement([zipRun(), small, tarRun()]));
    expect(text).toContain('ZIP peaks by rows: 1,800 rows in 128 MiB: 180 MiB; 28,000 rows in 2.00 GiB: 200 MiB (0.8 KiB more per row).');
    expect(text).toContain('The archive-split task has 0.5 vCPU: with the worker\'s CPU per MB above, a task splits at most 49.9 MB/s in AWS');
  });
});

describe('archive split section of the summary', () => {
  it('has a row per run: raw read, split time and rate, the ratio, peak RSS, the cgroup, disk, reads of the archive, bytes read, CPU, callback and the check', () => {
    const text = archiveSplitText(measurement());
    expect(text).toContain(
      '| ZIP, 2.0 GiB | 2.00 GiB | 100 | 42.9 | 50.0 | **0.50x** | **200** | 150 / 1024 | 0 / 0 | 0 (ranged reads) | 1.001x, 1.000x | 21.5 (0.50) | 99.9 | 30.0 | ' +
        'success, 14/14 ZIPs, 28,000 rows, 0 problems | OK: 2000 images + 2 CSVs, 150 MiB |',
    );
    expect(text).toContain(
      '| TAR.GZ, 2.0 GiB | 2.00 GiB | 100 | 85.9 | 25.0 | **0.25x** | **300** | 150 / 1024 | 300 MiB / 290 MiB | 2 (1 listing + 1 building) | 2.000x, 1.000x |',
    );
    expect(text).toContain('A generated export (28,000 incompressible "photos" of 50-100 kB, 2.00 GiB in all, and a 28,000-row manifest.csv), as a ZIP');
    expect(text).toContain('is stored in s3rver 3.7.1 on 127.0.0.1 (in the bench process). **Raw read**');
    expect(text).toContain('discards the bytes; the fastest of two reads one after another. **Split**');
    const oneRead = archiveSplitText(measurement([zipRun({ rawRead: { ...zipRun().rawRead, readSeconds: [21.5], readerCpuSeconds: [5] } })]));
    expect(oneRead).toContain('discards the bytes. **Split**');
    const withOthers = archiveSplitText({
      ...measurement(),
      exports: [...measurement().exports, { images: 200_000, imageBytes: 200e6, rows: 200_000, minImageBytes: 500, maxImageBytes: 1500, tarOrder: '', generatedSeconds: 300 }],
    });
    expect(withOthers).toContain('(in the bench process), with ZIPs of the same kind holding 200,000 files of 0.5-1.5 kB (191 MiB). **Raw read**');
    expect(text).toContain('inside a cgroup v1 memory group limited to the archive-split task\'s memory (1024 MiB');
    expect(text).toContain('BATCH_SIZE 2000, DISK_BUDGET_MIB 40960');
    expect(text).toContain('Raw reads: ZIP, 2.0 GiB: 100, 80 MB/s; TAR.GZ, 2.0 GiB: 100, 80 MB/s.');
    expect(text).toContain('1-minute load average 1.2 at the start of this part, 2.5 at the end. Measured alone (`--only archive`)');
  });

  it('explains a TAR.GZ\'s reads per byte fetched, and flags a job count that leaves out a building read', () => {
    const text = archiveSplitText(measurement());
    expect(text).toContain('TAR.GZ, 2.0 GiB: 2 reads of the archive (the listing read, then 1 building read), 4.00 GiB sent by S3 in all (2.00x the archive): counted per byte read, the rate is 0.50x the raw read.');
    expect(text).toContain('building read 1: 14 parts built, 0 left, spill high-water 300 MiB.');
    expect(accountingNote(tarRun())).toContain('bytesRead 2,147,483,648 (1.000x the archive), 2.00 GiB less than the server sent');
    // Within 2% (headers): nothing to say.
    expect(accountingNote(zipRun())).toBe('');
    expect(accountingNote(tarRun({ split: { ...tarRun().split!, bytesRead: 2 * 2 * GiB } }))).toBe('');
  });

  it('says how to add it when a results.json has none', () => {
    expect(archiveSplitText(undefined)).toMatch(/--only archive/);
  });

  it('formats sizes in MiB, and GiB from 10 GiB', () => {
    expect([mib(0), mib(undefined), mib(512 * 1024), mib(300 * MiB), mib(12 * GiB)]).toEqual(['0', 'n/a', '0.50 MiB', '300 MiB', '12.0 GiB']);
  });

  it('is part 9 of the summary, after the batch job and before the targets', () => {
    const archiveSplit = measurement();
    const results: BenchResults = { ...benchResults(), archiveSplit, targets: archiveSplitTargets(archiveSplit) };
    const summary = summaryMarkdown(results);
    const heading = '### 9. Archive split: a generated export into batch ZIPs, against the raw S3 read rate (issue 14)';
    expect(summary).toContain(heading);
    expect(summary.indexOf('### 8. Batch job')).toBeLessThan(summary.indexOf(heading));
    expect(summary.indexOf(heading)).toBeLessThan(summary.indexOf('### Targets'));
    expect(summary).toContain('| archive split (ZIP, 2.0 GiB): peak RSS under 512 MiB, not killed, every batch ZIP made | 200 MiB (39%)');
    expect(summaryMarkdown({ ...benchResults(), targets: [] })).toContain('Not measured in this run (`npm run bench -- --only archive` adds it).');
  });
});
