import { ConfigError } from '../../../shared/errors';
import { parseCommandTemplate, type CommandTemplate } from './command-template';

/** The command job's configuration: read once from the environment, validated, frozen. */
export interface CommandConfig {
  /** COMMAND (required), parsed: see command-template.ts. */
  readonly command: CommandTemplate;
  /** COMMAND_TRANSIENT_EXIT_CODES: comma list of 1..255 (default 75, EX_TEMPFAIL), or `none`. */
  readonly transientExitCodes: readonly number[];
  /** COMMAND_TIMEOUT_SECONDS (default 240): one run's limit, then its process group is stopped. */
  readonly timeoutSeconds: number;
  /** COMMAND_KILL_GRACE_SECONDS (default 5, 0..110): after a timeout's SIGTERM, how long before SIGKILL. */
  readonly killGraceSeconds: number;
  /**
   * COMMAND_ENV_PASSTHROUGH: worker variables the program also gets, by name, or `PREFIX*` for every name that
   * starts with PREFIX. A name starting with AWS_ is passed only when listed whole, never by a pattern.
   */
  readonly envPassthrough: readonly string[];
}

/** What every program gets from the worker's environment, when set there; TMPDIR is always its private directory. */
export const BASE_PROGRAM_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'] as const;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_TRANSIENT_EXIT_CODES = [75];

/**
 * Reads and validates every variable at once, so a bad deployment shows all its mistakes in one start, each naming
 * the variable, what it got, and the form expected. Where objects go on disk (WORK_DIR, DISK_BUDGET_MIB,
 * DISK_RESERVE_FACTOR) is the worker's, for every job that consumes files: app/src/job/workspace-settings.ts.
 */
export function loadCommandConfig(env: NodeJS.ProcessEnv): CommandConfig {
  const problems: string[] = [];
  const present = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const invalid = (name: string, raw: string, expected: string): void => {
    problems.push(`${name}="${raw}" is invalid: expected ${expected}`);
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = present(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      invalid(name, raw, `a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(raw);
  };

  let command: CommandTemplate = { form: 'argv', program: 'true', args: [] };
  try {
    command = parseCommandTemplate(env.COMMAND);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(error.message);
  }

  let transientExitCodes = DEFAULT_TRANSIENT_EXIT_CODES;
  const codes = present('COMMAND_TRANSIENT_EXIT_CODES');
  if (codes !== undefined && codes.toLowerCase() === 'none') transientExitCodes = [];
  else if (codes !== undefined) {
    const items = codes.split(',').map((item) => item.trim()).filter((item) => item !== '');
    if (items.length === 0 || !items.every((item) => /^\d{1,3}$/.test(item) && Number(item) >= 1 && Number(item) <= 255)) {
      invalid('COMMAND_TRANSIENT_EXIT_CODES', codes, 'a comma-separated list of exit codes from 1 to 255 such as 75,111, or none (0 always means done)');
    } else transientExitCodes = [...new Set(items.map(Number))].sort((a, b) => a - b);
  }

  const timeoutSeconds = int('COMMAND_TIMEOUT_SECONDS', 240, 1, 43_200);
  // Under ECS's stopTimeout (120 s at most), so a stop's kill still happens before the task is gone.
  const killGraceSeconds = int('COMMAND_KILL_GRACE_SECONDS', 5, 0, 110);

  const envPassthrough: string[] = [];
  const rawPassthrough = present('COMMAND_ENV_PASSTHROUGH');
  for (const item of rawPassthrough?.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '') ?? []) {
    const expected = 'a comma-separated list of variable names (GDAL_CACHEMAX) or name prefixes ending in * (GDAL_*)';
    if (!/^[A-Za-z_][A-Za-z0-9_]*\*?$/.test(item)) invalid('COMMAND_ENV_PASSTHROUGH', rawPassthrough!, `${expected}; "${item}" is neither`);
    else if (item.endsWith('*') && item.toUpperCase().startsWith('AWS_')) {
      invalid('COMMAND_ENV_PASSTHROUGH', rawPassthrough!, `${expected}; AWS_ variables carry the task's credentials and are passed only when each is named whole, not with "${item}"`);
    } else if (item === 'TMPDIR') {
      invalid('COMMAND_ENV_PASSTHROUGH', rawPassthrough!, `${expected}; TMPDIR is always the program's own private directory`);
    } else if (!envPassthrough.includes(item)) envPassthrough.push(item);
  }

  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return deepFreeze({
    command,
    transientExitCodes,
    timeoutSeconds,
    killGraceSeconds,
    envPassthrough,
  });
}

/**
 * The program's whole environment: PATH, HOME, LANG, LC_ALL and TZ from the worker (PATH defaulting to the usual
 * system one), TMPDIR set to the message's private directory, and what COMMAND_ENV_PASSTHROUGH names. Nothing else:
 * not the worker's AWS_* variables (with AWS_CONTAINER_CREDENTIALS_RELATIVE_URI a program could act with the task
 * role), not its queue URLs, not its configuration. A `PREFIX*` pattern never passes an AWS_ name.
 */
export function programEnvironment(config: Pick<CommandConfig, 'envPassthrough'>, workerEnv: NodeJS.ProcessEnv, tmpDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  const copy = (name: string): void => {
    const value = workerEnv[name];
    if (value !== undefined) env[name] = value;
  };
  for (const name of BASE_PROGRAM_ENV) copy(name);
  for (const item of config.envPassthrough) {
    if (!item.endsWith('*')) copy(item);
    else for (const name of Object.keys(workerEnv).sort()) if (name.startsWith(item.slice(0, -1)) && !name.toUpperCase().startsWith('AWS_')) copy(name);
  }
  env.PATH ??= DEFAULT_PATH;
  env.TMPDIR = tmpDir;
  return env;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
