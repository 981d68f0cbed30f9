import { archiveSplitDemo } from '../../app/jobs/archive-split/local-demo';
import { batchDemo } from '../../app/jobs/batch/local-demo';
import { commandDemo } from '../../app/jobs/command/local-demo';
import { fanoutDemo } from '../../app/jobs/fanout/local-demo';
import { resizeDemo } from '../../app/jobs/resize/local-demo';
import type { JobDemo } from '../../app/src/job/job-demo';

/** The jobs `npm start -- --job <name>` can show; one line per job. */
const DEMOS: readonly JobDemo[] = [resizeDemo, commandDemo, fanoutDemo, batchDemo, archiveSplitDemo];

export function findJobDemo(job: string): JobDemo | undefined {
  return DEMOS.find((demo) => demo.job === job);
}

export function demoJobNames(): string[] {
  return DEMOS.map((demo) => demo.job);
}
