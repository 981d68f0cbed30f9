import { EnvReader } from '../../src/job/env-reader';
import { DEFAULT_BATCH_SIZE } from './batches';

/** The fan-out job's settings: where each family's queue is, how big a batch is, and where runs live. */
export interface FanoutConfig {
  /** FANOUT_FAMILIES: `{"<family>":"<queue URL>",...}`, in the order the summary's columns follow. */
  readonly families: readonly { readonly name: string; readonly queueUrl: string }[];
  /** BATCH_SIZE (default 50). */
  readonly batchSize: number;
  /** MAX_MANIFEST_BYTES (default 64 MiB): a manifest is read whole. */
  readonly maxManifestBytes: number;
  /** The worker's DEST_BUCKET and DEST_PREFIX: runs live at `<DEST_PREFIX><runId>/` there. */
  readonly runsBucket: string;
  readonly runsRoot: string;
}

const FAMILY_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const MAX_FAMILIES = 16;

export function readFanoutConfig(env: NodeJS.ProcessEnv): FanoutConfig {
  const read = new EnvReader(env);
  const families = read.parsed('FANOUT_FAMILIES', [] as FanoutConfig['families'], parseFamilies,
    `a JSON object of family name to queue URL, e.g. {"loudness":"https://sqs.<region>.amazonaws.com/<account>/loudness"} (1 to ${MAX_FAMILIES} families, names a-z, 0-9, -)`);
  if (read.present('FANOUT_FAMILIES') === undefined) read.required('FANOUT_FAMILIES', 'a JSON object of family name to queue URL');
  const config: FanoutConfig = {
    families,
    batchSize: read.int('BATCH_SIZE', DEFAULT_BATCH_SIZE, 1, 10_000),
    maxManifestBytes: read.int('MAX_MANIFEST_BYTES', 64 * 1024 * 1024, 1, 1024 * 1024 * 1024),
    runsBucket: read.present('DEST_BUCKET') ?? '',
    runsRoot: normalisePrefix(env.DEST_PREFIX),
  };
  read.throwIfInvalid();
  return config;
}

function parseFamilies(raw: string): FanoutConfig['families'] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length === 0 || entries.length > MAX_FAMILIES) return undefined;
  if (!entries.every(([name, url]) => FAMILY_NAME.test(name) && typeof url === 'string' && url.trim() !== '')) return undefined;
  return entries.map(([name, url]) => ({ name, queueUrl: (url as string).trim() }));
}

/** As the worker reads DEST_PREFIX: `runs` and `runs/` are the same root. */
function normalisePrefix(value: string | undefined): string {
  const trimmed = (value ?? '').trim().replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}
