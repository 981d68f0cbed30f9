import type { TargetCheck } from '../targets';
import { fixed, markdownTable } from './markdown-table';

/**
 * Part 9 (issue 14): the archive-split job splitting a generated multi-GB export in one worker process, against the
 * raw S3 read rate of the same object through the same endpoint. The types are what results.json keeps
 * (`archiveSplit`); the functions here are pure (verdicts, the summary section), so they are unit-tested.
 */

export type ArchiveFormat = 'zip' | 'tar.gz';

/**
 * results.json's `archiveSplit`, declared beside its type: absent in results written before part 9;
 * `--only archive` adds it.
 */
declare module '../bench-results' {
  interface BenchResults {
    /** Part 9 (issue 14): the archive-split job on generated exports, against the raw S3 read rate. */
    readonly archiveSplit?: ArchiveSplitMeasurement;
  }
}

/** Whatever the archive's size: the job streams, so its memory follows the manifest's rows, not the archive's bytes. */
export const ARCHIVE_PEAK_RSS_MIB = 512;

export interface RawReadMeasurement {
  readonly bytes: number;
  /** Each read's seconds, one after another, from a separate Node process. */
  readonly readSeconds: readonly number[];
  readonly readerCpuSeconds: readonly number[];
  /** The fastest read's rate, in MB/s (10^6 bytes). */
  readonly megabytesPerSecond: number;
}

/** The worker's own `archive split` log line. */
export interface ArchiveSplitLogLine {
  readonly format: string;
  readonly archiveBytes: number;
  /** Archive bytes fetched from S3 (compressed bytes for a TAR.GZ, every pass). */
  readonly bytesRead: number;
  readonly rows: number;
  readonly images: number;
  readonly parts: number;
  /** Reads of the whole archive: 0 for a ZIP; the listing read plus the building reads for a TAR. */
  readonly passes: number;
  readonly spillHighWaterBytes: number;
  readonly seconds: number;
  readonly megabytesPerSecond: number;
}

/** An `archive pass` line: one building read of a TAR. */
export interface ArchivePassLine {
  readonly pass: number;
  readonly finishedParts: number;
  readonly remainingParts: number;
  readonly spilledBytes: number;
  readonly spillHighWaterBytes: number;
}

export type CgroupOutcome =
  | {
      readonly measured: true;
      readonly limitMiB: number;
      /** memory.max_usage_in_bytes: every process of the worker, page cache of its spill files included. */
      readonly peakMiB: number;
      /** memory.failcnt: how often usage reached the limit (page cache is reclaimed there, not a failure by itself). */
      readonly limitHits: number;
      readonly oomKills: number | undefined;
    }
  | { readonly measured: false; readonly reason: string };

export interface ArchiveCallbackSummary {
  readonly status: string;
  readonly batchFiles: readonly string[];
  readonly batchFileCount: number;
  readonly rows: number;
  readonly images: number;
  readonly problemCount: number;
  readonly reason?: string;
}

export interface BatchSpotCheck {
  readonly key: string;
  readonly bytes: number;
  /** `unzip -t` found no error. */
  readonly ok: boolean;
  /** Entries `unzip -Z1` lists: the batch's images, its manifest.csv and problems.csv. */
  readonly entries: number;
  readonly images: number;
  readonly detail: string;
}

export interface ArchiveSplitRun {
  readonly label: string;
  readonly format: ArchiveFormat;
  readonly archiveBytes: number;
  readonly images: number;
  readonly rows: number;
  readonly batchSize: number;
  readonly expectedBatches: number;
  readonly rawRead: RawReadMeasurement;
  readonly memoryLimitMiB: number;
  readonly diskBudgetMiB: number;
  /** First receive to the callback in its queue, seen from outside; undefined when no callback came. */
  readonly seconds: number | undefined;
  /** Archive bytes (10^6) over those seconds. */
  readonly megabytesPerSecond: number | undefined;
  /** megabytesPerSecond over the raw read's. */
  readonly ratio: number | undefined;
  /** Peak of the worker's process tree's summed RSS (supervisor and worker), sampled every 100 ms, or a VmHWM if higher. */
  readonly peakRssMiB: number;
  readonly cgroup: CgroupOutcome;
  readonly killed: boolean;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The worker tree's CPU from the first receive to the callback. */
  readonly workerCpuSeconds: number;
  /** The bench process's over the same window: s3rver (reads and the batch ZIPs' multipart uploads) and the watcher. */
  readonly harnessCpuSeconds: number;
  readonly split: ArchiveSplitLogLine | undefined;
  /**
   * What s3rver sent (the archive's bytes the worker read, and response headers) and received (the batch ZIPs the
   * worker wrote, and request headers) from the worker's start to the callback, counted on its connections.
   */
  readonly s3Traffic: { readonly sentBytes: number; readonly receivedBytes: number };
  readonly passLines: readonly ArchivePassLine[];
  readonly batchesUploaded: number;
  /** The worker's WORK_DIR summed every 500 ms from outside. */
  readonly sampledDiskHighWaterBytes: number;
  readonly callback: ArchiveCallbackSummary | undefined;
  readonly spotCheck: BatchSpotCheck | undefined;
  readonly deadLettered: number;
  readonly problems: readonly string[];
}

export interface ArchiveExportInfo {
  readonly images: number;
  readonly imageBytes: number;
  readonly rows: number;
  readonly minImageBytes: number;
  readonly maxImageBytes: number;
  readonly tarOrder: string;
  /** Seconds to generate the archives in this run; undefined when they came from the cache. */
  readonly generatedSeconds: number | undefined;
}

export interface ArchiveSplitMeasurement {
  readonly measuredAt: string;
  /** Measured by `--only archive` rather than in the full run. */
  readonly alone: boolean;
  readonly cores: number;
  /** 1-minute load average at the start and the end of the part. */
  readonly loadAverage: readonly [number, number];
  readonly server: string;
  /** The archive-split task's vCPUs (infra's ARCHIVE_SPLIT_TASK): what a task's CPU allows, from the worker's CPU per MB. */
  readonly taskVcpu: number;
  /** Each size's export (the full run also splits a small ZIP, to show memory does not follow the archive's size). */
  readonly exports: readonly ArchiveExportInfo[];
  /** Seconds each archive took to store in s3rver (one streamed PUT). */
  readonly uploads: readonly { readonly label: string; readonly seconds: number }[];
  readonly runs: readonly ArchiveSplitRun[];
}

/** What the callback and the spot check must say for a run to count as a complete split. */
export function splitIncomplete(run: ArchiveSplitRun): string[] {
  const problems: string[] = [...run.problems];
  const callback = run.callback;
  if (callback === undefined) {
    if (!problems.some((problem) => problem.startsWith('no callback'))) problems.push('no callback');
  } else if (callback.status !== 'success') {
    problems.push(`callback ${callback.status}${callback.reason ? `: ${callback.reason}` : ''}`);
  } else {
    if (callback.batchFileCount !== run.expectedBatches) problems.push(`${callback.batchFileCount} batch ZIPs, not ${run.expectedBatches}`);
    if (callback.rows !== run.rows || callback.images !== run.images) {
      problems.push(`callback counts ${callback.rows} rows and ${callback.images} images, not ${run.rows} and ${run.images}`);
    }
    if (callback.problemCount > 0) problems.push(`${callback.problemCount} problems reported for a clean export`);
  }
  if (callback?.status === 'success') {
    const check = run.spotCheck;
    const firstBatchImages = Math.min(run.batchSize, run.images);
    if (check === undefined) problems.push('the first batch ZIP was not checked');
    else if (!check.ok) problems.push(`unzip -t failed on ${check.key}: ${check.detail}`);
    else if (check.images !== firstBatchImages || check.entries !== firstBatchImages + 2) {
      problems.push(`${check.key} holds ${check.images} images and ${check.entries} entries, not ${firstBatchImages} and ${firstBatchImages + 2}`);
    }
  }
  return problems;
}

/**
 * Per run: peak RSS under ARCHIVE_PEAK_RSS_MIB, not killed, and the split complete (a success callback with every
 * batch, the first batch ZIP passing `unzip -t`): keeping memory down by not doing the work does not count.
 * Throughput is reported (throughputText), not judged: see there why.
 */
export function archiveSplitTargets(measurement: ArchiveSplitMeasurement | undefined): TargetCheck[] {
  const rssTarget = (label: string) => `archive split (${label}): peak RSS under ${ARCHIVE_PEAK_RSS_MIB} MiB, not killed, every batch ZIP made`;
  if (measurement === undefined || measurement.runs.length === 0) return [{ target: rssTarget('a generated export'), measured: 'n/a', holds: undefined }];
  return measurement.runs.map((run) => {
    const problems = splitIncomplete(run);
    const underLimit = run.peakRssMiB < ARCHIVE_PEAK_RSS_MIB;
    const cgroup = run.cgroup.measured
      ? `; in a ${run.cgroup.limitMiB} MiB memory cgroup (peak ${fixed(run.cgroup.peakMiB, 0)} MiB with page cache)`
      : '; no memory cgroup (RSS sampled only)';
    return {
      target: rssTarget(run.label),
      measured: `${fixed(run.peakRssMiB, 0)} MiB (${fixed((run.peakRssMiB / ARCHIVE_PEAK_RSS_MIB) * 100, 0)}%)${run.killed ? ', KILLED' : ''}${cgroup}`,
      holds: underLimit && !run.killed && problems.length === 0,
      ...(problems.length > 0 || run.killed ? { note: [...(run.killed ? [killedText(run)] : []), ...problems].join('; ') } : {}),
    };
  });
}

/** How far apart two raw reads of one object were, at most: how much the machine's other work moves a rate. */
function spreadText(measurement: ArchiveSplitMeasurement): string {
  const spreads = measurement.runs
    .filter((run) => run.rawRead.readSeconds.length > 1)
    .map((run) => Math.max(...run.rawRead.readSeconds) / Math.min(...run.rawRead.readSeconds));
  return spreads.length === 0 ? '' : ` (two raw reads of one object differed by up to ${fixed(Math.max(...spreads), 1)}x)`;
}

/** Archive MB (10^6) per CPU second of the worker's tree: what one vCPU of its own would split at most. */
export function megabytesPerWorkerCpuSecond(run: ArchiveSplitRun): number | undefined {
  return run.workerCpuSeconds > 0 ? run.archiveBytes / 1e6 / run.workerCpuSeconds : undefined;
}

/**
 * The throughput paragraph: the issue's ratio for the largest ZIP, what the worker's own CPU allows, and why neither is
 * judged against a target here.
 */
export function throughputText(measurement: ArchiveSplitMeasurement): string {
  const zips = measurement.runs.filter((run) => run.format === 'zip' && run.ratio !== undefined);
  const largest = zips.reduce<ArchiveSplitRun | undefined>((best, run) => (best === undefined || run.archiveBytes > best.archiveBytes ? run : best), undefined);
  if (largest === undefined) return 'Throughput: no ZIP was split to the end, so there is no ratio to report.';
  const perCpu = megabytesPerWorkerCpuSecond(largest);
  const rawCpuMsPerMb = (Math.min(...largest.rawRead.readerCpuSeconds) * 1000) / (largest.rawRead.bytes / 1e6);
  const seconds = largest.seconds!;
  return (
    `Throughput, reported and not judged: the ${largest.label} split at ${mbps(largest.megabytesPerSecond)} MB/s, ` +
    `**${fixed(largest.ratio, 2)}x** the raw read's ${mbps(largest.rawRead.megabytesPerSecond)} MB/s. The worker used ` +
    `${fixed(largest.workerCpuSeconds, 1)} CPU s (${fixed((largest.workerCpuSeconds * 1000) / (largest.archiveBytes / 1e6), 1)} ms per MB; the raw ` +
    `reader ${fixed(rawCpuMsPerMb, 1)} ms per MB), so with one vCPU to itself it would split at most ${mbps(perCpu)} MB/s ` +
    `(${perCpu === undefined ? 'n/a' : fixed(perCpu / largest.rawRead.megabytesPerSecond, 2)}x the raw read); it kept ` +
    `${fixed(largest.workerCpuSeconds / seconds, 2)} of a vCPU busy, while s3rver and the bench used ${fixed(largest.harnessCpuSeconds, 1)} CPU s ` +
    `(${fixed(largest.harnessCpuSeconds / seconds, 2)} of a vCPU) and the machine's load average was ${fixed(measurement.loadAverage[0], 1)}-` +
    `${fixed(measurement.loadAverage[1], 1)} on ${measurement.cores} cores. No target is judged because this machine cannot ` +
    'tell the job\'s rate from its surroundings: the split reads the archive and writes as many bytes back through the same ' +
    's3rver, which runs in the bench process on the same cores (receiving, hashing and storing each part, then joining ' +
    'the parts of each batch ZIP into one file), while the raw read only reads; the two rates are also taken minutes apart ' +
    `on a machine other work shares${spreadText(measurement)}. A bar such as 0.5x would be a verdict on ` +
    's3rver and the machine\'s other load, not on the job; the CPU figure above is the job\'s own.'
  );
}

function killedText(run: ArchiveSplitRun): string {
  const oom = run.cgroup.measured && (run.cgroup.oomKills ?? 0) > 0 ? `OOM kill x${run.cgroup.oomKills}` : run.signal ?? `exit ${run.exitCode}`;
  return `killed (${oom})`;
}

function mbps(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export function mib(bytes: number | undefined): string {
  if (bytes === undefined) return 'n/a';
  if (bytes === 0) return '0';
  return bytes >= 10 * 2 ** 30 ? `${fixed(bytes / 2 ** 30, 1)} GiB` : `${fixed(bytes / 2 ** 20, bytes < 2 ** 20 ? 2 : 0)} MiB`;
}

function readsText(reads: number): string {
  if (reads <= 1) return '';
  return `; the fastest of ${reads === 2 ? 'two' : reads} reads one after another`;
}

function kB(bytes: number): string {
  return bytes >= 10_000 ? fixed(bytes / 1000, 0) : fixed(bytes / 1000, 1);
}

function sizeLabel(bytes: number): string {
  return bytes >= 2 ** 30 ? `${fixed(bytes / 2 ** 30, 2)} GiB` : `${fixed(bytes / 2 ** 20, 0)} MiB`;
}

/**
 * The job's own `bytesRead` against what the server sent: they differ by headers only (well under 1%) unless the job
 * leaves a read out.
 */
export function accountingNote(run: ArchiveSplitRun): string {
  if (run.split === undefined || run.s3Traffic.sentBytes === 0) return '';
  const missing = run.s3Traffic.sentBytes - run.split.bytesRead;
  if (missing <= 0.02 * run.s3Traffic.sentBytes) return '';
  return (
    ` The job's \`archive split\` line says bytesRead ${run.split.bytesRead.toLocaleString('en-US')} ` +
    `(${fixed(run.split.bytesRead / run.archiveBytes, 3)}x the archive), ${sizeLabel(missing)} less than the server sent: a building read ` +
    'that ends early (nothing later in the archive is needed) is not counted (tar-batches.ts adds a pass\'s bytes only when it ends normally).'
  );
}

function passesText(run: ArchiveSplitRun): string {
  if (run.format === 'zip') return '0 (ranged reads)';
  const passes = run.split?.passes;
  return passes === undefined ? 'n/a' : `${passes} (1 listing + ${passes - 1} building)`;
}

function callbackText(run: ArchiveSplitRun): string {
  const callback = run.callback;
  if (callback === undefined) return 'none';
  if (callback.status !== 'success') return `${callback.status}${callback.reason ? `: ${callback.reason.slice(0, 80)}` : ''}`;
  return `success, ${callback.batchFileCount}/${run.expectedBatches} ZIPs, ${callback.rows.toLocaleString('en-US')} rows, ${callback.problemCount} problems`;
}

function spotText(run: ArchiveSplitRun): string {
  const check = run.spotCheck;
  if (check === undefined) return 'not checked';
  return `${check.ok ? 'OK' : 'FAILED'}: ${check.images} images + 2 CSVs, ${sizeLabel(check.bytes)}`;
}

/** The summary's part 9. */
export function archiveSplitText(measurement: ArchiveSplitMeasurement | undefined): string {
  if (measurement === undefined) return 'Not measured in this run (`npm run bench -- --only archive` adds it).';
  if (measurement.runs.length === 0) return 'No archive was split in this run.';
  const [first] = measurement.runs;
  const largest = measurement.exports.reduce((a, b) => (b.imageBytes > a.imageBytes ? b : a));
  const cgroupLine = first!.cgroup.measured
    ? `inside a cgroup v1 memory group limited to the archive-split task's memory (${first!.cgroup.limitMiB} MiB, also its TASK_MEMORY_MIB; past it the kernel kills, as Fargate does)`
    : `with no memory limit (${first!.cgroup.reason}); its RSS is sampled all the same`;
  const others = measurement.exports.filter((item) => item !== largest).map((item) =>
    `${item.images.toLocaleString('en-US')} files of ${kB(item.minImageBytes)}-${kB(item.maxImageBytes)} kB (${sizeLabel(item.imageBytes)})`);
  const intro =
    `A generated export (${largest.images.toLocaleString('en-US')} incompressible "photos" of ${kB(largest.minImageBytes)}-` +
    `${kB(largest.maxImageBytes)} kB, ${sizeLabel(largest.imageBytes)} in all, and a ${largest.rows.toLocaleString('en-US')}-row manifest.csv), ` +
    `as a ZIP (images stored) and as a TAR.GZ of the same content (gzip level 1; ${largest.tarOrder}), is stored in ${measurement.server}` +
    `${others.length > 0 ? `, with ZIPs of the same kind holding ${others.join(' and ')}` : ''}. ` +
    '**Raw read**: a separate Node process GETs the whole object once with the SDK, configured as the worker\'s client, and discards ' +
    `the bytes${readsText(first!.rawRead.readSeconds.length)}. **Split**: one bundled worker (\`JOB=archive-split\`, CONCURRENCY 1, its default) gets the ` +
    `original system's request message for the archive, BATCH_SIZE ${first!.batchSize}, DISK_BUDGET_MIB ${first!.diskBudgetMiB} (the ` +
    `pipeline's default), ${cgroupLine}. Timed from the first receive to the callback in its queue (a local queue file); ` +
    'MB/s is the archive\'s bytes (10^6) over that time, and the ratio is that over the raw read\'s. Peak RSS is the peak of the worker ' +
    'process tree\'s summed RSS (supervisor and worker, sampled every 100 ms, or a VmHWM if higher). Disk high-water: the job\'s own ' +
    `accounting of its spill (\`archive split\` log line) and its WORK_DIR summed from outside every 500 ms. ` +
    `${measurement.cores} cores; 1-minute load average ${fixed(measurement.loadAverage[0], 1)} at the start of this part, ` +
    `${fixed(measurement.loadAverage[1], 1)} at the end.` +
    (measurement.alone ? ` Measured alone (\`--only archive\`) at ${measurement.measuredAt}.` : '');
  const table = markdownTable(
    [
      'archive',
      'size',
      'raw read MB/s',
      'split s',
      'split MB/s',
      'ratio',
      'peak RSS MiB',
      'cgroup peak MiB (with page cache)',
      'disk high-water: job / sampled',
      'reads of the archive',
      'read from S3 / archive size: server count, job\'s',
      'worker CPU s (vCPUs busy)',
      'MB per worker CPU s',
      'harness CPU s',
      'callback',
      'first batch, unzip -t',
    ],
    measurement.runs.map((run) => [
      run.label,
      sizeLabel(run.archiveBytes),
      mbps(run.rawRead.megabytesPerSecond),
      fixed(run.seconds, 1),
      mbps(run.megabytesPerSecond),
      run.ratio === undefined ? 'n/a' : `**${fixed(run.ratio, 2)}x**`,
      `**${fixed(run.peakRssMiB, 0)}**`,
      run.cgroup.measured ? `${fixed(run.cgroup.peakMiB, 0)} / ${run.cgroup.limitMiB}${run.killed ? ' KILLED' : ''}` : 'n/a',
      `${mib(run.split?.spillHighWaterBytes)} / ${mib(run.sampledDiskHighWaterBytes)}`,
      passesText(run),
      `${fixed(run.s3Traffic.sentBytes / run.archiveBytes, 3)}x, ${run.split === undefined ? 'n/a' : `${fixed(run.split.bytesRead / run.archiveBytes, 3)}x`}`,
      run.seconds === undefined ? fixed(run.workerCpuSeconds, 1) : `${fixed(run.workerCpuSeconds, 1)} (${fixed(run.workerCpuSeconds / run.seconds, 2)})`,
      mbps(megabytesPerWorkerCpuSecond(run)),
      fixed(run.harnessCpuSeconds, 1),
      callbackText(run),
      spotText(run),
    ]),
  );
  const tars = measurement.runs.filter((run) => run.format === 'tar.gz' && run.split !== undefined && run.seconds !== undefined);
  const tarLines = tars.map((run) => {
    const passes = run.split!.passes;
    const perRead = (run.s3Traffic.sentBytes / 1e6 / run.seconds!) / run.rawRead.megabytesPerSecond;
    const building = run.passLines.map((line) => `building read ${line.pass}: ${line.finishedParts} parts built, ${line.remainingParts} left, spill high-water ${mib(line.spillHighWaterBytes)}`);
    return (
      `${run.label}: ${passes} reads of the archive (the listing read, then ${passes - 1} building read${passes - 1 === 1 ? '' : 's'}), ` +
      `${sizeLabel(run.s3Traffic.sentBytes)} sent by S3 in all (${fixed(run.s3Traffic.sentBytes / run.archiveBytes, 2)}x the archive): counted per byte ` +
      `read, the rate is ${fixed(perRead, 2)}x the raw read. ${building.length > 0 ? `${building.join('; ')}.` : ''}` +
      accountingNote(run)
    );
  });
  const rawDetail = measurement.runs
    .map((run) => `${run.label}: ${run.rawRead.readSeconds.map((seconds) => `${fixed(run.rawRead.bytes / 1e6 / seconds, 0)}`).join(', ')} MB/s`)
    .join('; ');
  return [
    intro,
    '',
    table,
    '',
    memoryText(measurement),
    '',
    throughputText(measurement),
    '',
    ...(tarLines.length > 0 ? [tarLines.join('\n\n'), ''] : []),
    `Raw reads: ${rawDetail}.`,
  ].join('\n');
}

/** Peak RSS against the rows of each ZIP split: the bytes stream through, the listing, manifest and plan are held whole. */
export function memoryText(measurement: ArchiveSplitMeasurement): string {
  const zips = [...measurement.runs.filter((run) => run.format === 'zip')].sort((a, b) => a.rows - b.rows);
  const byRows = zips.map((run) => `${run.rows.toLocaleString('en-US')} rows in ${sizeLabel(run.archiveBytes)}: ${fixed(run.peakRssMiB, 0)} MiB`).join('; ');
  const growth =
    zips.length >= 2 && zips[zips.length - 1]!.rows > zips[0]!.rows
      ? ` (${fixed(((zips[zips.length - 1]!.peakRssMiB - zips[0]!.peakRssMiB) * 1024) / (zips[zips.length - 1]!.rows - zips[0]!.rows), 1)} KiB more per row)`
      : '';
  return (
    `Memory: the archive's bytes stream through (8 MiB blocks of ranged reads, batch ZIPs straight into multipart uploads ` +
    `of 8 MiB parts), so peak RSS does not follow the archive's size; the listing, the manifest and the plan are held ` +
    `whole, so it follows the rows.${byRows === '' ? '' : ` ZIP peaks by rows: ${byRows}${growth}.`} The archive-split task has ` +
    `${measurement.taskVcpu} vCPU: with the worker's CPU per MB above, a task splits at most ` +
    `${mbps(taskRate(measurement))} MB/s in AWS, whatever S3 gives one connection.`
  );
}

function taskRate(measurement: ArchiveSplitMeasurement): number | undefined {
  const zips = measurement.runs.filter((run) => run.format === 'zip');
  const largest = zips.reduce<ArchiveSplitRun | undefined>((best, run) => (best === undefined || run.archiveBytes > best.archiveBytes ? run : best), undefined);
  const perCpu = largest === undefined ? undefined : megabytesPerWorkerCpuSecond(largest);
  return perCpu === undefined ? undefined : perCpu * measurement.taskVcpu;
}
