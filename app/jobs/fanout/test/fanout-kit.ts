import { PermanentError } from '../../../../shared/errors';
import { buildS3Event } from '../../../../shared/events/s3-event-shape';
import { MemoryLog } from '../../../../shared/log/logger';
import type { ReceivedMessage } from '../../../../shared/ports/queue';
import { WorkerStats } from '../../../src/metrics/worker-stats';
import type { Job } from '../../../src/job/message-job';
import type { BytesOutput, JobContext, JobSource, ObjectInput, ObjectJob } from '../../../src/job/object-job';
import type { MessageSender } from '../../../src/ports/message-sender';
import type { ObjectStore } from '../../../src/ports/object-store';
import { handleMessage, type HandleContext, type MessageHandlerConfig, type MessageOutcome } from '../../../src/worker/handle-message';
import { AggregateJob } from '../../aggregate/aggregate-job';
import { FanoutJob } from '../fanout-job';

/** Factories for the fan-out's tests: the four pipelines' handlers over one store, and the queues between them. */

export const SOURCE = 'source';
export const DEST = 'dest';
export const ROOT = 'runs/';
export const FAMILIES = ['loudness', 'spectrum'] as const;
export const AGGREGATE_QUEUE = 'queue://summary';
export const familyQueue = (family: string) => `queue://${family}`;

class NotAudioError extends PermanentError {
  override readonly name = 'NotAudioError';
  readonly reason = 'not-audio';
}

/** Stands in for a family's program: a summary.json per file, and a permanent failure for a body saying `broken`. */
export class SummaryJob implements ObjectJob {
  readonly name = 'summary-stub';
  readonly consumes = 'bytes' as const;
  readonly seen: string[] = [];
  readonly settingsSeen: (Readonly<Record<string, string>> | undefined)[] = [];
  /** Runs before each file: a test's way to fail, abort or stop at a chosen file. */
  beforeEach: (key: string) => void = () => undefined;
  constructor(private readonly family: string) {}
  plannedOutputs(): undefined {
    return undefined;
  }
  describe() {
    return {};
  }
  async process(input: ObjectInput, context: JobContext): Promise<BytesOutput[]> {
    if (input.kind !== 'bytes') throw new TypeError('bytes only');
    this.settingsSeen.push(context.settings);
    this.beforeEach(input.source.key);
    this.seen.push(input.source.key);
    const text = input.bytes.toString();
    if (text === 'broken') throw new NotAudioError(`${input.source.key} is not audio`);
    const summary = { family: this.family, length: text.length };
    return [{ name: `${(input.source as JobSource).relativeKey}/summary.json`, contentType: 'application/json', body: Buffer.from(JSON.stringify(summary)) }];
  }
}

/** Queues as lists of bodies, by URL: what each pipeline's handler is fed from. */
export class RecordingSender implements MessageSender {
  readonly queues = new Map<string, string[]>();
  readonly sentTo: string[] = [];
  failNext = 0;

  async sendAll(queueUrl: string, bodies: readonly string[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw Object.assign(new Error('throttled'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 503 } });
    }
    const queue = this.queues.get(queueUrl) ?? [];
    queue.push(...bodies);
    this.queues.set(queueUrl, queue);
    for (const _body of bodies) this.sentTo.push(queueUrl);
  }

  count(queueUrl: string): number {
    return this.sentTo.filter((url) => url === queueUrl).length;
  }

  take(queueUrl: string): string[] {
    const bodies = this.queues.get(queueUrl) ?? [];
    this.queues.set(queueUrl, []);
    return bodies;
  }

  async close(): Promise<void> {}
}

export interface Pipelines {
  readonly store: ObjectStore;
  readonly sender: RecordingSender;
  readonly log: MemoryLog;
  readonly jobs: Record<string, SummaryJob>;
  fanout(body: string, delivery?: Partial<ReceivedMessage>): Promise<MessageOutcome>;
  family(family: string, body: string, delivery?: Partial<ReceivedMessage>, context?: HandleContext): Promise<MessageOutcome>;
  aggregate(body: string, delivery?: Partial<ReceivedMessage>): Promise<MessageOutcome>;
  /** Feeds every queued message to its pipeline until all queues are empty; returns the failures seen. */
  drain(): Promise<MessageOutcome[]>;
}

const config: MessageHandlerConfig = { destBucket: DEST, destPrefix: ROOT, sourcePrefix: '', maxInputBytes: 1_000_000, maxReceiveCount: 3 };
const retry = { retries: 1, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined };

export function pipelines(store: ObjectStore, options: { batchSize?: number } = {}): Pipelines {
  const sender = new RecordingSender();
  const log = new MemoryLog();
  const jobs = Object.fromEntries(FAMILIES.map((family) => [family, new SummaryJob(family)]));
  const fanoutJob = new FanoutJob({
    families: FAMILIES.map((name) => ({ name, queueUrl: familyQueue(name) })),
    batchSize: options.batchSize ?? 2,
    maxManifestBytes: 1_000_000,
    runsBucket: DEST,
    runsRoot: ROOT,
  });
  const aggregateJob = new AggregateJob({ runsPrefix: ROOT });
  let ids = 0;
  const message = (body: string, delivery: Partial<ReceivedMessage> = {}): ReceivedMessage =>
    ({ messageId: `m${++ids}`, receiptHandle: `r${ids}`, receiveCount: 1, attributes: {}, body, ...delivery });
  const run = (job: Job, body: string, delivery: Partial<ReceivedMessage> | undefined, extra: Partial<MessageHandlerConfig> = {}, context?: HandleContext) =>
    handleMessage(message(body, delivery), { store, job, sender, config: { ...config, ...extra }, retry, log, stats: new WorkerStats() }, context);
  const familyConfig = (family: string) => ({ family: { name: family, aggregateQueueUrl: AGGREGATE_QUEUE, runsPrefix: ROOT } });
  const self: Pipelines = {
    store, sender, log, jobs,
    fanout: (body, delivery) => run(fanoutJob, body, delivery),
    family: (family, body, delivery, context) => run(jobs[family]!, body, delivery, familyConfig(family), context),
    aggregate: (body, delivery) => run(aggregateJob, body, delivery),
    async drain() {
      const failed: MessageOutcome[] = [];
      for (;;) {
        const work = [
          ...FAMILIES.flatMap((family) => sender.take(familyQueue(family)).map((body) => () => self.family(family, body))),
          ...sender.take(AGGREGATE_QUEUE).map((body) => () => self.aggregate(body)),
        ];
        if (work.length === 0) return failed;
        for (const outcome of await Promise.all(work.map((each) => each()))) if (outcome.failures.length > 0) failed.push(outcome);
      }
    },
  };
  return self;
}

/** The S3 event of an object already in the store (its real ETag and size). */
export async function eventFor(store: ObjectStore, bucket: string, key: string): Promise<string> {
  const head = await store.head({ bucket, key });
  return buildS3Event([{ bucket, key, size: head?.size ?? 0, etag: head?.etag ?? '' }]);
}
