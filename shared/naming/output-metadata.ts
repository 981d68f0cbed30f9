import { S3_MAX_USER_METADATA_BYTES, userMetadataBytes } from './s3-limits';

/** Output metadata keys (x-amz-meta-*): where an output came from, so a redelivery can tell it is already done. */
export const OUTPUT_METADATA = {
  sourceBucket: 'source-bucket',
  /** URL-encoded: S3 user metadata must be ASCII and keys may not be. */
  sourceKey: 'source-key',
  /**
   * Instead of `source-key` when the URL-encoded key would not fit S3's 2 KB of metadata: a legal 1024-byte key of
   * CJK characters is 3,072 bytes URL-encoded but at most 1,366 in base64url, so every legal key fits.
   */
  sourceKeyBase64: 'source-key-base64url',
  sourceEtag: 'source-etag',
} as const;

export interface OutputSource {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
}

/** The metadata every output carries; always within S3's limit for any legal bucket name, key and ETag. */
export function outputMetadata(source: OutputSource): Record<string, string> {
  const readable = {
    [OUTPUT_METADATA.sourceBucket]: source.bucket,
    [OUTPUT_METADATA.sourceKey]: encodeURIComponent(source.key),
    [OUTPUT_METADATA.sourceEtag]: source.etag,
  };
  if (userMetadataBytes(readable) <= S3_MAX_USER_METADATA_BYTES) return readable;
  return {
    [OUTPUT_METADATA.sourceBucket]: source.bucket,
    [OUTPUT_METADATA.sourceKeyBase64]: Buffer.from(source.key, 'utf8').toString('base64url'),
    [OUTPUT_METADATA.sourceEtag]: source.etag,
  };
}

/** The source key an output names in its metadata, whichever form it was stored in. */
export function sourceKeyOf(metadata: Readonly<Record<string, string>>): string | undefined {
  const encoded = metadata[OUTPUT_METADATA.sourceKey];
  if (encoded !== undefined) return decodeURIComponent(encoded);
  const base64 = metadata[OUTPUT_METADATA.sourceKeyBase64];
  return base64 === undefined ? undefined : Buffer.from(base64, 'base64url').toString('utf8');
}

/** The source key minus SOURCE_PREFIX (when it starts with it): what every job names its outputs after. */
export function relativeSourceKey(sourceKey: string, sourcePrefix: string): string {
  return sourcePrefix !== '' && sourceKey.startsWith(sourcePrefix) ? sourceKey.slice(sourcePrefix.length) : sourceKey;
}
