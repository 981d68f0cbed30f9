import { randomBytes } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  evaluatePreconditions, evaluateReadPreconditions, keyLockName, lockKey, readPreconditions, readReadPreconditions, type CurrentObject, type KeyWrite, type Preconditions,
  type ReadPreconditions,
} from './conditional-writes';
import { assertSupportedPolicy, evaluate, type IamStatement, type RequestContext } from './iam-policy-evaluator';
import { listenOnLoopback } from './loopback-server';
import { LOCAL_CREDENTIALS } from './s3-server';

/**
 * An HTTP front on 127.0.0.1 for an S3-protocol server (s3rver) that answers as S3 does where s3rver is more lenient,
 * acting as ONE IAM role whose identity policy it is given:
 * - every request is mapped to its S3 action and resource ARN and refused with 403 AccessDenied unless the policy
 *   allows it; requests it cannot map are refused too;
 * - a GET or HEAD of a missing key answers 403 AccessDenied, not 404 NoSuchKey, when the role may not
 *   s3:ListBucket the bucket with `s3:prefix` = the key;
 * - a key over 1024 bytes of UTF-8 is refused with 400 KeyTooLongError, user metadata over 2048 bytes (names without
 *   `x-amz-meta-` plus values) with 400 MetadataTooLarge, before anything reaches the server;
 * - conditional writes (`If-None-Match: *`, `If-Match: <etag>` on PutObject, CopyObject, CompleteMultipartUpload and
 *   `If-Match` on DeleteObject), which s3rver ignores, are evaluated by the front under a per-key lock shared by all
 *   fronts of the process on the same server: see conditional-writes.ts;
 * - conditional reads (`If-Match`, and `If-None-Match` compared as S3 does) on GetObject and HeadObject, which s3rver
 *   ignores or compares too narrowly, are evaluated against the ETag of the server's answer: 412 PreconditionFailed,
 *   or 304 Not Modified, instead of the object.
 * Bodies stream both ways; the path, query and headers (Host included, so SigV4 signatures still verify upstream) are
 * forwarded unchanged. Path-style addressing only, as the local endpoints use.
 */

// Written down here again, not imported from shared/naming/s3-limits.ts: the front stands in for S3 and
// checks the worker, so a wrong limit in the worker must not become the front's too.
export const S3_MAX_KEY_BYTES = 1024;
export const S3_MAX_USER_METADATA_BYTES = 2048;

export interface StrictS3FrontOptions {
  /** The S3-protocol server, e.g. `http://127.0.0.1:4568`. */
  readonly upstream: string;
  /** The role's identity policy; refused at start when it uses what the evaluator cannot read. */
  readonly statements: readonly IamStatement[];
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /**
   * Told of every refusal the front gives itself instead of the server's answer (403, 400, 501), e.g. to log policy
   * gaps. Not of a write's failed precondition (412, or 404 for If-Match on a missing key): that is S3's ordinary
   * answer, which the front gives only because s3rver ignores the headers.
   */
  readonly onRefused?: (refusal: Refusal) => void;
  /** What the front signs its own HEADs to the server with (conditional writes); s3rver's local pair by default. */
  readonly upstreamCredentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export interface StrictS3Front {
  /** `http://127.0.0.1:<port>`: the endpoint to give the role's clients. */
  readonly endpoint: string;
  close(): Promise<void>;
}

export interface Refusal {
  readonly method: string;
  readonly bucket?: string;
  readonly key?: string;
  readonly status: number;
  readonly code: string;
  /** Why, e.g. `s3:PutObject on arn:aws:s3:::b/k: no statement allows it`. */
  readonly detail: string;
}

/** One permission a request needs: all of a request's checks must pass. */
export interface PermissionCheck {
  readonly action: string;
  readonly resource: string;
  readonly context: RequestContext;
}

export type MappedRequest =
  | { readonly kind: 'invalid-uri' }
  | { readonly kind: 'unmapped'; readonly bucket?: string; readonly key?: string; readonly operation: string }
  | {
      readonly kind: 'mapped';
      readonly bucket?: string;
      /** Set for object requests. */
      readonly key?: string;
      readonly checks: readonly PermissionCheck[];
      /** A plain GET or HEAD of an object: a 404 from the server becomes 403 without s3:ListBucket. */
      readonly missingKeyIs403: boolean;
      /** The request sets user metadata (PUT, CreateMultipartUpload, copy with REPLACE): the 2 KB limit applies. */
      readonly setsMetadata: boolean;
      /** Set for writes of the key itself (PutObject, CopyObject, CompleteMultipartUpload, DeleteObject). */
      readonly keyWrite?: KeyWrite;
      /** Set for GetObject and HeadObject (ranged or not): they take read preconditions. */
      readonly keyRead?: true;
    };

/** Query parameters that never change which operation a request is (SDK hints, presigning, listing options). */
const NEUTRAL_PARAMETERS = new Set(['x-id']);
const LISTING_PARAMETERS = new Set([
  'prefix', 'delimiter', 'marker', 'max-keys', 'encoding-type', 'list-type', 'continuation-token', 'fetch-owner', 'start-after',
  'key-marker', 'version-id-marker', 'upload-id-marker', 'max-uploads',
]);

/**
 * Which S3 operation a path-style request is and what it needs from the policy. Pure, so the mapping is tested
 * without sockets.
 */
export function mapRequest(method: string, url: string, headers: IncomingHttpHeaders): MappedRequest {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  if (!path.startsWith('/')) return { kind: 'invalid-uri' };
  const slash = path.indexOf('/', 1);
  let bucket: string;
  let key: string;
  try {
    bucket = decodeURIComponent(slash === -1 ? path.slice(1) : path.slice(1, slash));
    // `+` in a path is a plus, not a space: decodeURIComponent is exactly right here.
    key = slash === -1 ? '' : decodeURIComponent(path.slice(slash + 1));
  } catch {
    return { kind: 'invalid-uri' };
  }
  const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
  const names = [...new Set(query.keys())].filter((name) => !NEUTRAL_PARAMETERS.has(name) && !name.toLowerCase().startsWith('x-amz-'));
  const verb = method.toUpperCase();

  if (bucket === '') {
    if (verb === 'GET' && names.length === 0) return mapped(undefined, undefined, [{ action: 's3:ListAllMyBuckets', resource: '*', context: {} }]);
    return { kind: 'unmapped', operation: `${verb} /` };
  }
  if (key === '') return mapBucketRequest(verb, bucket, names, query);
  return mapObjectRequest(verb, bucket, key, names, query, headers);
}

function mapBucketRequest(verb: string, bucket: string, names: readonly string[], query: URLSearchParams): MappedRequest {
  const resource = `arn:aws:s3:::${bucket}`;
  const sub = names.filter((name) => !LISTING_PARAMETERS.has(name));
  const only = (...expected: string[]) => sub.length === expected.length && expected.every((name) => sub.includes(name));
  const allow = (action: string, context: RequestContext = {}) => mapped(bucket, undefined, [{ action, resource, context }]);
  // ListObjects (v1 and v2) and ListObjectVersions carry s3:prefix; '' when the request names none.
  if (verb === 'GET' && only()) return allow('s3:ListBucket', { prefix: query.get('prefix') ?? '' });
  if (verb === 'GET' && only('versions')) return allow('s3:ListBucketVersions', { prefix: query.get('prefix') ?? '' });
  if (verb === 'GET' && only('uploads')) return allow('s3:ListBucketMultipartUploads');
  if (verb === 'GET' && only('location')) return allow('s3:GetBucketLocation');
  // HeadBucket needs s3:ListBucket and carries no s3:prefix.
  if (verb === 'HEAD' && only()) return allow('s3:ListBucket');
  if (verb === 'PUT' && only()) return allow('s3:CreateBucket');
  if (verb === 'DELETE' && only()) return allow('s3:DeleteBucket');
  return { kind: 'unmapped', bucket, operation: `${verb} bucket${sub.length > 0 ? ` ?${sub.join('&')}` : ''}` };
}

function mapObjectRequest(
  verb: string, bucket: string, key: string, names: readonly string[], query: URLSearchParams, headers: IncomingHttpHeaders,
): MappedRequest {
  const resource = `arn:aws:s3:::${bucket}/${key}`;
  const versioned = query.has('versionId');
  const sub = names.filter((name) => name !== 'versionId' && !name.startsWith('response-') && !((verb === 'GET' || verb === 'HEAD') && name === 'partNumber'));
  const only = (...expected: string[]) => sub.length === expected.length && expected.every((name) => sub.includes(name));
  const check = (action: string): PermissionCheck => ({ action, resource, context: {} });
  const copySource = headerValue(headers, 'x-amz-copy-source');
  const copyChecks = (): PermissionCheck[] | undefined => {
    if (copySource === undefined) return [];
    const source = parseCopySource(copySource);
    if (source === undefined) return undefined;
    return [{ action: source.versioned ? 's3:GetObjectVersion' : 's3:GetObject', resource: `arn:aws:s3:::${source.bucket}/${source.key}`, context: {} }];
  };
  const unmapped = (): MappedRequest => ({ kind: 'unmapped', bucket, key, operation: `${verb} object${sub.length > 0 ? ` ?${sub.join('&')}` : ''}` });

  if ((verb === 'GET' || verb === 'HEAD') && only()) {
    return { ...mapped(bucket, key, [check(versioned ? 's3:GetObjectVersion' : 's3:GetObject')]), missingKeyIs403: true, keyRead: true };
  }
  if (verb === 'GET' && only('uploadId')) return mapped(bucket, key, [check('s3:ListMultipartUploadParts')]);
  if (verb === 'GET' && only('tagging')) return mapped(bucket, key, [check(versioned ? 's3:GetObjectVersionTagging' : 's3:GetObjectTagging')]);
  if (verb === 'GET' && only('acl')) return mapped(bucket, key, [check(versioned ? 's3:GetObjectVersionAcl' : 's3:GetObjectAcl')]);
  // A write with If-Match needs s3:GetObject on the key as well (S3 User Guide, conditional writes and deletes).
  const ifMatchChecks = (write: KeyWrite): PermissionCheck[] => {
    const ifMatch = headerValue(headers, 'if-match');
    return ifMatch === undefined || (write === 'delete' && ifMatch.trim() === '*') ? [] : [check('s3:GetObject')];
  };
  if (verb === 'PUT' && (only() || only('partNumber', 'uploadId'))) {
    // PutObject, CopyObject, UploadPart and UploadPartCopy: writing needs s3:PutObject, a copy also reading its source.
    const sourceChecks = copyChecks();
    if (sourceChecks === undefined) return { kind: 'invalid-uri' };
    const replacesMetadata = copySource === undefined || headerValue(headers, 'x-amz-metadata-directive')?.toUpperCase() === 'REPLACE';
    // Parts take no preconditions and write no key: only PutObject and CopyObject are key writes.
    if (!only()) return mapped(bucket, key, [check('s3:PutObject'), ...sourceChecks]);
    return { ...mapped(bucket, key, [check('s3:PutObject'), ...ifMatchChecks('put'), ...sourceChecks]), setsMetadata: replacesMetadata, keyWrite: 'put' };
  }
  if (verb === 'PUT' && only('tagging')) return mapped(bucket, key, [check(versioned ? 's3:PutObjectVersionTagging' : 's3:PutObjectTagging')]);
  if (verb === 'PUT' && only('acl')) return mapped(bucket, key, [check(versioned ? 's3:PutObjectVersionAcl' : 's3:PutObjectAcl')]);
  if (verb === 'POST' && only('uploads')) return { ...mapped(bucket, key, [check('s3:PutObject')]), setsMetadata: true };
  if (verb === 'POST' && only('uploadId')) return { ...mapped(bucket, key, [check('s3:PutObject'), ...ifMatchChecks('complete')]), keyWrite: 'complete' };
  if (verb === 'DELETE' && only()) {
    return { ...mapped(bucket, key, [check(versioned ? 's3:DeleteObjectVersion' : 's3:DeleteObject'), ...ifMatchChecks('delete')]), keyWrite: 'delete' };
  }
  if (verb === 'DELETE' && only('uploadId')) return mapped(bucket, key, [check('s3:AbortMultipartUpload')]);
  if (verb === 'DELETE' && only('tagging')) return mapped(bucket, key, [check(versioned ? 's3:DeleteObjectVersionTagging' : 's3:DeleteObjectTagging')]);
  return unmapped();
}

function mapped(bucket: string | undefined, key: string | undefined, checks: PermissionCheck[]) {
  return {
    kind: 'mapped' as const,
    ...(bucket !== undefined ? { bucket } : {}),
    ...(key !== undefined ? { key } : {}),
    checks,
    missingKeyIs403: false,
    setsMetadata: false,
  };
}

/** `x-amz-copy-source`: `bucket/key` or `/bucket/key`, URL-encoded, optionally `?versionId=`. */
export function parseCopySource(value: string): { bucket: string; key: string; versioned: boolean } | undefined {
  const queryAt = value.indexOf('?');
  const path = (queryAt === -1 ? value : value.slice(0, queryAt)).replace(/^\//, '');
  const slash = path.indexOf('/');
  if (slash <= 0) return undefined;
  try {
    const bucket = decodeURIComponent(path.slice(0, slash));
    const key = decodeURIComponent(path.slice(slash + 1));
    if (key === '') return undefined;
    return { bucket, key, versioned: queryAt !== -1 && new URLSearchParams(value.slice(queryAt + 1)).has('versionId') };
  } catch {
    return undefined;
  }
}

/**
 * User metadata as S3 counts it: the bytes of every `x-amz-meta-` name without the prefix and of its value. Node
 * reads header bytes as latin1, so the latin1 length of each string is the number of bytes that came on the wire.
 */
export function userMetadataBytes(rawHeaders: readonly string[]): number {
  let total = 0;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (!name.toLowerCase().startsWith('x-amz-meta-')) continue;
    total += Buffer.byteLength(name.slice('x-amz-meta-'.length), 'latin1') + Buffer.byteLength(rawHeaders[i + 1]!, 'latin1');
  }
  return total;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

interface Answer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly extra?: Readonly<Record<string, string | number>>;
  readonly detail: string;
}

const ACCESS_DENIED = { status: 403, code: 'AccessDenied', message: 'Access Denied' } as const;

/** S3's error document. */
export function s3ErrorBody(code: string, message: string, requestId: string, extra: Readonly<Record<string, string | number>> = {}): string {
  const fields = Object.entries(extra).map(([name, value]) => `<${name}>${escapeXml(String(value))}</${name}>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${fields}<RequestId>${requestId}</RequestId><HostId>strict-s3-front</HostId></Error>`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (char) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[char]!);
}

/** The front's own verdict on a request before it is forwarded: an answer to give, or the permissions were granted. */
function judge(request: MappedRequest, rawHeaders: readonly string[], statements: readonly IamStatement[]): Answer | undefined {
  if (request.kind === 'invalid-uri') return { status: 400, code: 'InvalidURI', message: "Couldn't parse the specified URI.", detail: 'the path is not a valid URL-encoded bucket/key' };
  if (request.kind === 'unmapped') return { ...ACCESS_DENIED, detail: `${request.operation} is not an operation the strict front maps to an IAM action, so it refuses it` };
  if (request.key !== undefined) {
    const bytes = Buffer.byteLength(request.key, 'utf8');
    if (bytes > S3_MAX_KEY_BYTES) {
      return { status: 400, code: 'KeyTooLongError', message: 'Your key is too long.', extra: { Size: bytes, MaxSizeAllowed: S3_MAX_KEY_BYTES }, detail: `the key is ${bytes} bytes of UTF-8, over ${S3_MAX_KEY_BYTES}` };
    }
  }
  if (request.setsMetadata) {
    const bytes = userMetadataBytes(rawHeaders);
    if (bytes > S3_MAX_USER_METADATA_BYTES) {
      return {
        status: 400, code: 'MetadataTooLarge', message: 'Your metadata headers exceed the maximum allowed metadata size.',
        extra: { Size: bytes, MaxSizeAllowed: S3_MAX_USER_METADATA_BYTES }, detail: `the user metadata is ${bytes} bytes, over ${S3_MAX_USER_METADATA_BYTES}`,
      };
    }
  }
  for (const check of request.checks) {
    const decision = evaluate(statements, check.action, check.resource, check.context);
    if (!decision.allowed) return { ...ACCESS_DENIED, detail: denial(statements, check, decision) };
  }
  return undefined;
}

function denial(statements: readonly IamStatement[], check: PermissionCheck, decision: ReturnType<typeof evaluate>): string {
  const context = check.context.prefix !== undefined ? ` with s3:prefix ${JSON.stringify(check.context.prefix)}` : '';
  const why = decision.allowed ? '' : decision.reason === 'explicit-deny' ? `statement ${statements[decision.statement]?.Sid ?? decision.statement} denies it` : 'no statement allows it';
  return `${check.action} on ${check.resource}${context}: ${why}`;
}

/** Starts the front; the policy is checked first, so a statement the evaluator cannot read fails here, by name. */
export async function startStrictS3Front(options: StrictS3FrontOptions): Promise<StrictS3Front> {
  assertSupportedPolicy(options.statements);
  const statements = options.statements;
  const upstream = new URL(options.upstream);
  // Idle upstream sockets are dropped after 4 s, before a Node server's 5 s keep-alive timeout closes them under a
  // request (the front would have to pass that reset on); a request in progress is never cut by this timeout.
  const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 4000 });
  const onRefused = options.onRefused ?? (() => undefined);
  // The front's own reads of a key's current state, for conditional writes. One attempt: a failure of the server is
  // passed on to the client as forwarding would, and the client's SDK retries the write.
  const upstreamS3 = new S3Client({
    endpoint: upstream.origin, region: 'us-east-1', forcePathStyle: true, credentials: options.upstreamCredentials ?? LOCAL_CREDENTIALS, maxAttempts: 1,
  });

  const answer = (req: IncomingMessage, res: ServerResponse, given: Answer, request: MappedRequest, closeAfter: boolean, report = true): void => {
    if (report) {
      onRefused({
        method: req.method ?? '', status: given.status, code: given.code, detail: given.detail,
        ...(request.kind !== 'invalid-uri' && request.bucket !== undefined ? { bucket: request.bucket } : {}),
        ...(request.kind !== 'invalid-uri' && request.key !== undefined ? { key: request.key } : {}),
      });
    }
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const body = s3ErrorBody(given.code, given.message, requestId, given.extra);
    const headers: Record<string, string | number> = {
      'content-type': 'application/xml', 'x-amz-request-id': requestId, 'x-amz-id-2': 'strict-s3-front', ...(closeAfter ? { connection: 'close' } : {}),
    };
    // HEAD answers carry no body; the SDK reads only the status then.
    if (req.method === 'HEAD') {
      res.writeHead(given.status, headers);
      res.end();
    } else {
      res.writeHead(given.status, { ...headers, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }
  };

  const refuse = (req: IncomingMessage, res: ServerResponse, given: Answer, request: MappedRequest, expectsContinue: boolean, report = true): void => {
    // A client waiting for 100 Continue has not sent its body: answer at once and close, as S3 does. Otherwise read
    // (and discard) the body first, or answering mid-upload turns the refusal into a broken pipe.
    if (expectsContinue) return answer(req, res, given, request, true, report);
    req.on('error', () => res.destroy());
    req.once('end', () => answer(req, res, given, request, false, report));
    req.resume();
  };

  const forward = (req: IncomingMessage, res: ServerResponse, request: Extract<MappedRequest, { kind: 'mapped' }>, conditions?: ReadPreconditions): void => {
    const outgoing = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent });
    outgoing.on('response', (upstreamRes) => {
      const status = upstreamRes.statusCode ?? 502;
      if (status === 404 && request.missingKeyIs403 && request.key !== undefined && !mayList(request.bucket!, request.key)) {
        return answerMissingKey(req, res, upstreamRes, request);
      }
      if (conditions !== undefined && (status === 200 || status === 206 || status === 304)) {
        answerConditionalRead(req, res, upstreamRes, request, conditions).catch(() => req.socket.destroy());
        return;
      }
      res.writeHead(status, upstreamRes.statusMessage, upstreamRes.rawHeaders);
      pipeline(upstreamRes, res, () => undefined);
    });
    outgoing.on('error', () => {
      // The server is down or reset the connection: the client sees a reset too, as it would without the front.
      if (res.headersSent) res.destroy();
      else req.socket.destroy();
    });
    // A client that goes away mid-request takes the upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) outgoing.destroy();
    });
    req.pipe(outgoing);
  };

  /**
   * The server is about to serve (or has answered 304 for) a GET or HEAD carrying preconditions: they are judged on
   * the ETag of that very answer, so the version checked is the version served even when the key is being replaced.
   */
  const answerConditionalRead = async (
    req: IncomingMessage, res: ServerResponse, upstreamRes: IncomingMessage, request: Extract<MappedRequest, { kind: 'mapped' }>, conditions: ReadPreconditions,
  ): Promise<void> => {
    const status = upstreamRes.statusCode ?? 502;
    let etag = headerValue(upstreamRes.headers, 'etag');
    if (status === 304 && conditions.ifMatch === undefined) {
      res.writeHead(status, upstreamRes.statusMessage, upstreamRes.rawHeaders);
      pipeline(upstreamRes, res, () => undefined);
      return;
    }
    if (etag === undefined) {
      // s3rver's own 304 carries no ETag, and If-Match must still be judged first: the key's current one it is.
      upstreamRes.resume();
      try {
        etag = (await currentObject(request.bucket!, request.key!))?.etag;
      } catch {
        req.socket.destroy();
        return;
      }
      if (etag === undefined) {
        answer(req, res, { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.', extra: { Key: request.key! }, detail: 'the key was deleted during the read' }, request, false, false);
        return;
      }
    }
    const outcome = evaluateReadPreconditions(conditions, etag);
    if (outcome === undefined && status !== 304) {
      res.writeHead(status, upstreamRes.statusMessage, upstreamRes.rawHeaders);
      pipeline(upstreamRes, res, () => undefined);
      return;
    }
    // The object's bytes are not wanted: closing the upstream response is cheaper than reading them.
    upstreamRes.destroy();
    if (outcome?.kind === 'precondition-failed') {
      answer(req, res, { ...outcome.answer }, request, false, false);
      return;
    }
    // 304 Not Modified: no body, the ETag as S3 sends it.
    res.writeHead(304, { etag: `"${etag.replace(/"/g, '')}"`, 'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase(), 'x-amz-id-2': 'strict-s3-front' });
    res.end();
  };

  const mayList = (bucket: string, key: string) => evaluate(statements, 's3:ListBucket', `arn:aws:s3:::${bucket}`, { prefix: key }).allowed;

  /** The server says 404: S3 says 403 to a role that may not list the key, unless the bucket itself is missing. */
  const answerMissingKey = (req: IncomingMessage, res: ServerResponse, upstreamRes: IncomingMessage, request: Extract<MappedRequest, { kind: 'mapped' }>): void => {
    const denied: Answer = { ...ACCESS_DENIED, detail: `the key is missing and s3:ListBucket on arn:aws:s3:::${request.bucket} with s3:prefix ${JSON.stringify(request.key)} is not allowed, so S3 answers 403` };
    const chunks: Buffer[] = [];
    let size = 0;
    upstreamRes.on('data', (chunk: Buffer) => {
      // An error document is small; keep at most 64 KB of it.
      if (size < 65_536) chunks.push(chunk);
      size += chunk.length;
    });
    upstreamRes.on('error', () => res.destroy());
    upstreamRes.on('end', () => {
      const body = Buffer.concat(chunks);
      // A HEAD has no body to tell a missing bucket from a missing key: locally the buckets exist, so it is the key.
      if (/<Code>NoSuchBucket<\/Code>/.test(body.toString('utf8'))) {
        res.writeHead(404, upstreamRes.statusMessage, upstreamRes.rawHeaders);
        res.end(body);
        return;
      }
      answer(req, res, denied, request, false);
    });
  };

  /** The key's current object as the server has it, `undefined` when missing; throws what the server's HEAD failed with. */
  const currentObject = async (bucket: string, key: string): Promise<CurrentObject | undefined> => {
    try {
      const head = await upstreamS3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { etag: head.ETag ?? '' };
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw error;
    }
  };

  /**
   * A write of a key: under the key's lock from before its precondition is read until the client's response is over
   * (so until the server has answered the write), then as any request. The body waits in the socket meanwhile.
   */
  const writeKey = async (
    req: IncomingMessage, res: ServerResponse, request: Extract<MappedRequest, { kind: 'mapped' }> & { keyWrite: KeyWrite }, preconditions: Preconditions, expectsContinue: boolean,
  ): Promise<void> => {
    // A client gone while waiting gives up its place: the lock is released when it is granted, or at once if held.
    const held: { release?: () => void; gone: boolean } = { gone: false };
    res.once('close', () => {
      held.gone = true;
      held.release?.();
    });
    const release = await lockKey(keyLockName(upstream.origin, request.bucket!, request.key!));
    held.release = release;
    if (held.gone) return release();
    if (preconditions.kind !== 'none') {
      let current: CurrentObject | undefined;
      try {
        current = await currentObject(request.bucket!, request.key!);
      } catch (error) {
        release();
        return passOnHeadFailure(req, res, request, error, expectsContinue);
      }
      const failed = evaluatePreconditions(preconditions, request.key!, current);
      if (failed !== undefined) {
        // Nothing is written: the lock is free for the next writer while this body is discarded.
        release();
        return refuse(req, res, failed, request, expectsContinue, false);
      }
    }
    if (held.gone) return release();
    if (expectsContinue) res.writeContinue();
    forward(req, res, request);
  };

  /** The server failed the front's HEAD: a reset or a 5xx is passed on as forwarding would; anything else is the front's fault. */
  const passOnHeadFailure = (req: IncomingMessage, res: ServerResponse, request: MappedRequest, error: unknown, expectsContinue: boolean): void => {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === undefined) {
      req.socket.destroy();
      return;
    }
    if (status >= 500) {
      const given: Answer = status === 503
        ? { status, code: 'SlowDown', message: 'Please reduce your request rate.', detail: 'the server answered the HEAD of the key 503' }
        : { status, code: 'InternalError', message: 'We encountered an internal error. Please try again.', detail: `the server answered the HEAD of the key ${status}` };
      return refuse(req, res, given, request, expectsContinue, false);
    }
    const detail = `the front could not read the key's current state to evaluate the precondition: HEAD answered ${status} (${(error as Error).name})`;
    refuse(req, res, { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.', detail }, request, expectsContinue);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void => {
    const request = mapRequest(req.method ?? 'GET', req.url ?? '/', req.headers);
    const refusal = judge(request, req.rawHeaders, statements);
    if (refusal !== undefined || request.kind !== 'mapped') {
      return refuse(req, res, refusal ?? { ...ACCESS_DENIED, detail: 'unmapped request' }, request, expectsContinue);
    }
    const keyWrite = request.keyWrite;
    if (keyWrite !== undefined) {
      // Permissions first, as S3 does: only an allowed request has its preconditions read.
      const preconditions = readPreconditions(keyWrite, req.headers);
      if (preconditions.kind === 'not-implemented') {
        const notImplemented: Answer = {
          status: 501, code: 'NotImplemented', message: 'A header you provided implies functionality that is not implemented', extra: { Header: preconditions.header }, detail: preconditions.detail,
        };
        return refuse(req, res, notImplemented, request, expectsContinue);
      }
      writeKey(req, res, { ...request, keyWrite }, preconditions, expectsContinue).catch(() => req.socket.destroy());
      return;
    }
    if (expectsContinue) res.writeContinue();
    forward(req, res, request, request.keyRead === true ? readReadPreconditions(req.headers) : undefined);
  };

  const server: Server = createServer((req, res) => handle(req, res, false));
  // Without this listener Node sends 100 Continue by itself, before the front has judged the request.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handle(req, res, true));
  const listener = await listenOnLoopback(server, options.port ?? 0);
  return {
    endpoint: `http://127.0.0.1:${listener.port}`,
    close: async () => {
      agent.destroy();
      upstreamS3.destroy();
      await listener.close();
    },
  };
}
