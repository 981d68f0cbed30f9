import { classifyFailure } from '../../../shared/errors';
import { looksLikeFanoutMessage, parseFanoutMessage } from '../../../shared/fanout/messages';
import type { Log } from '../../../shared/log/logger';
import type { PeekedDeadLetter } from '../../../shared/ports/queue';
import type { RetryPolicy } from '../../../shared/retry';
import type { FamilySettings } from '../config';
import type { MessageSender } from '../ports/message-sender';
import type { ObjectStore } from '../ports/object-store';
import { originMessageId } from '../worker/settlement';
import { RunLedger } from './run-ledger';


/**
 * A batch message SQS moved to the DLQ on its own (its task died on the last attempt, so no handler ever ran to say
 * so) would leave its run waiting forever. A family's worker, as it exits, looks at its DLQ: every batch there that
 * its run's ledger does not know is settled `failed` now, and the run's trigger checked, so the run ends and its
 * summary says which files were lost to what. It also sends the aggregation request a dead-lettered message created
 * the trigger for and never sent. The letters stay in the DLQ, for `npm run redrive` and for the record.
 */
export async function reconcileDeadLetters(
  letters: readonly PeekedDeadLetter[],
  deps: { readonly family: FamilySettings; readonly destBucket: string; readonly store: ObjectStore; readonly sender: MessageSender; readonly retry: RetryPolicy; readonly log: Log },
): Promise<{ settled: number; triggered: number }> {
  let settled = 0;
  let triggered = 0;
  for (const letter of letters) {
    if (!looksLikeFanoutMessage(letter.body)) continue;
    try {
      const request = parseFanoutMessage(letter.body);
      if (request.kind !== 'fanout-batch' || request.family !== deps.family.name || request.bucket !== deps.destBucket) continue;
      if (deps.family.runsPrefix !== undefined && request.root !== deps.family.runsPrefix) continue;
      const ledger = new RunLedger(request, deps.store, deps.retry);
      const record = await ledger.readRunRecord();
      if (request.batch >= record.batchCount || !record.families.includes(deps.family.name)) continue;
      // The id the message had when it was handled: a re-queued copy carries its origin's.
      const messageId = originMessageId(letter);
      if ((await ledger.ledgerEntry(deps.family.name, request.batch)) === undefined) {
        // The worker's own dead letters say why (settlement.ts); SQS's redrive says nothing.
        const reason = letter.attributes['failure-reasons'] ?? 'its task died on its last attempt; SQS moved it to the dead-letter queue';
        if (await ledger.settleBatch(deps.family.name, request.batch, { status: 'failed', reason: `dead-lettered: ${reason}`, files: 0, failedFiles: 0, at: new Date().toISOString(), messageId })) {
          settled++;
          deps.log.warn('dead-lettered batch settled as failed', { runId: request.runId, family: deps.family.name, batch: request.batch, reason });
        }
      }
      const outcome = await ledger.triggerIfComplete(record, messageId, deps.family.aggregateQueueUrl, deps.sender);
      if (outcome === 'triggered' || outcome === 'resent') {
        triggered++;
        deps.log.info('run complete', { runId: request.runId, trigger: outcome, from: 'dead-letter queue' });
      }
    } catch (error) {
      // One letter that cannot be reconciled (its run record gone) must not stop the others.
      deps.log.warn('dead letter not reconciled', { reason: classifyFailure(error).reason });
    }
  }
  return { settled, triggered };
}
