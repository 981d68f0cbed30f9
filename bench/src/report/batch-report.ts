import type { TargetCheck } from '../targets';
import { TARGETS } from '../targets';
import { fixed, markdownTable } from './markdown-table';

/**
 * Part 8 (issue 13): the batch job's records per second per vCPU end to end, the model's own ceiling, and the result
 * store's bulk writes against one write per record. The types are what results.json keeps (`batchJob`); the functions
 * here are pure (ratios, the AWS estimate, the summary section, the target), so they are unit-tested.
 */

/** Milliseconds summed over every batch, as `scoreBatch` times them (batches overlap: MAX_CONCURRENCY run at once). */
export interface BatchPhaseTotals {
  readonly lookupMs: number;
  readonly fetchMs: number;
  readonly inferenceMs: number;
  readonly writeMs: number;
}

export interface BatchJobSettingsUsed {
  readonly batchSize: number;
  readonly maxConcurrentBatches: number;
  /** The worker's CONCURRENCY: its message slots, BATCH_SIZE x (MAX_CONCURRENCY + 1). */
  readonly workerSlots: number;
  readonly downloadConcurrency: number;
  readonly writeChunkSize: number;
  readonly flushMs: number;
}

export interface BatchEndToEnd {
  readonly records: number;
  /** The demo set's broken files (truncated, text, empty, zero channels): dead-lettered on their own, by design. */
  readonly expectedBroken: number;
  readonly inputMiB: number;
  readonly settings: BatchJobSettingsUsed;
  /** First receive to an empty queue (every message deleted or dead-lettered), seen from outside. */
  readonly seconds: number;
  readonly recordsPerSecond: number;
  /** availableParallelism(): the vCPUs the worker was given, and its default MAX_CONCURRENCY. */
  readonly vcpus: number;
  readonly recordsPerSecondPerVcpu: number;
  /** Results in the table after the run (one item per record id). */
  readonly stored: number;
  readonly deadLettered: number;
  /** `batch scored` log lines: batches and the records they held (a record redelivered counts again). */
  readonly batches: number;
  readonly batchedRecords: number;
  readonly phases: BatchPhaseTotals;
  /** The worker's process tree (supervisor and worker), over the same window as the rate. */
  readonly workerCpuSecondsPerRecord: number;
  /** The worker's CPU seconds over the wall seconds: how many vCPUs it actually kept busy. */
  readonly workerBusyVcpus: number;
  /** The bench process over the same window: s3rver, the counting proxy, dynalite, the queue watcher. */
  readonly harnessCpuSecondsPerRecord: number;
  readonly peakRssMiB: number;
  readonly s3CallsByMethod: Readonly<Record<string, number>>;
}

/** The model alone: features and score in memory, no I/O, one event loop (as the worker runs it). */
export interface ModelCeiling {
  readonly records: number;
  readonly batchSize: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly cpuMsPerRecord: number;
}

export interface WriteRun {
  readonly seconds: number;
  readonly writesPerSecond: number;
  /** Store calls made (DynamoDB commands sent; MongoDB write commands seen by command monitoring). */
  readonly calls: number;
  /** Items in the fresh table or collection afterwards: every write landed. */
  readonly stored: number;
}

export interface WriteComparisonRow {
  /** Calls in flight at once, the same for both ways. */
  readonly concurrency: number;
  readonly bulk: WriteRun;
  readonly perRecord: WriteRun;
  /** bulk writes/s over one-per-record writes/s. */
  readonly ratio: number;
}

export interface StoreWriteComparison {
  readonly store: 'dynamodb' | 'mongodb';
  readonly server: string;
  readonly results: number;
  readonly bulkPath: string;
  readonly perRecordPath: string;
  /** Items one bulk call carries (DynamoDB BatchWriteItem 25; MongoDB bulkWrite chunk 500). */
  readonly itemsPerBulkCall: number;
  readonly rows: readonly WriteComparisonRow[];
  readonly aws: AwsWriteEstimate;
}

/** From round-trip counts only: what dominates in AWS, where a call costs 5-10 ms of network and service time. */
export interface AwsWriteEstimate {
  readonly records: number;
  readonly bulkCalls: number;
  readonly perRecordCalls: number;
  readonly roundTripMs: readonly [number, number];
  /** Seconds for the records, one call in flight, at the low and high round trip. */
  readonly bulkSeconds: readonly [number, number];
  readonly perRecordSeconds: readonly [number, number];
  /** perRecordCalls / bulkCalls: the ratio if a bulk call took one round trip like a single write. */
  readonly callRatio: number;
}

export interface BatchJobMeasurement {
  readonly measuredAt: string;
  /** Whether it was measured by `--only batch` rather than in the full run. */
  readonly alone: boolean;
  /** 1-minute load average at the start and the end of the part: other work on a shared machine shows up here. */
  readonly loadAverage: readonly [number, number];
  readonly inputsWhere: string;
  readonly endToEnd: BatchEndToEnd;
  readonly ceiling: ModelCeiling;
  /** endToEnd.recordsPerSecondPerVcpu over the ceiling's records/s (the ceiling runs on one event loop, one vCPU). */
  readonly shareOfCeilingPerVcpu: number;
  /** The worker's CPU per record over the ceiling's. */
  readonly cpuOverheadRatio: number;
  readonly writes: readonly StoreWriteComparison[];
}

export const AWS_ROUND_TRIP_MS: readonly [number, number] = [5, 10];

export function writeRun(records: number, seconds: number, calls: number, stored: number): WriteRun {
  return { seconds, writesPerSecond: seconds > 0 ? records / seconds : Infinity, calls, stored };
}

export function comparisonRow(concurrency: number, bulk: WriteRun, perRecord: WriteRun): WriteComparisonRow {
  return { concurrency, bulk, perRecord, ratio: bulk.writesPerSecond / perRecord.writesPerSecond };
}

/** Calls per `records` and the seconds they take at one call in flight, from the round trips alone. */
export function awsWriteEstimate(records: number, itemsPerBulkCall: number, roundTripMs: readonly [number, number] = AWS_ROUND_TRIP_MS): AwsWriteEstimate {
  const bulkCalls = Math.ceil(records / itemsPerBulkCall);
  const seconds = (calls: number): readonly [number, number] => [(calls * roundTripMs[0]) / 1000, (calls * roundTripMs[1]) / 1000];
  return {
    records,
    bulkCalls,
    perRecordCalls: records,
    roundTripMs,
    bulkSeconds: seconds(bulkCalls),
    perRecordSeconds: seconds(records),
    callRatio: records / bulkCalls,
  };
}

export function phaseShares(phases: BatchPhaseTotals): BatchPhaseTotals {
  const total = phases.lookupMs + phases.fetchMs + phases.inferenceMs + phases.writeMs;
  const share = (ms: number) => (total > 0 ? ms / total : 0);
  return { lookupMs: share(phases.lookupMs), fetchMs: share(phases.fetchMs), inferenceMs: share(phases.inferenceMs), writeMs: share(phases.writeMs) };
}

/** The headline ratio of a store: one call in flight both ways (the first row at concurrency 1, else the first). */
export function headlineRow(comparison: StoreWriteComparison): WriteComparisonRow | undefined {
  return comparison.rows.find((row) => row.concurrency === 1) ?? comparison.rows[0];
}

/**
 * Bulk writes at least TARGETS.batchBulkOverPerRecord x one write per record, locally, for DynamoDB (the default store,
 * on dynalite). MongoDB's ratio is reported, not judged: jongodb's own cost per upsert grows with the collection (about
 * 500 writes/s at 200 documents, under 100 at 2,000, both ways), so its ratio measures jongodb, not MongoDB.
 */
export function batchWriteTargets(measurement: BatchJobMeasurement | undefined): TargetCheck[] {
  const bar = TARGETS.batchBulkOverPerRecord;
  const targetFor = (store: string) => `batch job: ${store} bulk writes >= ${bar}x one write per record (same results, fresh table, one call in flight)`;
  if (measurement === undefined) return [{ target: targetFor('result store'), measured: 'n/a', holds: undefined }];
  return measurement.writes.filter((comparison) => comparison.store === 'dynamodb').map((comparison) => {
    const row = headlineRow(comparison);
    const target = targetFor(`${comparison.store} (${comparison.server})`);
    if (row === undefined) return { target, measured: 'n/a', holds: undefined };
    const complete = row.bulk.stored === comparison.results && row.perRecord.stored === comparison.results;
    const others = comparison.rows.filter((other) => other !== row).map((other) => `${fixed(other.ratio, 1)}x at ${other.concurrency} in flight`);
    return {
      target,
      measured:
        `${fixed(row.ratio, 1)}x (${rate(row.bulk.writesPerSecond)} vs ${rate(row.perRecord.writesPerSecond)} writes/s, ${comparison.results} results)` +
        (others.length > 0 ? `; ${others.join(', ')}` : ''),
      holds: complete && row.ratio >= bar,
      note:
        `local server: no network round trip, so the ratio is the server's and the client's per-call cost; in AWS ` +
        `${comparison.aws.bulkCalls} vs ${comparison.aws.perRecordCalls} calls per ${comparison.aws.records.toLocaleString('en-US')} records ` +
        `(${fixed(comparison.aws.callRatio, 0)}x fewer round trips)` +
        (complete ? '' : `; NOT every result stored (bulk ${row.bulk.stored}, per record ${row.perRecord.stored} of ${comparison.results})`),
    };
  });
}

function rate(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function seconds(range: readonly [number, number]): string {
  return `${fixed(range[0], range[0] < 1 ? 2 : 1)}-${fixed(range[1], range[1] < 1 ? 2 : 1)} s`;
}

/** The summary's part 8. */
export function batchJobText(measurement: BatchJobMeasurement | undefined): string {
  if (measurement === undefined) return 'Not measured in this run (`npm run bench -- --only batch` adds it).';
  const { endToEnd: run, ceiling } = measurement;
  const shares = phaseShares(run.phases);
  const phaseRow = (name: string, key: keyof BatchPhaseTotals) => [
    name,
    ms(run.phases[key] / run.batches),
    ms(run.phases[key] / run.batchedRecords),
    `${fixed(shares[key] * 100, 0)}%`,
  ];
  const intro =
    `The bundled worker (\`JOB=batch\`, the shipped audio anomaly model) drains a local queue of ${run.records.toLocaleString('en-US')} record ` +
    `messages (\`batchDemoRecords\`: 1-2 s clips of 16 kHz WAV, ${fixed(run.inputMiB, 1)} MiB; ${run.expectedBroken} broken files that ` +
    `dead-letter on their own). Inputs: ${measurement.inputsWhere}. Results: dynalite on 127.0.0.1 in the bench process. ` +
    `Defaults: BATCH_SIZE ${run.settings.batchSize}, MAX_CONCURRENCY ${run.settings.maxConcurrentBatches} (the vCPUs), CONCURRENCY ` +
    `${run.settings.workerSlots}, DOWNLOAD_CONCURRENCY ${run.settings.downloadConcurrency}, WRITE_CHUNK_SIZE ${run.settings.writeChunkSize}. ` +
    `Timed from the first receive to an empty queue; per vCPU = records/s / ${run.vcpus} (\`availableParallelism()\`).` +
    (measurement.alone ? ` Measured alone (\`--only batch\`) at ${measurement.measuredAt}.` : '') +
    ` Load average ${fixed(measurement.loadAverage[0], 1)} at the start, ${fixed(measurement.loadAverage[1], 1)} at the end, on ${run.vcpus} cores.`;
  const rateTable = markdownTable(
    ['records', 'seconds', 'records/s', 'records/s per vCPU', 'stored', 'dead-lettered', 'worker CPU ms/record', 'vCPUs the worker kept busy', 'harness CPU ms/record', 'peak RSS'],
    [[
      String(run.records),
      fixed(run.seconds, 1),
      rate(run.recordsPerSecond),
      rate(run.recordsPerSecondPerVcpu),
      String(run.stored),
      String(run.deadLettered),
      ms(run.workerCpuSecondsPerRecord * 1000),
      fixed(run.workerBusyVcpus, 2),
      ms(run.harnessCpuSecondsPerRecord * 1000),
      `${fixed(run.peakRssMiB, 0)} MiB`,
    ]],
  );
  const phaseTable = markdownTable(
    ['phase (scoreBatch timings)', 'ms per batch', 'ms per record', 'share'],
    [phaseRow('lookup (BatchGetItem)', 'lookupMs'), phaseRow('fetch (S3 GET)', 'fetchMs'), phaseRow('inference', 'inferenceMs'), phaseRow('write (BatchWriteItem)', 'writeMs')],
  );
  const ceilingLine =
    `Model ceiling (features + score in memory, no I/O, one event loop, batches of ${ceiling.batchSize}): ` +
    `${rate(ceiling.recordsPerSecond)} records/s, ${ms(ceiling.cpuMsPerRecord)} ms CPU per record. End to end per vCPU is ` +
    `**${fixed(measurement.shareOfCeilingPerVcpu * 100, 0)}%** of it; the worker's CPU per record is ` +
    `**${fixed(measurement.cpuOverheadRatio, 2)}x** the model's. ${run.batches} batches of ${fixed(run.batchedRecords / run.batches, 1)} ` +
    `records on average; the phases overlap across the ${run.settings.maxConcurrentBatches} batches in flight, and two batches' ` +
    'inference share the one event loop, so a batch\'s inference time includes the other\'s.';
  const writes = measurement.writes.map((comparison) => {
    const table = markdownTable(
      ['in flight', 'bulk s', 'bulk writes/s', 'bulk calls', 'per-record s', 'per-record writes/s', 'per-record calls', 'bulk / per record'],
      comparison.rows.map((row) => [
        String(row.concurrency),
        fixed(row.bulk.seconds, 2),
        rate(row.bulk.writesPerSecond),
        String(row.bulk.calls),
        fixed(row.perRecord.seconds, 2),
        rate(row.perRecord.writesPerSecond),
        String(row.perRecord.calls),
        `**${fixed(row.ratio, 1)}x**`,
      ]),
    );
    const { aws } = comparison;
    return [
      `**${comparison.store}** on ${comparison.server}: ${comparison.results.toLocaleString('en-US')} results, each way into a fresh ` +
        `${comparison.store === 'dynamodb' ? 'table' : 'collection'}; bulk = ${comparison.bulkPath}; per record = ${comparison.perRecordPath}.`,
      '',
      table,
      '',
      `In AWS (estimate from round trips, not measured): ${aws.bulkCalls} vs ${aws.perRecordCalls.toLocaleString('en-US')} calls per ` +
        `${aws.records.toLocaleString('en-US')} records, at ${aws.roundTripMs[0]}-${aws.roundTripMs[1]} ms a call and one in flight ` +
        `${seconds(aws.bulkSeconds)} vs ${seconds(aws.perRecordSeconds)}: up to ${fixed(aws.callRatio, 0)}x, less as far as a bulk call ` +
        'takes longer than a single write.' +
        (comparison.store === 'mongodb'
          ? ' Not judged: jongodb\'s own cost per upsert grows with the collection, so this ratio measures jongodb, not MongoDB.'
          : ''),
    ].join('\n');
  });
  return [
    intro,
    '',
    rateTable,
    '',
    phaseTable,
    '',
    ceilingLine,
    '',
    'Bulk writes against one write per record (the job\'s write phase alone). A local server has no network between ' +
      'client and store, so the local ratio is what each call costs the client and the server (parsing, signing, one HTTP ' +
      'request, one response): in AWS a call adds a 5-10 ms round trip and the ratio moves toward the ratio of calls.',
    '',
    ...writes.flatMap((text) => [text, '']),
  ].join('\n').trimEnd();
}
