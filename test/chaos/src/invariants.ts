import { outputKey } from '../../../app/src/naming/output-key';
import type { ExpectedOutcome } from './bad-input-matrix';

/**
 * The invariants of a chaos run, checked over what the run left behind: pure, so each one is unit-tested by
 * breaking it on purpose.
 */
export interface ExpectedInput {
  /** `good` or the matrix case id. */
  readonly caseId: string;
  readonly messageId: string;
  /** The source key; absent for message bodies that name no object. */
  readonly key?: string;
  /** The source ETag, without quotes. */
  readonly etag?: string;
  readonly expected: ExpectedOutcome;
  /** For `dlq`: the reason the `failed` log line must give. */
  readonly reason?: string;
}

export interface OutputObject {
  readonly key: string;
  /** x-amz-meta-source-etag. */
  readonly sourceEtag?: string;
  readonly width: number;
  readonly height: number;
}

/** A worker log line as parsed from its JSON; truncated lines of killed workers are dropped before this. */
export type LogLine = Readonly<Record<string, unknown>>;

export interface SigtermRecord {
  readonly pid: number;
  /** Epoch milliseconds. */
  readonly sentAt: number;
  readonly exitedAt: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Messages the worker logged as handed back. */
  readonly released: readonly string[];
  /** Of those, the ones the queue still held invisible, unreceived, right after the exit. */
  readonly invisibleAfterExit: readonly string[];
}

export interface InvariantInput {
  readonly inputs: readonly ExpectedInput[];
  readonly outputs: readonly OutputObject[];
  readonly deadLetterIds: readonly string[];
  readonly logLines: readonly LogLine[];
  readonly sizes: readonly { readonly width: number; readonly height: number }[];
  readonly naming: { readonly destPrefix: string; readonly sourcePrefix: string; readonly extension: string };
  /** How many different bodies were successfully written to each output key over the run (seen by the proxy). */
  readonly distinctWritesByKey: Readonly<Record<string, number>>;
  readonly sigterms: readonly SigtermRecord[];
  readonly shutdownGraceSeconds: number;
}

export interface RunCounts {
  readonly inputs: number;
  readonly expected: Readonly<Record<ExpectedOutcome, number>>;
  readonly outputs: number;
  readonly deadLetters: number;
  /** Inputs with neither outputs, nor a dead letter, nor a skip: must be 0. */
  readonly lost: number;
  /** Receives of a message that had been received before (at-least-once delivery at work). */
  readonly redeliveries: number;
  /** `processed` log lines beyond the first per key: work done again after a kill. */
  readonly repeatedWork: number;
  /** Redeliveries that found their outputs already written and skipped the work. */
  readonly idempotentSkips: number;
  readonly sigtermExits: number;
  /** Messages handed back by SIGTERMed workers. */
  readonly handedBack: number;
}

export interface InvariantReport {
  readonly violations: readonly string[];
  readonly counts: RunCounts;
}

/** Slack over the grace period for process exit and scheduling on a loaded machine. */
const EXIT_SLACK_MS = 3_000;

export function checkInvariants(input: InvariantInput): InvariantReport {
  const violations: string[] = [];
  const outputsByKey = new Map(input.outputs.map((output) => [output.key, output]));
  const deadLetters = new Set(input.deadLetterIds);
  const sizeName = (size: { width: number; height: number }) => `${size.width}x${size.height}`;
  const expectedOutputs = (key: string) =>
    input.sizes.map((size) => ({ size, key: outputKey({ ...input.naming, sourceKey: key, outputName: sizeName(size), extension: input.naming.extension }) }));
  const lines = (message: string) => input.logLines.filter((line) => line.message === message);
  const failedLines = lines('failed');
  const skippedLines = lines('skipped');
  const allowedOutputs = new Set<string>();
  const allowedDeadLetters = new Set<string>();
  let lost = 0;

  for (const item of input.inputs) {
    const label = `${item.caseId} ${item.key !== undefined ? JSON.stringify(item.key) : `message ${item.messageId}`}`;
    const produced = item.key === undefined ? [] : expectedOutputs(item.key).filter((output) => outputsByKey.has(output.key));
    const deadLettered = deadLetters.has(item.messageId);
    if (item.expected === 'processed') {
      if (item.key === undefined) throw new Error(`${label}: a processed input needs a key`);
      for (const expected of expectedOutputs(item.key)) {
        allowedOutputs.add(expected.key);
        const output = outputsByKey.get(expected.key);
        if (output === undefined) {
          violations.push(`${label}: output ${expected.key} is missing`);
          continue;
        }
        if (output.width !== expected.size.width || output.height !== expected.size.height) {
          violations.push(`${label}: output ${expected.key} is ${output.width}x${output.height}, expected ${sizeName(expected.size)}`);
        }
        if (output.sourceEtag !== item.etag) {
          violations.push(`${label}: output ${expected.key} carries source ETag ${String(output.sourceEtag)}, expected ${String(item.etag)}`);
        }
      }
      if (deadLettered) violations.push(`${label}: good input is in the DLQ`);
      if (produced.length === 0 && !deadLettered) lost++;
    } else if (item.expected === 'dlq') {
      allowedDeadLetters.add(item.messageId);
      if (!deadLettered) {
        violations.push(`${label}: expected in the DLQ, not there`);
        if (produced.length === 0) lost++;
      }
      const reasons = failedLines.filter((line) => line.messageId === item.messageId && line.kind === 'permanent').map((line) => line.reason);
      if (!reasons.includes(item.reason)) {
        violations.push(`${label}: no failed log line with reason ${String(item.reason)} (saw ${reasons.length > 0 ? reasons.join(', ') : 'none'})`);
      }
      for (const output of produced) violations.push(`${label}: bad input has an output ${output.key}`);
    } else {
      if (deadLettered) violations.push(`${label}: expected skipped, is in the DLQ`);
      for (const output of produced) violations.push(`${label}: skipped input has an output ${output.key}`);
      const logged = skippedLines.some((line) => (item.key !== undefined ? line.key === item.key : line.messageId === item.messageId));
      if (!logged) {
        violations.push(`${label}: no skipped log line`);
        if (!deadLettered) lost++;
      }
    }
  }

  for (const output of input.outputs) {
    if (!allowedOutputs.has(output.key)) violations.push(`output ${output.key} belongs to no good input (invented)`);
  }
  for (const id of input.deadLetterIds) {
    if (!allowedDeadLetters.has(id)) violations.push(`dead letter ${id} belongs to no bad input`);
  }
  for (const [key, count] of Object.entries(input.distinctWritesByKey)) {
    if (count > 1) violations.push(`output ${key} was written with ${count} different contents`);
  }
  violations.push(...checkSigterms(input));

  const processedPerKey = new Map<string, number>();
  for (const line of lines('processed')) processedPerKey.set(String(line.key), (processedPerKey.get(String(line.key)) ?? 0) + 1);
  const expected = { processed: 0, skipped: 0, dlq: 0 };
  for (const item of input.inputs) expected[item.expected]++;
  return {
    violations,
    counts: {
      inputs: input.inputs.length,
      expected,
      outputs: input.outputs.length,
      deadLetters: input.deadLetterIds.length,
      lost,
      redeliveries: lines('received').filter((line) => Number(line.receiveCount) > 1).length,
      repeatedWork: [...processedPerKey.values()].reduce((sum, count) => sum + count - 1, 0),
      idempotentSkips: skippedLines.filter((line) => /already exist/.test(String(line.reason))).length,
      sigtermExits: input.sigterms.length,
      handedBack: input.sigterms.reduce((sum, term) => sum + term.released.length, 0),
    },
  };
}

/** A worker given SIGTERM exits 0 within the grace period, and every message it handed back was visible at once. */
function checkSigterms(input: InvariantInput): string[] {
  const violations: string[] = [];
  const limitMs = input.shutdownGraceSeconds * 1000 + EXIT_SLACK_MS;
  for (const term of input.sigterms) {
    if (term.exitCode !== 0) violations.push(`worker ${term.pid} exited with ${term.exitCode ?? term.signal} after SIGTERM, expected 0`);
    if (term.exitedAt - term.sentAt > limitMs) {
      violations.push(`worker ${term.pid} took ${term.exitedAt - term.sentAt} ms to exit after SIGTERM (grace ${input.shutdownGraceSeconds} s)`);
    }
    for (const id of term.invisibleAfterExit) {
      violations.push(`message ${id} handed back by worker ${term.pid} was still invisible after it exited`);
    }
  }
  return violations;
}
