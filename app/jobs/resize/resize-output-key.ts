import { relativeSourceKey } from '../../../shared/naming/output-metadata';
import type { OutputFormat } from './resize-config';

/** Each FORMAT's file extension and content type. */
export const OUTPUT_FORMATS: Readonly<Record<OutputFormat, { readonly extension: string; readonly contentType: string }>> = {
  jpeg: { extension: '.jpg', contentType: 'image/jpeg' },
  webp: { extension: '.webp', contentType: 'image/webp' },
  png: { extension: '.png', contentType: 'image/png' },
};

/**
 * `<size>/<source key minus SOURCE_PREFIX>` with the extension swapped: a resize output's name under DEST_PREFIX.
 * The source's folders are kept so `a/x.jpg` and `b/x.jpg` never collide.
 */
export function resizeOutputName(relativeKey: string, sizeName: string, extension: string): string {
  return `${sizeName}/${replaceExtension(relativeKey, extension)}`;
}

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

/** The full key of one resize output, as the worker writes it (DEST_PREFIX + the output's name). */
export function outputKey(input: OutputKeyInput): string {
  return `${input.destPrefix}${resizeOutputName(relativeSourceKey(input.sourceKey, input.sourcePrefix), input.outputName, input.extension)}`;
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
