import type { ObjectEvent } from '../../../shared/events/parse-message';
import { classifyFailure, PermanentError, SourceMissingError } from '../../../shared/errors';
import type { LogFields } from '../../../shared/log/logger';
import { retryTransient } from '../../../shared/retry';
import type { MessageJob, MessageJobContext } from '../../src/job/message-job';
import type { WorkDirs } from '../../src/job/work-dirs';
import { SplitRequestError } from './archive-errors';
import type { ArchiveSplitSettings } from './archive-split-settings';
import { buildCallback, type CallbackInput } from './callback';
import { callbackMarkerKey } from './callback-marker';
import { splitArchive, type SplitOutcome } from './split-archive';
import { isSplitRequestBody, parseSplitRequest, splitRequestFromEvent, type SplitRequest } from './split-request';

/** The archive a request names is not in S3: the requester is told, and the message dead-lettered. */
export class ArchiveMissingError extends PermanentError {
  override readonly name = 'ArchiveMissingError';
  readonly reason = 'archive-missing';
}

/**
 * An archive in, its batch ZIPs and one callback out. The split itself is splitArchive's; this adds what a request
 * needs around it: its parsing, a private directory for spills, and the callback, success or failure, sent at most
 * twice. The callback is sent, then a marker object named after its deduplication id is written; a redelivery finds
 * the marker and sends nothing, so only a kill between the two repeats it, with the same deduplication id.
 */
export class ArchiveSplitJob implements MessageJob {
  readonly kind = 'message';
  readonly name = 'archive-split';

  constructor(private readonly settings: ArchiveSplitSettings, private readonly workDirs: WorkDirs, private readonly diskBudgetBytes: number) {}

  describe(): LogFields {
    const { archive } = this.settings;
    return {
      batchSize: archive.batchSize, manifestName: archive.manifestName, imageColumn: archive.imageColumn, outputPrefix: archive.outputPrefix,
      archivePrefix: archive.archivePrefix, callbackQueues: archive.allowedCallbackQueues.length, diskBudgetBytes: this.diskBudgetBytes,
    };
  }

  acceptsRequest(body: string): boolean {
    return isSplitRequestBody(body);
  }

  async handleRequest(body: string, context: MessageJobContext): Promise<void> {
    await this.split(() => parseSplitRequest(body, this.settings.archive), context);
  }

  async handleObject(object: ObjectEvent, context: MessageJobContext): Promise<void> {
    await this.split(() => splitRequestFromEvent(object, this.settings.archive), context);
  }

  private async split(parse: () => SplitRequest, context: MessageJobContext): Promise<void> {
    let request: SplitRequest;
    try {
      request = parse();
    } catch (error) {
      // What could be read of a bad request is enough to answer it when its callback queue is an allowed one.
      if (error instanceof SplitRequestError && error.downloadId !== undefined && error.callbackQueueUrl !== undefined) {
        await this.sendOnce({ downloadId: error.downloadId, callbackQueueUrl: error.callbackQueueUrl, outputBucket: undefined, stem: undefined }, failure(error.downloadId, error.message), context);
      }
      throw error;
    }
    const dir = await this.workDirs.create();
    const started = Date.now();
    try {
      const outcome = await splitArchive(request, {
        store: context.store, settings: this.settings.archive, retry: context.retry, signal: context.signal, log: context.log,
        spillDir: dir.tmpDir, diskBudgetBytes: this.diskBudgetBytes,
      });
      if (outcome === undefined) {
        const where = `s3://${request.source.bucket}/${request.source.key}`;
        // An upload deleted after its event is no one's loss (as for every job); a request's archive is the requester's.
        if (request.origin === 'event') throw new SourceMissingError(`${where} no longer exists`);
        throw new ArchiveMissingError(`the archive ${where} does not exist`);
      }
      logOutcome(outcome, request, Date.now() - started, context);
      await this.sendOnce(request, success(request, outcome), context);
    } catch (caught) {
      // An archive deleted mid-split is as much the requester's to hear of as one missing from the start: as a
      // SourceMissingError it would be dead-lettered without a callback.
      const error = request.origin === 'request' && classifyFailure(caught).kind === 'missing'
        ? new ArchiveMissingError(`the archive s3://${request.source.bucket}/${request.source.key} no longer exists: ${messageOf(caught)}`, { cause: caught })
        : caught;
      const { kind } = classifyFailure(error);
      // The requester hears of a failure that is final: a permanent one, or the last attempt of a transient one.
      if (kind === 'permanent' || (kind === 'transient' && context.message.finalAttempt)) {
        const reason = kind === 'permanent' ? messageOf(error) : `gave up after ${context.message.attempt} attempts: ${messageOf(error)}`;
        await this.sendOnce(request, failure(request.downloadId, reason), context).catch((sendError: unknown) => {
          context.log.warn('failure callback not sent', { downloadId: request.downloadId, error: messageOf(sendError) });
        });
      }
      throw error;
    } finally {
      await dir.remove();
    }
  }

  private async sendOnce(
    request: Pick<SplitRequest, 'downloadId' | 'callbackQueueUrl'> & { readonly outputBucket: string | undefined; readonly stem: string | undefined },
    input: CallbackInput,
    context: MessageJobContext,
  ): Promise<void> {
    const callback = buildCallback(input);
    const marker = request.outputBucket === undefined || request.stem === undefined
      ? undefined
      : { bucket: request.outputBucket, key: callbackMarkerKey(this.settings.archive.outputPrefix, request.stem, input.status, callback.deduplicationId) };
    const retried = <T>(call: () => Promise<T>) => retryTransient(call, context.retry);
    if (marker !== undefined && (await retried(() => context.store.head(marker))) !== undefined) {
      context.log.info('callback already sent', { downloadId: request.downloadId, status: input.status, deduplicationId: callback.deduplicationId });
      return;
    }
    await retried(() => context.sender.sendAll(request.callbackQueueUrl, [callback.body]));
    context.log.info('callback sent', { downloadId: request.downloadId, status: input.status, deduplicationId: callback.deduplicationId });
    if (marker !== undefined) {
      await retried(() => context.store.createIfAbsent(marker, Buffer.from(callback.body, 'utf8'), { contentType: 'application/json', metadata: {} }));
    }
  }
}

function success(request: SplitRequest, outcome: SplitOutcome): CallbackInput {
  const { plan } = outcome;
  return {
    downloadId: request.downloadId,
    status: 'success',
    batchFiles: plan.batches.map((batch) => batch.key),
    rows: plan.rows,
    images: plan.images,
    // Part 1's problems begin with the archive's own; with no part at all, those are the only ones.
    problems: plan.batches.length > 0 ? plan.batches.flatMap((batch) => batch.problems) : plan.archiveProblems,
    sourceEtag: outcome.sourceEtag,
  };
}

function failure(downloadId: string, reason: string): CallbackInput {
  return { downloadId, status: 'failure', batchFiles: [], rows: 0, images: 0, problems: [], reason };
}

function logOutcome(outcome: SplitOutcome, request: SplitRequest, ms: number, context: MessageJobContext): void {
  const seconds = Math.max(ms, 1) / 1000;
  context.log.info('archive split', {
    downloadId: request.downloadId, format: outcome.format, archiveBytes: outcome.archiveBytes, bytesRead: outcome.bytesRead,
    rows: outcome.plan.rows, images: outcome.plan.images, parts: outcome.plan.batches.length, built: outcome.built, kept: outcome.kept,
    problems: outcome.plan.archiveProblems.length + outcome.plan.batches.reduce((sum, batch) => sum + batch.problems.length, 0),
    passes: outcome.passes, spillHighWaterBytes: outcome.spillHighWaterBytes,
    seconds: Number(seconds.toFixed(1)), megabytesPerSecond: Number((outcome.archiveBytes / 1e6 / seconds).toFixed(1)),
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
