import { describeRange, filterRanges, keyRangesOverlap, prefixesOverlap, type KeyRange } from './key-ranges';
import { jobEnvironmentProblems } from './job-environment';
import { fanoutGroupProblems, fanoutGroups, fanoutSettingProblems, placeInGroups, type FanoutSettings, type PipelineFeed } from './fanout-groups';
import {
  BATCH_JOB, DEFAULT_BATCH_MESSAGES_PER_TASK, batchReadProblems, batchSettingProblems, resolveBatchSettings, type BatchSettings, type BatchSettingsInput,
} from './batch-settings';
import {
  ARCHIVE_SPLIT_JOB, ARCHIVE_SPLIT_TASK, ARCHIVE_SUFFIXES, DEFAULT_ARCHIVE_EPHEMERAL_STORAGE_GIB, DEFAULT_ARCHIVE_MESSAGES_PER_TASK, DEFAULT_ARCHIVE_PREFIX,
  ARCHIVE_MESSAGE_DEADLINE_SECONDS, archiveSplitAreaProblems, archiveSplitSettingProblems, diskBudgetMib, resolveArchiveSplitSettings, type ArchiveSplitSettings, type ArchiveSplitSettingsInput,
} from './archive-split-settings';

/**
 * One pipeline of the stack: its source filter, queue and DLQ, task family and scaling rule. The first pipeline of
 * the list keeps the names and construct ids the blueprint had before it knew several (see pipeline-names.ts), so an
 * existing deployment synthesizes the same resources.
 */
export interface PipelineConfig {
  /** Short kebab id, unique in the stack: part of the names of this pipeline's resources. */
  readonly name: string;
  /** The worker's JOB: `resize` (the worker's default), `command`, or any job the image knows. */
  readonly job: string;
  /** Extra worker variables for the job (SIZES, COMMAND, ...): plain text, so never a secret. */
  readonly jobEnvironment: Readonly<Record<string, string>>;
  /**
   * `s3` (the default): the source bucket's notifications for sourcePrefix and sourceSuffixes. `messages`: a fan-out
   * pipeline's family or aggregator, sent batch or trigger messages by it, with no notification; it reads and writes
   * where its group's runs are (see fanout-groups.ts).
   */
  readonly feed: PipelineFeed;
  /** Only on a `job: "fanout"` pipeline (and required there): its families and its aggregator. */
  readonly fanout: FanoutSettings | undefined;
  /**
   * Only on a `job: "batch"` pipeline (filled in with defaults there): its discovery source table, the bucket and
   * prefix its records point at, the discovery schedule and the result store (see batch-settings.ts).
   */
  readonly batch: BatchSettings | undefined;
  /**
   * Only on a `job: "archive-split"` pipeline (filled in with defaults there): where archives are uploaded (its
   * sourcePrefix), where batch ZIPs go, the other buckets and the callback queues requests may name (see
   * archive-split-settings.ts).
   */
  readonly archiveSplit: ArchiveSplitSettings | undefined;
  readonly sourcePrefix: string;
  /** One notification rule per suffix (S3 suffix filters are case-sensitive); none: the whole prefix. */
  readonly sourceSuffixes: readonly string[];
  readonly destPrefix: string;
  /** `worker`: the base image from app/Dockerfile; any other name: built from `dockerfile` on top of it. */
  readonly image: PipelineImage;
  readonly taskCpu: number;
  readonly taskMemory: number;
  /** 21-200 GiB of task disk; undefined keeps Fargate's default 20 GiB (and the task definition without the block). */
  readonly ephemeralStorageGiB: number | undefined;
  /** The capacity provider strategy: FARGATE_SPOT's weight, FARGATE's weight and FARGATE's base. */
  readonly spotWeight: number;
  readonly onDemandWeight: number;
  readonly onDemandBase: number;
  readonly maxTasks: number;
  readonly messagesPerTask: number;
  /** The attempt on which the worker dead-letters a failing record itself; SQS's redrive two receives later. */
  readonly maxReceiveCount: number;
  readonly visibilityTimeoutSeconds: number;
}

export interface PipelineImage {
  readonly name: string;
  /** From the repository root. A derived image's Dockerfile starts `ARG WORKER_IMAGE` / `FROM ${WORKER_IMAGE}`. */
  readonly dockerfile: string;
}

/** What BLUEPRINT_CONFIG may say about a pipeline: its name, and any field to change from the defaults. */
export type PipelineInput = { readonly name: string } & Partial<Omit<PipelineConfig, 'name' | 'image' | 'fanout' | 'batch' | 'archiveSplit'>> & {
  readonly fanout?: FanoutSettings;
  readonly batch?: BatchSettingsInput;
  readonly archiveSplit?: ArchiveSplitSettingsInput;
  readonly image?: { readonly name: string; readonly dockerfile?: string };
};

/** The stack-wide settings that stand in for what a pipeline does not say (today's top-level fields). */
export interface PipelineDefaults {
  readonly sourcePrefix: string;
  /** One notification rule per suffix: S3 suffix filters are case-sensitive. */
  readonly sourceSuffixes: readonly string[];
  readonly destPrefix: string;
  readonly sizes: string;
  readonly taskCpu: number;
  readonly taskMemory: number;
  readonly maxTasks: number;
  readonly messagesPerTask: number;
  /** The attempt on which the worker dead-letters a failing record itself (MAX_RECEIVE_COUNT); SQS's redrive policy moves a message two receives later, as a backstop for a task that dies. */
  readonly maxReceiveCount: number;
  readonly visibilityTimeoutSeconds: number;
}

export const BASE_IMAGE: PipelineImage = Object.freeze({ name: 'worker', dockerfile: 'app/Dockerfile' });
export const DEFAULT_PIPELINE_NAME = 'images';
/** The worker's own default job: a pipeline running it needs no JOB variable, as the task definition never had one. */
export const DEFAULT_JOB = 'resize';
/**
 * The scaler Lambda gets the pipeline list in one environment variable, and Lambda allows 4 KB of variables in all:
 * about 350 bytes a pipeline (queue URL, family, image parameter, numbers) leaves room for eight and the shared ones.
 */
export const MAX_PIPELINES = 8;

/** Fargate's CPU units and the memory (MiB) each allows. */
export const FARGATE_CPU_MEMORY: Readonly<Record<number, readonly [number, number]>> = {
  256: [512, 2048], 512: [1024, 4096], 1024: [2048, 8192], 2048: [4096, 16384], 4096: [8192, 30720],
};
const EPHEMERAL_STORAGE_GIB = [21, 200] as const;

const KNOWN_FIELDS = [
  'name', 'job', 'jobEnvironment', 'feed', 'fanout', 'batch', 'archiveSplit', 'sourcePrefix', 'sourceSuffixes', 'destPrefix', 'image', 'taskCpu', 'taskMemory', 'ephemeralStorageGiB',
  'spotWeight', 'onDemandWeight', 'onDemandBase', 'maxTasks', 'messagesPerTask', 'maxReceiveCount', 'visibilityTimeoutSeconds',
];
const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const MAX_NAME_LENGTH = 20;
/** IAM would read `*` and `?` in a prefix as wildcards, and Terraform would read `${` as an interpolation. */
const UNSAFE_IN_KEYS = /[*?]|\$\{/;
const DOCKERFILE = /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._/-]+$/;

/** The capacity provider strategy in the scaler's form, e.g. `FARGATE_SPOT:4,FARGATE:1` (the default). */
export function capacityProviderStrategy(pipeline: Pick<PipelineConfig, 'spotWeight' | 'onDemandWeight' | 'onDemandBase'>): string {
  const entries: string[] = [];
  if (pipeline.spotWeight > 0) entries.push(`FARGATE_SPOT:${pipeline.spotWeight}`);
  if (pipeline.onDemandWeight > 0 || pipeline.onDemandBase > 0) {
    entries.push(`FARGATE:${pipeline.onDemandWeight}${pipeline.onDemandBase > 0 ? `:${pipeline.onDemandBase}` : ''}`);
  }
  return entries.join(',');
}

/**
 * The pipelines, with every field filled in, and the problems found, each naming the pipeline and field. The first
 * pipeline takes what it does not say from the stack-wide fields (so a config without `pipelines` means what it meant
 * before); the others take only sizing and scaling from them, and default to `<name>/` as source and destination
 * prefix, with no suffix filter. A messages-fed pipeline of a fan-out group takes its group's source prefix and run
 * root instead.
 */
export function resolvePipelines(inputs: unknown, defaults: PipelineDefaults): { pipelines: PipelineConfig[]; problems: string[] } {
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > MAX_PIPELINES) {
    return { pipelines: [], problems: [`pipelines: a list of 1 to ${MAX_PIPELINES} pipelines, e.g. [{"name":"images"}]`] };
  }
  const problems: string[] = [];
  const resolved: PipelineConfig[] = [];
  const labels = new Map<PipelineConfig, string>();
  for (const [index, input] of (inputs as unknown[]).entries()) {
    if (typeof input !== 'object' || input === null || typeof (input as { name?: unknown }).name !== 'string') {
      problems.push(`pipelines[${index}]: an object with at least a "name"`);
      continue;
    }
    const pipeline = resolveOne(input as PipelineInput, index === 0, defaults);
    const label = `pipelines[${index}] "${pipeline.name}"`;
    problems.push(
      ...Object.keys(input).filter((key) => !KNOWN_FIELDS.includes(key)).map((key) => `${label}.${key}: not a pipeline setting (known: ${KNOWN_FIELDS.join(', ')})`),
      ...pipelineProblems(label, pipeline, input as PipelineInput),
      ...fanoutSettingProblems(label, pipeline, (field) => (input as Record<string, unknown>)[field] !== undefined, index === 0),
      ...batchSettingProblems(label, pipeline, (input as { batch?: unknown }).batch, (field) => (input as Record<string, unknown>)[field] !== undefined),
      ...archiveSplitSettingProblems(label, pipeline, (input as { archiveSplit?: unknown }).archiveSplit, (field) => (input as Record<string, unknown>)[field] !== undefined),
    );
    resolved.push(pipeline);
    labels.set(pipeline, label);
  }
  problems.push(...fanoutGroupProblems(resolved, (p) => labels.get(p)!));
  const pipelines = placeInGroups(resolved);
  problems.push(...crossPipelineProblems(pipelines));
  return { pipelines, problems };
}

function resolveOne(input: PipelineInput, first: boolean, defaults: PipelineDefaults): PipelineConfig {
  const job = input.job ?? DEFAULT_JOB;
  const image = input.image === undefined || input.image.name === BASE_IMAGE.name
    ? { ...BASE_IMAGE, ...(input.image?.dockerfile !== undefined ? { dockerfile: input.image.dockerfile } : {}) }
    : { name: input.image.name, dockerfile: input.image.dockerfile ?? '' };
  // A batch pipeline's queue is fed by its discovery task, never by S3 events.
  const feed = input.feed ?? (job === BATCH_JOB ? 'messages' : 's3');
  const batch = job === BATCH_JOB ? resolveBatchSettings(input.batch, input.name) : undefined;
  // An archive-split pipeline's notification prefix is its archive prefix; it sizes its task for streaming one archive.
  const archiveSplit = job === ARCHIVE_SPLIT_JOB ? resolveArchiveSplitSettings(input.archiveSplit) : undefined;
  const archive = archiveSplit !== undefined;
  const taskCpu = input.taskCpu ?? (archive ? ARCHIVE_SPLIT_TASK.cpu : defaults.taskCpu);
  const ephemeralStorageGiB = input.ephemeralStorageGiB ?? (archive ? DEFAULT_ARCHIVE_EPHEMERAL_STORAGE_GIB : undefined);
  // A messages-fed pipeline's prefixes are its fan-out group's (placeInGroups); the stack-wide ones never apply to it.
  const inherits = first && feed === 's3';
  const ownDefault = (field: 'sourcePrefix' | 'destPrefix') => (inherits ? defaults[field] : `${input.name}/`);
  return {
    name: input.name,
    job,
    // The resize job's sizes default to the stack's `sizes`, as the one pipeline's did.
    // An archive-split task's disk budget follows its ephemeral storage unless the job's variables say otherwise.
    jobEnvironment: {
      ...(job === DEFAULT_JOB ? { SIZES: defaults.sizes } : {}),
      ...(archive && Number.isInteger(ephemeralStorageGiB) ? { DISK_BUDGET_MIB: String(diskBudgetMib(ephemeralStorageGiB!)) } : {}),
      // The worker gives a message up after MESSAGE_DEADLINE_SECONDS of work (300 by default): tens of GB at S3's read
      // rate, or a TAR.GZ that needs several passes, take far longer.
      ...(archive ? { MESSAGE_DEADLINE_SECONDS: String(ARCHIVE_MESSAGE_DEADLINE_SECONDS) } : {}),
      ...input.jobEnvironment,
    },
    feed,
    fanout: input.fanout,
    batch,
    archiveSplit,
    // A batch pipeline reads the files its records point at: its audio prefix (the bucket is batch.audioBucket).
    sourcePrefix: archive
      ? (typeof archiveSplit.archivePrefix === 'string' ? archiveSplit.archivePrefix : DEFAULT_ARCHIVE_PREFIX)
      : input.sourcePrefix ?? (batch !== undefined && typeof batch.audioPrefix === 'string' ? batch.audioPrefix : ownDefault('sourcePrefix')),
    sourceSuffixes: input.sourceSuffixes ?? (archive ? [...ARCHIVE_SUFFIXES] : inherits ? defaults.sourceSuffixes : []),
    destPrefix: input.destPrefix ?? ownDefault('destPrefix'),
    image,
    taskCpu,
    // 1 GiB for an archive-split task, or the least its CPU allows when that is more.
    taskMemory: input.taskMemory ?? (archive ? Math.max(ARCHIVE_SPLIT_TASK.memory, FARGATE_CPU_MEMORY[taskCpu]?.[0] ?? 0) : defaults.taskMemory),
    ephemeralStorageGiB,
    spotWeight: input.spotWeight ?? 4,
    onDemandWeight: input.onDemandWeight ?? 1,
    onDemandBase: input.onDemandBase ?? 0,
    maxTasks: input.maxTasks ?? defaults.maxTasks,
    messagesPerTask: input.messagesPerTask ?? (batch !== undefined ? DEFAULT_BATCH_MESSAGES_PER_TASK : archive ? DEFAULT_ARCHIVE_MESSAGES_PER_TASK : feed === 'messages' ? messagesPerBusyTask(input.taskCpu ?? defaults.taskCpu) : defaults.messagesPerTask),
    maxReceiveCount: input.maxReceiveCount ?? defaults.maxReceiveCount,
    visibilityTimeoutSeconds: input.visibilityTimeoutSeconds ?? defaults.visibilityTimeoutSeconds,
  };
}

/**
 * A message on a messages-fed pipeline is a whole batch (or a run's aggregation), not one file: a task is busy with
 * as many as it works on at once, its CONCURRENCY, which defaults to its vCPUs. The stack's default of 10 one-file
 * messages per task would start a tenth of the tasks a backlog of batches needs (the bench's fan-out simulation: 8.7x
 * the ideal time instead of 4.8x).
 */
function messagesPerBusyTask(taskCpu: number): number {
  return Math.max(1, Math.round(taskCpu / 1024));
}

const isInteger = (value: unknown, min: number, max = Number.MAX_SAFE_INTEGER) => Number.isInteger(value) && (value as number) >= min && (value as number) <= max;

/**
 * The problems of one pipeline on its own. Sizing and scaling fields are checked only where the pipeline sets them:
 * values it inherits are the stack-wide fields, which config.ts checks once under their own names.
 */
function pipelineProblems(label: string, p: PipelineConfig, input: PipelineInput): string[] {
  const problems: string[] = [];
  const set = (field: keyof PipelineInput) => input[field] !== undefined;
  if (!KEBAB.test(p.name) || p.name.length > MAX_NAME_LENGTH) problems.push(`${label}.name: 1-${MAX_NAME_LENGTH} lower-case letters, digits and single dashes, starting with a letter`);
  if (typeof p.job !== 'string' || !KEBAB.test(p.job)) problems.push(`${label}.job="${p.job}": a job name such as resize or command`);
  problems.push(...jobEnvironmentProblems(label, input.jobEnvironment ?? {}));
  for (const field of ['sourcePrefix', 'destPrefix'] as const) {
    if (typeof p[field] !== 'string' || p[field].startsWith('/') || UNSAFE_IN_KEYS.test(p[field])) {
      problems.push(`${label}.${field}="${p[field]}": a key prefix such as in/, without a leading slash, *, ? or \${`);
    }
  }
  const suffixes = p.sourceSuffixes;
  if (!Array.isArray(suffixes) || suffixes.some((s) => typeof s !== 'string' || s === '' || UNSAFE_IN_KEYS.test(s)) || new Set(suffixes).size !== suffixes.length) {
    problems.push(`${label}.sourceSuffixes: distinct non-empty suffixes such as [".jpg",".png"], or [] for the whole prefix`);
  }
  if (!KEBAB.test(p.image.name) || p.image.name.length > MAX_NAME_LENGTH) problems.push(`${label}.image.name="${p.image.name}": a short kebab name, worker for the base image`);
  if (p.image.name === BASE_IMAGE.name && p.image.dockerfile !== BASE_IMAGE.dockerfile) {
    problems.push(`${label}.image: "worker" is the base image, always built from ${BASE_IMAGE.dockerfile}; name a derived image otherwise`);
  }
  if (p.image.name !== BASE_IMAGE.name && !DOCKERFILE.test(p.image.dockerfile)) {
    problems.push(`${label}.image.dockerfile="${p.image.dockerfile}": the derived image's Dockerfile, relative to the repository root (e.g. app/jobs/command/example/Dockerfile)`);
  }
  if (set('taskCpu') || set('taskMemory')) {
    const memory = FARGATE_CPU_MEMORY[p.taskCpu];
    if (memory === undefined) problems.push(`${label}.taskCpu=${p.taskCpu}: one of ${Object.keys(FARGATE_CPU_MEMORY).join(', ')}`);
    else if (!isInteger(p.taskMemory, memory[0], memory[1])) problems.push(`${label}.taskMemory=${p.taskMemory}: ${memory[0]}..${memory[1]} MiB for taskCpu ${p.taskCpu}`);
  }
  if (p.ephemeralStorageGiB !== undefined && !isInteger(p.ephemeralStorageGiB, ...EPHEMERAL_STORAGE_GIB)) {
    problems.push(`${label}.ephemeralStorageGiB=${p.ephemeralStorageGiB}: ${EPHEMERAL_STORAGE_GIB[0]}..${EPHEMERAL_STORAGE_GIB[1]}, or leave it out for Fargate's default 20 GiB`);
  }
  if (!isInteger(p.spotWeight, 0, 1000) || !isInteger(p.onDemandWeight, 0, 1000) || p.spotWeight + p.onDemandWeight === 0) {
    problems.push(`${label}.spotWeight=${p.spotWeight}, onDemandWeight=${p.onDemandWeight}: 0..1000 each, at least one above 0`);
  }
  if (!isInteger(p.onDemandBase, 0, 100000)) problems.push(`${label}.onDemandBase=${p.onDemandBase}: 0..100000 tasks on FARGATE before the weights apply`);
  if (set('maxTasks') && !isInteger(p.maxTasks, 1)) problems.push(`${label}.maxTasks=${p.maxTasks}: an integer of at least 1`);
  if (set('messagesPerTask') && !isInteger(p.messagesPerTask, 1)) problems.push(`${label}.messagesPerTask=${p.messagesPerTask}: an integer of at least 1`);
  if (set('maxReceiveCount') && !isInteger(p.maxReceiveCount, 1, 1000)) problems.push(`${label}.maxReceiveCount=${p.maxReceiveCount}: 1..1000`);
  if (set('visibilityTimeoutSeconds') && !isInteger(p.visibilityTimeoutSeconds, 30, 43200)) problems.push(`${label}.visibilityTimeoutSeconds=${p.visibilityTimeoutSeconds}: 30..43200`);
  return problems;
}

/**
 * What pipelines may not share: a name; a key their notification rules both match (S3 refuses overlapping filters
 * for one event type, even across queues, and a key must reach one queue); an output prefix (one pipeline's outputs
 * would overwrite or be taken for the other's, and their roles could not be kept apart); one image name built from
 * two Dockerfiles. Messages-fed pipelines have no notification rule and write under their group's run root, which is
 * checked as the fan-out pipeline's destPrefix; a fan-out group reads every key under its source prefix (the keys its
 * manifests may list), so no other pipeline's filter may match a key there.
 */
function crossPipelineProblems(pipelines: readonly PipelineConfig[]): string[] {
  const problems: string[] = [];
  const fedByS3 = pipelines.filter((p) => p.feed !== 'messages');
  const rules = fedByS3.flatMap((p) => (Array.isArray(p.sourceSuffixes) ? filterRanges(p.sourcePrefix, p.sourceSuffixes) : []).map((range) => ({ p, range })));
  const seenPairs = new Set<string>();
  for (const [i, a] of rules.entries()) {
    for (const b of rules.slice(i + 1)) {
      if (!keyRangesOverlap(a.range, b.range)) continue;
      const pair = `${a.p.name}\u0000${b.p.name}`;
      if (seenPairs.has(pair)) continue;
      seenPairs.add(pair);
      problems.push(a.p === b.p
        ? `pipeline "${a.p.name}": its filters ${show(a.range)} and ${show(b.range)} overlap; S3 refuses overlapping notification filters`
        : `pipelines "${a.p.name}" and "${b.p.name}": source filters ${show(a.range)} and ${show(b.range)} overlap (a key would match both, and S3 refuses ` +
          'overlapping notification filters): give them distinct sourcePrefix values, or suffixes that cannot end the same key');
    }
  }
  for (const group of fanoutGroups(pipelines)) {
    const listed: KeyRange = { prefix: group.fanout.sourcePrefix, suffix: '' };
    for (const { p, range } of rules.filter((rule) => rule.p !== group.fanout && keyRangesOverlap(rule.range, listed))) {
      if (seenPairs.has(`${p.name}\u0000${group.fanout.name}`) || seenPairs.has(`${group.fanout.name}\u0000${p.name}`)) continue;
      seenPairs.add(`${p.name}\u0000${group.fanout.name}`);
      problems.push(`pipelines "${p.name}" and "${group.fanout.name}": source filter ${show(range)} matches keys under "${group.fanout.sourcePrefix}", which the manifests of ` +
        `fan-out pipeline "${group.fanout.name}" may list (its group reads every key there): give them distinct sourcePrefix values`);
    }
  }
  problems.push(...batchReadProblems(pipelines, prefixesOverlap, (p) => (typeof p.sourcePrefix === 'string' ? [p.sourcePrefix] : [])));
  problems.push(...archiveSplitAreaProblems(pipelines));
  for (const [i, a] of pipelines.entries()) {
    for (const b of pipelines.slice(i + 1)) {
      if (a.name === b.name) problems.push(`pipelines: the name "${a.name}" is used twice; names must be unique`);
      if (writesDestination(a) && writesDestination(b) && prefixesOverlap(a.destPrefix, b.destPrefix)) {
        problems.push(`pipelines "${a.name}" and "${b.name}": destPrefix "${a.destPrefix}" and "${b.destPrefix}" overlap; each pipeline writes under a prefix of its own`);
      }
      if (a.image.name === b.image.name && a.image.dockerfile !== b.image.dockerfile) {
        problems.push(`pipelines "${a.name}" and "${b.name}": image "${a.image.name}" is built from ${a.image.dockerfile} and from ${b.image.dockerfile}; one image, one Dockerfile`);
      }
    }
  }
  return problems;
}

const show = (range: KeyRange) => `"${describeRange(range)}"`;
/**
 * Whether a pipeline writes under a destPrefix of its own in the destination bucket: messages-fed pipelines write under
 * their group's run root (or to a table), and an archive-split pipeline writes its batch ZIPs into the archive's bucket.
 */
const writesDestination = (p: PipelineConfig) => p.feed !== 'messages' && p.job !== ARCHIVE_SPLIT_JOB;
