/**
 * The invariants of a batch chaos run, checked over what it left: the results table (scanned), the queue and its DLQ,
 * what discovery sent to the queue (the queue file's audit), and the puts the store proxy saw applied. Pure, so each
 * invariant is unit-tested by breaking it on purpose.
 */

/** What a record must become: a result (normal or anomalous audio), or a dead letter with this reason. */
export type BatchRecordExpectation = 'scored' | 'undecodable-audio' | 'input-missing';

export interface BatchRecordPlanned {
  readonly id: string;
  readonly expect: BatchRecordExpectation;
}

export interface BatchResultFound {
  readonly id: string;
  readonly modelVersion: string;
  readonly score: number;
}

export interface BatchDeadLetterFound {
  readonly messageId: string;
  readonly body: string;
  readonly receiveCount: number;
  readonly reasons: readonly string[];
  /** The `failures` attribute: each failure's reason and kind (permanent or transient). */
  readonly failures: readonly { readonly reason: string; readonly kind: string; readonly detail: string }[];
}

export interface DiscoveryFacts {
  /** Whether the first run was SIGKILLed before it finished (else it finished on its own). */
  readonly killed: boolean;
  /** Messages it had sent when the kill landed. */
  readonly sentBeforeKill: number;
  /** The rerun's summary: where it started (undefined: from the beginning), and its exit code. */
  readonly rerunStartedAfter: string | undefined;
  readonly rerunExitCode: number | null;
  /** Records one SendMessageBatch call carries (discovery's chunk). */
  readonly chunkSize: number;
}

export interface BatchInvariantInput {
  readonly records: readonly BatchRecordPlanned[];
  readonly results: readonly BatchResultFound[];
  readonly deadLetters: readonly BatchDeadLetterFound[];
  /** Messages still in the queue once every worker exited. */
  readonly left: readonly { readonly messageId: string; readonly body: string }[];
  /** Every body sent to the queue (discovery's sends), oldest first. */
  readonly sent: readonly string[];
  /** Per id, the distinct `scoredAt` values of the puts the store applied. */
  readonly applied: ReadonlyMap<string, ReadonlySet<string>>;
  readonly shippedModelVersion: string;
  readonly discovery: DiscoveryFacts;
  readonly unfinished?: string;
}

export interface BatchCounts {
  readonly records: number;
  readonly valid: number;
  readonly broken: number;
  readonly missingInput: number;
  /** Records with a result. */
  readonly scored: number;
  /** Dead letters by reason (a letter with several reasons counts under each). */
  readonly deadLettered: Readonly<Record<string, number>>;
  readonly deadLetters: number;
  /**
   * Records in the DLQ, by reason: a record discovery sent twice (its chunk in flight when it was killed) has two
   * messages, and each is dead-lettered on its own.
   */
  readonly deadLetteredRecords: Readonly<Record<string, number>>;
  /** Records with no result whose message is in the DLQ. */
  readonly unscoredDeadLettered: number;
  /** Valid records in the DLQ with no result, every failure transient (the receives ran out): ids and reasons. */
  readonly transientExhaustion: readonly { readonly id: string; readonly reasons: string }[];
  /** Dead letters of records that have a result (written, then the message ran out of receives): false alarms. */
  readonly finishedWorkDeadLettered: number;
  /** Records whose result was written by more than one scoring (distinct scoredAt): at-least-once, allowed. */
  readonly duplicatesScored: number;
  /** Puts applied in all, over every scoring and retry. */
  readonly scoringsApplied: number;
  /** Records discovery sent more than once. */
  readonly sentTwice: number;
  readonly messagesSent: number;
  /** Records with neither a result nor a dead letter. */
  readonly lost: number;
}

export interface BatchInvariantReport {
  readonly violations: string[];
  readonly counts: BatchCounts;
}

/** A record message's id, or undefined for any other body. */
export function recordIdOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { kind?: unknown; id?: unknown };
    return parsed.kind === 'batch-record' && typeof parsed.id === 'string' ? parsed.id : undefined;
  } catch {
    return undefined;
  }
}

export function checkBatchInvariants(input: BatchInvariantInput): BatchInvariantReport {
  const violations: string[] = [];
  const problem = (text: string) => violations.push(text);
  if (input.unfinished !== undefined) problem(`the run did not finish: ${input.unfinished}`);

  const planned = new Map(input.records.map((record) => [record.id, record]));
  const resultOf = new Map<string, BatchResultFound>();
  for (const result of input.results) {
    if (resultOf.has(result.id)) problem(`record ${result.id} has more than one result in the table`);
    resultOf.set(result.id, result);
    if (!planned.has(result.id)) problem(`the results table holds an item for ${JSON.stringify(result.id)}, which is no record`);
    if (result.modelVersion !== input.shippedModelVersion) problem(`record ${result.id}'s result is from model ${JSON.stringify(result.modelVersion)}, the shipped model is ${input.shippedModelVersion}`);
    if (typeof result.score !== 'number' || !Number.isFinite(result.score)) problem(`record ${result.id}'s result has no finite score (${String(result.score)})`);
  }

  const lettersOf = new Map<string, BatchDeadLetterFound[]>();
  const deadLettered: Record<string, number> = {};
  for (const letter of input.deadLetters) {
    const id = recordIdOf(letter.body);
    for (const reason of letter.reasons.length > 0 ? letter.reasons : ['(moved by the queue\'s redrive)']) deadLettered[reason] = (deadLettered[reason] ?? 0) + 1;
    if (id === undefined || !planned.has(id)) {
      problem(`the DLQ holds message ${letter.messageId}, which is no record's (${letter.reasons.join(',') || 'no reason'})`);
      continue;
    }
    lettersOf.set(id, [...(lettersOf.get(id) ?? []), letter]);
  }

  const sentCount = new Map<string, number>();
  for (const body of input.sent) {
    const id = recordIdOf(body);
    if (id === undefined || !planned.has(id)) {
      problem(`the queue was sent a message that is no record's: ${body.slice(0, 80)}`);
      continue;
    }
    sentCount.set(id, (sentCount.get(id) ?? 0) + 1);
  }

  let lost = 0;
  let finishedWorkDeadLettered = 0;
  const transientExhaustion: { id: string; reasons: string }[] = [];
  for (const record of input.records) {
    const result = resultOf.get(record.id);
    const letters = lettersOf.get(record.id) ?? [];
    if ((sentCount.get(record.id) ?? 0) === 0) problem(`record ${record.id} was never sent to the queue: discovery skipped it`);
    if (result === undefined && letters.length === 0) {
      lost++;
      problem(`record ${record.id} (${record.expect}) has no result and is not in the DLQ: lost`);
      continue;
    }
    if (record.expect !== 'scored') {
      if (result !== undefined) problem(`record ${record.id} (${record.expect}) has a result, score ${result.score}`);
      for (const letter of letters) {
        if (!letter.reasons.includes(record.expect)) problem(`record ${record.id} is in the DLQ for ${letter.reasons.join(',') || 'no reason (redrive)'}, expected ${record.expect}`);
      }
      continue;
    }
    for (const letter of letters) {
      if (result !== undefined) {
        finishedWorkDeadLettered++;
        continue;
      }
      const permanent = letter.failures.filter((failure) => failure.kind !== 'transient');
      if (letter.reasons.length > 0 && permanent.length > 0) {
        problem(`valid record ${record.id} is in the DLQ for a permanent failure: ${permanent.map((failure) => `${failure.reason} (${failure.detail.slice(0, 160)})`).join('; ')}`);
      } else {
        transientExhaustion.push({ id: record.id, reasons: letter.reasons.join(',') || 'moved by the queue\'s redrive' });
      }
    }
  }

  for (const message of input.left) problem(`the queue still holds message ${message.messageId} (record ${recordIdOf(message.body) ?? '?'})`);

  // Discovery: every record sent, and again only what the killed run's chunk in flight held.
  const sentTwice = [...sentCount.values()].filter((count) => count > 1).length;
  const allowedTwice = input.discovery.killed ? input.discovery.chunkSize : 0;
  if (sentTwice > allowedTwice) {
    problem(`discovery sent ${sentTwice} records more than once; ${input.discovery.killed ? `a killed run may repeat only its chunk in flight (${input.discovery.chunkSize})` : 'it was never killed, so none may repeat'}`);
  }
  if (input.discovery.killed && input.discovery.sentBeforeKill >= input.discovery.chunkSize && input.discovery.rerunStartedAfter === undefined) {
    problem(`discovery was killed after sending ${input.discovery.sentBeforeKill} records, yet its rerun started from the beginning: the watermark did not hold`);
  }
  if (input.discovery.rerunExitCode !== 0) problem(`discovery's rerun exited ${String(input.discovery.rerunExitCode)}, expected 0`);

  let scoringsApplied = 0;
  let duplicatesScored = 0;
  for (const [id, scorings] of input.applied) {
    scoringsApplied += scorings.size;
    if (scorings.size > 1) duplicatesScored++;
    if (!resultOf.has(id)) problem(`the store applied a put for ${id}, which has no result in the table`);
  }
  for (const id of resultOf.keys()) if (!input.applied.has(id)) problem(`record ${id} has a result no put of which was seen through the store proxy`);

  const deadLetteredRecords: Record<string, number> = {};
  for (const letters of lettersOf.values()) {
    for (const reason of new Set(letters.flatMap((letter) => (letter.reasons.length > 0 ? letter.reasons : ['(moved by the queue\'s redrive)'])))) {
      deadLetteredRecords[reason] = (deadLetteredRecords[reason] ?? 0) + 1;
    }
  }
  const expectOf = (kind: BatchRecordExpectation) => input.records.filter((record) => record.expect === kind).length;
  return {
    violations,
    counts: {
      records: input.records.length,
      valid: expectOf('scored'),
      broken: expectOf('undecodable-audio'),
      missingInput: expectOf('input-missing'),
      scored: [...resultOf.keys()].filter((id) => planned.has(id)).length,
      deadLettered,
      deadLetters: input.deadLetters.length,
      deadLetteredRecords,
      unscoredDeadLettered: [...lettersOf.keys()].filter((id) => !resultOf.has(id)).length,
      transientExhaustion,
      finishedWorkDeadLettered,
      duplicatesScored,
      scoringsApplied,
      sentTwice,
      messagesSent: input.sent.length,
      lost,
    },
  };
}
