import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../../shared/errors';
import { loadCommandConfig, programEnvironment } from '../command-config';
import { runProgram } from '../program-runner';
import { renderCommand } from '../command-template';

const COMMAND = '["python3","/opt/analyze.py","{input}","{outputDir}"]';

function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadCommandConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadCommandConfig', () => {
  it('gives the documented defaults, frozen', () => {
    const config = loadCommandConfig({ COMMAND });
    expect(config).toEqual({
      command: expect.objectContaining({ form: 'argv', program: 'python3' }),
      transientExitCodes: [75],
      timeoutSeconds: 240,
      killGraceSeconds: 5,
      envPassthrough: [],
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.transientExitCodes)).toBe(true);
    expect(Object.isFrozen(config.command)).toBe(true);
  });

  it('reads every variable', () => {
    const config = loadCommandConfig({
      COMMAND: 'analyze {input} > {outputDir}/out.json',
      COMMAND_TRANSIENT_EXIT_CODES: '111, 75,75',
      COMMAND_TIMEOUT_SECONDS: '30',
      COMMAND_KILL_GRACE_SECONDS: '0',
      COMMAND_ENV_PASSTHROUGH: 'GDAL_*, AWS_REGION,PROJ_LIB',
    });
    expect(config).toMatchObject({
      command: { form: 'shell' },
      transientExitCodes: [75, 111],
      timeoutSeconds: 30,
      killGraceSeconds: 0,
      envPassthrough: ['GDAL_*', 'AWS_REGION', 'PROJ_LIB'],
    });
    expect(loadCommandConfig({ COMMAND, COMMAND_TRANSIENT_EXIT_CODES: 'none' }).transientExitCodes).toEqual([]);
  });

  it.each([
    [{}, /COMMAND is missing: expected a JSON array of strings/],
    [{ COMMAND: 'tool {nope}' }, /COMMAND script has an unknown placeholder \{nope\}/],
    [{ COMMAND, COMMAND_TRANSIENT_EXIT_CODES: '0' }, /COMMAND_TRANSIENT_EXIT_CODES="0" is invalid: expected a comma-separated list of exit codes from 1 to 255/],
    [{ COMMAND, COMMAND_TRANSIENT_EXIT_CODES: '75,256' }, /COMMAND_TRANSIENT_EXIT_CODES="75,256"/],
    [{ COMMAND, COMMAND_TRANSIENT_EXIT_CODES: 'EX_TEMPFAIL' }, /COMMAND_TRANSIENT_EXIT_CODES="EX_TEMPFAIL"/],
    [{ COMMAND, COMMAND_TIMEOUT_SECONDS: '0' }, /COMMAND_TIMEOUT_SECONDS="0" is invalid: expected a whole number from 1 to 43200/],
    [{ COMMAND, COMMAND_TIMEOUT_SECONDS: '-5' }, /COMMAND_TIMEOUT_SECONDS="-5"/],
    [{ COMMAND, COMMAND_TIMEOUT_SECONDS: '2.5' }, /COMMAND_TIMEOUT_SECONDS="2.5"/],
    [{ COMMAND, COMMAND_KILL_GRACE_SECONDS: '300' }, /COMMAND_KILL_GRACE_SECONDS="300" is invalid: expected a whole number from 0 to 110/],
    [{ COMMAND, COMMAND_ENV_PASSTHROUGH: 'AWS_*' }, /COMMAND_ENV_PASSTHROUGH="AWS_\*" is invalid: .*passed only when each is named whole/],
    [{ COMMAND, COMMAND_ENV_PASSTHROUGH: 'OK,BAD-NAME' }, /COMMAND_ENV_PASSTHROUGH="OK,BAD-NAME" is invalid: .*"BAD-NAME" is neither/],
    [{ COMMAND, COMMAND_ENV_PASSTHROUGH: '*' }, /"\*" is neither/],
    [{ COMMAND, COMMAND_ENV_PASSTHROUGH: 'TMPDIR' }, /TMPDIR is always the program's own private directory/],
  ])('refuses %j, naming the variable and the expected form', (env, message) => {
    expect(configError(env)).toMatch(message);
  });

  it('reports every mistake at once', () => {
    const message = configError({ COMMAND_TIMEOUT_SECONDS: 'x', COMMAND_KILL_GRACE_SECONDS: 'y' });
    expect(message.split('\n')).toEqual([expect.stringMatching(/^COMMAND is missing/), expect.stringMatching(/^COMMAND_TIMEOUT_SECONDS/), expect.stringMatching(/^COMMAND_KILL_GRACE_SECONDS/)]);
  });
});

describe('programEnvironment', () => {
  const workerEnv = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: '/home/node',
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    TMPDIR: '/tmp',
    QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123/work',
    DEST_BUCKET: 'out',
    AWS_REGION: 'eu-west-1',
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc',
    AWS_ACCESS_KEY_ID: 'AKIA...',
    AWS_SECRET_ACCESS_KEY: 'secret',
    ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/x',
    GDAL_CACHEMAX: '512',
    GDAL_NUM_THREADS: '1',
    A_SETTING: 'a',
  };

  it('gives only PATH, HOME, LANG, LC_ALL, TZ and a private TMPDIR by default: no credentials, no queue URLs', () => {
    expect(programEnvironment({ envPassthrough: [] }, workerEnv, '/work/msg-1/tmp')).toEqual({
      PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/home/node', LANG: 'C.UTF-8', TZ: 'UTC', TMPDIR: '/work/msg-1/tmp',
    });
  });

  it('passes what COMMAND_ENV_PASSTHROUGH names, AWS_ names only when named whole', () => {
    const env = programEnvironment({ envPassthrough: ['GDAL_*', 'A*', 'AWS_REGION', 'MISSING'] }, workerEnv, '/t');
    expect(env).toMatchObject({ GDAL_CACHEMAX: '512', GDAL_NUM_THREADS: '1', A_SETTING: 'a', AWS_REGION: 'eu-west-1' });
    expect(Object.keys(env).filter((name) => name.startsWith('AWS_'))).toEqual(['AWS_REGION']);
    expect(env).not.toHaveProperty('MISSING');
    expect(programEnvironment({ envPassthrough: ['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'] }, workerEnv, '/t')).toHaveProperty('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', '/v2/credentials/abc');
  });

  it('gives a usual PATH when the worker has none', () => {
    expect(programEnvironment({ envPassthrough: [] }, {}, '/t')).toEqual({ PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', TMPDIR: '/t' });
  });

  it('is what a real program sees', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'command-config-'));
    try {
      const config = loadCommandConfig({ COMMAND: 'env > {outputDir}/env.txt; env >&2' });
      const { file, args } = renderCommand(config.command, { input: '/dev/null', outputDir: dir, key: 'k', bucket: 'b' });
      const result = await runProgram({ file, args, cwd: dir, env: programEnvironment(config, { ...workerEnv, PATH: process.env.PATH }, dir), timeoutMs: 5000 });
      const names = result.stderrTail.split('\n').map((line) => line.slice(0, line.indexOf('='))).filter((name) => name !== 'PWD' && name !== 'SHLVL' && name !== '_');
      expect(names.sort()).toEqual(['HOME', 'LANG', 'PATH', 'TMPDIR', 'TZ']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
