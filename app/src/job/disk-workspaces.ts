import type { Log } from '../../../shared/log/logger';
import { defaultDiskBudgetBytes, DiskBudget, diskReservationBytes } from './disk-budget';
import type { WorkspaceSettings } from './workspace-settings';
import { inputFileName, sweepLeftovers, WorkDirs } from './work-dirs';
import type { ObjectWorkspace, Workspaces } from './workspace';
import { join } from 'node:path';

/**
 * Private directories for `file` jobs within a disk budget. Opening first removes what workers killed outright
 * (SIGKILL, the OOM killer) left behind, so a task that restarts on the same disk does not slowly fill it.
 */
export async function openDiskWorkspaces(settings: WorkspaceSettings, log: Log): Promise<Workspaces> {
  const removed = await sweepLeftovers(settings.root);
  if (removed.length > 0) log.info('removed work directories left by killed workers', { count: removed.length });
  const dirs = await WorkDirs.open(settings.root);
  const budget = new DiskBudget(settings.budgetBytes ?? (await defaultDiskBudgetBytes(settings.root)));
  return {
    budgetBytes: budget.totalBytes,
    async open(key: string, sourceBytes: number, signal: AbortSignal): Promise<ObjectWorkspace> {
      const lease = await budget.acquire(diskReservationBytes(sourceBytes, settings.reserveFactor), key, signal);
      const created = await dirs.create().catch((error: unknown) => {
        lease.release();
        throw error;
      });
      return {
        inputPath: join(created.inputDir, inputFileName(key)),
        outputDir: created.outputDir,
        tmpDir: created.tmpDir,
        async dispose() {
          try {
            await created.remove();
          } finally {
            lease.release();
          }
        },
      };
    },
    close: () => dirs.close(),
  };
}
