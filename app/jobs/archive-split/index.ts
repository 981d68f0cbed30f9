import type { JobModule } from '../../src/job/job-module';
import type { MessageJob } from '../../src/job/message-job';
import { readArchiveSplitSettings, type ArchiveSplitSettings } from './archive-split-settings';

export const archiveSplitJobModule: JobModule<ArchiveSplitSettings, MessageJob> = {
  name: 'archive-split',
  summary: 'a ZIP or TAR.GZ of images with a CSV manifest split into batch ZIPs of BATCH_SIZE rows, with a callback message',
  // Batch ZIPs go next to their archive (the request's bucket), not to DEST_BUCKET.
  writesToDestination: false,
  // One archive keeps a task busy for minutes at the rate S3 reads; a second at once would only halve each one's rate
  // and double the memory.
  defaultConcurrency: () => 1,
  readSettings: (env, runtime) => readArchiveSplitSettings(env, runtime),
  async create(settings) {
    const [{ ArchiveSplitJob }, { sweepLeftovers, WorkDirs }, { defaultDiskBudgetBytes }] = await Promise.all([
      import('./archive-split-job'), import('../../src/job/work-dirs'), import('../../src/job/disk-budget'),
    ]);
    const { root, budgetBytes } = settings.workspace;
    // What a killed worker spilled is removed before this one spills anything.
    await sweepLeftovers(root);
    const dirs = await WorkDirs.open(root);
    return new ArchiveSplitJob(settings, dirs, budgetBytes ?? (await defaultDiskBudgetBytes(root)));
  },
};
