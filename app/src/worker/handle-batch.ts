import { classifyFailure, PermanentError, SourceMissingError } from '../../../shared/errors';
import type { BatchMessage } from '../../../shared/fanout/messages';
import { familyFilesPrefix } from '../../../shared/fanout/run-layout';
import type { FileResult, LedgerEntry } from '../../../shared/fanout/run-record';
import { retryTransient } from '../../../shared/retry';
import type { FamilySettings } from '../config';
import { RunLedger } from '../fanout/run-ledger';
import type { MessageJobContext } from '../job/message-job';
import type { ObjectJob } from '../job/object-job';
import type { MessageSender } from '../ports/message-sender';
import { handleObject, type ObjectHandlerConfig, type ObjectHandlerDeps } from './handle-object';

export interface BatchHandlerDeps extends Omit<ObjectHandlerDeps, 'retry' | 'stopping' | 'config'> {
  readonly job: ObjectJob;
  readonly config: ObjectHandlerConfig;
  readonly family: FamilySettings;
  readonly context: MessageJobContext;
  readonly sender?: MessageSender;
  readonly redelivered: boolean;
}

/** A batch message that can never be processed here: the reason names what is wrong. */
export class BatchMessageError extends PermanentError {
  override readonly name = 'BatchMessageError';
  readonly reason = 'invalid-batch';
}

/** A program's summary.json larger than this is not a summary; the file's row just goes without. */
const MAX_SUMMARY_BYTES = 64 * 1024;

/**
 * One batch of a fan-out run, for this worker's family: the family's job runs on every file of the batch exactly as
 * it would on an uploaded object (same reads, limits, outputs, freshness), writing under the run's `files/<family>/`;
 * each file's outcome goes into the batch's results; then the batch is settled in the ledger, once, and the run's
 * aggregation triggered if this was the last batch of the last family.
 *
 * Settled means every file has an outcome: a file that fails permanently (not a WAV) is a failed row, not a failed
 * batch. The batch itself fails (ledger `failed`, message dead-lettered) when its list is unusable or when files were
 * still failing transiently on the last attempt; either way the run still ends. A redelivered batch that is already
 * settled only repeats the trigger check, which is what a task killed between settling and triggering left undone.
 */
export async function handleBatch(request: BatchMessage, deps: BatchHandlerDeps): Promise<void> {
  const { family, context, log } = deps;
  if (request.family !== family.name) {
    throw new BatchMessageError(`a batch for family ${request.family} reached family ${family.name}'s queue: check FANOUT_FAMILIES of the fan-out pipeline`);
  }
  if (family.runsPrefix !== undefined && request.root !== family.runsPrefix) {
    throw new BatchMessageError(`a batch names run root "${request.root}", this family works under RUNS_PREFIX "${family.runsPrefix}"`);
  }
  if (request.bucket !== deps.config.destBucket) {
    throw new BatchMessageError(`a batch names bucket ${request.bucket}, this family writes to DEST_BUCKET ${deps.config.destBucket}`);
  }
  const ledger = new RunLedger(request, deps.store, context.retry);
  const record = await ledger.readRunRecord();
  if (!record.families.includes(family.name) || request.batch >= record.batchCount) {
    throw new BatchMessageError(`run ${request.runId} has no batch ${request.batch} for family ${family.name} (families ${record.families.join(', ')}, ${record.batchCount} batches)`);
  }
  const where = { runId: request.runId, family: family.name, batch: request.batch };
  const settled = await ledger.ledgerEntry(family.name, request.batch);
  if (settled !== undefined) {
    log.info('batch already settled', { ...where, status: settled.status });
  } else {
    const entry = await processBatch(request, ledger, deps).catch(async (error: unknown) => {
      const failure = classifyFailure(error);
      // Dead-lettered from here on (the worker applies the same rule): the ledger says so now, so the run ends instead
      // of waiting for this batch forever. A stop is not the batch's fault and hands the message back.
      if (isLastAttempt(failure, context) && !context.stopping.aborted) {
        await settleAndTrigger({ status: 'failed', reason: `${failure.reason}: ${failure.message}`, files: 0, failedFiles: 0, at: new Date().toISOString(), messageId: context.message.messageId }, new RunLedger(request, deps.store, afterGiveUpRetry(deps)));
      }
      throw error;
    });
    await settleAndTrigger(entry);
    if (entry.status === 'failed') throw entry.error;
    return;
  }
  await trigger();

  async function settleAndTrigger(entry: LedgerEntry & { error?: unknown }, using: RunLedger = ledger): Promise<void> {
    const { error: _error, ...recorded } = entry;
    const created = await using.settleBatch(family.name, request.batch, recorded);
    log.info(created ? 'batch settled' : 'batch already settled', { ...where, status: recorded.status, files: recorded.files, failedFiles: recorded.failedFiles });
    await trigger(using);
  }

  async function trigger(using: RunLedger = ledger): Promise<void> {
    const outcome = await using.triggerIfComplete(record, context.message.messageId, family.aggregateQueueUrl, context.sender);
    if (outcome !== 'pending') log.info('run complete', { runId: request.runId, trigger: outcome });
  }
}

async function processBatch(request: BatchMessage, ledger: RunLedger, deps: BatchHandlerDeps): Promise<LedgerEntry & { error?: unknown }> {
  const { family, context, log } = deps;
  const list = await ledger.readBatchList(request.batch);
  if (!Array.isArray(list.keys) || typeof list.bucket !== 'string') throw new BatchMessageError(`run ${request.runId}: batch ${request.batch}'s list is malformed`);
  const filesPrefix = familyFilesPrefix(ledger.layout, family.name);
  const objectDeps: ObjectHandlerDeps = {
    ...deps,
    // Outputs go under the run, named after the whole source key: the family's files for `a/b.wav` are at
    // `files/<family>/a/b.wav/...`.
    config: { ...deps.config, destPrefix: filesPrefix, sourcePrefix: '' },
    retry: context.retry,
    stopping: context.stopping,
    ...(Object.keys(list.settings ?? {}).length > 0 ? { settings: list.settings } : {}),
  };
  // Results already created (a task killed between them and its settlement): they are the batch's, settle from them.
  const created = await ledger.readResults(family.name, request.batch);
  if (created !== undefined) return entryFrom(created.files, context, undefined);
  // Files an earlier attempt finished (its checkpoint) are not done again: a batch cut short by the message deadline
  // or a kill makes progress on every attempt instead of starting over.
  const checkpoint = new Map(((await ledger.readCheckpoint(family.name, request.batch))?.files ?? []).filter((file) => file.status === 'done').map((file) => [file.key, file]));
  const files: FileResult[] = [];
  const results = () => ({ runId: request.runId, family: family.name, batch: request.batch, files });
  let stillFailing: unknown;
  for (const key of list.keys) {
    const done = checkpoint.get(key);
    if (done !== undefined) {
      files.push(done);
      continue;
    }
    // The message given up (its deadline, lost visibility) is the batch's failure, not this file's: keep what is done.
    if (context.signal.aborted) await saveCheckpointAndThrow(context.signal.reason);
    try {
      await handleObject({ bucket: list.bucket, key, eventName: 'fanout:batch' }, deps.redelivered, objectDeps);
      const summary = await readSummary(deps, request.bucket, `${filesPrefix}${key}/summary.json`);
      files.push({ key, status: 'done', ...(summary !== undefined ? { summary } : {}) });
    } catch (error) {
      if (context.signal.aborted) await saveCheckpointAndThrow(context.signal.reason ?? error);
      const failure = classifyFailure(error);
      // Worth another attempt (or stopped by the Spot notice): the batch is retried from its checkpoint. On the last
      // attempt the file is failed instead.
      if (failure.kind === 'transient' && (!isLastAttempt(failure, context) || context.stopping.aborted)) await saveCheckpointAndThrow(error);
      // A file that used up the attempts its kind allows (a program's timeout, an OOM kill) failed as a file does;
      // one still failing for reasons outside it (S3 down) on the message's last receive fails the batch.
      if (failure.kind === 'transient' && failure.attemptsAllowed === undefined) stillFailing ??= error;
      files.push({ key, status: 'failed', reason: failure.kind === 'missing' ? 'source-missing' : failure.reason, detail: failure.message });
      log.warn('file failed in batch', { runId: request.runId, family: family.name, batch: request.batch, key, reason: failure.reason });
    }
  }
  if (!(await ledger.createResults(results()))) {
    // Another copy of this batch created its results first: those stand, and the settlement is made from them.
    const first = await ledger.readResults(family.name, request.batch);
    if (first !== undefined) return entryFrom(first.files, context, undefined);
  }
  return entryFrom(files, context, stillFailing);

  async function saveCheckpointAndThrow(error: unknown): Promise<never> {
    await new RunLedger(request, deps.store, afterGiveUpRetry(deps)).writeCheckpoint(results()).catch(() => undefined);
    throw error;
  }
}

function entryFrom(files: readonly FileResult[], context: MessageJobContext, stillFailing: unknown): LedgerEntry & { error?: unknown } {
  const failedFiles = files.filter((file) => file.status === 'failed').length;
  const at = new Date().toISOString();
  if (stillFailing !== undefined) {
    return { status: 'failed', reason: `${failedFiles} files still failing on the last attempt`, files: files.length, failedFiles, at, messageId: context.message.messageId, error: stillFailing };
  }
  return { status: 'done', files: files.length, failedFiles, at, messageId: context.message.messageId };
}

/**
 * The worker's own rule (settlement.ts): a failure is final on the last receive, on a permanent failure, or once it
 * has had the attempts its kind allows (a program's timeout, a deadline: two).
 */
function isLastAttempt(failure: { kind: string; attemptsAllowed?: number }, context: MessageJobContext): boolean {
  return failure.kind !== 'transient' || context.message.finalAttempt || (failure.attemptsAllowed !== undefined && context.message.attempt >= failure.attemptsAllowed);
}

/** What little must still be written when the message's own signal has given up (its deadline passed): a few seconds. */
const AFTER_GIVE_UP_MS = 15_000;

function afterGiveUpRetry(deps: BatchHandlerDeps): MessageJobContext['retry'] {
  return { ...deps.context.retry, signal: AbortSignal.timeout(AFTER_GIVE_UP_MS) };
}

/** The flat summary.json a family's program may write (scalars only); undefined when there is none. */
async function readSummary(deps: BatchHandlerDeps, bucket: string, key: string): Promise<Record<string, string | number | boolean> | undefined> {
  let body: Buffer;
  try {
    ({ body } = await retryTransient(() => deps.store.get({ bucket, key }, { maxBytes: MAX_SUMMARY_BYTES }), deps.context.retry));
  } catch (error) {
    if (error instanceof SourceMissingError || classifyFailure(error).kind === 'permanent') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, string | number | boolean] => ['string', 'number', 'boolean'].includes(typeof entry[1])));
  } catch {
    return undefined;
  }
}
