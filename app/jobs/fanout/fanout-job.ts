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
import { ManifestError, MAX_MANIFEST_KEYS, parseManifest, type Manifest } from './manifest';

/** Batch lists written at once: each is one small PUT. */
const WRITES_AT_ONCE = 16;
/** SQS's SendMessageBatch limit. */
const SEND_BATCH = 10;

/** A prefix manifest's listing as the run froze it, with the manifest version that froze it. */
interface FrozenListing {
  readonly manifest?: { readonly bucket: string; readonly key: string; readonly etag: string };
  readonly prefix: string;
  readonly keys: string[];
}

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
    const keys = await this.keysOf(manifest, manifestRef, stored.etag, ledger, context);
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
    // Ten at a time, each ten retried on its own: a throttle late in a large dispatch resends ten, not thousands.
    await Promise.all(families.map(async (family) => {
      const bodies = runBatches.map((batch) => batchMessageBody(home, family.name, batch.index));
      for (let start = 0; start < bodies.length; start += SEND_BATCH) {
        const chunk = bodies.slice(start, start + SEND_BATCH);
        await retryTransient(() => context.sender.sendAll(family.queueUrl, chunk), retry);
      }
    }));
    const messages = runBatches.length * families.length;
    await ledger.markDispatched(messages);
    log.info('dispatched', { runId: run.runId, manifest: object.key, files: keys.length, batches: runBatches.length, families: run.families.join(','), messages });
  }

  /**
   * A keys manifest names its files; a prefix manifest's listing is frozen in the run the first time (created once),
   * so a redelivery after more uploads batches exactly the files the first attempt did.
   */
  private async keysOf(manifest: Manifest, manifestRef: { bucket: string; key: string }, manifestEtag: string, ledger: RunLedger, context: MessageJobContext): Promise<readonly string[]> {
    if ('keys' in manifest.source) return manifest.source.keys;
    const prefix = manifest.source.prefix;
    const frozenListing = async () => {
      const frozen = await ledger.readJsonIfPresent<FrozenListing>(keysKey(ledger.layout));
      // Another manifest claiming the same run id may have frozen its own listing first: never batch its files.
      if (frozen !== undefined && (frozen.manifest?.bucket !== manifestRef.bucket || frozen.manifest.key !== manifestRef.key || frozen.manifest.etag !== manifestEtag)) {
        throw new ManifestError(`manifest s3://${manifestRef.bucket}/${manifestRef.key}: "runId" ${ledger.layout.runId} is already the run of s3://${frozen.manifest?.bucket ?? '?'}/${frozen.manifest?.key ?? '?'}: choose a new runId`);
      }
      return frozen?.keys;
    };
    const frozen = await frozenListing();
    if (frozen !== undefined) return frozen;
    const listed = await retryTransient(() => context.store.list(manifestRef.bucket, prefix), context.retry);
    // Folder markers and the manifest itself are not files to analyse.
    const keys = listed.map((object) => object.key).filter((key) => !key.endsWith('/') && key !== manifestRef.key);
    const where = `manifest s3://${manifestRef.bucket}/${manifestRef.key}: "prefix" ${JSON.stringify(prefix)}`;
    if (keys.length === 0) throw new ManifestError(`${where} lists no objects`);
    if (keys.length > MAX_MANIFEST_KEYS) throw new ManifestError(`${where} lists ${keys.length} objects, more than ${MAX_MANIFEST_KEYS}: split it into several manifests`);
    await ledger.createJson(keysKey(ledger.layout), { manifest: { ...manifestRef, etag: manifestEtag }, prefix, keys } satisfies FrozenListing);
    return (await frozenListing()) ?? keys;
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
