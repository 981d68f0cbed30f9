import { stringify } from 'csv-stringify/sync';
import { PermanentError, TransientError } from '../../../shared/errors';
import { parseFanoutMessage } from '../../../shared/fanout/messages';
import { batchKey, reportKey, summaryCsvKey, summaryJsonKey } from '../../../shared/fanout/run-layout';
import type { BatchList } from '../../../shared/fanout/run-record';
import { mapLimited } from '../../../shared/runtime/map-limited';
import type { LogFields } from '../../../shared/log/logger';
import { RunLedger } from '../../src/fanout/run-ledger';
import type { MessageJob, MessageJobContext } from '../../src/job/message-job';
import type { AggregateConfig } from './aggregate-config';
import { buildRunReport } from './run-report';
import { buildSummaryTable, summaryRecords, type BatchFindings } from './summary-table';

/** Reads at once: the aggregator reads a batch list and, per family, a ledger entry and results for every batch. */
const READS_AT_ONCE = 16;

class AggregateRequestError extends PermanentError {
  override readonly name = 'AggregateRequestError';
  readonly reason = 'invalid-aggregate-request';
}

/**
 * The run's one aggregation: every family's per-file results merged into `summary.csv` and `summary.json` (one row
 * per file, in manifest order), and `report.json`, created once, whose existence is what "aggregated" means. A request
 * for a run that is already aggregated is acknowledged and nothing is rewritten; one for a run that is not complete
 * yet (never sent so, but a forged or stray request could be) waits, so no summary is written early.
 */
export class AggregateJob implements MessageJob {
  readonly kind = 'message';
  readonly name = 'aggregate';

  constructor(private readonly config: AggregateConfig) {}

  describe(): LogFields {
    return { runsPrefix: this.config.runsPrefix ?? '(any)' };
  }

  acceptsRequest(body: string): boolean {
    return /^\s*\{\s*"kind"\s*:\s*"fanout-aggregate"/.test(body);
  }

  async handleRequest(body: string, context: MessageJobContext): Promise<void> {
    const request = parseFanoutMessage(body);
    if (request.kind !== 'fanout-aggregate') throw new AggregateRequestError(`a ${request.kind} message reached the aggregator`);
    if (this.config.runsPrefix !== undefined && request.root !== this.config.runsPrefix) {
      throw new AggregateRequestError(`the request names run root "${request.root}", this aggregator works under RUNS_PREFIX "${this.config.runsPrefix}"`);
    }
    const { log } = context;
    const ledger = new RunLedger(request, context.store, context.retry);
    if (await ledger.isAggregated()) {
      log.info('skipped', { runId: request.runId, reason: 'run already aggregated' });
      return;
    }
    const started = Date.now();
    const record = await ledger.readRunRecord();
    const completion = await ledger.completion(record);
    if (!completion.complete) {
      throw new TransientError('run-incomplete', `run ${request.runId} has ${completion.settled} of ${completion.expected} batches settled: not aggregating early`);
    }
    const batches = await mapLimited(Array.from({ length: record.batchCount }, (_, index) => index), READS_AT_ONCE, async (batch): Promise<BatchFindings> => {
      const list = await ledger.readJsonIfPresent<BatchList>(batchKey(ledger.layout, batch));
      const families = Object.fromEntries(await Promise.all(record.families.map(async (family) => {
        const [entry, results] = await Promise.all([ledger.ledgerEntry(family, batch), ledger.readResults(family, batch)]);
        return [family, { ...(entry !== undefined ? { entry } : {}), ...(results !== undefined ? { results } : {}) }] as const;
      })));
      // A batch list gone (deleted by hand, a lifecycle rule) still leaves the files some family reported on; the
      // report says the list is missing, so the gap is visible rather than silently smaller.
      const usable = list !== undefined && Array.isArray(list.keys) ? list : undefined;
      const keys = usable?.keys ?? [...new Set(Object.values(families).flatMap((found) => found.results?.files.map((file) => file.key) ?? []))];
      return { batch, keys, families, ...(usable === undefined ? { listMissing: true } : {}) };
    });
    const table = buildSummaryTable(record.families, batches);
    const layout = ledger.layout;
    await ledger.putText(summaryCsvKey(layout), stringify(summaryRecords(table)), 'text/csv; charset=utf-8');
    await ledger.putJson(summaryJsonKey(layout), { runId: record.runId, families: record.families, rows: table.rows });
    const report = buildRunReport(record, batches, table, { aggregatedAt: new Date(), aggregationMs: Date.now() - started });
    const created = await ledger.createJson(reportKey(layout), report);
    log.info(created ? 'aggregated' : 'skipped', {
      runId: record.runId, files: report.files, failedFiles: report.failedFileCount, failedBatches: report.failedBatches.length,
      ...(created ? { summary: `s3://${request.bucket}/${summaryCsvKey(layout)}` } : { reason: 'aggregated meanwhile by another task' }),
    });
  }
}
