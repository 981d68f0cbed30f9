import type { JobModule } from '../../src/job/job-module';
import type { ObjectJob } from '../../src/job/object-job';
import { loadCommandConfig, type CommandConfig } from './command-config';

/** JOB=command: run an existing program on each object. See README.md beside this file. */
export const commandJobModule: JobModule<CommandConfig, ObjectJob> = {
  name: 'command',
  summary: 'run COMMAND on each object as a file; every file it leaves in {outputDir} is uploaded',
  // A program usually keeps one core busy; more at once only queue for the CPU and multiply disk and memory use.
  defaultConcurrency: (cpuCount) => cpuCount,
  // The download's writes, the uploads' reads and the directory work run on libuv's pool, not in the program.
  poolThreadsPerMessage: () => 2,
  readSettings: (env) => loadCommandConfig(env),
  async create(settings) {
    const { CommandJob } = await import('./command-job');
    return new CommandJob(settings, process.env);
  },
};
