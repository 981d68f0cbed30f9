import { EnvReader } from '../../src/job/env-reader';
import type { JobModule } from '../../src/job/job-module';
import type { ObjectJob } from '../../src/job/object-job';
import { readResizeJobConfig, type ResizeJobConfig } from './resize-config';

/** JOB=resize (the default): every image to the sizes deep-learning models take. See README.md beside this file. */
export const resizeJobModule: JobModule<ResizeJobConfig, ObjectJob> = {
  name: 'resize',
  summary: 'resize each image to SIZES (sharp/libvips), outputs at DEST_PREFIX/<size>/<key>',
  // sharp runs one libvips thread per image on glibc without jemalloc: two images per vCPU keep the cores busy
  // while the other half waits on S3.
  defaultConcurrency: (cpuCount) => 2 * cpuCount,
  poolThreadsPerMessage: (settings) => settings.resize.sizes.length,
  readSettings(env, runtime) {
    const read = new EnvReader(env);
    const config = readResizeJobConfig(read, runtime.memoryLimitBytes);
    read.throwIfInvalid();
    return config;
  },
  async create(settings) {
    const [{ ResizeJob }, { MemoryBudget }] = await Promise.all([import('./resize-job'), import('./memory-budget')]);
    return new ResizeJob(settings.resize, new MemoryBudget(settings.memoryBudgetBytes));
  },
};
