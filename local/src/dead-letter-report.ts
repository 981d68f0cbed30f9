import { objectsNamedIn } from '../../shared/events/parse-message';
import type { DeadLetter } from '../../shared/queue/local-queue';

/** One dead-lettered object and why, as a person reads it. */
export interface DeadLetterLine {
  readonly key: string;
  readonly reason: string;
  /** The detail's last line: a program's own message, or the worker's explanation. */
  readonly why: string;
}

const WHY_CHARS = 200;

/**
 * What the DLQ holds, one line per object named: the worker's `failures` attribute carries each record's reason and
 * detail; a message SQS moved by its redrive policy (the worker never saw it through) has no reason of its own. Pure.
 */
export function describeDeadLetters(letters: readonly DeadLetter[]): DeadLetterLine[] {
  return letters.flatMap((letter) => {
    const keys = objectsNamedIn(letter.body).map((object) => visible(object.key));
    const failures = parseFailures(letter.attributes.failures);
    if (keys.length === 0) return [{ key: requestedKeyIn(letter.body) ?? '(no object named)', reason: failures[0]?.reason ?? letter.attributes['failure-reasons'] ?? 'unknown', why: lastLine(failures[0]?.detail) }];
    return keys.map((key, index) => {
      const failure = failures[index] ?? failures[0];
      return { key, reason: failure?.reason ?? letter.attributes['failure-reasons'] ?? 'moved by the redrive policy', why: lastLine(failure?.detail) };
    });
  });
}

function visible(text: string): string {
  return [...text].map((char) => (isControl(char.codePointAt(0)!) ? '?' : char)).join('');
}

function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

function parseFailures(text: string | undefined): { reason?: string; detail?: string }[] {
  if (text === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? (parsed as { reason?: string; detail?: string }[]) : [];
  } catch {
    return [];
  }
}

/** A program's stderr reaches a terminal here: control characters (escape sequences) are shown, never obeyed. */
function lastLine(detail: string | undefined): string {
  const line = visible((detail ?? '').trim().split('\n').pop() ?? '');
  return line.length > WHY_CHARS ? `${line.slice(0, WHY_CHARS)}…` : line;
}

/**
 * A job's own request naming its input (the batch job's record message: `{"id": ..., "key": ...}`), shown as
 * `<key> (record <id>)`; undefined for anything else.
 */
function requestedKeyIn(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { key, id } = parsed as { key?: unknown; id?: unknown };
  if (typeof key !== 'string') return undefined;
  return `${visible(key)}${typeof id === 'string' ? ` (record ${visible(id)})` : ''}`;
}
