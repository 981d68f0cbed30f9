/** Output metadata keys (x-amz-meta-*): where an output came from, so a redelivery can tell it is already done. */
export const OUTPUT_METADATA = {
  sourceBucket: 'source-bucket',
  /** URL-encoded: S3 user metadata must be ASCII and keys may not be. */
  sourceKey: 'source-key',
  sourceEtag: 'source-etag',
} as const;

export interface OutputKeyInput {
  /** '' or ending in '/'. */
  readonly destPrefix: string;
  /** '' or ending in '/'; removed from the front of the source key when present. */
  readonly sourcePrefix: string;
  readonly sourceKey: string;
  /** A path segment such as `224x224`. */
  readonly outputName: string;
  /** With the dot, e.g. `.jpg`. */
  readonly extension: string;
}

/**
 * `DEST_PREFIX/<output name>/<source key minus SOURCE_PREFIX>` with the extension swapped. The source's folders are
 * kept so `a/x.jpg` and `b/x.jpg` never collide.
 */
export function outputKey(input: OutputKeyInput): string {
  const relative =
    input.sourcePrefix !== '' && input.sourceKey.startsWith(input.sourcePrefix)
      ? input.sourceKey.slice(input.sourcePrefix.length)
      : input.sourceKey;
  return `${input.destPrefix}${input.outputName}/${replaceExtension(relative, input.extension)}`;
}

/** Only the file name's extension changes: dots in folder names and a leading dot (dotfiles) are not extensions. */
function replaceExtension(key: string, extension: string): string {
  const slash = key.lastIndexOf('/');
  const folder = key.slice(0, slash + 1);
  const name = key.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  return `${folder}${stem === '' ? '_' : stem}${extension}`;
}
