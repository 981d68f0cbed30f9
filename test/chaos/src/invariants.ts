import { outputKey } from '../../../app/jobs/resize/resize-output-key';
import { relativeSourceKey } from '../../../shared/naming/output-metadata';
import { EXIT_AFTER_NOTICE_MS } from '../../../app/src/runtime/supervisor-protocol';
import type { ExpectedOutcome } from './bad-input-matrix';

/**
 * The invariants of a chaos run, checked over what the run left behind: pure, so each one is unit-tested by
 * breaking it on purpose.
 */
export interface ExpectedInput {
  /** `good`, `decode-heavy`, `overwrite-race` or the matrix case id. */
  readonly caseId: string;
  readonly messageId: string;
  /** The source key; absent for message bodies that name no object. */
  readonly key?: string;
  /** The source ETag, without quotes: for a key written more than once, the last version's. */
  readonly etag?: string;
  readonly expected: ExpectedOutcome;
  /** For `dlq`: the reason the `failed` log line and the dead letter must give. */
  readonly reason?: string;
  /**
   * How many versions of the source were written (2 for an overwrite race): each of its outputs may have been written
   * with up to this many different contents, an older version's before the newest one's. Default 1.
   */
  readonly versions?: number;
  /** Command job: files this input's run leaves besides the rules' `files` (the copy of a large input). */
  readonly extraFiles?: readonly string[];
  /**
   * Facts each output (by its name: `32x32`, or the file name under `<key>/`) must state about the source's newest
   * version, e.g. `{ 'stats.json': { featureCount: 4 } }`: an output that carries the right ETag but describes other
   * bytes is caught.
   */
  readonly outputFacts?: Readonly<Record<string, Readonly<Record<string, string | number>>>>;
  /** For `dlq`: text the dead-lettering `failed` line's detail must hold (the exit code, the program's own reason). */
  readonly detailIncludes?: readonly string[];
}

export interface OutputObject {
  readonly key: string;
  /** x-amz-meta-source-etag. */
  readonly sourceEtag?: string;
  /** The source key its metadata names (`source-key` URL-decoded, or `source-key-base64url` decoded). */
  readonly sourceKey?: string;
  /** An image output's dimensions (resize job). */
  readonly width?: number;
  readonly height?: number;
  /** What the output says about its source, as read back (command job: `featureCount` from stats.json, `md5` of a copy). */
  readonly facts?: Readonly<Record<string, string | number>>;
}

/**
 * What a processed input's outputs are, per job. Resize: one image per size at `<size>/<key minus extension><ext>`,
 * each of its size. Command: the files the program leaves, at `<destPrefix><key minus sourcePrefix>/<file>`.
 */
export type OutputRules =
  | {
    readonly job: 'resize';
    readonly sizes: readonly { readonly width: number; readonly height: number }[];
    readonly naming: { readonly destPrefix: string; readonly sourcePrefix: string; readonly extension: string };
  }
  | {
    readonly job: 'command';
    readonly destPrefix: string;
    readonly sourcePrefix: string;
    /** What every success leaves (`stats.json`); inputs may add their own (`extraFiles`). */
    readonly files: readonly string[];
  };

/** What the command job may leave behind once every worker has exited: both must be empty. */
export interface CommandLeftovers {
  /** Paths still under WORK_DIR. */
  readonly workDirs: readonly string[];
  /** Program processes still running (pid and command line). */
  readonly programs: readonly string[];
}

/** A message in the dead-letter queue, as the run read it back. */
export interface DeadLetterRecord {
  /** Its `source-message-id` attribute (the first message's id, also for re-queued parts), else its own id. */
  readonly messageId: string;
  /** The keys of the records its body holds; absent when the body is not an S3 event (a malformed message). */
  readonly keys?: readonly string[];
  /** Its `failure-reasons` attribute, split. */
  readonly reasons?: readonly string[];
}

/** One worker process's memory cgroup (a task's memory limit), read after the run. */
export interface WorkerMemory {
  readonly worker: string;
  readonly limitBytes: number;
  readonly peakBytes: number;
  readonly oomKills: number;
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
  /** Command job: pids of the programs it ran when the SIGTERM came that still ran after it exited (must be none). */
  readonly programsAlive?: readonly number[];
}

export interface InvariantInput {
  readonly inputs: readonly ExpectedInput[];
  readonly outputs: readonly OutputObject[];
  readonly deadLetters: readonly DeadLetterRecord[];
  readonly logLines: readonly LogLine[];
  readonly outputRules: OutputRules;
  /** How many different bodies were successfully written to each output key over the run (seen by the proxy). */
  readonly distinctWritesByKey: Readonly<Record<string, number>>;
  /** Every source key's ETag at the end of the run (a key absent here no longer exists). */
  readonly currentSourceEtags: Readonly<Record<string, string>>;
  readonly sigterms: readonly SigtermRecord[];
  readonly shutdownGraceSeconds: number;
  /** Every worker's memory cgroup, when the workers ran under a memory limit. */
  readonly memory?: readonly WorkerMemory[];
  /** Requests the strict S3 front answered itself (403, 400): each is a request S3 would have refused. */
  readonly frontRefusals?: readonly string[];
  /** The workers' RENDER_TIMEOUT_SECONDS: a `render-timeout` must be logged within it (plus slack) of its receive. */
  readonly renderTimeoutSeconds?: number;
  /** Command job: work directories and program processes left after the run. */
  readonly leftovers?: CommandLeftovers;
}

export interface RunCounts {
  readonly inputs: number;
  readonly expected: Readonly<Record<ExpectedOutcome, number>>;
  /** Inputs per class (`good`, `decode-heavy`, `overwrite-race`, each matrix case id). */
  readonly byClass: Readonly<Record<string, number>>;
  readonly outputs: number;
  readonly deadLetters: number;
  /** Inputs with neither outputs, nor a dead letter, nor a skip: must be 0. */
  readonly lost: number;
  /** Outputs whose source ETag is not their source's current one: must be 0. */
  readonly stale: number;
  /** Receives of a message that had been received before (at-least-once delivery at work). */
  readonly redeliveries: number;
  /** `processed` log lines beyond the first per key: work done again after a kill. */
  readonly repeatedWork: number;
  /** Redeliveries that found their outputs already written and skipped the work. */
  readonly idempotentSkips: number;
  /** Times a worker found the source changed after writing and processed the newer version too. */
  readonly sourceChangedReprocessings: number;
  /** Worker log lines that say an outage began (`outage: ...`). */
  readonly outageGateOpenings: number;
  readonly sigtermExits: number;
  /** The longest a SIGTERMed worker took to exit, ms (0 without SIGTERMs). */
  readonly slowestSigtermExitMs: number;
  /** Messages handed back by SIGTERMed workers. */
  readonly handedBack: number;
  readonly oomKills: number;
}

export interface InvariantReport {
  readonly violations: readonly string[];
  readonly counts: RunCounts;
}

/**
 * How long a SIGTERMed worker may take to exit: its grace period, then the supervisor's bound on a child that said it
 * is exiting but is held by a native render (EXIT_AFTER_NOTICE_MS), then slack for scheduling on a loaded machine.
 */
const EXIT_SLACK_MS = EXIT_AFTER_NOTICE_MS + 2_000;
/**
 * A render stopped at RENDER_TIMEOUT_SECONDS is reported within this much more of the message's receive: the GET of a
 * few MB, reading the header and admission by the memory budget come before the render starts.
 */
const RENDER_TIMEOUT_SLACK_MS = 3_000;

export function checkInvariants(input: InvariantInput): InvariantReport {
  const violations: string[] = [];
  const outputsByKey = new Map(input.outputs.map((output) => [output.key, output]));
  const rules = input.outputRules;
  const sizeName = (size: { width: number; height: number }) => `${size.width}x${size.height}`;
  /** A command's outputs for a key: everything under `<destPrefix><key minus sourcePrefix>/`. */
  const commandFolder = (key: string) => (rules.job === 'command' ? `${rules.destPrefix}${relativeSourceKey(key, rules.sourcePrefix)}/` : '');
  /** Each output a processed input must have: its name (the size, or the file under `<key>/`) and key. */
  const expectedOutputs = (item: ExpectedInput & { key: string }): { name: string; key: string; size?: { width: number; height: number } }[] =>
    rules.job === 'resize'
      ? rules.sizes.map((size) => ({ name: sizeName(size), size, key: outputKey({ ...rules.naming, sourceKey: item.key, outputName: sizeName(size), extension: rules.naming.extension }) }))
      : [...rules.files, ...(item.extraFiles ?? [])].map((file) => ({ name: file, key: `${commandFolder(item.key)}${file}` }));
  /** Outputs an input has, whatever it was expected to have: a command's outputs are whatever is under its folder. */
  const producedBy = (key: string): string[] =>
    rules.job === 'resize'
      ? expectedOutputs({ caseId: '', messageId: '', expected: 'processed', key }).map((output) => output.key).filter((outputKeyName) => outputsByKey.has(outputKeyName))
      : input.outputs.map((output) => output.key).filter((outputKeyName) => outputKeyName.startsWith(commandFolder(key)));
  const lines = (message: string) => input.logLines.filter((line) => line.message === message);
  const failedLines = lines('failed');
  const skippedLines = lines('skipped');
  const allowedOutputs = new Map<string, number>();
  let lost = 0;

  // A dead letter holds an input when it came from the input's message and its body names the input's key (or names
  // no key at all: a body that is not an S3 event). Matching by key tells the bad record of a message from its good ones.
  const holds = (letter: DeadLetterRecord, item: ExpectedInput) =>
    letter.messageId === item.messageId && (letter.keys === undefined || item.key === undefined || letter.keys.includes(item.key));
  const letterOf = (item: ExpectedInput) => input.deadLetters.find((letter) => holds(letter, item));
  const holdsKey = (item: ExpectedInput) =>
    item.key !== undefined && input.deadLetters.some((letter) => (letter.keys !== undefined ? letter.keys.includes(item.key!) : letter.messageId === item.messageId));

  for (const item of input.inputs) {
    const label = `${item.caseId} ${item.key !== undefined ? JSON.stringify(item.key) : `message ${item.messageId}`}`;
    const produced = item.key === undefined ? [] : producedBy(item.key);
    if (item.expected === 'processed') {
      if (item.key === undefined) throw new Error(`${label}: a processed input needs a key`);
      const deadLettered = holdsKey(item);
      for (const expected of expectedOutputs({ ...item, key: item.key })) {
        allowedOutputs.set(expected.key, item.versions ?? 1);
        const output = outputsByKey.get(expected.key);
        if (output === undefined) {
          violations.push(`${label}: output ${expected.key} is missing`);
          continue;
        }
        if (expected.size !== undefined && (output.width !== expected.size.width || output.height !== expected.size.height)) {
          violations.push(`${label}: output ${expected.key} is ${output.width ?? '?'}x${output.height ?? '?'}, expected ${sizeName(expected.size)}`);
        }
        for (const [fact, value] of Object.entries(item.outputFacts?.[expected.name] ?? {})) {
          if (output.facts?.[fact] !== value) {
            violations.push(`${label}: output ${expected.key} says ${fact} ${JSON.stringify(output.facts?.[fact])}, expected ${JSON.stringify(value)} (the source's newest version)`);
          }
        }
        if (output.sourceEtag !== item.etag) {
          violations.push(`${label}: output ${expected.key} carries source ETag ${String(output.sourceEtag)}, expected ${String(item.etag)}`);
        }
        if (output.sourceKey !== item.key) {
          violations.push(`${label}: output ${expected.key} names source key ${output.sourceKey === undefined ? 'nothing' : JSON.stringify(output.sourceKey)} in its metadata`);
        }
      }
      if (deadLettered) violations.push(`${label}: good input is in the DLQ`);
      if (produced.length === 0 && !deadLettered) lost++;
    } else if (item.expected === 'dlq') {
      const letter = letterOf(item);
      if (letter === undefined) {
        violations.push(`${label}: expected in the DLQ, not there`);
        if (produced.length === 0) lost++;
      } else if (letter.reasons !== undefined && !letter.reasons.includes(String(item.reason))) {
        violations.push(`${label}: its dead letter gives reasons ${letter.reasons.join(',') || 'none'}, expected ${String(item.reason)}`);
      }
      // The line that dead-lettered it: permanent at once, or transient on its last allowed attempt. Re-queued parts
      // carry new message ids, so a record is found by its key.
      const finalLines = failedLines
        .filter((line) => (item.key !== undefined ? line.key === item.key : line.messageId === item.messageId))
        .filter((line) => line.kind === 'permanent' || line.outcome === 'dead-lettered');
      const reasons = finalLines.map((line) => line.reason);
      if (!reasons.includes(item.reason)) {
        violations.push(`${label}: no failed log line with reason ${String(item.reason)} (saw ${reasons.length > 0 ? reasons.join(', ') : 'none'})`);
      } else if (item.detailIncludes !== undefined) {
        const details = finalLines.filter((line) => line.reason === item.reason).map((line) => String(line.detail));
        for (const text of item.detailIncludes) {
          if (!details.some((detail) => detail.includes(text))) violations.push(`${label}: its failed log line does not say ${JSON.stringify(text)}`);
        }
      }
      for (const output of produced) violations.push(`${label}: bad input has an output ${output}`);
    } else {
      const deadLettered = letterOf(item) !== undefined;
      if (deadLettered) violations.push(`${label}: expected skipped, is in the DLQ`);
      for (const output of produced) violations.push(`${label}: skipped input has an output ${output}`);
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
  const badInputs = input.inputs.filter((item) => item.expected === 'dlq');
  for (const letter of input.deadLetters) {
    const mine = badInputs.filter((item) => item.messageId === letter.messageId);
    if (mine.length === 0) {
      violations.push(`dead letter ${letter.messageId} belongs to no bad input`);
      continue;
    }
    // A message that is bad as a whole (no key of its own, e.g. a foreign bucket) owns whatever its body names.
    if (mine.some((item) => item.key === undefined)) continue;
    for (const key of letter.keys ?? []) {
      if (!mine.some((item) => item.key === key)) violations.push(`dead letter ${letter.messageId} holds ${JSON.stringify(key)}, which is no bad input of that message`);
    }
  }
  for (const [key, count] of Object.entries(input.distinctWritesByKey)) {
    const allowed = allowedOutputs.get(key) ?? 1;
    if (count > allowed) violations.push(`output ${key} was written with ${count} different contents${allowed > 1 ? ` (its source had ${allowed} versions)` : ''}`);
  }
  // No stale output: whatever order events arrived in, every output describes its source as it is now.
  let stale = 0;
  for (const output of input.outputs) {
    if (output.sourceKey === undefined) continue;
    const current = input.currentSourceEtags[output.sourceKey];
    if (current !== undefined && output.sourceEtag !== current) {
      stale++;
      violations.push(`output ${output.key} is stale: it carries source ETag ${String(output.sourceEtag)}, the source is now ${current}`);
    }
  }
  violations.push(...checkSigterms(input));
  violations.push(...checkRenderTimeouts(input));
  for (const memory of input.memory ?? []) {
    const mib = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MiB`;
    if (memory.oomKills > 0) violations.push(`worker ${memory.worker} was OOM-killed ${memory.oomKills} time(s) under its ${mib(memory.limitBytes)} limit`);
    else if (memory.peakBytes >= memory.limitBytes) violations.push(`worker ${memory.worker} used its whole ${mib(memory.limitBytes)} limit (peak ${mib(memory.peakBytes)})`);
  }
  for (const refusal of input.frontRefusals ?? []) violations.push(`S3 would have refused a worker request: ${refusal}`);
  for (const path of input.leftovers?.workDirs ?? []) violations.push(`work directory left behind after the run: ${path}`);
  for (const program of input.leftovers?.programs ?? []) violations.push(`program still running after the run: ${program}`);

  const processedPerKey = new Map<string, number>();
  for (const line of lines('processed')) processedPerKey.set(String(line.key), (processedPerKey.get(String(line.key)) ?? 0) + 1);
  const expected = { processed: 0, skipped: 0, dlq: 0 };
  const byClass: Record<string, number> = {};
  for (const item of input.inputs) {
    expected[item.expected]++;
    byClass[item.caseId] = (byClass[item.caseId] ?? 0) + 1;
  }
  return {
    violations,
    counts: {
      inputs: input.inputs.length,
      expected,
      byClass,
      outputs: input.outputs.length,
      deadLetters: input.deadLetters.length,
      lost,
      stale,
      redeliveries: lines('received').filter((line) => Number(line.receiveCount) > 1).length,
      repeatedWork: [...processedPerKey.values()].reduce((sum, count) => sum + count - 1, 0),
      idempotentSkips: skippedLines.filter((line) => /already exist/.test(String(line.reason))).length,
      sourceChangedReprocessings: input.logLines.filter((line) => String(line.message).startsWith('source changed while processing')).length,
      outageGateOpenings: input.logLines.filter((line) => String(line.message).startsWith('outage:')).length,
      sigtermExits: input.sigterms.length,
      slowestSigtermExitMs: Math.max(0, ...input.sigterms.map((term) => term.exitedAt - term.sentAt)),
      handedBack: input.sigterms.reduce((sum, term) => sum + term.released.length, 0),
      oomKills: (input.memory ?? []).reduce((sum, memory) => sum + memory.oomKills, 0),
    },
  };
}

/**
 * A render that never ends is stopped at RENDER_TIMEOUT_SECONDS: each `render-timeout` is logged by the worker within
 * the timeout (plus slack) of receiving that delivery, not whenever the render happened to finish.
 */
function checkRenderTimeouts(input: InvariantInput): string[] {
  if (input.renderTimeoutSeconds === undefined) return [];
  const limitMs = input.renderTimeoutSeconds * 1000 + RENDER_TIMEOUT_SLACK_MS;
  const violations: string[] = [];
  const received = input.logLines.filter((line) => line.message === 'received');
  for (const failed of input.logLines.filter((line) => line.message === 'failed' && line.reason === 'render-timeout')) {
    const at = Date.parse(String(failed.timestamp));
    const delivery = received
      .filter((line) => line.pid === failed.pid && line.messageId === failed.messageId && line.receiveCount === failed.receiveCount && Date.parse(String(line.timestamp)) <= at)
      .at(-1);
    if (delivery === undefined) continue;
    const tookMs = at - Date.parse(String(delivery.timestamp));
    if (tookMs > limitMs) {
      violations.push(
        `render-timeout ${JSON.stringify(failed.key)}: reported ${(tookMs / 1000).toFixed(1)} s after its receive ${String(failed.receiveCount)} ` +
          `(RENDER_TIMEOUT_SECONDS ${input.renderTimeoutSeconds}): the render was not stopped at its timeout`,
      );
    }
  }
  return violations;
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
    for (const pid of term.programsAlive ?? []) {
      violations.push(`program ${pid} of worker ${term.pid} still ran after the worker exited on SIGTERM`);
    }
  }
  return violations;
}
