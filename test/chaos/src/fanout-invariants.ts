import type { LogLine, WorkerMemory } from './invariants';

/**
 * The invariants of a fan-out chaos run, checked over what the run left behind: the run keys in the destination bucket
 * (read back), the successful writes the fault proxy forwarded, what each family's queue was sent, what is left in the
 * queues and their DLQs, and every worker's log lines. Pure, so each one is unit-tested by breaking it on purpose.
 */

/** A good manifest's run, as the chaos run loaded it. */
export interface ExpectedRun {
  /** Its name in the report (`a`, `b`, ...). */
  readonly name: string;
  readonly runId: string;
  readonly manifestKey: string;
  /** The run's files: a keys manifest's, in its order (duplicates removed); a prefix manifest's listing. */
  readonly keys: readonly string[];
  /** Whether the summary must list the files in `keys` order (a keys manifest), or only the same files (a prefix). */
  readonly ordered: boolean;
  /** The broken files among `keys`, each with the reason its programs give (BROKEN_WAVS). */
  readonly broken: Readonly<Record<string, string>>;
  readonly batchCount: number;
  /** BATCH_SIZE: batch n holds `keys[n * batchSize ...]` (a keys manifest's order). */
  readonly batchSize: number;
  /**
   * Batches whose every attempt the chaos killed (a poison batch: the task dies on it each time, as on a file that
   * gets it OOM-killed): they must still end, failed in the ledger so that the run completes, listed in the report,
   * their files failed in that family.
   */
  readonly poisoned?: readonly { readonly family: string; readonly batch: number }[];
  /** Its manifest's event was delivered more than once (the runs' report names it). */
  readonly redelivered: boolean;
  /** Per file and family, fields its summary row must hold (the demo set's showcase files with known results). */
  readonly expectedSummaries?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, string | number>>>>>>;
}

/** A manifest that must be dead-lettered by the fan-out pipeline, creating no run. */
export interface BadManifest {
  readonly name: string;
  readonly manifestKey: string;
  /** The message id its event was queued with (the dead letter's `source-message-id`). */
  readonly messageId: string;
  /** A run it could have been taken for (its runId, or the one its version would name): nothing may exist under it. */
  readonly runIds: readonly string[];
  /** Text the dead letter's detail and the `failed` line's detail must both hold: the field that is wrong. */
  readonly fieldIncludes: readonly string[];
}

export interface LedgerEntryFound {
  readonly status: string;
  readonly at: string;
  readonly reason?: string;
}

export interface SummaryCell {
  readonly status: string;
  readonly reason?: string;
  readonly summary?: Readonly<Record<string, string | number | boolean>>;
}

export interface SummaryRowFound {
  readonly key: string;
  readonly families: Readonly<Record<string, SummaryCell>>;
}

export interface ReportFound {
  readonly runId?: string;
  readonly files?: number;
  readonly aggregatedAt?: string;
  readonly families?: Readonly<Record<string, { batches?: number; batchesDone?: number; batchesFailed?: number; filesDone?: number; filesFailed?: number }>>;
  readonly failedBatches?: readonly { family: string; batch: number; reason: string }[];
}

/** What the run left under `<root><runId>/`, read back once every worker had exited. */
export interface RunFindings {
  /** Every key under the run's prefix. */
  readonly keys: readonly string[];
  readonly report?: ReportFound;
  readonly summaryRows?: readonly SummaryRowFound[];
  /** summary.csv's `key` column, in order (the header left out). */
  readonly csvKeys?: readonly string[];
  /** Ledger entries by family, then batch number. */
  readonly ledger: Readonly<Record<string, Readonly<Record<number, LedgerEntryFound>>>>;
}

/** A PUT the S3 server accepted (the fault proxy saw its 2xx), in order. */
export interface WriteEvent {
  readonly at: number;
  /** The destination key. */
  readonly key: string;
}

export interface QueuedMessage {
  /** The pipeline whose queue (or DLQ) holds it. */
  readonly queue: string;
  readonly messageId: string;
  readonly body: string;
}

export interface DeadLetterFound extends QueuedMessage {
  /** Receives it had: a letter with no reasons and the queue's maxReceiveCount was moved by the queue's redrive. */
  readonly receiveCount: number;
  readonly reasons: readonly string[];
  /** The `failures` attribute's details. */
  readonly details: readonly string[];
}

/** A worker log line with the pipeline whose worker wrote it. */
export type PipelineLogLine = LogLine & { readonly pipeline: string };

export interface FanoutInvariantInput {
  readonly families: readonly string[];
  /** The pipelines' names: the fan-out's, the aggregator's. */
  readonly fanoutPipeline: string;
  readonly aggregatorPipeline: string;
  /** The runs' root in the destination bucket, e.g. `runs/`. */
  readonly root: string;
  readonly runs: readonly ExpectedRun[];
  readonly badManifests: readonly BadManifest[];
  /** By runId: the good runs' and the bad manifests' would-be runs. */
  readonly findings: Readonly<Record<string, RunFindings>>;
  readonly writes: readonly WriteEvent[];
  /** Bodies every family queue was sent (the audit trigger's record), by family. */
  readonly sentToFamilies: Readonly<Record<string, readonly string[]>>;
  /** Messages still in any queue once every worker has exited. */
  readonly left: readonly QueuedMessage[];
  readonly deadLetters: readonly DeadLetterFound[];
  readonly logLines: readonly PipelineLogLine[];
  /**
   * Runs whose dispatch a kill interrupted (a worker of the fan-out killed before the run's dispatched marker): the
   * redelivery resends every batch, so their family queues may hold more than one message per batch.
   */
  readonly interruptedDispatches: readonly string[];
  readonly memory: readonly WorkerMemory[];
  readonly frontRefusals: readonly string[];
  /** Why the run stopped before everything settled, when it did (the deadline). */
  readonly unfinished?: string;
}

export interface FanoutCounts {
  readonly runs: number;
  readonly badManifests: number;
  /** Summary rows over all runs. */
  readonly files: number;
  readonly goodFiles: number;
  readonly brokenFiles: number;
  /** File-family outcomes of good files that are not `done`, or files missing from a summary. */
  readonly lost: number;
  readonly batches: number;
  /** Batch messages the family queues received, and how many of them were beyond one per batch. */
  readonly batchMessages: number;
  readonly duplicateBatchMessages: number;
  /** Per run (by name): the manifest deliveries that dispatched it (logged `dispatched`). */
  readonly dispatchingDeliveries: Readonly<Record<string, number>>;
  /** Successful creates of report.json and aggregate.json (the proxy's count), and `aggregated` log lines. */
  readonly reportsCreated: number;
  readonly triggersCreated: number;
  readonly aggregatedLines: number;
  readonly failedBatches: number;
  /**
   * Dead letters of finished work: copies of batches settled done, and good manifests whose run was dispatched (the
   * task died after the work and before the delete, on the message's last receive). False alarms, not violations.
   */
  readonly finishedWorkDeadLettered: number;
  readonly oomKills: number;
}

export interface FanoutInvariantReport {
  readonly violations: string[];
  readonly counts: FanoutCounts;
}

const BATCH_FILE = /^(\d{6,})\.json$/;

/** A fan-out batch message's run, family and batch, or undefined for any other body. */
export function batchOf(body: string): { runId: string; family: string; batch: number } | undefined {
  try {
    const parsed = JSON.parse(body) as { kind?: unknown; runId?: unknown; family?: unknown; batch?: unknown };
    if (parsed.kind !== 'fanout-batch' || typeof parsed.runId !== 'string' || typeof parsed.family !== 'string' || typeof parsed.batch !== 'number') return undefined;
    return { runId: parsed.runId, family: parsed.family, batch: parsed.batch };
  } catch {
    return undefined;
  }
}

/** The key of the one object an S3 event names, or undefined. */
function manifestKeyOf(body: string): string | undefined {
  try {
    const event = JSON.parse(body) as { Records?: { s3?: { object?: { key?: unknown } } }[] };
    const key = event.Records?.[0]?.s3?.object?.key;
    return typeof key === 'string' ? decodeURIComponent(key.replace(/\+/g, ' ')) : undefined;
  } catch {
    return undefined;
  }
}

export function checkFanoutInvariants(input: FanoutInvariantInput): FanoutInvariantReport {
  const violations: string[] = [];
  const problem = (text: string) => violations.push(text);
  const writesOf = new Map<string, number[]>();
  for (const write of input.writes) writesOf.set(write.key, [...(writesOf.get(write.key) ?? []), write.at]);
  const created = (key: string) => writesOf.get(key)?.length ?? 0;
  const logs = (message: string, pipeline?: string) => input.logLines.filter((line) => line.message === message && (pipeline === undefined || line.pipeline === pipeline));
  let files = 0;
  let goodFiles = 0;
  let brokenFiles = 0;
  let lost = 0;
  let batches = 0;
  let batchMessages = 0;
  let duplicateBatchMessages = 0;
  let reportsCreated = 0;
  let triggersCreated = 0;
  let failedBatches = 0;
  const dispatchingDeliveries: Record<string, number> = {};

  if (input.unfinished !== undefined) problem(`the run did not finish: ${input.unfinished}`);

  // What each family queue received, per run and batch.
  const sent = new Map<string, number>();
  for (const [family, bodies] of Object.entries(input.sentToFamilies)) {
    for (const body of bodies) {
      const batch = batchOf(body);
      if (batch === undefined) continue;
      if (batch.family !== family) problem(`a batch message for family ${batch.family} (run ${batch.runId}, batch ${batch.batch}) was sent to family ${family}'s queue`);
      const id = `${family}/${batch.runId}/${batch.batch}`;
      sent.set(id, (sent.get(id) ?? 0) + 1);
    }
  }

  for (const run of input.runs) {
    const prefix = `${input.root}${run.runId}/`;
    const where = `run ${run.name} (${run.runId})`;
    const found = input.findings[run.runId];
    batches += run.batchCount * input.families.length;
    const goodKeys = run.keys.filter((key) => run.broken[key] === undefined);
    const poisonedIn = (key: string, family: string) => (run.poisoned ?? []).some((poison) => poison.family === family && Math.floor(run.keys.indexOf(key) / run.batchSize) === poison.batch);
    for (const poison of run.poisoned ?? []) {
      const entry = found?.ledger[poison.family]?.[poison.batch];
      if (entry === undefined) problem(`${where}: batch ${poison.batch} of family ${poison.family}, every attempt of which was killed, was never settled failed: no ledger entry, so the run cannot complete`);
      else if (entry.status !== 'failed') problem(`${where}: batch ${poison.batch} of family ${poison.family} was settled ${entry.status} although every attempt of it was killed`);
      else if (found?.report !== undefined && found.report.failedBatches?.some((failed) => failed.family === poison.family && failed.batch === poison.batch) !== true) {
        problem(`${where}: batch ${poison.batch} of family ${poison.family} failed (every attempt killed), and the run's report does not list it`);
      }
    }
    goodFiles += goodKeys.length;
    brokenFiles += run.keys.length - goodKeys.length;
    reportsCreated += created(`${prefix}report.json`);
    triggersCreated += created(`${prefix}aggregate.json`);

    // Dispatched once: one run record, one dispatched marker; every batch sent to every family, once by each delivery
    // that dispatched (a delivery finding the run dispatched sends nothing), unless a kill cut a dispatch short.
    for (const name of ['run.json', 'dispatched.json']) {
      if (created(`${prefix}${name}`) !== 1) problem(`${where}: ${name} was created ${created(`${prefix}${name}`)} times, expected once`);
    }
    const dispatches = logs('dispatched', input.fanoutPipeline).filter((line) => line.runId === run.runId).length;
    dispatchingDeliveries[run.name] = dispatches;
    if (dispatches === 0) problem(`${where}: the fan-out never logged "dispatched"`);
    const interrupted = input.interruptedDispatches.includes(run.runId);
    for (const family of input.families) {
      let messages = 0;
      for (let batch = 0; batch < run.batchCount; batch++) {
        const count = sent.get(`${family}/${run.runId}/${batch}`) ?? 0;
        messages += count;
        if (count === 0) problem(`${where}: family ${family}'s queue never received batch ${batch}`);
      }
      const beyond = [...sent.entries()].filter(([id]) => id.startsWith(`${family}/${run.runId}/`) && Number(id.split('/').pop()) >= run.batchCount);
      for (const [id] of beyond) problem(`${where}: family ${family}'s queue received a message for batch ${id.split('/').pop()}, the run has ${run.batchCount}`);
      batchMessages += messages;
      duplicateBatchMessages += Math.max(0, messages - run.batchCount);
      if (!interrupted && dispatches > 0) {
        const off = Array.from({ length: run.batchCount }, (_, batch) => [batch, sent.get(`${family}/${run.runId}/${batch}`) ?? 0] as const).filter(([, count]) => count !== dispatches);
        if (off.length > 0) problem(`${where}: ${dispatches} deliveries dispatched it, yet family ${family}'s queue received ${off.map(([batch, count]) => `batch ${batch} ${count} times`).join(', ')}`);
      }
    }

    // Each batch settled once per family, and nothing settled that is not a batch of the run.
    const ledgerWrites = input.writes.filter((write) => write.key.startsWith(`${prefix}ledger/`));
    for (const family of input.families) {
      for (let batch = 0; batch < run.batchCount; batch++) {
        const key = `${prefix}ledger/${family}/${String(batch).padStart(6, '0')}.json`;
        // Never settled: the run's own line below says so (never aggregated), as does the DLQ's.
        const times = created(key);
        const entry = found?.ledger[family]?.[batch];
        if (times > 1) problem(`${where}: batch ${batch} of family ${family} was settled ${times} times, expected once`);
        if (entry === undefined && times > 0) problem(`${where}: batch ${batch} of family ${family}: its ledger entry was written but is not there`);
        if (entry !== undefined && times === 0) problem(`${where}: batch ${batch} of family ${family} has a ledger entry no write of which was seen`);
      }
    }
    for (const write of ledgerWrites) {
      const [family, name] = write.key.slice(`${prefix}ledger/`.length).split('/');
      const batch = BATCH_FILE.exec(name ?? '');
      if (!input.families.includes(family ?? '') || batch === null || Number(batch[1]) >= run.batchCount) problem(`${where}: a ledger entry that is no batch of the run was written: ${write.key}`);
    }

    // Aggregated once, after the last settlement.
    const report = found?.report;
    if (report === undefined) {
      const settled = new Set(ledgerWrites.map((write) => write.key)).size;
      const missing = input.families.map((family) => {
        const batchesMissing = Array.from({ length: run.batchCount }, (_, batch) => batch).filter((batch) => found?.ledger[family]?.[batch] === undefined);
        return batchesMissing.length > 0 ? `${family} ${batchesMissing.join(', ')}` : '';
      }).filter((text) => text !== '');
      problem(`${where}: never aggregated: no report.json (${settled} of ${run.batchCount * input.families.length} batches settled${missing.length > 0 ? `; unsettled: ${missing.join('; ')}` : ''}; ` +
        `trigger ${created(`${prefix}aggregate.json`) > 0 ? 'created' : 'not created'})`);
      lost += goodKeys.reduce((sum, key) => sum + input.families.filter((family) => !poisonedIn(key, family)).length, 0);
      continue;
    }
    for (const name of ['report.json', 'aggregate.json']) {
      if (created(`${prefix}${name}`) !== 1) problem(`${where}: ${name} was created ${created(`${prefix}${name}`)} times, expected once`);
    }
    const aggregated = logs('aggregated').filter((line) => line.runId === run.runId);
    if (aggregated.length !== 1) problem(`${where}: the aggregator logged "aggregated" ${aggregated.length} times, expected once`);
    for (const line of aggregated) if (line.pipeline !== input.aggregatorPipeline) problem(`${where}: "aggregated" logged by the ${line.pipeline} pipeline`);
    const lastSettled = Math.max(0, ...ledgerWrites.map((write) => write.at));
    for (const name of ['aggregate.json', 'summary.csv', 'summary.json', 'report.json']) {
      const first = writesOf.get(`${prefix}${name}`)?.[0];
      if (first !== undefined && first < lastSettled) problem(`${where}: ${name} was written ${lastSettled - first} ms before the last batch was settled`);
    }
    const ledgerAts = Object.values(found?.ledger ?? {}).flatMap((byBatch) => Object.values(byBatch).map((entry) => Date.parse(entry.at)));
    const aggregatedAt = Date.parse(report.aggregatedAt ?? '');
    if (!Number.isFinite(aggregatedAt)) problem(`${where}: report.json has no aggregatedAt`);
    else if (ledgerAts.some((at) => at > aggregatedAt)) problem(`${where}: aggregated at ${report.aggregatedAt}, before a batch settled at ${new Date(Math.max(...ledgerAts)).toISOString()}`);

    // The summary: every file once, a status per family; good files done, broken ones failed with their reason.
    const rows = found?.summaryRows ?? [];
    if (found?.summaryRows === undefined) problem(`${where}: no summary.json`);
    const rowsByKey = new Map<string, SummaryRowFound[]>();
    for (const row of rows) rowsByKey.set(row.key, [...(rowsByKey.get(row.key) ?? []), row]);
    files += rows.length;
    for (const [key, same] of rowsByKey) {
      if (same.length > 1) problem(`${where}: the summary lists ${JSON.stringify(key)} ${same.length} times`);
      if (!run.keys.includes(key)) problem(`${where}: the summary lists ${JSON.stringify(key)}, which is not a file of the manifest`);
    }
    if (run.ordered && rows.length === run.keys.length && rows.some((row, i) => row.key !== run.keys[i])) problem(`${where}: the summary's rows are not in the manifest's order`);
    for (const key of run.keys) {
      const row = rowsByKey.get(key)?.[0];
      const broken = run.broken[key];
      for (const family of input.families) {
        const cell = row?.families[family];
        if (row === undefined) {
          if (family === input.families[0]) problem(`${where}: ${JSON.stringify(key)} is missing from the summary`);
        } else if (cell === undefined || (cell.status !== 'done' && cell.status !== 'failed')) {
          problem(`${where}: ${JSON.stringify(key)} has no status for family ${family}`);
        }
        if (poisonedIn(key, family)) {
          if (row !== undefined && cell?.status !== 'failed') problem(`${where}: ${JSON.stringify(key)} is ${cell?.status ?? 'missing'} in family ${family}, yet every attempt of its batch was killed`);
        } else if (broken === undefined) {
          if (cell?.status !== 'done') {
            lost++;
            if (row !== undefined && cell !== undefined) problem(`${where}: good file ${JSON.stringify(key)} is ${cell.status} in family ${family}${cell.reason !== undefined ? ` (${cell.reason})` : ''}`);
          }
        } else if (row !== undefined && (cell?.status !== 'failed' || !(cell.reason ?? '').includes(broken))) {
          problem(`${where}: broken file ${JSON.stringify(key)} in family ${family} is ${cell?.status ?? 'missing'}${cell?.reason !== undefined ? ` (${cell.reason})` : ''}, expected failed with "${broken}"`);
        }
        const expected = run.expectedSummaries?.[key]?.[family];
        if (expected !== undefined && cell?.status === 'done') {
          for (const [field, value] of Object.entries(expected)) {
            if (cell.summary?.[field] !== value) problem(`${where}: ${JSON.stringify(key)} in family ${family}: ${field} is ${JSON.stringify(cell.summary?.[field])}, expected ${JSON.stringify(value)}`);
          }
        }
      }
    }
    if (found?.csvKeys !== undefined && found.csvKeys.join('\n') !== rows.map((row) => row.key).join('\n')) {
      problem(`${where}: summary.csv lists other files than summary.json (${found.csvKeys.length} rows against ${rows.length})`);
    }

    // The report agrees with the summary and the ledger.
    if (report.files !== run.keys.length) problem(`${where}: report.json counts ${report.files} files, the manifest has ${run.keys.length}`);
    for (const family of input.families) {
      const counts = report.families?.[family];
      const cells = rows.map((row) => row.families[family]?.status);
      if (counts === undefined) {
        problem(`${where}: report.json has no counts for family ${family}`);
        continue;
      }
      if ((counts.batchesDone ?? 0) + (counts.batchesFailed ?? 0) !== run.batchCount) problem(`${where}: report.json counts ${counts.batchesDone} done and ${counts.batchesFailed} failed batches for family ${family}, the run has ${run.batchCount}`);
      if (counts.filesDone !== cells.filter((status) => status === 'done').length || counts.filesFailed !== cells.filter((status) => status === 'failed').length) {
        problem(`${where}: report.json's file counts for family ${family} (${counts.filesDone} done, ${counts.filesFailed} failed) disagree with the summary`);
      }
    }
    failedBatches += report.failedBatches?.length ?? 0;
  }

  // Bad manifests: dead-lettered by the fan-out with the field named, and no run.
  for (const bad of input.badManifests) {
    const where = `bad manifest ${bad.name} (${bad.manifestKey})`;
    const letter = input.deadLetters.find((dead) => dead.queue === input.fanoutPipeline && dead.messageId === bad.messageId);
    if (letter === undefined) problem(`${where}: not in the fan-out pipeline's DLQ`);
    else {
      if (!letter.reasons.includes('invalid-manifest')) problem(`${where}: dead-lettered for ${letter.reasons.join(',') || 'no reason'}, expected invalid-manifest`);
      for (const text of bad.fieldIncludes) if (!letter.details.some((detail) => detail.includes(text))) problem(`${where}: the dead letter's reason does not name ${JSON.stringify(text)} (${letter.details.join('; ')})`);
    }
    const failed = logs('failed', input.fanoutPipeline).filter((line) => line.key === bad.manifestKey && line.reason === 'invalid-manifest');
    if (failed.length === 0) problem(`${where}: no "failed" line with reason invalid-manifest from the fan-out pipeline`);
    else if (!failed.some((line) => bad.fieldIncludes.every((text) => String(line.detail ?? '').includes(text)))) problem(`${where}: its "failed" line does not name ${bad.fieldIncludes.map((text) => JSON.stringify(text)).join(' and ')}`);
    for (const runId of bad.runIds) {
      const keys = input.findings[runId]?.keys ?? [];
      if (keys.length > 0) problem(`${where}: a run was created for it: ${keys.length} objects under ${input.root}${runId}/ (${keys[0]})`);
      const written = input.writes.filter((write) => write.key.startsWith(`${input.root}${runId}/`));
      if (written.length > 0 && keys.length === 0) problem(`${where}: ${written.length} objects were written under ${input.root}${runId}/ (${written[0]!.key})`);
    }
  }

  // Nothing left in any queue; in a DLQ only the bad manifests and batches whose ledger says failed (and the report lists).
  for (const message of input.left) {
    const batch = batchOf(message.body);
    problem(`${message.queue} queue still holds message ${message.messageId}${batch !== undefined ? ` (run ${batch.runId}, family ${batch.family}, batch ${batch.batch})` : ''}: the run would never finish`);
  }
  let finishedWorkDeadLettered = 0;
  for (const letter of input.deadLetters) {
    if (letter.queue === input.fanoutPipeline && input.badManifests.some((bad) => bad.messageId === letter.messageId)) continue;
    // A good manifest whose run was dispatched: its task died after the dispatch and before the delete on its last
    // receive, and the queue's redrive moved it. Finished work, a false alarm; a run never dispatched is not.
    const manifest = letter.queue === input.fanoutPipeline ? manifestKeyOf(letter.body) : undefined;
    const manifestRun = manifest !== undefined ? input.runs.find((run) => run.manifestKey === manifest) : undefined;
    if (manifestRun !== undefined) {
      if (created(`${input.root}${manifestRun.runId}/dispatched.json`) > 0) finishedWorkDeadLettered++;
      else problem(`run ${manifestRun.name}: its manifest is in the fan-out's DLQ (${letter.reasons.join(',') || 'no reason'}) and the run was never dispatched`);
      continue;
    }
    const batch = batchOf(letter.body);
    const run = batch !== undefined ? input.runs.find((candidate) => candidate.runId === batch.runId) : undefined;
    if (batch === undefined || run === undefined || !input.families.includes(letter.queue)) {
      problem(`${letter.queue} DLQ holds message ${letter.messageId} (${letter.reasons.join(',') || 'no reason'}: ${letter.details[0] ?? ''}), which no run expects there`);
      continue;
    }
    const entry = input.findings[run.runId]?.ledger[batch.family]?.[batch.batch];
    const listed = input.findings[run.runId]?.report?.failedBatches?.some((failed) => failed.family === batch.family && failed.batch === batch.batch);
    const how = letter.reasons.length > 0 ? `dead-lettered by the worker (${letter.reasons.join(',')})` : `moved there by the queue's redrive after ${letter.receiveCount} receives, no failure recorded`;
    if (entry === undefined) problem(`run ${run.name}: batch ${batch.batch} of family ${batch.family} is in the DLQ (${how}) and has no ledger entry: the run can never complete`);
    // A copy of a batch settled done (sent twice, or its task died between settling and deleting on its last receive).
    else if (entry.status !== 'failed') finishedWorkDeadLettered++;
    else if (listed !== true) problem(`run ${run.name}: batch ${batch.batch} of family ${batch.family} failed, and the run's report does not list it`);
  }

  // Every request was one the role may make; every worker within its memory.
  for (const refusal of input.frontRefusals) problem(`S3 would have refused: ${refusal}`);
  for (const memory of input.memory) {
    if (memory.oomKills > 0) problem(`worker ${memory.worker} was OOM-killed ${memory.oomKills} times`);
    if (memory.peakBytes >= memory.limitBytes) problem(`worker ${memory.worker} reached its memory limit`);
  }

  return {
    violations,
    counts: {
      runs: input.runs.length,
      badManifests: input.badManifests.length,
      files,
      goodFiles,
      brokenFiles,
      lost,
      batches,
      batchMessages,
      duplicateBatchMessages,
      dispatchingDeliveries,
      reportsCreated,
      triggersCreated,
      aggregatedLines: logs('aggregated').length,
      failedBatches,
      finishedWorkDeadLettered,
      oomKills: input.memory.reduce((sum, memory) => sum + memory.oomKills, 0),
    },
  };
}
