import type { JobModule } from '../../src/job/job-module';
import type { MessageJob } from '../../src/job/message-job';
import { readFanoutConfig, type FanoutConfig } from './fanout-config';

export const fanoutJobModule: JobModule<FanoutConfig, MessageJob> = {
  name: 'fanout',
  summary: 'a manifest upload becomes batches for several families, each on its own pipeline, then one aggregation',
  // Dispatching is a few hundred small requests a manifest; a handful at once is plenty.
  defaultConcurrency: () => 4,
  readSettings: (env) => readFanoutConfig(env),
  async create(settings) {
    const { FanoutJob } = await import('./fanout-job');
    return new FanoutJob(settings);
  },
};
