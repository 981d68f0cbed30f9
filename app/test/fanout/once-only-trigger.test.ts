import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { ledgerKey, triggerKey } from '../../../shared/fanout/run-layout';
import type { RunRecord, TriggerRecord } from '../../../shared/fanout/run-record';
import { LOCAL_CREDENTIALS, startS3Server, type LocalS3Server } from '../../../local/src/s3-server';
import { startStrictS3Front, type Refusal, type StrictS3Front } from '../../../local/src/strict-s3-front';
import { localRoleStatements } from '../../../local/src/worker-policy';
import { RunLedger } from '../../src/fanout/run-ledger';
import type { MessageSender } from '../../src/ports/message-sender';
import { S3ObjectStore } from '../../src/store/s3-object-store';

/**
 * The once-only property on the code path AWS runs: S3ObjectStore's conditional creates through the strict S3 front
 * (S3's If-None-Match semantics) to an S3-protocol server, each completing "task" with its own client, as the family
 * role the infra writes. Many batches settle at the same instant; exactly one aggregation request may leave.
 */
const DEST = 'destination';
const ROOT = 'runs/';
const FAMILIES = ['loudness', 'spectrum'];
const BATCHES = 30;

let dir: string;
let server: LocalS3Server;
const fronts: StrictS3Front[] = [];
const refusals: Refusal[] = [];
const clients: S3Client[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'once-only-'));
  server = await startS3Server({ dataDir: dir, port: 0, buckets: ['source', DEST] });
  // One front per family role, as the local pipeline runs them: the lock that makes a conditional create atomic is
  // shared by every front of the process, as S3's is by every caller.
  for (const family of FAMILIES) {
    fronts.push(await startStrictS3Front({
      upstream: server.endpoint,
      statements: localRoleStatements({ kind: 'family', family, aggregator: 'summary' }, { pipeline: family, sourceBucket: 'source', sourcePrefix: '', destBucket: DEST, destPrefix: ROOT }),
      onRefused: (refusal) => refusals.push(refusal),
    }));
  }
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.destroy();
  await Promise.all(fronts.map((front) => front.close()));
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A task's own store, as the family it works for. */
function taskStore(family: string): S3ObjectStore {
  const client = new S3Client({ endpoint: fronts[FAMILIES.indexOf(family)]!.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  clients.push(client);
  return new S3ObjectStore(client);
}

const retry = { retries: 3, baseDelayMs: 5, maxDelayMs: 20, sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };

class CountingSender implements MessageSender {
  readonly sent: string[] = [];
  async sendAll(_queueUrl: string, bodies: readonly string[]): Promise<void> {
    this.sent.push(...bodies);
  }
  async close(): Promise<void> {}
}

async function startRun(runId: string): Promise<RunRecord> {
  const record: RunRecord = {
    bucket: DEST, root: ROOT, runId, manifest: { bucket: 'source', key: `${runId}/manifest.json`, etag: 'e' }, sourceBucket: 'source',
    families: FAMILIES, batchSize: 1, batchCount: BATCHES, fileCount: BATCHES, settings: {}, createdAt: new Date().toISOString(),
  };
  // The run record is the fan-out role's to write; here the server is written directly, as that role would.
  const admin = new S3ObjectStore(new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS }));
  expect(await new RunLedger(record, admin, retry).createRunRecord(record)).toBe(true);
  return record;
}

/** Every batch of every family settles and checks the run at once, each as its own task. */
async function completeAll(record: RunRecord, sender: CountingSender, skip?: { family: string; batch: number }) {
  const completions = FAMILIES.flatMap((family) => Array.from({ length: BATCHES }, (_, batch) => ({ family, batch })))
    .filter((each) => !(each.family === skip?.family && each.batch === skip.batch));
  return Promise.all(completions.map(async ({ family, batch }) => {
    const ledger = new RunLedger(record, taskStore(family), retry);
    const messageId = `${family}-${batch}`;
    await ledger.settleBatch(family, batch, { status: 'done', files: 1, failedFiles: 0, at: new Date().toISOString(), messageId });
    return ledger.triggerIfComplete(record, messageId, 'queue://summary', sender);
  }));
}

describe('the aggregation trigger under concurrent completions (S3 conditional writes, strict local front)', () => {
  it.each([1, 2, 3])('round %i: 60 batches settle at the same instant and exactly one aggregation request leaves', async (round) => {
    const record = await startRun(`race-${round}`);
    const sender = new CountingSender();
    const outcomes = await completeAll(record, sender);
    expect(sender.sent).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'triggered')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'resent')).toHaveLength(0);
    // A real race: several completions found the run complete at once (14 to 37 of 60 here), and one won.
    expect(outcomes.filter((outcome) => outcome !== 'pending').length).toBeGreaterThan(1);
    const trigger = JSON.parse((await taskStore('loudness').get({ bucket: DEST, key: triggerKey(record) }, { maxBytes: 10_000 })).body.toString()) as TriggerRecord;
    expect(outcomes[FAMILIES.indexOf(trigger.messageId.split('-')[0]!) * BATCHES + Number(trigger.messageId.split('-')[1])]).toBe('triggered');
    expect(refusals).toEqual([]);
  }, 60_000);

  it('never triggers early: with one batch unsettled, nobody sends; its settlement then triggers once', async () => {
    const record = await startRun('early');
    const sender = new CountingSender();
    const outcomes = await completeAll(record, sender, { family: 'spectrum', batch: 17 });
    expect(outcomes.every((outcome) => outcome === 'pending')).toBe(true);
    expect(sender.sent).toEqual([]);
    const ledger = new RunLedger(record, taskStore('spectrum'), retry);
    expect(await ledger.settleBatch('spectrum', 17, { status: 'failed', reason: 'dead-lettered', files: 1, failedFiles: 1, at: new Date().toISOString(), messageId: 'late' })).toBe(true);
    expect(await ledger.triggerIfComplete(record, 'late', 'queue://summary', sender)).toBe('triggered');
    // A redelivered completion of any batch, including the last, sends nothing more.
    expect(await ledger.triggerIfComplete(record, 'spectrum-3', 'queue://summary', sender)).toBe('already-triggered');
    expect(sender.sent).toHaveLength(1);
  }, 60_000);

  it('keeps the first settlement of a batch: a second one, racing or late, is refused by S3', async () => {
    const record = await startRun('settle-once');
    const attempts = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      new RunLedger(record, taskStore('loudness'), retry).settleBatch('loudness', 0, { status: 'done', files: 1, failedFiles: 0, at: new Date().toISOString(), messageId: `copy-${i}` })));
    expect(attempts.filter(Boolean)).toHaveLength(1);
    const entry = await new RunLedger(record, taskStore('loudness'), retry).ledgerEntry('loudness', 0);
    expect(entry?.messageId).toBe(`copy-${attempts.indexOf(true)}`);
  }, 60_000);

  it('lets a family settle only its own batches (IAM, as the infra writes the role)', async () => {
    const record = await startRun('cross-family');
    const ledger = new RunLedger(record, taskStore('loudness'), { ...retry, retries: 0 });
    await expect(ledger.settleBatch('spectrum', 0, { status: 'done', files: 1, failedFiles: 0, at: '', messageId: 'x' })).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(refusals.map((refusal) => refusal.key)).toEqual([ledgerKey(record, 'spectrum', 0)]);
    refusals.length = 0;
  }, 60_000);
});
