import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import type { LocalQueue } from '../../../shared/queue/local-queue';
import { describeDeadLetters } from '../dead-letter-report';
import { PeriodicPass } from '../periodic-pass';
import type { ListedObject } from '../output-mirror';
import { startDashboardServer } from './dashboard-server';
import { imageTypeOf } from './dashboard-security';
import { DashboardState, decisionFrom, newestOutputs, processingTimeFrom, type DashboardSnapshot, type PipelineTick } from './dashboard-state';
import { LineTail } from './line-tail';

export interface PipelineDashboardOptions {
  readonly port: number;
  readonly job: string;
  readonly dataDir: string;
  /** Every queue of the run (the job's and its companions'): their dead letters are listed and redriven together. */
  readonly queues: readonly LocalQueue[];
  readonly s3: S3Client;
  readonly outputsBucket: string;
  /** Outputs written beside their inputs share the bucket with them: only outputs are listed and served. */
  readonly isOutput: (key: string) => boolean;
  readonly listObjects: (s3: S3Client, bucket: string) => Promise<ListedObject[]>;
}

export interface PipelineDashboard {
  readonly url: string;
  readonly fellBack: boolean;
  /** The pipeline loop's numbers, every tick. */
  tick(tick: PipelineTick): void;
  close(): Promise<void>;
}

const DEAD_LETTERS_SHOWN = 50;
const OUTPUTS_SHOWN = 12;
/** Listing the bucket is the costly read: at most this often, and only while a page is asking. */
const OUTPUT_LISTING_MS = 2000;
const LOG_READ_MS = 1000;

/**
 * The dashboard of one local run: the pipeline feeds it each tick; the scaler's decisions and the workers' processing
 * times come from the files the run already writes (decisions.jsonl, logs/), read as they grow.
 */
export async function startPipelineDashboard(options: PipelineDashboardOptions): Promise<PipelineDashboard> {
  const state = new DashboardState({ job: options.job });
  const [decisionsTail, logsTail] = await Promise.all([LineTail.ofFile(join(options.dataDir, 'decisions.jsonl')), LineTail.ofLogDirectory(join(options.dataDir, 'logs'))]);
  // A log that cannot be read leaves a chart short, never the run stopped.
  const logReading = new PeriodicPass(async () => {
    const [decisionLines, logLines] = await Promise.all([decisionsTail.readNewLines(), logsTail.readNewLines()]);
    state.addDecisions(decisionLines.map(decisionFrom).filter((decision) => decision !== undefined));
    state.addLatencies(logLines.map(processingTimeFrom).filter((duration) => duration !== undefined));
  }, LOG_READ_MS, () => undefined);

  let listing: { at: number; objects: Promise<ListedObject[]> } | undefined;
  const outputs = () => {
    if (listing === undefined || Date.now() - listing.at >= OUTPUT_LISTING_MS) {
      const objects = options.listObjects(options.s3, options.outputsBucket).then((all) => all.filter((object) => options.isOutput(object.key)));
      listing = { at: Date.now(), objects };
      // A failed listing is tried again on the next request, not cached.
      objects.catch(() => {
        if (listing?.objects === objects) listing = undefined;
      });
    }
    return listing.objects;
  };

  const server = await startDashboardServer({
    async snapshot(): Promise<DashboardSnapshot> {
      const letters = [];
      for (const queue of options.queues) {
        if (letters.length >= DEAD_LETTERS_SHOWN) break;
        letters.push(...(await queue.peekDeadLetters(DEAD_LETTERS_SHOWN - letters.length)));
      }
      const base = state.snapshot();
      return {
        ...base,
        deadLetters: { lines: describeDeadLetters(letters).map(({ key, reason, why }) => ({ key, reason, why })), more: Math.max(0, base.now.deadLettered - letters.length) },
        outputs: newestOutputs(await outputs(), OUTPUTS_SHOWN, (key) => imageTypeOf(key) !== undefined),
      };
    },
    async redrive(): Promise<number> {
      let moved = 0;
      for (const queue of options.queues) moved += await queue.redriveDeadLetters();
      return moved;
    },
    async readOutput(key: string): Promise<Readable | undefined> {
      if (!options.isOutput(key)) return undefined;
      try {
        const object = await options.s3.send(new GetObjectCommand({ Bucket: options.outputsBucket, Key: key }));
        return object.Body as Readable | undefined;
      } catch (error) {
        if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
        throw error;
      }
    },
  }, { port: options.port });

  return {
    url: server.url,
    fellBack: server.fellBack,
    tick(tick) {
      state.record(tick);
      logReading.poke();
    },
    async close() {
      await logReading.idle();
      await server.close();
    },
  };
}
