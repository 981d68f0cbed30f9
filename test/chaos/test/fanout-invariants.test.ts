import { batchOf, checkFanoutInvariants, type FanoutInvariantInput, type RunFindings } from '../src/fanout-invariants';
import { parseCsv, planFanoutActions } from '../src/fanout-chaos';
import { seededRandom } from '../src/seeded-random';
import { batchMessage, finishedFanoutRun } from './factories';

const A = 'runs/chaos-a/';
const violationsOf = (input: FanoutInvariantInput) => checkFanoutInvariants(input).violations;
/** The run's findings with some fields replaced. */
const withFindings = (run: FanoutInvariantInput, change: Partial<RunFindings>): FanoutInvariantInput => ({
  ...run, findings: { ...run.findings, 'chaos-a': { ...run.findings['chaos-a']!, ...change } },
});

describe('checkFanoutInvariants', () => {
  it('passes a run dispatched, settled and aggregated once, with its bad manifest dead-lettered, and counts it', () => {
    const report = checkFanoutInvariants(finishedFanoutRun());
    expect(report.violations).toEqual([]);
    expect(report.counts).toMatchObject({
      runs: 1, badManifests: 1, files: 5, goodFiles: 4, brokenFiles: 1, lost: 0, batches: 6, batchMessages: 6, duplicateBatchMessages: 0,
      dispatchingDeliveries: { a: 1 }, reportsCreated: 1, triggersCreated: 1, aggregatedLines: 1, failedBatches: 0,
    });
  });

  it('reports a report or trigger created twice, and "aggregated" logged twice or never', () => {
    const run = finishedFanoutRun();
    expect(violationsOf({ ...run, writes: [...run.writes, { at: 4000, key: `${A}report.json` }, { at: 4001, key: `${A}aggregate.json` }] })).toEqual([
      'run a (chaos-a): report.json was created 2 times, expected once',
      'run a (chaos-a): aggregate.json was created 2 times, expected once',
    ]);
    const aggregated = run.logLines.find((line) => line.message === 'aggregated')!;
    expect(violationsOf({ ...run, logLines: [...run.logLines, aggregated] })).toEqual(['run a (chaos-a): the aggregator logged "aggregated" 2 times, expected once']);
    expect(violationsOf({ ...run, logLines: run.logLines.filter((line) => line !== aggregated) })).toEqual(['run a (chaos-a): the aggregator logged "aggregated" 0 times, expected once']);
    expect(violationsOf({ ...run, logLines: [...run.logLines.filter((line) => line !== aggregated), { ...aggregated, pipeline: 'loudness' }] }))
      .toEqual(['run a (chaos-a): "aggregated" logged by the loudness pipeline']);
  });

  it('reports a stuck run: a batch moved to the DLQ by the queue with no ledger entry, the run never aggregated, its good files lost', () => {
    const run = finishedFanoutRun();
    const ledgerKey = `${A}ledger/spectrum/000002.json`;
    const { report: _report, ...findings } = run.findings['chaos-a']!;
    const stuck: FanoutInvariantInput = {
      ...withFindings(run, {}),
      findings: { ...run.findings, 'chaos-a': { ...findings, ledger: { ...findings.ledger, spectrum: { 0: findings.ledger.spectrum![0]!, 1: findings.ledger.spectrum![1]! } } } },
      writes: run.writes.filter((write) => write.key === ledgerKey || !/aggregate|summary|report/.test(write.key)).filter((write) => write.key !== ledgerKey),
      deadLetters: [...run.deadLetters, { queue: 'spectrum', messageId: 'm-s2', body: batchMessage('chaos-a', 'spectrum', 2), receiveCount: 3, reasons: [], details: [] }],
      logLines: run.logLines.filter((line) => line.message !== 'aggregated'),
    };
    const report = checkFanoutInvariants(stuck);
    expect(report.violations).toEqual([
      'run a (chaos-a): never aggregated: no report.json (5 of 6 batches settled; unsettled: spectrum 2; trigger not created)',
      "run a: batch 2 of family spectrum is in the DLQ (moved there by the queue's redrive after 3 receives, no failure recorded) and has no ledger entry: the run can never complete",
    ]);
    expect(report.counts.lost).toBe(8);
  });

  it('reports a batch settled twice and a ledger entry that is no batch of the run', () => {
    const run = finishedFanoutRun();
    expect(violationsOf({ ...run, writes: [...run.writes.slice(0, 5), { at: 1500, key: `${A}ledger/loudness/000001.json` }, ...run.writes.slice(5)] }))
      .toEqual(['run a (chaos-a): batch 1 of family loudness was settled 2 times, expected once']);
    expect(violationsOf({ ...run, writes: [...run.writes.slice(0, 5), { at: 1500, key: `${A}ledger/loudness/000007.json` }, ...run.writes.slice(5)] }))
      .toEqual([`run a (chaos-a): a ledger entry that is no batch of the run was written: ${A}ledger/loudness/000007.json`]);
  });

  it('reports an aggregation begun before the last batch settled, by the proxy\'s order and by the report\'s time', () => {
    const run = finishedFanoutRun();
    const early = run.writes.map((write) => (write.key.endsWith('aggregate.json') ? { ...write, at: 2005 } : write));
    expect(violationsOf({ ...run, writes: early })).toEqual(['run a (chaos-a): aggregate.json was written 16 ms before the last batch was settled']);
    const report = { ...run.findings['chaos-a']!.report!, aggregatedAt: new Date(2015).toISOString() };
    expect(violationsOf(withFindings(run, { report }))).toEqual([expect.stringMatching(/aggregated at .*, before a batch settled at 1970-01-01T00:00:02.021Z/)]);
  });

  it('reports a summary missing a file, listing one twice or one of no manifest, out of order, or without a family\'s status', () => {
    const run = finishedFanoutRun();
    const rows = run.findings['chaos-a']!.summaryRows!;
    const keys = (changed: typeof rows) => ({ summaryRows: changed, csvKeys: changed.map((row) => row.key) });
    expect(violationsOf(withFindings(run, keys(rows.slice(1))))).toEqual([
      'run a (chaos-a): "audio/a.wav" is missing from the summary',
      'run a (chaos-a): report.json\'s file counts for family loudness (4 done, 1 failed) disagree with the summary',
      'run a (chaos-a): report.json\'s file counts for family spectrum (4 done, 1 failed) disagree with the summary',
    ]);
    expect(checkFanoutInvariants(withFindings(run, keys(rows.slice(1)))).counts.lost).toBe(2);
    expect(violationsOf(withFindings(run, keys([...rows, rows[0]!])))).toEqual([
      'run a (chaos-a): the summary lists "audio/a.wav" 2 times',
      'run a (chaos-a): report.json\'s file counts for family loudness (4 done, 1 failed) disagree with the summary',
      'run a (chaos-a): report.json\'s file counts for family spectrum (4 done, 1 failed) disagree with the summary',
    ]);
    const stranger = { key: 'audio/x.wav', families: rows[0]!.families };
    expect(violationsOf(withFindings(run, keys([...rows.slice(0, 4), stranger]))))
      .toEqual(expect.arrayContaining(['run a (chaos-a): the summary lists "audio/x.wav", which is not a file of the manifest', 'run a (chaos-a): "audio/d.wav" is missing from the summary']));
    expect(violationsOf(withFindings(run, keys([rows[1]!, rows[0]!, ...rows.slice(2)])))).toEqual(['run a (chaos-a): the summary\'s rows are not in the manifest\'s order']);
    const noSpectrum = rows.map((row, i) => (i === 3 ? { key: row.key, families: { loudness: row.families.loudness! } } : row));
    expect(violationsOf(withFindings(run, keys(noSpectrum)))).toEqual([
      'run a (chaos-a): "audio/c.wav" has no status for family spectrum',
      'run a (chaos-a): report.json\'s file counts for family spectrum (4 done, 1 failed) disagree with the summary',
    ]);
  });

  it('reports a good file failed (lost) and a broken one done or failed for another reason', () => {
    const run = finishedFanoutRun();
    const rows = run.findings['chaos-a']!.summaryRows!;
    const swapped = rows.map((row) => {
      if (row.key === 'audio/b.wav') return { ...row, families: { ...row.families, spectrum: { status: 'failed', reason: 'batch dead-lettered: transient' } } };
      if (row.key === 'audio/broken/empty.wav') return { ...row, families: { loudness: { status: 'done' }, spectrum: { status: 'failed', reason: 'spectrum: not a WAV file' } } };
      return row;
    });
    const report = checkFanoutInvariants(withFindings(run, { summaryRows: swapped }));
    expect(report.violations).toEqual(expect.arrayContaining([
      'run a (chaos-a): good file "audio/b.wav" is failed in family spectrum (batch dead-lettered: transient)',
      'run a (chaos-a): broken file "audio/broken/empty.wav" in family loudness is done, expected failed with "empty file (0 bytes)"',
      'run a (chaos-a): broken file "audio/broken/empty.wav" in family spectrum is failed (spectrum: not a WAV file), expected failed with "empty file (0 bytes)"',
    ]));
    expect(report.counts.lost).toBe(1);
  });

  it('reports a showcase file whose summary is not what its program must report', () => {
    const run = finishedFanoutRun();
    const rows = run.findings['chaos-a']!.summaryRows!.map((row) => (row.key === 'audio/a.wav' ? { ...row, families: { ...row.families, loudness: { status: 'done', summary: { seconds: 3 } } } } : row));
    expect(violationsOf(withFindings(run, { summaryRows: rows }))).toEqual(['run a (chaos-a): "audio/a.wav" in family loudness: seconds is 3, expected 2']);
  });

  it('reports summary.csv and report.json disagreeing with summary.json', () => {
    const run = finishedFanoutRun();
    expect(violationsOf(withFindings(run, { csvKeys: ['audio/a.wav'] }))).toEqual(['run a (chaos-a): summary.csv lists other files than summary.json (1 rows against 5)']);
    const report = run.findings['chaos-a']!.report!;
    expect(violationsOf(withFindings(run, { report: { ...report, files: 4, families: { ...report.families, spectrum: { batchesDone: 2, batchesFailed: 0, filesDone: 4, filesFailed: 1 } } } }))).toEqual([
      'run a (chaos-a): report.json counts 4 files, the manifest has 5',
      'run a (chaos-a): report.json counts 2 done and 0 failed batches for family spectrum, the run has 3',
    ]);
  });

  it('reports a run dispatched twice over, a batch never sent to a family, and batches sent more often than deliveries dispatched', () => {
    const run = finishedFanoutRun();
    expect(violationsOf({ ...run, writes: [...run.writes, { at: 1011, key: `${A}run.json` }, { at: 1012, key: `${A}dispatched.json` }] })).toEqual([
      'run a (chaos-a): run.json was created 2 times, expected once',
      'run a (chaos-a): dispatched.json was created 2 times, expected once',
    ]);
    const missing = { ...run.sentToFamilies, spectrum: run.sentToFamilies.spectrum!.slice(1) };
    expect(violationsOf({ ...run, sentToFamilies: missing })).toEqual([
      "run a (chaos-a): family spectrum's queue never received batch 0",
      "run a (chaos-a): 1 deliveries dispatched it, yet family spectrum's queue received batch 0 0 times",
    ]);
    const twice = { ...run.sentToFamilies, loudness: [...run.sentToFamilies.loudness!, batchMessage('chaos-a', 'loudness', 1)] };
    expect(violationsOf({ ...run, sentToFamilies: twice })).toEqual(["run a (chaos-a): 1 deliveries dispatched it, yet family loudness's queue received batch 1 2 times"]);
    expect(checkFanoutInvariants({ ...run, sentToFamilies: twice }).counts.duplicateBatchMessages).toBe(1);
    // A dispatch cut short by a kill is resent whole, by design.
    expect(violationsOf({ ...run, sentToFamilies: twice, interruptedDispatches: ['chaos-a'] })).toEqual([]);
    const wrongQueue = { ...run.sentToFamilies, loudness: [...run.sentToFamilies.loudness!, batchMessage('chaos-a', 'spectrum', 5)] };
    expect(violationsOf({ ...run, sentToFamilies: wrongQueue })).toEqual([
      "a batch message for family spectrum (run chaos-a, batch 5) was sent to family loudness's queue",
      "run a (chaos-a): family loudness's queue received a message for batch 5, the run has 3",
    ]);
  });

  it('accepts a manifest dispatched by two deliveries at once when every batch went once per delivery, and counts them', () => {
    const run = finishedFanoutRun();
    const dispatched = run.logLines.find((line) => line.message === 'dispatched')!;
    const double = Object.fromEntries(Object.entries(run.sentToFamilies).map(([family, bodies]) => [family, [...bodies, ...bodies]]));
    const report = checkFanoutInvariants({ ...run, sentToFamilies: double, logLines: [...run.logLines, dispatched] });
    expect(report.violations).toEqual([]);
    expect(report.counts).toMatchObject({ dispatchingDeliveries: { a: 2 }, duplicateBatchMessages: 6 });
    expect(violationsOf({ ...run, logLines: run.logLines.filter((line) => line !== dispatched) })).toEqual(['run a (chaos-a): the fan-out never logged "dispatched"']);
  });

  it('reports a bad manifest missing from the DLQ, dead-lettered for another reason, its field unnamed, or with a run created', () => {
    const run = finishedFanoutRun();
    expect(violationsOf({ ...run, deadLetters: [] })).toEqual(["bad manifest reserved setting (manifests/bad.json): not in the fan-out pipeline's DLQ"]);
    const letter = run.deadLetters[0]!;
    expect(violationsOf({ ...run, deadLetters: [{ ...letter, reasons: ['s3-rejected'], details: ['access denied'] }] })).toEqual([
      'bad manifest reserved setting (manifests/bad.json): dead-lettered for s3-rejected, expected invalid-manifest',
      'bad manifest reserved setting (manifests/bad.json): the dead letter\'s reason does not name "\\"settings\\"" (access denied)',
      'bad manifest reserved setting (manifests/bad.json): the dead letter\'s reason does not name "LD_PRELOAD" (access denied)',
    ]);
    expect(violationsOf({ ...run, logLines: run.logLines.filter((line) => line.message !== 'failed') }))
      .toEqual(['bad manifest reserved setting (manifests/bad.json): no "failed" line with reason invalid-manifest from the fan-out pipeline']);
    const vague = run.logLines.map((line) => (line.message === 'failed' ? { ...line, detail: 'bad manifest' } : line));
    expect(violationsOf({ ...run, logLines: vague })).toEqual(['bad manifest reserved setting (manifests/bad.json): its "failed" line does not name "\\"settings\\"" and "LD_PRELOAD"']);
    const created: FanoutInvariantInput = { ...run, findings: { ...run.findings, 'chaos-bad': { keys: ['runs/chaos-bad/run.json'], ledger: {} } } };
    expect(violationsOf(created)).toEqual(['bad manifest reserved setting (manifests/bad.json): a run was created for it: 1 objects under runs/chaos-bad/ (runs/chaos-bad/run.json)']);
    // A dead letter written twice (the worker killed between dead-lettering and deleting) is still the one bad manifest.
    expect(violationsOf({ ...run, deadLetters: [letter, letter] })).toEqual([]);
  });

  it('reports a message left in a queue, a failed batch its report does not list, strangers in a DLQ, and counts dead letters of finished work', () => {
    const run = finishedFanoutRun();
    expect(violationsOf({ ...run, left: [{ queue: 'spectrum', messageId: 'm-1', body: batchMessage('chaos-a', 'spectrum', 1) }] }))
      .toEqual(['spectrum queue still holds message m-1 (run chaos-a, family spectrum, batch 1): the run would never finish']);
    // A copy of a batch settled done in a DLQ is finished work (a false alarm), counted, not a violation.
    const settledInDlq = { queue: 'loudness', messageId: 'm-l1', body: batchMessage('chaos-a', 'loudness', 1), receiveCount: 3, reasons: ['throttled'], details: ['Please reduce your request rate.'] };
    expect(checkFanoutInvariants({ ...run, deadLetters: [...run.deadLetters, settledInDlq] })).toMatchObject({ violations: [], counts: { finishedWorkDeadLettered: 1 } });
    const failedLedger = withFindings(run, { ledger: { ...run.findings['chaos-a']!.ledger, loudness: { ...run.findings['chaos-a']!.ledger.loudness, 1: { status: 'failed', at: new Date(2010).toISOString(), reason: 'throttled' } } } });
    expect(violationsOf({ ...failedLedger, deadLetters: [...run.deadLetters, settledInDlq] }))
      .toEqual(expect.arrayContaining(['run a: batch 1 of family loudness failed, and the run\'s report does not list it']));
    const listed = { ...failedLedger.findings['chaos-a']!.report!, failedBatches: [{ family: 'loudness', batch: 1, reason: 'throttled' }] };
    expect(violationsOf({ ...withFindings(failedLedger, { report: listed }), deadLetters: [...run.deadLetters, settledInDlq] })).not.toEqual(expect.arrayContaining([expect.stringContaining('DLQ')]));
    expect(violationsOf({ ...run, deadLetters: [...run.deadLetters, { queue: 'summary', messageId: 'm-agg', body: '{"kind":"fanout-aggregate"}', receiveCount: 3, reasons: [], details: [] }] }))
      .toEqual(['summary DLQ holds message m-agg (no reason: ), which no run expects there']);
    // A good manifest in the fan-out's DLQ: finished work once its run is dispatched, a lost run before.
    const manifestEvent = JSON.stringify({ Records: [{ s3: { bucket: { name: 'source' }, object: { key: 'manifests/a.json' } } }] });
    const manifestLetter = { queue: 'fanout', messageId: 'm-a', body: manifestEvent, receiveCount: 3, reasons: [], details: [] };
    expect(checkFanoutInvariants({ ...run, deadLetters: [...run.deadLetters, manifestLetter] })).toMatchObject({ violations: [], counts: { finishedWorkDeadLettered: 1 } });
    expect(violationsOf({ ...run, deadLetters: [...run.deadLetters, manifestLetter], writes: run.writes.filter((write) => !write.key.endsWith('dispatched.json')) }))
      .toEqual(expect.arrayContaining(["run a: its manifest is in the fan-out's DLQ (no reason) and the run was never dispatched"]));
  });

  it('reports front refusals, OOM kills and a run that did not finish', () => {
    const run = finishedFanoutRun();
    expect(violationsOf({ ...run, frontRefusals: ['loudness: PUT s3://destination/runs/x/report.json: 403 AccessDenied'], memory: [{ worker: 'w', limitBytes: 10, peakBytes: 10, oomKills: 1 }], unfinished: 'not finished after 100 s' })).toEqual([
      'the run did not finish: not finished after 100 s',
      'S3 would have refused: loudness: PUT s3://destination/runs/x/report.json: 403 AccessDenied',
      'worker w was OOM-killed 1 times',
      'worker w reached its memory limit',
    ]);
  });
});

describe('fan-out chaos helpers', () => {
  it('reads a batch message and nothing else as a batch', () => {
    expect(batchOf(batchMessage('r', 'loudness', 4))).toEqual({ runId: 'r', family: 'loudness', batch: 4 });
    expect(batchOf('{"kind":"fanout-aggregate","runId":"r"}')).toBeUndefined();
    expect(batchOf('not json')).toBeUndefined();
  });

  it('reads summary.csv back: quoted keys with commas, quotes and line breaks', () => {
    expect(parseCsv('key,loudness.status\r\n"a, ""b"".wav",done\nplain.wav,failed\n"two\nlines.wav",done\n')).toEqual([
      ['key', 'loudness.status'], ['a, "b".wav', 'done'], ['plain.wav', 'failed'], ['two\nlines.wav', 'done'],
    ]);
  });

  it('plans every kill once, in order, the random ones and the window kills within the first 70% and the aimed ones early', () => {
    const plan = planFanoutActions(seededRandom(3), { sigkills: 4, windowKills: 2, triggerKills: 1, aggregatorKills: 2, pipelineKills: 1 });
    const count = (action: string) => plan.filter((step) => step.action === action).length;
    expect([count('sigkill'), count('arm-window'), count('arm-trigger'), count('arm-aggregator'), count('pipeline-kill')]).toEqual([4, 2, 1, 2, 1]);
    const fractions = plan.map((step) => step.atFraction);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(Math.max(...fractions)).toBeLessThan(0.7);
    expect(plan.filter((step) => step.action === 'arm-aggregator' || step.action === 'arm-trigger').every((step) => step.atFraction <= 0.4)).toBe(true);
    const order = (seed: number) => planFanoutActions(seededRandom(seed), { sigkills: 4, windowKills: 2, triggerKills: 0, aggregatorKills: 0, pipelineKills: 0 }).map((step) => step.action).join();
    expect(order(1)).toBe(order(1));
    expect(new Set([1, 2, 3, 4, 5].map(order)).size).toBeGreaterThan(1);
  });
});
