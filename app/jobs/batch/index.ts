import type { JobModule } from '../../src/job/job-module';
import type { MessageJob } from '../../src/job/message-job';
import { batchBufferSlots, readBatchSettings, type BatchSettings } from './batch-settings';

export const batchJobModule: JobModule<BatchSettings, MessageJob> = {
  name: 'batch',
  summary: 'records (one message each) scored by a model in batches, results bulk-written to DynamoDB or MongoDB once per record',
  // Results go to the result store; the task role has no S3 write at all.
  writesToDestination: false,
  defaultConcurrency: (cpuCount, env) => batchBufferSlots(cpuCount, env),
  readSettings: (env, runtime) => readBatchSettings(env, runtime),
  async create(settings) {
    const [{ BatchJob }, { createEmfBatchSink }, { openModel }, { openResultStore }] = await Promise.all([
      import('./batch-job'), import('./batch-metrics'), import('./open-model'), import('./open-result-store'),
    ]);
    const model = await openModel(settings.modelPath);
    const { store } = await openResultStore(settings.resultStore);
    return new BatchJob(settings, { model, results: store, metrics: createEmfBatchSink(settings.metricsNamespace, 'worker') });
  },
};
