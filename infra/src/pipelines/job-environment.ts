/**
 * A pipeline's extra worker variables (`jobEnvironment`): the job's own settings, such as SIZES or COMMAND. They land
 * in the task definition in plain text, readable by anyone who may describe it, and they must not re-wire the worker
 * away from the queue, buckets and prefixes its role was scoped to. Pure.
 */
import { ARCHIVE_SPLIT_WIRING } from './archive-split-settings';

/** Set by the infra from the pipeline's resources; a job variable of the same name would point the worker elsewhere. */
export const WIRING_VARIABLES: readonly string[] = [
  'QUEUE_URL', 'DLQ_URL', 'DEST_BUCKET', 'DEST_PREFIX', 'SOURCE_PREFIX', 'JOB',
  'MAX_RECEIVE_COUNT', 'ALLOWED_SOURCE_BUCKETS', 'TASK_MEMORY_MIB', 'AWS_REGION',
  // A fan-out group's wiring: the families' and the aggregator's queues and the run root their roles are scoped to.
  'FANOUT_FAMILIES', 'FANOUT_FAMILY', 'AGGREGATE_QUEUE_URL', 'RUNS_PREFIX',
  // A batch pipeline's wiring: the result store its role may write.
  'RESULT_STORE', 'RESULTS_TABLE',
  // An archive-split pipeline's wiring: the prefixes, buckets and callback queues its role is scoped to.
  ...ARCHIVE_SPLIT_WIRING,
];

/** Names that say "credential": a secret belongs in Secrets Manager or the task role, never in a task definition. */
const SECRET_LIKE = /SECRET|PASSWORD|TOKEN|KEY$/i;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The problems of one pipeline's jobEnvironment, each naming the variable; empty when it is fine. */
export function jobEnvironmentProblems(label: string, environment: unknown): string[] {
  if (typeof environment !== 'object' || environment === null || Array.isArray(environment)) {
    return [`${label}.jobEnvironment: an object of variable names to string values, e.g. {"SIZES":"224x224"}`];
  }
  const problems: string[] = [];
  for (const [name, value] of Object.entries(environment as Record<string, unknown>)) {
    const where = `${label}.jobEnvironment.${name}`;
    if (!VARIABLE_NAME.test(name)) problems.push(`${where}: not a variable name (letters, digits, underscores)`);
    else if (SECRET_LIKE.test(name)) {
      problems.push(`${where}: looks like a secret (its name matches ${SECRET_LIKE.source}); task definitions are plain text: use the task role or Secrets Manager`);
    } else if (WIRING_VARIABLES.includes(name)) problems.push(`${where}: set by the infra from the pipeline (${WIRING_VARIABLES.join(', ')} are not the job's to change)`);
    else if (name.startsWith('AWS_')) problems.push(`${where}: AWS SDK settings come from the task role and region, not the job`);
    if (typeof value !== 'string') problems.push(`${where}: a string value, got ${JSON.stringify(value)}`);
  }
  return problems;
}
