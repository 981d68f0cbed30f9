/**
 * What the dashboard's server lets through, decided in one place. The server binds 127.0.0.1, yet any web page the
 * same browser opens can still aim requests at it: a rebound DNS name carries a foreign Host header, a cross-site form
 * or fetch carries a foreign Origin, and an output served with the wrong type could run as script. Pure.
 */

/** Every response: no sniffing, no framing, no referrer, nothing loaded from anywhere but this server. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** The names this server answers to: a DNS-rebinding page reaches it under its own name, which is refused. */
export function isAllowedHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

/**
 * Why a state-changing request is refused, or undefined when it may go ahead: it must come from this page (its Origin)
 * and carry a JSON body, which a plain cross-site form cannot send and a cross-site fetch cannot send without a
 * preflight this server never grants.
 */
export function refusedWrite(headers: { origin?: string; contentType?: string }, port: number): string | undefined {
  if (headers.origin !== `http://127.0.0.1:${port}` && headers.origin !== `http://localhost:${port}`) return 'the Origin header must be this dashboard\'s own';
  const mediaType = headers.contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') return 'the body must be application/json';
  return undefined;
}

const MAX_KEY_BYTES = 1024;

/** Why a requested output key is refused, or undefined for a key S3 could hold that names no folder or parent. */
export function outputKeyProblem(key: string): string | undefined {
  if (key === '') return 'the key is missing';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `the key is longer than ${MAX_KEY_BYTES} bytes`;
  if ([...key].some((char) => char.codePointAt(0)! < 0x20 || char.codePointAt(0) === 0x7f)) return 'the key holds a control character';
  if (key.startsWith('/') || key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) return 'the key has an empty, "." or ".." segment';
  return undefined;
}

/** Raster formats a browser shows as an image and never runs: SVG is left out on purpose (it can carry script). */
const IMAGE_TYPES: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', avif: 'image/avif',
};

export function imageTypeOf(key: string): string | undefined {
  const extension = /\.([A-Za-z0-9]+)$/.exec(key)?.[1]?.toLowerCase();
  return extension === undefined ? undefined : IMAGE_TYPES[extension];
}

/** An image is shown inline with its own type; anything else is a download the browser never renders. */
export function outputHeaders(key: string): Record<string, string> {
  const imageType = imageTypeOf(key);
  if (imageType !== undefined) return { 'Content-Type': imageType };
  const name = key.split('/').pop() ?? 'output';
  const asciiName = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return { 'Content-Type': 'application/octet-stream', 'Content-Disposition': `attachment; filename="${asciiName}"; filename*=UTF-8''${encodeRFC5987(name)}` };
}

function encodeRFC5987(text: string): string {
  return encodeURIComponent(text).replace(/['()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}
