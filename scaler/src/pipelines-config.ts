import { ConfigError } from '../../shared/errors';
import { loadScalerConfig, type ScalerConfig } from './config';

/** One pipeline's scaler configuration: the shared settings with its own queue, family, rule, strategy and image. */
export interface PipelineScalerConfig extends ScalerConfig {
  /** The pipeline's name, for its log lines and metrics; undefined for the one pipeline of the single-pipeline variables. */
  readonly pipeline: string | undefined;
}

/** What each PIPELINES entry may say, and the variable of the one-pipeline form that it stands for. */
const ENTRY_FIELDS: Readonly<Record<string, string>> = {
  queueUrl: 'QUEUE_URL',
  taskFamily: 'TASK_FAMILY',
  maxTasks: 'MAX_TASKS',
  messagesPerTask: 'MESSAGES_PER_TASK',
  capacityProviderStrategy: 'CAPACITY_PROVIDER_STRATEGY',
  imageParameter: 'IMAGE_PARAMETER',
  containerName: 'CONTAINER_NAME',
};
/** A pipeline's identity: beside PIPELINES they could only be a mistake. The other entry fields' variables are defaults. */
const IDENTITY_VARIABLES = ['QUEUE_URL', 'TASK_FAMILY'];
const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * The pipelines one run decides for. PIPELINES (set by infra for a stack of several) is a JSON list of
 * `{name, queueUrl, taskFamily, maxTasks?, messagesPerTask?, capacityProviderStrategy?, imageParameter?, containerName?}`;
 * every other variable (CLUSTER, SUBNETS, BOOTSTRAP_IMAGE, the crash-loop settings, ...) is shared, and MAX_TASKS and the
 * like are defaults for the entries that do not say. Each entry is read
 * by the same rules as the one-pipeline variables, which stand for a single unnamed pipeline when PIPELINES is absent,
 * as they always did (the Lambda of a one-pipeline stack, `npm run scale`, the local pipeline). Throws ConfigError
 * naming the entry and the field.
 */
export function loadScalerPipelines(env: NodeJS.ProcessEnv): readonly PipelineScalerConfig[] {
  const raw = env.PIPELINES?.trim();
  if (raw === undefined || raw === '') return Object.freeze([Object.freeze({ ...loadScalerConfig(env), pipeline: undefined })]);
  const both = IDENTITY_VARIABLES.filter((name) => env[name]?.trim());
  if (both.length > 0) throw new ConfigError(`PIPELINES and ${both.join(', ')} are both set: each pipeline's queue and family go in its PIPELINES entry`);
  let entries: unknown;
  try {
    entries = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError(`PIPELINES is not valid JSON (${(error as Error).message}); expected [{"name":"images","queueUrl":"https://...","taskFamily":"..."}]`);
  }
  if (!Array.isArray(entries) || entries.length === 0) throw new ConfigError('PIPELINES must be a non-empty JSON list of pipelines');
  const names = new Set<string>();
  return Object.freeze(entries.map((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ConfigError(`PIPELINES[${index}] must be an object`);
    const { name, ...fields } = entry as Record<string, unknown>;
    if (typeof name !== 'string' || !NAME.test(name)) throw new ConfigError(`PIPELINES[${index}].name must be a kebab-case pipeline name, got ${JSON.stringify(name)}`);
    if (names.has(name)) throw new ConfigError(`PIPELINES names "${name}" twice`);
    names.add(name);
    const overlay: NodeJS.ProcessEnv = {};
    for (const [field, value] of Object.entries(fields)) {
      const variable = ENTRY_FIELDS[field];
      if (variable === undefined) throw new ConfigError(`PIPELINES "${name}".${field} is not a pipeline field (known: name, ${Object.keys(ENTRY_FIELDS).join(', ')})`);
      if (typeof value !== 'string' && typeof value !== 'number') throw new ConfigError(`PIPELINES "${name}".${field} must be a string or number, got ${JSON.stringify(value)}`);
      overlay[variable] = String(value);
    }
    try {
      return Object.freeze({ ...loadScalerConfig({ ...env, ...overlay }), pipeline: name });
    } catch (error) {
      if (error instanceof ConfigError) throw new ConfigError(`PIPELINES "${name}": ${error.message}`);
      throw error;
    }
  }));
}
