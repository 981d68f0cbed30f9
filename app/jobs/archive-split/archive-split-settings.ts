import { EnvReader } from '../../src/job/env-reader';
import type { JobRuntime } from '../../src/job/job-module';
import { readWorkspaceSettings, type WorkspaceSettings } from '../../src/job/workspace-settings';
import { readArchiveSettings, type ArchiveSettings } from './archive-settings';

/** What the archive-split worker reads at start: the job's own settings, and the disk its TAR path may spill to. */
export interface ArchiveSplitSettings {
  readonly archive: ArchiveSettings;
  /** WORK_DIR and DISK_BUDGET_MIB, as every job that uses the task's disk reads them. */
  readonly workspace: WorkspaceSettings;
}

export function readArchiveSplitSettings(env: NodeJS.ProcessEnv, _runtime?: JobRuntime): ArchiveSplitSettings {
  const read = new EnvReader(env);
  const workspace = readWorkspaceSettings(read);
  // Both report every bad variable; the job's own first, then the workspace's.
  const archive = readArchiveSettings(env);
  read.throwIfInvalid();
  return { archive, workspace };
}
