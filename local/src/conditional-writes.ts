import type { IncomingHttpHeaders } from 'node:http';

/**
 * S3 conditional writes for the strict local front: which requests carry a precondition, what S3 answers when it does
 * not hold, and a per-key lock that makes the front's check-then-write atomic. s3rver ignores `If-None-Match` and
 * `If-Match` on writes, so the front reads the key's current state itself (a HEAD to the server) and answers as S3
 * does before the write reaches the server:
 * - PutObject and CopyObject (PUT) and CompleteMultipartUpload (POST ?uploadId) with `If-None-Match: *`: 412
 *   PreconditionFailed when the key exists. Any other `If-None-Match` value: 501 NotImplemented, as S3 answers.
 * - the same with `If-Match: <etag>` (quoted or not, `*` for any): 404 NoSuchKey when the key is missing, 412 when
 *   its ETag differs. Both headers at once: 501 NotImplemented.
 * - DeleteObject with `If-Match`: 404 NoSuchKey when missing, 412 when the ETag differs.
 * The caller's permissions are checked before any precondition: a caller S3 would refuse gets its 403 first.
 *
 * Conditional reads: GetObject and HeadObject with `If-Match` (412 when the object's ETag differs) and `If-None-Match`
 * (304 Not Modified when it matches). s3rver ignores If-Match and compares If-None-Match only as the exact quoted
 * string, so the front evaluates both against the ETag of the very response the server sends (no lock, no HEAD: the
 * version checked is the version whose bytes would be served, as S3 guarantees). A missing key is the server's 404.
 *
 * Atomicity: every object write through a front (PUT, CompleteMultipartUpload, DELETE, conditional or not) holds a
 * lock on (server, bucket, key) from before the check until the server has answered the write, so a conditional
 * write can interleave with no other write of the key, and of N concurrent `If-None-Match: *` writes exactly one
 * succeeds and the rest get 412. The lock lives in this module, so it holds across all fronts IN ONE PROCESS that
 * share the same server URL (the local pipeline starts all its fronts in one process). Writes from another process,
 * or straight to the server rather than through a front, are not serialised with them. S3's 409
 * ConditionalRequestConflict (a conflicting write during the upload) never happens here: writes of a key wait for
 * each other instead.
 */

/** Which kind of key write a request is: they take the key's lock; these accept preconditions. */
export type KeyWrite = 'put' | 'complete' | 'delete';

export type Preconditions =
  | { readonly kind: 'none' }
  | { readonly kind: 'if-none-match' }
  /** `etag` without quotes, or `*` for any current object. */
  | { readonly kind: 'if-match'; readonly etag: string }
  /** S3 answers 501 NotImplemented for the header. */
  | { readonly kind: 'not-implemented'; readonly header: 'If-None-Match'; readonly detail: string };

/** What the front answers itself when a precondition does not hold. */
export interface PreconditionAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly extra: Readonly<Record<string, string>>;
  readonly detail: string;
}

/** The current object of a key, as a HEAD sees it; `undefined` when the key is missing. */
export interface CurrentObject {
  readonly etag: string;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** An ETag as compared: surrounding whitespace and double quotes removed. */
export function normaliseEtag(etag: string): string {
  return etag.trim().replace(/^"(.*)"$/, '$1');
}

/** The preconditions a key write carries. Pure: headers in, a decision out. */
export function readPreconditions(write: KeyWrite, headers: IncomingHttpHeaders): Preconditions {
  const ifMatch = header(headers, 'if-match');
  const ifNoneMatch = header(headers, 'if-none-match');
  if (write === 'delete') {
    // DeleteObject takes If-Match only; If-None-Match is no precondition S3 evaluates on a delete.
    return ifMatch === undefined ? { kind: 'none' } : { kind: 'if-match', etag: normaliseEtag(ifMatch) };
  }
  if (ifNoneMatch !== undefined && ifMatch !== undefined) {
    return { kind: 'not-implemented', header: 'If-None-Match', detail: 'If-None-Match and If-Match together: S3 implements one precondition per write' };
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') {
      return { kind: 'not-implemented', header: 'If-None-Match', detail: `If-None-Match ${JSON.stringify(ifNoneMatch)}: S3 writes accept only *` };
    }
    return { kind: 'if-none-match' };
  }
  if (ifMatch !== undefined) return { kind: 'if-match', etag: normaliseEtag(ifMatch) };
  return { kind: 'none' };
}

/** S3's answer to a write whose precondition does not hold against the key's current object, or `undefined` to write. */
export function evaluatePreconditions(preconditions: Preconditions, key: string, current: CurrentObject | undefined): PreconditionAnswer | undefined {
  if (preconditions.kind === 'if-none-match') {
    if (current === undefined) return undefined;
    return preconditionFailed('If-None-Match', `If-None-Match: * and the key exists (ETag ${current.etag})`);
  }
  if (preconditions.kind === 'if-match') {
    if (current === undefined) {
      return { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.', extra: { Key: key }, detail: 'If-Match and the key is missing' };
    }
    if (preconditions.etag === '*' || preconditions.etag === normaliseEtag(current.etag)) return undefined;
    return preconditionFailed('If-Match', `If-Match ${preconditions.etag} and the key's ETag is ${normaliseEtag(current.etag)}`);
  }
  return undefined;
}

function preconditionFailed(condition: string, detail: string): PreconditionAnswer {
  return { status: 412, code: 'PreconditionFailed', message: 'At least one of the pre-conditions you specified did not hold', extra: { Condition: condition }, detail };
}

/** A GET's or HEAD's preconditions: each list holds the ETags named (normalised), or `*`. */
export interface ReadPreconditions {
  readonly ifMatch?: readonly string[];
  readonly ifNoneMatch?: readonly string[];
}

/** What the front answers instead of the object when a read's precondition decides. */
export type ReadPreconditionOutcome =
  | { readonly kind: 'precondition-failed'; readonly answer: PreconditionAnswer }
  | { readonly kind: 'not-modified' };

/** A read's preconditions, `undefined` when it carries none. HTTP allows a comma-separated list of ETags in either. */
export function readReadPreconditions(headers: IncomingHttpHeaders): ReadPreconditions | undefined {
  const ifMatch = header(headers, 'if-match');
  const ifNoneMatch = header(headers, 'if-none-match');
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  return {
    ...(ifMatch !== undefined ? { ifMatch: etagList(ifMatch) } : {}),
    ...(ifNoneMatch !== undefined ? { ifNoneMatch: etagList(ifNoneMatch).map((etag) => etag.replace(/^W\/"?(.*?)"?$/, '$1')) } : {}),
  };
}

/**
 * RFC 7232's order, which S3 follows: If-Match first (412 when no listed ETag is the object's; If-Match is a strong
 * comparison, so a weak `W/` tag never matches), then If-None-Match (304 when one is). `undefined`: serve the object.
 */
export function evaluateReadPreconditions(preconditions: ReadPreconditions, etag: string): ReadPreconditionOutcome | undefined {
  const current = normaliseEtag(etag);
  const names = (list: readonly string[]) => list.includes('*') || list.includes(current);
  if (preconditions.ifMatch !== undefined && !names(preconditions.ifMatch)) {
    return { kind: 'precondition-failed', answer: preconditionFailed('If-Match', `If-Match ${preconditions.ifMatch.join(', ')} and the object's ETag is ${current}`) };
  }
  if (preconditions.ifNoneMatch !== undefined && names(preconditions.ifNoneMatch)) return { kind: 'not-modified' };
  return undefined;
}

function etagList(value: string): string[] {
  return value.split(',').map(normaliseEtag).filter((etag) => etag !== '');
}

/** The lock's name for one key of one server: fronts naming the same server share it. */
export function keyLockName(upstream: string, bucket: string, key: string): string {
  return JSON.stringify([new URL(upstream).origin, bucket, key]);
}

/** Tails of the per-key queues: the promise the next holder waits for. An entry exists only while the key is held. */
const tails = new Map<string, Promise<void>>();

/**
 * Waits for the key's lock (first come, first served) and returns its release, which may be called more than once.
 * Module-level on purpose: every front in the process shares it.
 */
export async function lockKey(name: string): Promise<() => void> {
  const previous = tails.get(name) ?? Promise.resolve();
  let open!: () => void;
  const held = new Promise<void>((resolve) => (open = resolve));
  const tail = previous.then(() => held);
  tails.set(name, tail);
  await previous;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    open();
    if (tails.get(name) === tail) tails.delete(name);
  };
}

/** How many keys are locked or waited for now; for tests. */
export function lockedKeyCount(): number {
  return tails.size;
}
