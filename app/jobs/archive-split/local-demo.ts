import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JobDemo } from '../../src/job/job-demo';
import { LocalQueue } from '../../../shared/queue/local-queue';
import { callbackMarkerPrefix } from './callback-marker';
import { DEMO_EXPORTS, writeDemoExports } from './demo-export';

const ARCHIVE_PREFIX = 'archives/';
const OUTPUT_PREFIX = 'batch/';
const UPDATES_QUEUE = 'archive-updates';
/** Small enough that the demo's exports make several batch ZIPs each (2000, the default, would make three in all). */
const DEMO_BATCH_SIZE = '500';

/**
 * `npm start -- --job archive-split`: two citizen-science exports (a ZIP of 4,500 photos whose manifest needs CSV
 * quoting and names a few missing photos and one path outside the export; a TAR.GZ of 900 in shuffled order) and two
 * uploads that are no export, each split into batch ZIPs next to it, with every callback printed at the end.
 */
export const archiveSplitDemo: JobDemo = {
  job: 'archive-split',
  noun: 'exports',
  defaultSettings: ({ sourceBucket, queueFile }) => ({
    SOURCE_PREFIX: ARCHIVE_PREFIX,
    ARCHIVE_PREFIX,
    OUTPUT_PREFIX,
    BATCH_SIZE: DEMO_BATCH_SIZE,
    ALLOWED_BUCKETS: sourceBucket,
    CALLBACK_QUEUE_URL: queueFile(UPDATES_QUEUE),
    ALLOWED_CALLBACK_QUEUES: queueFile(UPDATES_QUEUE),
    MESSAGE_DEADLINE_SECONDS: '3600',
  }),
  settingNames: ['BATCH_SIZE', 'MANIFEST_NAME', 'IMAGE_COLUMN', 'MAX_MANIFEST_BYTES'],
  sourceSuffixes: ['.zip', '.tar.gz', '.tgz'],
  role: { kind: 'archive-split', outputPrefix: OUTPUT_PREFIX },
  outputsIn: 'source',
  callbackQueues: [UPDATES_QUEUE],
  async writeDemoSet(dir) {
    return writeDemoExports(join(dir, ARCHIVE_PREFIX));
  },
  // Done means answered: the success callback's marker is there (a failure's is too, but its message is in the DLQ).
  expectedOutputs: (settings) => (relativeKey) => {
    const file = relativeKey.slice(relativeKey.lastIndexOf('/') + 1);
    const stem = file.replace(/(\.tar\.gz|\.tgz|\.zip)$/i, '');
    if (stem === file) return { ignored: true };
    return { prefix: callbackMarkerPrefix(settings.OUTPUT_PREFIX ?? OUTPUT_PREFIX, stem, 'success') };
  },
  async closingLines({ queueFile, outputsDir }) {
    const lines: string[] = [];
    const queue = LocalQueue.open(queueFile(UPDATES_QUEUE));
    try {
      // Read as the requester would, and removed: a rerun prints only its own callbacks.
      for (let batch = await queue.receive({ maxMessages: 10, waitSeconds: 0 }); batch.length > 0; batch = await queue.receive({ maxMessages: 10, waitSeconds: 0 })) {
        for (const message of batch) lines.push(describeCallback(message.body));
        await queue.deleteMessages(batch.map((message) => message.receiptHandle));
      }
    } finally {
      await queue.close();
    }
    if (lines.length === 0) lines.push('callbacks: none this run (an earlier run answered every export: its batch ZIPs and markers are kept)');
    else lines.unshift(`callbacks on the updates queue (${queueFile(UPDATES_QUEUE)}):`);
    lines.push(checkBatchZips(join(outputsDir, OUTPUT_PREFIX)));
    return lines;
  },
};

function describeCallback(body: string): string {
  try {
    const callback = JSON.parse(body) as { downloadId: string; status: string; batchFileCount?: number; rows: number; images: number; problemsByKind?: Record<string, number>; reason?: string };
    if (callback.status !== 'success') return `  ${callback.downloadId}: failure: ${callback.reason ?? 'no reason given'}`;
    const problems = Object.entries(callback.problemsByKind ?? {}).filter(([, count]) => count > 0).map(([kind, count]) => `${count} ${kind}`);
    const expected = DEMO_EXPORTS.find((item) => callback.downloadId.endsWith(item.key));
    return `  ${callback.downloadId}: success: ${callback.batchFileCount ?? 0} batch ZIPs, ${callback.rows} rows${expected !== undefined ? ` (of ${expected.rows})` : ''}, ${callback.images} images` +
      `${problems.length > 0 ? `; problems: ${problems.join(', ')} (each batch's problems.csv lists them)` : ''}`;
  } catch {
    return `  a callback that is not JSON (${Buffer.byteLength(body)} bytes)`;
  }
}

/** `unzip -t` over every batch ZIP mirrored as a plain file: what a newcomer would run to trust them. */
function checkBatchZips(dir: string): string {
  if (!existsSync(dir)) return 'batch ZIPs: none yet';
  const zips = readdirSync(dir).filter((name) => name.endsWith('.zip'));
  const failed: string[] = [];
  for (const name of zips) {
    try {
      execFileSync('unzip', ['-tqq', join(dir, name)], { stdio: 'ignore' });
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return `batch ZIPs: ${zips.length} in ${dir} (install unzip to test them)`;
      failed.push(name);
    }
  }
  return failed.length === 0
    ? `batch ZIPs: ${zips.length} in ${dir}, every one passes unzip -t`
    : `batch ZIPs: ${failed.length} of ${zips.length} in ${dir} FAIL unzip -t: ${failed.join(', ')}`;
}
