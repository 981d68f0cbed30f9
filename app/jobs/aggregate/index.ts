import type { JobModule } from '../../src/job/job-module';
import type { MessageJob } from '../../src/job/message-job';
import { readAggregateConfig, type AggregateConfig } from './aggregate-config';

export const aggregateJobModule: JobModule<AggregateConfig, MessageJob> = {
  name: 'aggregate',
  summary: "a fan-out run's families merged into one summary (CSV and JSON, a row per file) and a run report, once",
  defaultConcurrency: () => 2,
  readSettings: (env) => readAggregateConfig(env),
  async create(settings) {
    const { AggregateJob } = await import('./aggregate-job');
    return new AggregateJob(settings);
  },
};
