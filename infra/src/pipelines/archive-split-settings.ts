import { ARCHIVE_KNOBS } from '../../../shared/archive-split/archive-knobs';
import type { PipelineConfig } from './pipeline-config';
import { BATCH_JOB } from './batch-settings';
import { FANOUT_JOB } from './fanout-groups';
import { filterRanges, keyRangesOverlap, prefixesOverlap } from './key-ranges';

/**
 * Archive-split pipelines (`job: "archive-split"`): a worker splits large ZIP or TAR.GZ archives into batch ZIPs of
 * BATCH_SIZE manifest rows, uploads them (multipart) into the archive's own bucket under `outputPrefix`, and sends a
 * callback message to an "updates" queue. It is fed two ways: the source bucket's S3 events for archives under
 * `archivePrefix` (the pipeline's sourcePrefix), and request messages sent straight to its queue naming an archive in
 * the source bucket or in one of `buckets`. Its task role reads only the archives, writes only the batch ZIPs, and
 * sends only to the callback queues (archive-split-task-policy.ts); the worker is told exactly the same buckets and
 * queues (ALLOWED_BUCKETS, ALLOWED_CALLBACK_QUEUES), so a request naming anything else is refused before IAM would.
 * Pure.
 */
export const ARCHIVE_SPLIT_JOB = 'archive-split';
export const DEFAULT_ARCHIVE_PREFIX = 'archives/';
export const DEFAULT_OUTPUT_PREFIX = 'batch/';
/** The archive formats the job reads; S3's suffix filters are case-sensitive. */
export const ARCHIVE_SUFFIXES: readonly string[] = Object.freeze(['.zip', '.tar.gz', '.tgz']);
/**
 * A task's disk: a TAR.GZ whose entries come in an order the manifest does not follow spills entries to disk (within
 * DISK_BUDGET_MIB). Fargate allows 21-200 GiB; 50 GiB costs little beyond the free 20 and spills most archives whole.
 */
export const DEFAULT_ARCHIVE_EPHEMERAL_STORAGE_GIB = 50;
/** DISK_BUDGET_MIB's share of the ephemeral storage: the rest holds the image layers and the job's other files. */
export const DISK_BUDGET_SHARE = 0.8;
/** The job streams: its memory target is under 512 MiB peak RSS, so the smallest pair with 1 GiB is enough. */
export const ARCHIVE_SPLIT_TASK = Object.freeze({ cpu: 512, memory: 1024 });
/**
 * Active work one archive may take: the bench splits about 33 MB/s per vCPU (CPU-bound: CRC-32 and buffer copies), so
 * 6 h covers about 350 GB of ZIP on the default 0.5 vCPU task; a TAR.GZ reads twice or more. Raise it, or the task's
 * CPU, for larger exports.
 */
export const ARCHIVE_MESSAGE_DEADLINE_SECONDS = 21_600;
/** One archive keeps a task busy for minutes: a task per visible archive. */
export const DEFAULT_ARCHIVE_MESSAGES_PER_TASK = 1;
/**
 * The job's own sizing variables (jobEnvironment), checked in the ranges the worker accepts
 * (app/jobs/archive-split/archive-settings.ts), so the synth never accepts what the worker would refuse.
 */
export const ARCHIVE_SPLIT_KNOBS: Readonly<Record<string, readonly [number, number]>> = Object.freeze(
  Object.fromEntries(Object.entries(ARCHIVE_KNOBS).map(([name, { min, max }]) => [name, [min, max] as const])),
);
/**
 * The variables the infra sets from `archiveSplit` and the stack's resources. A jobEnvironment may not set them: the
 * worker's ALLOWED_* lists must be exactly what the task role may reach, and the prefixes what it may read and write.
 */
export const ARCHIVE_SPLIT_WIRING: readonly string[] = Object.freeze(['ARCHIVE_PREFIX', 'OUTPUT_PREFIX', 'CALLBACK_QUEUE_URL', 'ALLOWED_CALLBACK_QUEUES', 'ALLOWED_BUCKETS']);
/** A few of each: every bucket and queue is a statement resource and part of a worker variable. */
const MAX_BUCKETS = 10;
const MAX_CALLBACK_QUEUES = 10;

/** What a `job: "archive-split"` pipeline says in `archiveSplit`; every field is optional. */
export interface ArchiveSplitSettingsInput {
  readonly archivePrefix?: string;
  readonly outputPrefix?: string;
  readonly buckets?: readonly string[];
  readonly exportPrefixes?: readonly string[];
  readonly callbackQueues?: readonly string[];
}

export interface ArchiveSplitSettings {
  /** Where archives are uploaded in the stack's source bucket: the pipeline's notification prefix, and all it reads there. */
  readonly archivePrefix: string;
  /** Where the batch ZIPs go, in the archive's own bucket (the source bucket or one of `buckets`). */
  readonly outputPrefix: string;
  /** Buckets of yours a request may name besides the stack's source bucket (always allowed). */
  readonly buckets: readonly string[];
  /** Key prefixes in `buckets` under which a request's archives may live; `""`: anywhere in them. */
  readonly exportPrefixes: readonly string[];
  /** The queues (ARNs) callbacks may go to; empty: the stack creates one "updates" queue for the pipeline. */
  readonly callbackQueues: readonly string[];
}

const KNOWN = ['archivePrefix', 'outputPrefix', 'buckets', 'exportPrefixes', 'callbackQueues'];
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** S3's rules for bucket names beyond the characters (the worker checks the same before it accepts a request's bucket). */
const isBucketName = (name: string) => BUCKET.test(name) && !name.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(name)
  && !/^(xn--|sthree-|amzn-s3-demo-)/.test(name) && !/(-s3alias|--ol-s3|\.mrap|--x-s3)$/.test(name);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A standard or FIFO queue's ARN in any partition. */
const QUEUE_ARN = /^arn:(aws[a-z-]*):sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,75}(\.fifo)?|[A-Za-z0-9_-]{1,80})$/;
const UNSAFE_IN_KEYS = /[*?]|\$\{/;

/** The settings with defaults filled in (values of the wrong type are kept, and reported by the problems below). */
export function resolveArchiveSplitSettings(input: ArchiveSplitSettingsInput | undefined): ArchiveSplitSettings {
  const given = typeof input === 'object' && input !== null && !Array.isArray(input) ? input : {};
  return {
    archivePrefix: given.archivePrefix ?? DEFAULT_ARCHIVE_PREFIX,
    outputPrefix: given.outputPrefix ?? DEFAULT_OUTPUT_PREFIX,
    buckets: given.buckets ?? [],
    exportPrefixes: given.exportPrefixes ?? [''],
    callbackQueues: given.callbackQueues ?? [],
  };
}

/** DISK_BUDGET_MIB for a task with this much ephemeral storage. */
export function diskBudgetMib(ephemeralStorageGiB: number): number {
  return Math.floor(ephemeralStorageGiB * 1024 * DISK_BUDGET_SHARE);
}

/** `https://sqs.<region>.<domain>/<account>/<name>` of a queue ARN: the URL form SQS returns and the worker compares. */
export function queueUrlOfArn(arn: string): string {
  const match = QUEUE_ARN.exec(arn);
  if (match === null) throw new Error(`not an SQS queue ARN: ${arn}`);
  const [, partition, region, account, name] = match;
  const domain = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${domain}/${account}/${name}`;
}

/**
 * The worker variables the infra sets for an archive-split pipeline, from its settings, the source bucket's name and
 * the callback queues' URLs (the first is the S3-event form's). Set after the pipeline's jobEnvironment, which may not
 * name them (ARCHIVE_SPLIT_WIRING).
 */
export function archiveSplitEnvironment(settings: ArchiveSplitSettings, wiring: { readonly sourceBucketName: string; readonly callbackQueueUrls: readonly string[] }): Record<string, string> {
  return {
    ARCHIVE_PREFIX: settings.archivePrefix,
    OUTPUT_PREFIX: settings.outputPrefix,
    CALLBACK_QUEUE_URL: wiring.callbackQueueUrls[0] ?? '',
    ALLOWED_CALLBACK_QUEUES: wiring.callbackQueueUrls.join(','),
    ALLOWED_BUCKETS: [wiring.sourceBucketName, ...settings.buckets].join(','),
  };
}

const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');
const badPrefix = (prefix: string) => prefix.startsWith('/') || UNSAFE_IN_KEYS.test(prefix) || CONTROL.test(prefix);
/**
 * A folder as the worker reads ARCHIVE_PREFIX and OUTPUT_PREFIX: ending in `/`, every segment a real name. The
 * notification filter and the IAM patterns use the prefix as written, so it must be the folder the worker means.
 */
const isFolder = (prefix: string) => prefix.endsWith('/') && prefix.slice(0, -1).split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');

/** The problems of one pipeline's archive-split settings, each naming the pipeline and field. */
export function archiveSplitSettingProblems(label: string, p: PipelineConfig, rawSettings: unknown, given: (field: string) => boolean): string[] {
  const problems: string[] = [];
  if (p.job !== ARCHIVE_SPLIT_JOB) {
    if (rawSettings !== undefined) problems.push(`${label}.archiveSplit: only a pipeline running job "${ARCHIVE_SPLIT_JOB}" has archive-split settings`);
    return problems;
  }
  if (p.feed !== 's3') {
    problems.push(`${label}.feed="${String(p.feed)}": an archive-split pipeline is fed by the source bucket's events under archiveSplit.archivePrefix and by requests sent to its queue (feed "s3", its default)`);
  }
  if (given('sourcePrefix')) problems.push(`${label}.sourcePrefix: an archive-split pipeline's events come from archiveSplit.archivePrefix; leave sourcePrefix out`);
  if (given('destPrefix')) {
    problems.push(`${label}.destPrefix: an archive-split pipeline writes its batch ZIPs into the archive's own bucket under archiveSplit.outputPrefix; leave destPrefix out`);
  }
  if (rawSettings !== undefined && (typeof rawSettings !== 'object' || rawSettings === null || Array.isArray(rawSettings))) {
    problems.push(`${label}.archiveSplit: an object such as {"archivePrefix":"archives/","outputPrefix":"batch/"}`);
    return problems;
  }
  for (const key of Object.keys((rawSettings ?? {}) as object).filter((key) => !KNOWN.includes(key))) {
    problems.push(`${label}.archiveSplit.${key}: not an archive-split setting (known: ${KNOWN.join(', ')})`);
  }
  const s = p.archiveSplit!;
  const where = (field: string) => `${label}.archiveSplit.${field}`;
  const raw = (rawSettings ?? {}) as Record<string, unknown>;
  for (const field of ['archivePrefix', 'outputPrefix'] as const) {
    const value: unknown = s[field];
    if (typeof value !== 'string' || badPrefix(value) || (value !== '' && !isFolder(value))) {
      problems.push(`${where(field)}="${String(value)}": a folder such as ${field === 'archivePrefix' ? DEFAULT_ARCHIVE_PREFIX : DEFAULT_OUTPUT_PREFIX} (ending with "/", ` +
        'without a leading slash, empty, "." or ".." segments, *, ? or ${)');
    } else if (value === '') {
      problems.push(field === 'archivePrefix'
        ? `${where(field)}: empty would send every upload to the source bucket to this pipeline, its own batch ZIPs included; give a prefix such as ${DEFAULT_ARCHIVE_PREFIX}`
        : `${where(field)}: empty would let the role write anywhere in every allowed bucket; give a prefix such as ${DEFAULT_OUTPUT_PREFIX}`);
    }
  }
  if (!isStringList(s.buckets) || s.buckets.length > MAX_BUCKETS || s.buckets.some((name) => !isBucketName(name)) || new Set(s.buckets).size !== s.buckets.length) {
    problems.push(`${where('buckets')}=${JSON.stringify(s.buckets)}: up to ${MAX_BUCKETS} distinct S3 bucket names, e.g. ["my-exports"] (the stack's source bucket is always allowed)`);
  }
  if (!isStringList(s.exportPrefixes) || s.exportPrefixes.length === 0 || s.exportPrefixes.some(badPrefix) || new Set(s.exportPrefixes).size !== s.exportPrefixes.length) {
    problems.push(`${where('exportPrefixes')}=${JSON.stringify(s.exportPrefixes)}: distinct key prefixes such as ["exports/"] without a leading slash, *, ? or \${, or [""] for anywhere in the buckets`);
  } else if (raw.exportPrefixes !== undefined && Array.isArray(s.buckets) && s.buckets.length === 0) {
    problems.push(`${where('exportPrefixes')}: applies to archiveSplit.buckets, which is empty (in the source bucket archives are read under archiveSplit.archivePrefix)`);
  }
  if (!isStringList(s.callbackQueues) || s.callbackQueues.length > MAX_CALLBACK_QUEUES || s.callbackQueues.some((arn) => !QUEUE_ARN.test(arn)) || new Set(s.callbackQueues).size !== s.callbackQueues.length) {
    problems.push(`${where('callbackQueues')}=${JSON.stringify(s.callbackQueues)}: up to ${MAX_CALLBACK_QUEUES} distinct SQS queue ARNs such as arn:aws:sqs:us-east-1:123456789012:updates, or [] for a queue the stack creates`);
  }
  for (const [name, [min, max]] of Object.entries(ARCHIVE_SPLIT_KNOBS)) {
    const value = p.jobEnvironment[name];
    if (value !== undefined && !integerIn(value, min, max)) problems.push(`${label}.jobEnvironment.${name}="${value}": an integer from ${min} to ${max}`);
  }
  const disk = p.jobEnvironment.DISK_BUDGET_MIB;
  if (disk !== undefined && Number.isInteger(p.ephemeralStorageGiB) && !integerIn(disk, 1, p.ephemeralStorageGiB! * 1024)) {
    problems.push(`${label}.jobEnvironment.DISK_BUDGET_MIB="${disk}": an integer from 1 to ${p.ephemeralStorageGiB! * 1024}, the task's ephemeral storage (${p.ephemeralStorageGiB} GiB)`);
  }
  const manifest = p.jobEnvironment.MANIFEST_NAME;
  if (manifest !== undefined && (manifest.trim() === '' || /[/\\]/.test(manifest) || manifest === '.' || manifest === '..' || CONTROL.test(manifest) || Buffer.byteLength(manifest) > 255)) {
    problems.push(`${label}.jobEnvironment.MANIFEST_NAME="${manifest}": a file name such as manifest.csv (no "/" or "\\", no control characters, at most 255 bytes)`);
  }
  const column = p.jobEnvironment.IMAGE_COLUMN;
  if (column !== undefined && (column.trim() === '' || CONTROL.test(column) || column.length > 256)) {
    problems.push(`${label}.jobEnvironment.IMAGE_COLUMN="${column}": a column name of 1 to 256 characters, without control characters`);
  }
  return problems;
}

const integerIn = (value: string, min: number, max: number) => /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max;

/** A key range in a bucket: '' is the stack's source bucket, any other value a bucket of yours named in a pipeline. */
interface Area {
  readonly bucket: string;
  readonly prefix: string;
}

const inBucket = (bucket: string) => (bucket === '' ? 'the source bucket' : `bucket "${bucket}"`);
const overlappingAreas = (a: readonly Area[], b: readonly Area[]) => a.flatMap((x) => b.filter((y) => x.bucket === y.bucket && prefixesOverlap(x.prefix, y.prefix)).map((y) => [x, y] as const));

/** Where a pipeline's role reads (as prefixes: S3-fed roles read their filters' prefixes, narrowed by suffix only when they can be). */
function readAreas(p: PipelineConfig): Area[] {
  return areasOf(p).filter((area) => typeof area.prefix === 'string' && typeof area.bucket === 'string');
}

function areasOf(p: PipelineConfig): Area[] {
  if (p.archiveSplit !== undefined) {
    const { archivePrefix, buckets, exportPrefixes } = p.archiveSplit;
    return [{ bucket: '', prefix: archivePrefix }, ...(isStringList(buckets) && isStringList(exportPrefixes) ? buckets.flatMap((bucket) => exportPrefixes.map((prefix) => ({ bucket, prefix }))) : [])];
  }
  if (p.job === BATCH_JOB && p.batch !== undefined) return [{ bucket: p.batch.audioBucket, prefix: p.batch.audioPrefix }];
  return typeof p.sourcePrefix === 'string' ? [{ bucket: '', prefix: p.sourcePrefix }] : [];
}

function writeAreas(p: PipelineConfig): Area[] {
  const { outputPrefix, buckets } = p.archiveSplit!;
  return [{ bucket: '', prefix: outputPrefix }, ...(isStringList(buckets) ? buckets.map((bucket) => ({ bucket, prefix: outputPrefix })) : [])];
}

/**
 * Across pipelines, for each archive-split pipeline: its batch ZIPs may not land where any pipeline (itself included)
 * reads in the same bucket (an S3-fed pipeline's prefix would be notified of them and its role could read them; its own
 * archive prefix would split its own output again), nor where another archive-split pipeline writes; and what it
 * reads may not overlap what another pipeline reads (each role reads only its own objects). Overlaps the other checks
 * already report (notification filters, a fan-out group's listed prefix, a batch pipeline's audio in the source
 * bucket) are not repeated here.
 */
export function archiveSplitAreaProblems(pipelines: readonly PipelineConfig[]): string[] {
  const problems: string[] = [];
  const archives = pipelines.filter((p) => p.job === ARCHIVE_SPLIT_JOB && p.archiveSplit !== undefined && typeof p.archiveSplit.outputPrefix === 'string' && typeof p.archiveSplit.archivePrefix === 'string');
  for (const a of archives) {
    const output = a.archiveSplit!.outputPrefix;
    for (const [written, read] of overlappingAreas(writeAreas(a), readAreas(a)).filter(([, read]) => read.bucket === '')) {
      problems.push(`pipeline "${a.name}": archiveSplit.outputPrefix "${written.prefix}" and archiveSplit.archivePrefix "${read.prefix}" overlap in the source bucket: ` +
        'its batch ZIPs would be split again as archives; give them distinct prefixes');
    }
    for (const b of pipelines.filter((other) => other !== a)) {
      const reads = overlappingAreas(writeAreas(a), readAreas(b));
      if (reads.length > 0) {
        const [, read] = reads[0]!;
        problems.push(`pipelines "${a.name}" and "${b.name}": archiveSplit.outputPrefix "${output}" of "${a.name}" overlaps "${read.prefix}" in ${inBucket(read.bucket)}, where "${b.name}" reads: ` +
          `the batch ZIPs written there would ${read.bucket === '' && b.feed === 's3' ? 'trigger' : 'be read by'} "${b.name}"; give them distinct prefixes (e.g. sourcePrefix "photos/" for the other pipeline)`);
      }
      if (b.job === ARCHIVE_SPLIT_JOB && archives.includes(b) && archives.indexOf(b) > archives.indexOf(a)) {
        const writes = overlappingAreas(writeAreas(a), writeAreas(b));
        if (writes.length > 0) {
          problems.push(`pipelines "${a.name}" and "${b.name}": archiveSplit.outputPrefix "${output}" and "${b.archiveSplit!.outputPrefix}" overlap in ${inBucket(writes[0]![0].bucket)}; each archive-split pipeline writes under a prefix of its own`);
        }
      }
      if (!readsReportedElsewhere(a, b) && (b.job !== ARCHIVE_SPLIT_JOB || pipelines.indexOf(b) > pipelines.indexOf(a))) {
        const shared = overlappingAreas(readAreas(a), readAreas(b));
        if (shared.length > 0) {
          const [mine, theirs] = shared[0]!;
          problems.push(`pipelines "${a.name}" and "${b.name}": "${a.name}" reads archives under "${mine.prefix}" and "${b.name}" reads under "${theirs.prefix}" in ${inBucket(mine.bucket)}; ` +
            'each pipeline\'s role reads only its own objects: give them distinct prefixes');
        }
      }
    }
  }
  return problems;
}

/** Whether an overlap of archive-split pipeline `a`'s reads with `b`'s is already reported by another check. */
function readsReportedElsewhere(a: PipelineConfig, b: PipelineConfig): boolean {
  // A fan-out group's source prefix is checked against every S3-fed filter (fanout's own check); a batch pipeline's
  // audio in the source bucket likewise (batchReadProblems); its audio in a bucket of yours is not.
  if (b.job === FANOUT_JOB || (b.feed === 'messages' && b.job !== BATCH_JOB)) return true;
  if (b.job === BATCH_JOB) return b.batch === undefined || b.batch.audioBucket === '';
  // Two S3-fed pipelines whose notification filters overlap: crossPipelineProblems names them.
  if (b.feed === 's3' && Array.isArray(a.sourceSuffixes) && Array.isArray(b.sourceSuffixes)) {
    const mine = filterRanges(a.sourcePrefix, a.sourceSuffixes);
    return filterRanges(b.sourcePrefix, b.sourceSuffixes).some((range) => mine.some((own) => keyRangesOverlap(own, range)));
  }
  return false;
}

/** The archive-split pipelines of a configuration. */
export function archiveSplitPipelines(pipelines: readonly PipelineConfig[]): PipelineConfig[] {
  return pipelines.filter((p) => p.job === ARCHIVE_SPLIT_JOB && p.archiveSplit !== undefined);
}
