import { PermanentError, SourceMissingError } from '../../../shared/errors';
import { aggregateMessageBody, type RunHome } from '../../../shared/fanout/messages';
import { runCompletion, type RunCompletion } from '../../../shared/fanout/run-completion';
import * as layout from '../../../shared/fanout/run-layout';
import type { BatchList, BatchResults, LedgerEntry, RunRecord, TriggerRecord } from '../../../shared/fanout/run-record';
import { retryTransient, type RetryPolicy } from '../../../shared/retry';
import type { MessageSender } from '../ports/message-sender';
import type { ObjectStore } from '../ports/object-store';

/** A run's bookkeeping object that is missing or unreadable: the run cannot go on from this message. */
export class RunStateError extends PermanentError {
  override readonly name = 'RunStateError';
  readonly reason = 'invalid-run-state';
}

/** Bookkeeping objects are small; anything larger is not one of ours. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const JSON_OPTIONS = { contentType: 'application/json', metadata: {} };

export type TriggerOutcome = 'pending' | 'triggered' | 'resent' | 'already-triggered';

/**
 * A run's ledger in S3 (layout in shared/fanout/run-layout.ts). Every write that decides something is a conditional
 * create (`If-None-Match: *`), so at-least-once delivery and racing tasks can repeat any step without repeating its
 * effect: the run record, each batch's terminal state per family, the aggregation trigger and the report are each
 * written once, by whoever gets there first.
 */
export class RunLedger {
  private readonly run: layout.RunLayout;

  constructor(private readonly home: RunHome, private readonly store: ObjectStore, private readonly retry: RetryPolicy) {
    this.run = { root: home.root, runId: home.runId };
  }

  get layout(): layout.RunLayout {
    return this.run;
  }

  createRunRecord(record: RunRecord): Promise<boolean> {
    return this.createJson(layout.runRecordKey(this.run), record);
  }

  readRunRecord(): Promise<RunRecord> {
    return this.readJson<RunRecord>(layout.runRecordKey(this.run), 'run record');
  }

  writeBatchList(list: BatchList): Promise<void> {
    return this.putJson(layout.batchKey(this.run, list.batch), list);
  }

  readBatchList(batch: number): Promise<BatchList> {
    return this.readJson<BatchList>(layout.batchKey(this.run, batch), `batch ${batch}`);
  }

  async isDispatched(): Promise<boolean> {
    return (await this.head(layout.dispatchedKey(this.run))) !== undefined;
  }

  async markDispatched(messages: number): Promise<void> {
    await this.createJson(layout.dispatchedKey(this.run), { at: new Date().toISOString(), messages });
  }

  /**
   * A batch's final results, created once: a late or concurrent copy of the batch never replaces the results a
   * settlement was (or will be) made from. False when results were there already; read them with readResults.
   */
  createResults(results: BatchResults): Promise<boolean> {
    return this.createJson(layout.resultsKey(this.run, results.family, results.batch), results);
  }

  writeCheckpoint(results: BatchResults): Promise<void> {
    return this.putJson(layout.checkpointKey(this.run, results.family, results.batch), results);
  }

  readCheckpoint(family: string, batch: number): Promise<BatchResults | undefined> {
    return this.readJsonIfPresent<BatchResults>(layout.checkpointKey(this.run, family, batch));
  }

  readResults(family: string, batch: number): Promise<BatchResults | undefined> {
    return this.readJsonIfPresent<BatchResults>(layout.resultsKey(this.run, family, batch));
  }

  async ledgerEntry(family: string, batch: number): Promise<LedgerEntry | undefined> {
    return this.readJsonIfPresent<LedgerEntry>(layout.ledgerKey(this.run, family, batch));
  }

  /** Records a batch's terminal state for a family; false when one was recorded already (that one stands). */
  settleBatch(family: string, batch: number, entry: LedgerEntry): Promise<boolean> {
    return this.createJson(layout.ledgerKey(this.run, family, batch), entry);
  }

  async completion(record: Pick<RunRecord, 'families' | 'batchCount'>): Promise<RunCompletion> {
    const keys = await retryTransient(() => this.store.list(this.home.bucket, layout.ledgerPrefix(this.run)), this.retry);
    return runCompletion({ ...this.run, families: record.families, batchCount: record.batchCount }, keys.map((object) => object.key));
  }

  /**
   * Called after every settled batch, by its message's handler: when the run is complete, exactly one caller creates
   * the trigger and sends the aggregation request. The ledger list is strongly consistent, so whichever settlement
   * is written last sees every other one: a run is never left untriggered, and never triggered early.
   * A handler killed between creating the trigger and sending is redelivered with the same message id, finds its own
   * trigger and sends again; the aggregator's report is written once, so a second request cannot aggregate twice.
   */
  async triggerIfComplete(record: RunRecord, messageId: string, aggregateQueueUrl: string, sender: MessageSender, random: () => number = Math.random): Promise<TriggerOutcome> {
    if (await this.someUnsettled(record, random)) return 'pending';
    const completion = await this.completion(record);
    if (!completion.complete) return 'pending';
    const trigger: TriggerRecord = { at: new Date().toISOString(), messageId };
    const send = () => retryTransient(() => sender.sendAll(aggregateQueueUrl, [aggregateMessageBody(this.home)]), this.retry);
    if (await this.createJson(layout.triggerKey(this.run), trigger)) {
      await send();
      return 'triggered';
    }
    const existing = await this.readJsonIfPresent<TriggerRecord>(layout.triggerKey(this.run));
    if (existing?.messageId === messageId && !(await this.isAggregated())) {
      await send();
      return 'resent';
    }
    return 'already-triggered';
  }

  /**
   * A cheap look before the full listing: a few settlements most likely still missing (each family's last batch,
   * dispatched last, and one at random). One missing means the run is not complete, and whoever settles last does the
   * full check, so answering "pending" on this evidence is always safe. Without it every settlement would list the
   * whole ledger: at 20,000 batches x 2 families, 40 LIST pages each, 800,000 over a run.
   */
  private async someUnsettled(record: Pick<RunRecord, 'families' | 'batchCount'>, random: () => number): Promise<boolean> {
    const candidates = new Set(record.families.flatMap((family) => [
      layout.ledgerKey(this.run, family, record.batchCount - 1),
      layout.ledgerKey(this.run, family, Math.floor(random() * record.batchCount)),
    ]));
    const heads = await Promise.all([...candidates].map((key) => this.head(key)));
    return heads.some((head) => head === undefined);
  }

  async trigger(): Promise<TriggerRecord | undefined> {
    return this.readJsonIfPresent<TriggerRecord>(layout.triggerKey(this.run));
  }

  async isAggregated(): Promise<boolean> {
    return (await this.head(layout.reportKey(this.run))) !== undefined;
  }

  putJson(key: string, value: unknown): Promise<void> {
    return retryTransient(() => this.store.put({ bucket: this.home.bucket, key }, Buffer.from(JSON.stringify(value)), JSON_OPTIONS), this.retry);
  }

  putText(key: string, text: string, contentType: string): Promise<void> {
    return retryTransient(() => this.store.put({ bucket: this.home.bucket, key }, Buffer.from(text), { contentType, metadata: {} }), this.retry);
  }

  createJson(key: string, value: unknown): Promise<boolean> {
    return retryTransient(() => this.store.createIfAbsent({ bucket: this.home.bucket, key }, Buffer.from(JSON.stringify(value)), JSON_OPTIONS), this.retry);
  }

  async readJsonIfPresent<T>(key: string): Promise<T | undefined> {
    try {
      return await this.readJson<T>(key, key);
    } catch (error) {
      if (error instanceof RunStateError && error.cause instanceof SourceMissingError) return undefined;
      throw error;
    }
  }

  private async readJson<T>(key: string, what: string): Promise<T> {
    let body: Buffer;
    try {
      ({ body } = await retryTransient(() => this.store.get({ bucket: this.home.bucket, key }, { maxBytes: MAX_RECORD_BYTES }), this.retry));
    } catch (error) {
      if (error instanceof SourceMissingError) throw new RunStateError(`run ${this.home.runId}: ${what} (s3://${this.home.bucket}/${key}) does not exist`, { cause: error });
      throw error;
    }
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch (error) {
      throw new RunStateError(`run ${this.home.runId}: ${what} (s3://${this.home.bucket}/${key}) is not valid JSON`, { cause: error });
    }
  }

  private head(key: string) {
    return retryTransient(() => this.store.head({ bucket: this.home.bucket, key }), this.retry);
  }
}
