import { S3LimitError } from '../errors';

/** S3's own limits, checked before any work so a request S3 would refuse is never built (and never retried). */
export const S3_MAX_KEY_BYTES = 1024;
/** User metadata: the UTF-8 bytes of every name (without `x-amz-meta-`) and value, summed. */
export const S3_MAX_USER_METADATA_BYTES = 2048;

export function keyBytes(key: string): number {
  return Buffer.byteLength(key, 'utf8');
}

export function userMetadataBytes(metadata: Readonly<Record<string, string>>): number {
  return Object.entries(metadata).reduce((total, [name, value]) => total + Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8'), 0);
}

/** `what` names the key in the error (e.g. "output 224x224"), since the key itself may be the very long thing. */
export function assertKeyWithinLimit(key: string, what: string): void {
  const bytes = keyBytes(key);
  if (bytes > S3_MAX_KEY_BYTES) {
    throw new S3LimitError('output-key-too-long', `${what} would have a ${bytes}-byte key; S3 keys are at most ${S3_MAX_KEY_BYTES} bytes of UTF-8 (shorten DEST_PREFIX or the source key)`);
  }
}

export function assertMetadataWithinLimit(metadata: Readonly<Record<string, string>>, what: string): void {
  const bytes = userMetadataBytes(metadata);
  if (bytes > S3_MAX_USER_METADATA_BYTES) {
    throw new S3LimitError('metadata-too-large', `${what} would carry ${bytes} bytes of user metadata; S3 allows at most ${S3_MAX_USER_METADATA_BYTES}`);
  }
}
