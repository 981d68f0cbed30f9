import { EnvReader } from '../../src/job/env-reader';

export interface AggregateConfig {
  /** RUNS_PREFIX (optional): requests naming another run root are refused (the infra sets it; IAM agrees). */
  readonly runsPrefix?: string;
}

export function readAggregateConfig(env: NodeJS.ProcessEnv): AggregateConfig {
  const read = new EnvReader(env);
  const raw = read.present('RUNS_PREFIX');
  read.throwIfInvalid();
  if (raw === undefined) return {};
  const trimmed = raw.replace(/^\/+/, '').replace(/\/+$/, '');
  return { runsPrefix: trimmed === '' ? '' : `${trimmed}/` };
}
