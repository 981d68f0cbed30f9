import { createHash } from 'node:crypto';
import { PermanentError } from '../../../shared/errors';
import { S3_MAX_KEY_BYTES } from '../../../shared/naming/s3-limits';

/**
 * A fan-out manifest (`manifest.json`), validated before anything is dispatched:
 *
 * ```json
 * { "runId": "dawn-chorus-2026-12", "keys": ["audio/a.wav", "audio/b.wav"], "settings": { "MIN_FREQ_HZ": "500" } }
 * { "prefix": "audio/2026-12-01/" }
 * ```
 * - exactly one of `keys` (the objects, in the manifest's bucket) or `prefix` (every object under it);
 * - `runId` (optional): 1-64 of a-z, 0-9 and `-`. Without it the run is named after the manifest's version, so a
 *   redelivered manifest is the same run and never dispatched twice, and an overwritten one is a new run;
 * - `settings` (optional): variables passed to every family's batch, names in CAPITALS, values strings.
 */
export interface Manifest {
  readonly runId: string;
  readonly source: { readonly keys: readonly string[] } | { readonly prefix: string };
  readonly settings: Readonly<Record<string, string>>;
}

/** A manifest that can never be dispatched: the reason names the field. */
export class ManifestError extends PermanentError {
  override readonly name = 'ManifestError';
  readonly reason = 'invalid-manifest';
}

export const MAX_MANIFEST_KEYS = 1_000_000;
const MAX_SETTINGS = 50;
const MAX_SETTING_VALUE_BYTES = 1024;
const RUN_ID = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const SETTING_NAME = /^[A-Z_][A-Z0-9_]{0,63}$/;
/**
 * Settings become the programs' environment variables: names that change how a program or its loader runs (or would
 * shadow the worker's own) would let whoever writes a manifest run code in every family's task.
 */
const RESERVED_SETTING = /^(PATH|HOME|TMPDIR|SHELL|IFS|ENV|BASH_ENV|CDPATH|JAVA_TOOL_OPTIONS|LD_.*|DYLD_.*|NODE_.*|PYTHON.*|PERL.*|RUBY.*|AWS_.*|BLUEPRINT_.*|UV_.*|MALLOC_.*)$/;

/** Pure: the manifest's text and where it came from (bucket, key, ETag) in, a frozen Manifest out, or a ManifestError. */
export function parseManifest(text: string, origin: { readonly bucket: string; readonly key: string; readonly etag: string }): Manifest {
  const where = `manifest s3://${origin.bucket}/${origin.key}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(`${where} is not valid JSON (${(error as Error).message.split('\n')[0]})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ManifestError(`${where} must be a JSON object with "keys" or "prefix"`);
  const fields = parsed as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((name) => !['runId', 'keys', 'prefix', 'settings'].includes(name));
  if (unknown.length > 0) throw new ManifestError(`${where} has unknown field ${JSON.stringify(unknown[0]!.slice(0, 60))}: expected runId, keys or prefix, settings`);
  return Object.freeze({
    runId: readRunId(fields.runId, origin, where),
    source: readSource(fields, where),
    settings: readSettings(fields.settings, where),
  });
}

function readRunId(value: unknown, origin: { bucket: string; key: string; etag: string }, where: string): string {
  if (value === undefined) {
    // The manifest's version names its run: a redelivery maps to the same run, a new upload to a new one.
    return `run-${createHash('sha256').update(`${origin.bucket}\n${origin.key}\n${origin.etag}`).digest('hex').slice(0, 16)}`;
  }
  if (typeof value !== 'string' || !RUN_ID.test(value)) {
    throw new ManifestError(`${where}: "runId" must be 1 to 64 of a-z, 0-9 and -, not starting or ending with -; got ${JSON.stringify(value)?.slice(0, 80)}`);
  }
  return value;
}

function readSource(fields: Record<string, unknown>, where: string): Manifest['source'] {
  const { keys, prefix } = fields;
  if ((keys === undefined) === (prefix === undefined)) throw new ManifestError(`${where} must have exactly one of "keys" (a list of object keys) or "prefix"`);
  if (prefix !== undefined) {
    if (typeof prefix !== 'string' || prefix === '' || Buffer.byteLength(prefix) > S3_MAX_KEY_BYTES) {
      throw new ManifestError(`${where}: "prefix" must be a non-empty string of at most ${S3_MAX_KEY_BYTES} bytes`);
    }
    return Object.freeze({ prefix });
  }
  if (!Array.isArray(keys) || keys.length === 0) throw new ManifestError(`${where}: "keys" must be a non-empty list of object keys`);
  if (keys.length > MAX_MANIFEST_KEYS) throw new ManifestError(`${where}: "keys" lists ${keys.length} objects, more than ${MAX_MANIFEST_KEYS}: split it into several manifests`);
  const seen = new Set<string>();
  keys.forEach((key, index) => {
    if (typeof key !== 'string' || key === '' || key.endsWith('/')) throw new ManifestError(`${where}: "keys"[${index}] must be an object key (a non-empty string not ending in /)`);
    if (Buffer.byteLength(key) > S3_MAX_KEY_BYTES) throw new ManifestError(`${where}: "keys"[${index}] is longer than S3's ${S3_MAX_KEY_BYTES} bytes`);
    seen.add(key);
  });
  // The same file listed twice is one file: each family would otherwise analyse it, and the summary list it, twice.
  return Object.freeze({ keys: Object.freeze([...seen]) });
}

function readSettings(value: unknown, where: string): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ManifestError(`${where}: "settings" must be an object of NAME: "value" strings`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_SETTINGS) throw new ManifestError(`${where}: "settings" has ${entries.length} entries, more than ${MAX_SETTINGS}`);
  for (const [name, setting] of entries) {
    if (!SETTING_NAME.test(name)) throw new ManifestError(`${where}: "settings" name ${JSON.stringify(name).slice(0, 80)} must be CAPITALS, digits and _`);
    if (RESERVED_SETTING.test(name)) throw new ManifestError(`${where}: "settings" name ${name} is reserved (it would change how programs run): choose another name`);
    if (typeof setting !== 'string' || Buffer.byteLength(setting) > MAX_SETTING_VALUE_BYTES || hasControlCharacter(setting)) {
      throw new ManifestError(`${where}: "settings"."${name}" must be a string of at most ${MAX_SETTING_VALUE_BYTES} bytes, without control characters`);
    }
  }
  return Object.freeze(Object.fromEntries(entries) as Record<string, string>);
}

/** A NUL makes spawn throw, and a newline or escape in a variable is never a setting's meaning. */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
