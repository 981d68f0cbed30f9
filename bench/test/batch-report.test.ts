import type { BenchResults } from '../src/bench-results';
import {
  awsWriteEstimate,
  batchJobText,
  batchWriteTargets,
  comparisonRow,
  headlineRow,
  phaseShares,
  writeRun,
} from '../src/report/batch-report';
import { summaryMarkdown } from '../src/report/summary';
import { formatVerdict } from '../src/targets';
import { batchJobMeasurement, benchResults } from './factories';

describe('batch job writes: ratios and the AWS estimate (issue 13)', () => {
  it('a write run is results over seconds, and a row\'s ratio is bulk writes/s over one-per-record writes/s', () => {
    const bulk = writeRun(2000, 2, 80, 2000);
    const single = writeRun(2000, 16, 2000, 2000);
    expect(bulk.writesPerSecond).toBe(1000);
    expect(single.writesPerSecond).toBe(125);
    expect(comparisonRow(1, bulk, single)).toEqual({ concurrency: 1, bulk, perRecord: single, ratio: 8 });
  });

  it('counts the calls per 1,000 records: 40 BatchWriteItem against 1,000 PutItem, 2 bulkWrite against 1,000 replaceOne', () => {
    const dynamo = awsWriteEstimate(1000, 25);
    expect(dynamo).toEqual({
      records: 1000,
      bulkCalls: 40,
      perRecordCalls: 1000,
      roundTripMs: [5, 10],
      bulkSeconds: [0.2, 0.4],
      perRecordSeconds: [5, 10],
      callRatio: 25,
    });
    expect(awsWriteEstimate(1000, 500)).toMatchObject({ bulkCalls: 2, callRatio: 500, bulkSeconds: [0.01, 0.02] });
    // A part chunk is still a call.
    expect(awsWriteEstimate(1001, 25, [1, 2])).toMatchObject({ bulkCalls: 41, bulkSeconds: [0.041, 0.082], perRecordSeconds: [1.001, 2.002] });
  });

  it('the headline row is the one with one call in flight', () => {
    const [dynamo] = batchJobMeasurement().writes;
    expect(headlineRow(dynamo!)?.concurrency).toBe(1);
    expect(headlineRow({ ...dynamo!, rows: [dynamo!.rows[1]!] })?.concurrency).toBe(2);
    expect(headlineRow({ ...dynamo!, rows: [] })).toBeUndefined();
  });

  it('gives each phase its share of the summed batch time', () => {
    expect(phaseShares({ lookupMs: 1, fetchMs: 4, inferenceMs: 4, writeMs: 1 })).toEqual({ lookupMs: 0.1, fetchMs: 0.4, inferenceMs: 0.4, writeMs: 0.1 });
    expect(phaseShares({ lookupMs: 0, fetchMs: 0, inferenceMs: 0, writeMs: 0 })).toEqual({ lookupMs: 0, fetchMs: 0, inferenceMs: 0, writeMs: 0 });
  });
});

describe('batch job targets', () => {
  it('holds for DynamoDB when bulk is at least 5x one write per record at one call in flight, naming the AWS call counts; MongoDB is not judged', () => {
    const checks = batchWriteTargets(batchJobMeasurement());
    expect(checks).toHaveLength(1);
    const [dynamo] = checks;
    expect(dynamo).toMatchObject({ holds: true, measured: '8.0x (1000 vs 125 writes/s, 2000 results); 10.0x at 2 in flight' });
    expect(dynamo!.target).toBe('batch job: dynamodb (dynalite 4.0.0 on 127.0.0.1) bulk writes >= 5x one write per record (same results, fresh table, one call in flight)');
    expect(dynamo!.note).toContain('40 vs 1000 calls per 1,000 records (25x fewer round trips)');
  });

  it('misses below 5x, and when a way did not store every result, whatever the ratio', () => {
    const [slow] = batchWriteTargets(batchJobMeasurement({ dynamoRatioRun: { writesPerSecond: 500 } }));
    expect(slow).toMatchObject({ holds: false, measured: '2.0x (1000 vs 500 writes/s, 2000 results); 10.0x at 2 in flight' });
    expect(formatVerdict(slow!)).toBe('MISSED');
    const [dynamo] = batchWriteTargets(batchJobMeasurement({ dynamoRatioRun: { stored: 1999 }, mongodb: false }));
    expect(dynamo!.holds).toBe(false);
    expect(dynamo!.note).toContain('NOT every result stored (bulk 2000, per record 1999 of 2000)');
  });

  it('is not measured in results written before part 8', () => {
    const [check] = batchWriteTargets(undefined);
    expect(formatVerdict(check!)).toBe('not measured');
  });
});

describe('batch job section of the summary', () => {
  it('reports records/s per vCPU, the phases, the model ceiling and each store\'s ratio with its AWS estimate', () => {
    const text = batchJobText(batchJobMeasurement());
    expect(text).toContain('| 2000 | 10.0 | 200 | 100 | 1940 | 60 | 4.0 | 0.80 | 3.0 | 210 MiB |');
    expect(text).toContain('| lookup (BatchGetItem) | 50.0 | 0.5 | 10% |');
    expect(text).toContain('| inference | 200 | 2.0 | 40% |');
    expect(text).toContain('500 records/s, 2.0 ms CPU per record. End to end per vCPU is **20%** of it; the worker\'s CPU per record is **2.00x**');
    expect(text).toContain('| 1 | 2.00 | 1000 | 80 | 16.00 | 125 | 2000 | **8.0x** |');
    expect(text).toContain('40 vs 1,000 calls per 1,000 records, at 5-10 ms a call and one in flight 0.20-0.40 s vs 5.0-10.0 s: up to 25x');
    expect(text).toContain('2 vs 1,000 calls per 1,000 records');
    expect(text).toContain('Not judged: jongodb');
    expect(text).toContain('per vCPU = records/s / 2 (`availableParallelism()`).');
    expect(text).toContain('Load average 1.5 at the start, 2.3 at the end, on 2 cores.');
  });

  it('says how to add it when a results.json has none', () => {
    expect(batchJobText(undefined)).toMatch(/--only batch/);
  });

  it('is part 8 of the summary, before the targets', () => {
    const results: BenchResults = { ...benchResults(), batchJob: batchJobMeasurement(), targets: batchWriteTargets(batchJobMeasurement()) };
    const summary = summaryMarkdown(results);
    const heading = '### 8. Batch job: records per second per vCPU, and bulk writes against one write per record (issue 13)';
    expect(summary).toContain(heading);
    expect(summary.indexOf('### 7. Command job')).toBeLessThan(summary.indexOf(heading));
    expect(summary.indexOf(heading)).toBeLessThan(summary.indexOf('### Targets'));
    expect(summary).toContain('| batch job: dynamodb (dynalite 4.0.0 on 127.0.0.1) bulk writes >= 5x');
  });
});
