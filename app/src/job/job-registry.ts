import { aggregateJobModule } from '../../jobs/aggregate';
import { archiveSplitJobModule } from '../../jobs/archive-split';
import { batchJobModule } from '../../jobs/batch';
import { commandJobModule } from '../../jobs/command';
import { fanoutJobModule } from '../../jobs/fanout';
import { resizeJobModule } from '../../jobs/resize';
import type { JobModule } from './job-module';

/** Every job this worker image can run, by its JOB name. Adding a job adds one line here and touches no other job. */
const JOB_MODULES: readonly JobModule<unknown>[] = [resizeJobModule, commandJobModule, fanoutJobModule, aggregateJobModule, batchJobModule, archiveSplitJobModule];

export const DEFAULT_JOB = 'resize';

export function jobNames(): string[] {
  return JOB_MODULES.map((module) => module.name);
}

export function findJobModule(name: string): JobModule | undefined {
  return JOB_MODULES.find((module) => module.name === name);
}
