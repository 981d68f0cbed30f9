import { ConfigError } from '../../../shared/errors';
import { EnvReader } from '../../src/job/env-reader';
import { readWorkspaceSettings } from '../../src/job/workspace-settings';

function read(env: Record<string, string>) {
  const reader = new EnvReader(env);
  const settings = readWorkspaceSettings(reader, '/scratch');
  reader.throwIfInvalid();
  return settings;
}

function problems(env: Record<string, string>): string {
  try {
    read(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('readWorkspaceSettings', () => {
  it('defaults to a folder under the temporary directory, a budget from its free space, and a factor of 2', () => {
    expect(read({})).toEqual({ root: '/scratch/blueprint-work', reserveFactor: 2 });
  });

  it('reads every variable', () => {
    expect(read({ WORK_DIR: '/mnt/scratch/work/', DISK_BUDGET_MIB: '1024', DISK_RESERVE_FACTOR: '1.5' })).toEqual({
      root: '/mnt/scratch/work', budgetBytes: 1024 * 1024 * 1024, reserveFactor: 1.5,
    });
  });

  it.each([
    [{ WORK_DIR: 'relative/dir' }, /WORK_DIR="relative\/dir" is invalid: expected an absolute path/],
    [{ DISK_BUDGET_MIB: '0' }, /DISK_BUDGET_MIB="0" is invalid/],
    [{ DISK_BUDGET_MIB: 'lots' }, /DISK_BUDGET_MIB="lots" is invalid/],
    [{ DISK_RESERVE_FACTOR: '0.5' }, /DISK_RESERVE_FACTOR="0.5" is invalid: expected a number from 1 to 1000/],
  ])('refuses %j, naming the variable and the expected form', (env, message) => {
    expect(problems(env)).toMatch(message);
  });
});
