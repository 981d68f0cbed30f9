/**
 * Paths inside an archive (entry names, and the image values that point at them) are untrusted: a name is only ever
 * used after `unsafePathReason` has found nothing wrong with it, so no output can land outside where it belongs.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_GLOBAL = /[\u0000-\u001f\u007f-\u009f]/g;

export const MAX_PATH_BYTES = 4096;
export const MAX_SEGMENT_BYTES = 255;

/** Why a path must not be used, or undefined when it is safe (relative, without `..`, printable, `/`-separated). */
export function unsafePathReason(path: string): string | undefined {
  if (path === '') return 'empty path';
  if (path.startsWith('/') || path.startsWith('\\')) return 'absolute path';
  if (/^[A-Za-z]:/.test(path)) return 'drive-letter path';
  if (path.includes('\u0000')) return 'NUL character';
  if (CONTROL.test(path)) return 'control character';
  // Windows tools treat `\` as a separator: `a\..\..\x` is a traversal there even though it is one name here.
  if (path.includes('\\')) return 'backslash';
  if (path.includes('..') && path.split('/').includes('..')) return '".." segment';
  // Past these no file system can hold the name (Linux: 4096 per path, 255 per name), unzip cuts it, and a ZIP entry
  // name cannot pass 65,535 bytes at all.
  // (A UTF-16 unit is at most 3 bytes of UTF-8: shorter strings need no counting, and almost every path is one.)
  if (path.length > MAX_PATH_BYTES / 3 && Buffer.byteLength(path) > MAX_PATH_BYTES) return `longer than ${MAX_PATH_BYTES} bytes`;
  if (path.length > MAX_SEGMENT_BYTES / 3 && path.split('/').some((segment) => Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)) return `a name longer than ${MAX_SEGMENT_BYTES} bytes`;
  return undefined;
}

/**
 * The canonical form of a safe path, the one two spellings of the same file share: `./` segments and repeated or
 * trailing `/` removed (`./a//b/` is `a/b`). The archive's root itself is ''.
 */
export function normaliseEntryPath(path: string): string {
  // Most paths are canonical already: returned as they are, without building segments (an archive has 100,000s).
  const canonical = !path.startsWith('/') && !path.endsWith('/') && !path.includes('//') && !path.startsWith('./') && !path.includes('/./') && !path.endsWith('/.') && path !== '.';
  if (canonical) return path;
  return path.split('/').filter((segment) => segment !== '' && segment !== '.').join('/');
}

/** A path fit for a log, a CSV cell or a JSON body: control characters shown as `\uXXXX` instead of acting. */
export function printablePath(path: string): string {
  return path.replace(CONTROL_GLOBAL, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
