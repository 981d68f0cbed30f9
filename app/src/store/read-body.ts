import { InputTooLargeError } from '../../../shared/errors';

/**
 * Reads a response body into a single buffer sized from its Content-Length: each byte is copied once. The SDK's
 * `transformToByteArray` keeps every chunk, concatenates them, and `Buffer.from` then copies the result again: three
 * copies of each 4 MB photo alive at once instead of one, for every message in flight. (Measured CPU is the same
 * within noise; the saving is memory.)
 */
export async function readBody(stream: AsyncIterable<Uint8Array>, declaredLength: number, maxBytes: number, what: string): Promise<Buffer> {
  let buffer = Buffer.allocUnsafe(Math.min(declaredLength, maxBytes));
  let length = 0;
  for await (const chunk of stream) {
    if (length + chunk.length > maxBytes) throw new InputTooLargeError(`${what} sent more than MAX_INPUT_BYTES (${maxBytes})`);
    // Only a server that sends more than it declared gets here; grow rather than lose bytes.
    if (length + chunk.length > buffer.length) buffer = Buffer.concat([buffer.subarray(0, length)], Math.min(maxBytes, 2 * (length + chunk.length)));
    buffer.set(chunk, length);
    length += chunk.length;
  }
  return buffer.subarray(0, length);
}
