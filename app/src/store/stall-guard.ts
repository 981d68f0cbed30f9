import { TransientError } from '../../../shared/errors';

/**
 * The SDK's request timeout ends once the response headers arrive: a body that stops mid-stream would otherwise hold
 * its message until MESSAGE_DEADLINE_SECONDS. A minute without a byte is a dead connection, not a slow one.
 */
export const BODY_STALL_MS = 60_000;

/** Yields the stream's chunks; throws a transient `stalled` error, and destroys the stream, after `ms` without one. */
export async function* withStallTimeout(stream: AsyncIterable<Uint8Array>, what: string, ms: number = BODY_STALL_MS): AsyncGenerator<Uint8Array> {
  const iterator = stream[Symbol.asyncIterator]();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new TransientError('stalled', `${what} sent nothing for ${Math.round(ms / 1000)} s mid-body`)), ms);
    });
    let next: IteratorResult<Uint8Array>;
    try {
      next = await Promise.race([iterator.next(), stalled]);
    } catch (error) {
      (stream as { destroy?: (error?: Error) => void }).destroy?.();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (next.done === true) return;
    yield next.value;
  }
}
