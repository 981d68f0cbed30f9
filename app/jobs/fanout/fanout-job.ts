import type { ObjectEvent } from '../../../shared/events/parse-message';
import { batchMessageBody, type RunHome } from '../../../shared/fanout/messages';
import { keysKey } from '../../../shared/fanout/run-layout';
import type { RunRecord } from '../../../shared/fanout/run-record';
import type { LogFields } from '../../../shared/log/logger';
import { retryTransient } from '../../../shared/retry';
import { mapLimited } from '../../../shared/runtime/map-limited';
import { RunLedger } from '../../src/fanout/run-ledger';
import type { MessageJob, MessageJobContext } from '../../src/job/message-job';
import { planBatches } from './batches';
import type { FanoutConfig } from './fanout-config';
import { ManifestError, parseManifest, type Manifest } from './manifest';

/** Batch lists written at once: each is one small PUT. */
const WRITES_AT_ONCE = 16;

/**
 * A manifest in, a dispatched run out: the run record created once, the batch lists written, one message per batch
 * per family sent to that family's queue, then the run marked dispatched. Every step can be repeated: a redelivered
 * manifest (or two tasks given the same one) finds the run record, and either stops (already dispatched) or finishes
 * the dispatch a killed task began; families settle each batch once, so a batch message sent twice costs one lookup.
 */
export class FanoutJob implements MessageJob {
  readonly kind = 'message';
  readonly name = 'fanout';

  constructor(private readonly config: FanoutConfig) {}

  describe(): LogFields {
    return { families: this.config.families.map((family) => family.name).join(','), batchSize: this.config.batchSize, runsRoot: this.config.runsRoot };
  }

  async handleObject(object: ObjectEvent, context: MessageJobContext): Promise<void> {
    const { store, retry, log } = context;
    const manifestRef = { bucket: object.bucket, key: object.key };
    const stored = await retryTransient(() => store.get(manifestRef, { maxBytes: this.config.maxManifestBytes }), retry);
    const manifest = parseManifest(stored.body.toString('utf8'), { ...manifestRef, etag: stored.etag });
    const home: RunHome = { bucket: this.config.runsBucket, root: this.config.runsRoot, runId: manifest.runId };
    const ledger = new RunLedger(home, store, retry);
    const keys = await this.keysOf(manifest, manifestRef, ledger, context);
    const batches = planBatches(keys, this.config.batchSize);
    const fresh: RunRecord = {
      ...home,
      manifest: { ...manifestRef, etag: stored.etag },
      sourceBucket: object.bucket,
      families: this.config.families.map((family) => family.name),
      batchSize: this.config.batchSize,
      batchCount: batches.length,
      fileCount: keys.length,
      settings: manifest.settings,
      createdAt: new Date().toISOString(),
    };
    const run = (await ledger.createRunRecord(fresh)) ? fresh : await this.existingRun(ledger, fresh);
    if (await ledger.isDispatched()) {
      log.info('skipped', { bucket: object.bucket, key: object.key, runId: run.runId, reason: 'run already dispatched' });
      return;
    }
    // The record decides, not this attempt's settings: a resumed dispatch batches and addresses as the first did.
    const families = run.families.map((name) => {
      const family = this.config.families.find((candidate) => candidate.name === name);
      if (family === undefined) throw new ManifestError(`run ${run.runId} was started for family ${name}, which FANOUT_FAMILIES no longer names`);
      return family;
    });
    const runBatches = planBatches(keys, run.batchSize);
    await mapLimited(runBatches, WRITES_AT_ONCE, (batch) =>
      ledger.writeBatchList({ runId: run.runId, batch: batch.index, bucket: run.sourceBucket, keys: batch.keys, settings: run.settings }));
    await Promise.all(families.map((family) =>
      retryTransient(() => context.sender.sendAll(family.queueUrl, runBatches.map((batch) => batchMessageBody(home, family.name, batch.index))), retry)));
    const messages = runBatches.length * families.length;
    await ledger.markDispatched(messages);
    log.info('dispatched', { runId: run.runId, manifest: object.key, files: keys.length, batches: runBatches.length, families: run.families.join(','), messages });
  }

  /**
   * A keys manifest names its files; a prefix manifest's listing is frozen in the run the first time (created once),
   * so a redelivery after more uploads batches exactly the files the first attempt did.
   */
  private async keysOf(manifest: Manifest, manifestRef: { bucket: string; key: string }, ledger: RunLedger, context: MessageJobContext): Promise<readonly string[]> {
    if ('keys' in manifest.source) return manifest.source.keys;
    const prefix = manifest.source.prefix;
    const frozen = await ledger.readJsonIfPresent<{ keys: string[] }>(keysKey(ledger.layout));
    if (frozen !== undefined) return frozen.keys;
    const listed = await retryTransient(() => context.store.list(manifestRef.bucket, prefix), context.retry);
    // Folder markers and the manifest itself are not files to analyse.
    const keys = listed.map((object) => object.key).filter((key) => !key.endsWith('/') && key !== manifestRef.key);
    if (keys.length === 0) throw new ManifestError(`manifest s3://${manifestRef.bucket}/${manifestRef.key}: "prefix" ${JSON.stringify(prefix)} lists no objects`);
    await ledger.createJson(keysKey(ledger.layout), { prefix, keys });
    return (await ledger.readJsonIfPresent<{ keys: string[] }>(keysKey(ledger.layout)))?.keys ?? keys;
  }

  /** The run exists: the same manifest version is a redelivery to finish, another manifest claiming its id is refused. */
  private async existingRun(ledger: RunLedger, fresh: RunRecord): Promise<RunRecord> {
    const existing = await ledger.readRunRecord();
    const same = existing.manifest.bucket === fresh.manifest.bucket && existing.manifest.key === fresh.manifest.key && existing.manifest.etag === fresh.manifest.etag;
    if (!same) {
      throw new ManifestError(
        `manifest s3://${fresh.manifest.bucket}/${fresh.manifest.key}: "runId" ${fresh.runId} is already the run of s3://${existing.manifest.bucket}/${existing.manifest.key} (ETag ${existing.manifest.etag}): choose a new runId`,
      );
    }
    return existing;
  }
}
