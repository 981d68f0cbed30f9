import { BATCH_JOB } from './batch-settings';
import type { PipelineConfig } from './pipeline-config';

/**
 * Manifest fan-out groups: a `job: "fanout"` pipeline fed by its manifests' S3 events, the family pipelines its
 * batches go to, and the one aggregator of each run. Families and the aggregator are pipelines like any other (queue
 * and DLQ, task family, image, scaling rule) but `feed: "messages"`: no S3 notification reaches them, and they read and
 * write under the group's run root (the fan-out pipeline's destPrefix). Pure.
 */
export const FANOUT_JOB = 'fanout';
export const AGGREGATE_JOB = 'aggregate';
export const FEEDS = ['s3', 'messages'] as const;
export type PipelineFeed = (typeof FEEDS)[number];
/** Six families and the aggregator fit beside the fan-out pipeline in MAX_PIPELINES. */
export const MAX_FAMILIES = 6;

/** What a `job: "fanout"` pipeline says in `fanout`. */
export interface FanoutSettings {
  /** The names of the `feed: "messages"` pipelines each batch is sent to, one message per batch per family. */
  readonly families: readonly string[];
  /** The name of the `job: "aggregate"`, `feed: "messages"` pipeline told once per run, when every batch has ended. */
  readonly aggregator: string;
}

export interface FanoutGroup {
  readonly fanout: PipelineConfig;
  readonly families: readonly PipelineConfig[];
  readonly aggregator: PipelineConfig;
  /** Where the group's runs live in the destination bucket: the fan-out pipeline's destPrefix (e.g. `runs/`). */
  readonly root: string;
}

/** A pipeline's part in a fan-out group, for its task role and variables. */
export type FanoutPart =
  | { readonly kind: 'fanout'; readonly group: FanoutGroup }
  | { readonly kind: 'family'; readonly group: FanoutGroup; readonly family: string }
  | { readonly kind: 'aggregator'; readonly group: FanoutGroup };

/** The groups of a configuration, as far as their names resolve (a valid configuration resolves them all). */
export function fanoutGroups(pipelines: readonly PipelineConfig[]): FanoutGroup[] {
  const byName = new Map(pipelines.map((p) => [p.name, p]));
  return pipelines.flatMap((fanout) => {
    if (fanout.job !== FANOUT_JOB || !isFanoutSettings(fanout.fanout)) return [];
    const families = fanout.fanout.families.map((name) => byName.get(name)).filter((p): p is PipelineConfig => p !== undefined);
    const aggregator = byName.get(fanout.fanout.aggregator);
    return aggregator === undefined ? [] : [{ fanout, families, aggregator, root: fanout.destPrefix }];
  });
}

/** The part each pipeline (by name) plays; absent for a pipeline outside every group. The first group to claim one wins. */
export function fanoutParts(groups: readonly FanoutGroup[]): Map<string, FanoutPart> {
  const parts = new Map<string, FanoutPart>();
  const claim = (name: string, part: FanoutPart) => {
    if (!parts.has(name)) parts.set(name, part);
  };
  for (const group of groups) {
    claim(group.fanout.name, { kind: 'fanout', group });
    for (const family of group.families) claim(family.name, { kind: 'family', group, family: family.name });
    claim(group.aggregator.name, { kind: 'aggregator', group });
  }
  return parts;
}

/**
 * The groups' members read and write where their group's runs are: their source prefix becomes the fan-out pipeline's
 * (the keys its manifests list) and their destPrefix its run root. Feeds other than messages are left as they are.
 */
export function placeInGroups(pipelines: readonly PipelineConfig[]): PipelineConfig[] {
  const parts = fanoutParts(fanoutGroups(pipelines));
  return pipelines.map((pipeline) => {
    const part = parts.get(pipeline.name);
    if (part === undefined || part.kind === 'fanout' || pipeline.feed !== 'messages') return pipeline;
    return { ...pipeline, sourcePrefix: part.group.fanout.sourcePrefix, sourceSuffixes: [], destPrefix: part.group.root };
  });
}

function isFanoutSettings(value: unknown): value is FanoutSettings {
  if (typeof value !== 'object' || value === null) return false;
  const { families, aggregator } = value as Partial<FanoutSettings>;
  return Array.isArray(families) && families.every((name) => typeof name === 'string') && typeof aggregator === 'string';
}

/** The problems of one pipeline's feed and fanout settings on their own, each naming the pipeline and field. */
export function fanoutSettingProblems(label: string, p: PipelineConfig, given: (field: string) => boolean, first: boolean): string[] {
  const problems: string[] = [];
  if (!(FEEDS as readonly unknown[]).includes(p.feed)) {
    problems.push(`${label}.feed="${String(p.feed)}": s3 (the source bucket's notifications, the default) or messages (sent by a fan-out pipeline)`);
  }
  if (p.feed === 'messages') {
    if (first) problems.push(`${label}.feed: the first pipeline keeps the stack's original names and outputs and is fed by S3 events; list messages-fed pipelines after it`);
    for (const field of ['sourcePrefix', 'sourceSuffixes'] as const) {
      if (given(field)) {
        problems.push(p.job === BATCH_JOB
          ? `${label}.${field}: a batch pipeline has no S3 notification; the files its records point at are set by batch.audioBucket and batch.audioPrefix`
          : `${label}.${field}: a messages-fed pipeline has no S3 notification (its fan-out pipeline's manifests name the keys it reads); leave it out`);
      }
    }
    if (given('destPrefix')) {
      problems.push(p.job === BATCH_JOB
        ? `${label}.destPrefix: a batch pipeline writes its results to its results table, not to S3; leave it out`
        : `${label}.destPrefix: a messages-fed pipeline writes under its fan-out pipeline's run root (that pipeline's destPrefix); leave it out`);
    }
  }
  if (p.job === FANOUT_JOB) {
    if (p.feed !== 's3') problems.push(`${label}.feed="${String(p.feed)}": a fan-out pipeline is fed by its manifests' S3 events (feed "s3")`);
    if (p.fanout === undefined) problems.push(`${label}.fanout: required for job "${FANOUT_JOB}", e.g. {"families":["loudness","spectrum"],"aggregator":"audio-summary"}`);
    else problems.push(...fanoutShapeProblems(`${label}.fanout`, p.fanout));
  } else if (p.fanout !== undefined) {
    problems.push(`${label}.fanout: only a pipeline running job "${FANOUT_JOB}" has families and an aggregator`);
  }
  if (p.job === AGGREGATE_JOB && p.feed !== 'messages') {
    problems.push(`${label}.feed: job "${AGGREGATE_JOB}" runs only as a fan-out group's aggregator, fed by messages (feed "messages")`);
  }
  return problems;
}

function fanoutShapeProblems(label: string, fanout: unknown): string[] {
  if (typeof fanout !== 'object' || fanout === null || Array.isArray(fanout)) return [`${label}: an object {"families":[...],"aggregator":"..."}`];
  const problems = Object.keys(fanout).filter((key) => key !== 'families' && key !== 'aggregator').map((key) => `${label}.${key}: not a fanout setting (known: families, aggregator)`);
  const { families, aggregator } = fanout as Partial<FanoutSettings>;
  if (!Array.isArray(families) || families.length < 1 || families.length > MAX_FAMILIES || families.some((name) => typeof name !== 'string') || new Set(families).size !== families.length) {
    problems.push(`${label}.families: 1 to ${MAX_FAMILIES} distinct pipeline names, e.g. ["loudness","spectrum"]`);
  }
  if (typeof aggregator !== 'string') problems.push(`${label}.aggregator: the name of a job "${AGGREGATE_JOB}" pipeline, e.g. "audio-summary"`);
  return problems;
}

/**
 * What the groups may not do across pipelines: name a pipeline that does not exist, make a family of a pipeline fed
 * by S3 events, an aggregator of one not running job aggregate, share a family or an aggregator between two groups (or
 * make one pipeline both in a group), or leave a messages-fed pipeline without a group (nothing would ever send to it).
 */
export function fanoutGroupProblems(pipelines: readonly PipelineConfig[], labelOf: (p: PipelineConfig) => string): string[] {
  const problems: string[] = [];
  const byName = new Map(pipelines.map((p) => [p.name, p]));
  const users = new Map<string, string[]>();
  const use = (name: string, by: string) => users.set(name, [...(users.get(name) ?? []), by]);
  for (const fanout of pipelines.filter((p) => p.job === FANOUT_JOB && isFanoutSettings(p.fanout))) {
    const { families, aggregator } = fanout.fanout!;
    const label = labelOf(fanout);
    for (const name of families) {
      const family = byName.get(name);
      if (family === undefined) problems.push(`${label}.fanout.families: "${name}" is not a pipeline of this configuration`);
      else if (family === fanout) problems.push(`${label}.fanout.families: "${name}" is the fan-out pipeline itself`);
      else if (family.feed !== 'messages') {
        problems.push(`${label}.fanout.families: pipeline "${name}" is fed by S3 events; a family is fed only by the fan-out pipeline's batch messages (give it "feed":"messages")`);
      }
      if (name === aggregator) problems.push(`${label}.fanout: "${name}" is both a family and the aggregator; the aggregator is a pipeline of its own`);
      else use(name, fanout.name);
    }
    const target = byName.get(aggregator);
    if (target === undefined) problems.push(`${label}.fanout.aggregator: "${aggregator}" is not a pipeline of this configuration`);
    else {
      if (target.job !== AGGREGATE_JOB) problems.push(`${label}.fanout.aggregator: pipeline "${aggregator}" runs job "${target.job}"; the aggregator runs job "${AGGREGATE_JOB}"`);
      if (target.feed !== 'messages') problems.push(`${label}.fanout.aggregator: pipeline "${aggregator}" is fed by S3 events; the aggregator is fed only by its group's trigger (give it "feed":"messages")`);
    }
    use(aggregator, fanout.name);
  }
  for (const [name, by] of users) {
    if (by.length > 1) problems.push(`pipeline "${name}" is used by fan-out pipelines ${by.map((n) => `"${n}"`).join(' and ')}; a family or aggregator belongs to one fan-out group`);
  }
  for (const [name, by] of users) {
    if (byName.get(name)?.job === BATCH_JOB) problems.push(`pipeline "${name}" runs job "${BATCH_JOB}", fed by its own discovery task; it cannot be in fan-out group ${by.map((n) => `"${n}"`).join(', ')}`);
  }
  // A batch pipeline is fed by its discovery task (batch-settings.ts), not by a group.
  for (const pipeline of pipelines.filter((p) => p.feed === 'messages' && p.job !== BATCH_JOB && !users.has(p.name))) {
    problems.push(`${labelOf(pipeline)}.feed="messages": no fan-out pipeline sends to it; name it in a fan-out pipeline's fanout.families or fanout.aggregator`);
  }
  return problems;
}
