import { createHash } from 'node:crypto';
import { PROBLEM_KINDS, type Problem, type ProblemKind } from './split-plan';

/** What a split ended with, told to whoever asked for it. */
export interface CallbackInput {
  readonly downloadId: string;
  readonly status: 'success' | 'failure';
  /** The batch ZIPs' keys, in part order. */
  readonly batchFiles: readonly string[];
  readonly rows: number;
  readonly images: number;
  readonly problems: readonly Problem[];
  /** Why a failure failed (the error's message). */
  readonly reason?: string;
  /** The archive version split, when known: a re-upload's outcome is a different message. */
  readonly sourceEtag?: string;
}

export interface Callback {
  /**
   * JSON: `{downloadId, status, batchFiles, batchFileCount, rows, images, problems, problemCount, problemsByKind,
   * deduplicationId, reason?}`. `problems` holds at most the first MAX_CALLBACK_PROBLEMS (fewer if the body would not
   * fit); the counts are always complete, and every batch's problems.csv has the full list.
   */
  readonly body: string;
  /** 64 hex characters: the same outcome of the same archive always gets the same id (a FIFO queue's MessageDeduplicationId). */
  readonly deduplicationId: string;
}

export const MAX_CALLBACK_PROBLEMS = 100;
/** SQS takes 256 KiB per message, attributes included: the body keeps the rest of that for them. */
export const MAX_CALLBACK_BODY_BYTES = 250_000;
/** One hostile name must not crowd the other problems out of the message. */
const MAX_FIELD_CHARS = 500;
const MAX_REASON_CHARS = 2000;

/** Pure: the outcome in, the message to send out; the body always fits in an SQS message. */
export function buildCallback(input: CallbackInput): Callback {
  const deduplicationId = createHash('sha256')
    .update(JSON.stringify([input.downloadId, input.sourceEtag ?? null, input.status, input.batchFiles, input.reason ?? null]))
    .digest('hex');
  const problemsByKind = Object.fromEntries(PROBLEM_KINDS.map((kind) => [kind, 0])) as Record<ProblemKind, number>;
  for (const problem of input.problems) problemsByKind[problem.kind] += 1;
  const problems = input.problems.slice(0, MAX_CALLBACK_PROBLEMS).map(shortened);
  const reason = input.reason === undefined ? undefined : cut(input.reason, MAX_REASON_CHARS);

  const body = (problemsKept: number, batchFilesKept: number): string => JSON.stringify({
    downloadId: input.downloadId,
    status: input.status,
    batchFiles: input.batchFiles.slice(0, batchFilesKept),
    batchFileCount: input.batchFiles.length,
    rows: input.rows,
    images: input.images,
    problems: problems.slice(0, problemsKept),
    problemCount: input.problems.length,
    problemsByKind,
    deduplicationId,
    ...(reason !== undefined ? { reason } : {}),
  });
  const fits = (text: string) => Buffer.byteLength(text) <= MAX_CALLBACK_BODY_BYTES;

  // Problems give way first (problems.csv has them all), then, only for thousands of long keys, the key list
  // (the keys follow one pattern, and batchFileCount says how many there are).
  const full = body(problems.length, input.batchFiles.length);
  if (fits(full)) return { body: full, deduplicationId };
  if (fits(body(0, input.batchFiles.length))) {
    return { body: body(largestFitting(problems.length, (n) => fits(body(n, input.batchFiles.length))), input.batchFiles.length), deduplicationId };
  }
  if (!fits(body(0, 0))) throw new RangeError(`a callback for download ${JSON.stringify(cut(input.downloadId, 100))} cannot fit in ${MAX_CALLBACK_BODY_BYTES} bytes even without problems and batch files`);
  return { body: body(0, largestFitting(input.batchFiles.length, (n) => fits(body(0, n)))), deduplicationId };
}

/** The largest n in 0..max for which `fits(n)` holds, given that it holds for 0 and fitting only gets harder with n. */
function largestFitting(max: number, fits: (n: number) => boolean): number {
  let low = 0;
  let high = max;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(middle)) low = middle;
    else high = middle - 1;
  }
  return low;
}

function shortened(problem: Problem): Problem {
  return {
    kind: problem.kind,
    ...(problem.row !== undefined ? { row: problem.row } : {}),
    ...(problem.image !== undefined ? { image: cut(problem.image, MAX_FIELD_CHARS) } : {}),
    ...(problem.entry !== undefined ? { entry: cut(problem.entry, MAX_FIELD_CHARS) } : {}),
    detail: cut(problem.detail, MAX_FIELD_CHARS),
  };
}

function cut(text: string, chars: number): string {
  if (text.length <= chars) return text;
  // Never half a surrogate pair: the cut text stays valid UTF-16 (an emoji is dropped whole, not split).
  const end = /[\ud800-\udbff]/.test(text.charAt(chars - 1)) ? chars - 1 : chars;
  return `${text.slice(0, end)}…`;
}
