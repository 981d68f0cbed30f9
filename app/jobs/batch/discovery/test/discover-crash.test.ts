import { DynamoDbResultStore } from '../../dynamodb-result-store';
import { discover } from '../discover';
import { DynamoDbRecordSource } from '../dynamodb-record-source';
import { DynamoDbWatermarkStore } from '../dynamodb-watermark-store';
import { crashingPorts, SimulatedCrash, type CrashMoment, type Ports } from './crash-wrapper';
import { startLocalDynamo, type LocalDynamo } from './dynalite-tables';
import { RecordingSender, recordId, scoredResult, sendCounts, sourceItem } from './factories';

/**
 * The watermark's guarantee, checked by killing a run at every port call it makes (before the call, and after the call
 * took effect but before the run heard back) and resuming with a fresh run: every record without a result is
 * enqueued, none with a result is, and the only records sent twice are those of the one chunk in flight.
 */
const DATE = '2026-12-01';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/batch';
const COUNT = 47;
// Scattered results, and a whole chunk (21..30) already scored, which must only advance.
const SCORED = new Set([2, 9, 10, 17, ...Array.from({ length: 10 }, (_, i) => 21 + i), 44].map((n) => recordId(n, DATE)));
// Not a multiple of 10: chunks restart at each page, and a resumed run's chunks need not line up with the crashed one's.
const PAGE_SIZE = 25;
const ALL = Array.from({ length: COUNT }, (_, i) => recordId(i + 1, DATE));
const UNSCORED = ALL.filter((id) => !SCORED.has(id));

let dynamo: LocalDynamo;
let results: DynamoDbResultStore;
let source: DynamoDbRecordSource;
let tables = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await dynamo.createSourceTable('source');
  await dynamo.createKeyedTable('results', 'id');
  await dynamo.putAll('source', Array.from({ length: COUNT }, (_, i) => sourceItem(DATE, i + 1)));
  results = new DynamoDbResultStore(dynamo.client, { table: 'results' });
  expect((await results.write([...SCORED].map(scoredResult))).failed).toEqual([]);
  source = new DynamoDbRecordSource(dynamo.client, { table: 'source' });
});

afterAll(async () => dynamo.close());

/** Real adapters with a fresh watermark table, so each scenario starts from nothing. */
async function freshPorts(): Promise<Ports & { sender: RecordingSender }> {
  const state = `state-${++tables}`;
  await dynamo.createKeyedTable(state, 'name');
  return { source, results, watermarks: new DynamoDbWatermarkStore(dynamo.client, { table: state }), sender: new RecordingSender() };
}

async function run(ports: Ports) {
  return discover({ date: DATE, ...ports, queueUrl: QUEUE_URL, pageSize: PAGE_SIZE });
}

describe('discovery under a crash at every step', () => {
  let callsOfACleanRun: string[] = [];

  beforeAll(async () => {
    const ports = await freshPorts();
    // Counting with a crash point past the end records the calls of an undisturbed run.
    const counting = crashingPorts(ports, Number.MAX_SAFE_INTEGER, 'before');
    const summary = await run(counting.ports);
    expect(summary).toMatchObject({ enqueued: UNSCORED.length, skippedWithResult: SCORED.size, complete: true });
    expect(ports.sender.ids()).toEqual(UNSCORED);
    callsOfACleanRun = counting.state.calls;
  });

  it('makes every kind of call the guarantee is about', () => {
    expect(new Set(callsOfACleanRun)).toEqual(new Set(['read', 'page', 'existing', 'sendAll', 'advance']));
  });

  for (const moment of ['before', 'after'] as CrashMoment[]) {
    it(`loses nothing and re-sends at most the chunk in flight when the run dies ${moment} any of its calls`, async () => {
      const outcomes: string[] = [];
      for (let crashAt = 1; crashAt <= callsOfACleanRun.length; crashAt++) {
        const ports = await freshPorts();
        const crashing = crashingPorts(ports, crashAt, moment);
        await expect(run(crashing.ports)).rejects.toThrow(SimulatedCrash);
        const resumed = await run(ports);
        const label = `crash ${moment} call ${crashAt} (${callsOfACleanRun[crashAt - 1]})`;

        const counts = sendCounts(ports.sender.ids());
        const twice = [...counts].filter(([, times]) => times > 1).map(([id]) => id);
        expect({ label, missing: UNSCORED.filter((id) => !counts.has(id)) }).toEqual({ label, missing: [] });
        expect({ label, scoredButSent: [...counts.keys()].filter((id) => SCORED.has(id)) }).toEqual({ label, scoredButSent: [] });
        expect({ label, sentMoreThanTwice: [...counts.values()].some((times) => times > 2) }).toEqual({ label, sentMoreThanTwice: false });
        expect({ label, twiceOutsideTheChunkInFlight: twice.filter((id) => !crashing.state.chunkInFlight.includes(id)) }).toEqual({ label, twiceOutsideTheChunkInFlight: [] });
        expect(crashing.state.chunkInFlight.length).toBeLessThanOrEqual(10);
        expect({ label, complete: resumed.complete, watermark: await ports.watermarks.read(DATE) }).toEqual({ label, complete: true, watermark: ALL[ALL.length - 1] });

        const after = ports.sender.ids().length;
        expect((await run(ports)).enqueued).toBe(0);
        expect(ports.sender.ids()).toHaveLength(after);
        outcomes.push(`${callsOfACleanRun[crashAt - 1]}:${twice.length}`);
      }
      // A crash after a send that took effect, before its advance, is the one case that must re-send, and it does.
      const resentAfterSend = outcomes.filter((outcome) => outcome.startsWith('sendAll:') && outcome !== 'sendAll:0');
      expect(resentAfterSend.length > 0).toBe(moment === 'after');
    });
  }
});
