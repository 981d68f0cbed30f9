import type { MessageOutcome, MessageHandlerDeps } from '../../../app/src/worker/handle-message';
import { handleMessage } from '../../../app/src/worker/handle-message';
import { WorkerStats } from '../../../app/src/metrics/worker-stats';
import { MemoryStore } from '../../../app/test/fakes/memory-store';
import { buildS3Event } from '../../../shared/events/s3-event-shape';
import { MemoryLog } from '../../../shared/log/logger';
import { MATRIX_SOURCE_BUCKET, type MatrixCase } from '../src/bad-input-matrix';

/** What a job brings to a matrix case: the job and its settings; the store, log, stats and retries are the case's. */
export type MatrixJob = Omit<MessageHandlerDeps, 'store' | 'log' | 'stats' | 'retry'>;

/**
 * One bad-input case through the real message handler, in process: its objects stored, its messages delivered as the
 * case says (an event, a raw body, the object deleted first, or a newer version whose event arrives first), each
 * handled once with no retries.
 */
export async function runMatrixCase(matrixCase: MatrixCase, job: MatrixJob) {
  const store = new MemoryStore();
  const uploaded: { key: string; etag: string; size: number }[] = [];
  for (const object of matrixCase.objects) {
    const bytes = await object.bytes();
    uploaded.push({ key: object.key, etag: store.add(MATRIX_SOURCE_BUCKET, object.key, bytes), size: bytes.length });
  }
  const delivery = matrixCase.delivery;
  const eventOf = (objects: typeof uploaded) => buildS3Event(objects.map((object) => ({ bucket: MATRIX_SOURCE_BUCKET, ...object })));
  const bodies = delivery.kind === 'raw-body' ? [delivery.body(uploaded)] : [eventOf(uploaded)];
  if (delivery.kind === 'deleted-before-processing') for (const object of uploaded) store.objects.delete(`${MATRIX_SOURCE_BUCKET}/${object.key}`);
  let newest: Buffer | undefined;
  if (delivery.kind === 'overwrite-race') {
    // The newer version is written, and its event arrives before the older version's.
    newest = await delivery.newer();
    const newerObject = { key: uploaded[0]!.key, etag: store.add(MATRIX_SOURCE_BUCKET, uploaded[0]!.key, newest), size: newest.length };
    bodies.unshift(eventOf([newerObject]));
    uploaded[0] = newerObject;
  }
  const log = new MemoryLog();
  const outcomes: MessageOutcome[] = [];
  for (const [n, body] of bodies.entries()) {
    outcomes.push(await handleMessage(
      { messageId: `m-${n}`, receiptHandle: `r-${n}`, body, receiveCount: 1, attributes: {} },
      { ...job, store, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => undefined }, log, stats: new WorkerStats() },
    ));
  }
  return { failures: outcomes.flatMap((outcome) => outcome.failures), outputs: store.keys('destination'), log, uploaded, store, newest };
}
