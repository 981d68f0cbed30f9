import type { ExpectedOutputs } from '../../app/src/job/job-demo';
import { relativeSourceKey } from '../../shared/naming/output-metadata';

/** Where every source object stands: done (its outputs there), dead-lettered, or still pending. Pure. */
export interface Accounting {
  readonly loaded: number;
  readonly done: number;
  readonly deadLettered: number;
  readonly pending: readonly string[];
  readonly outputs: number;
}

export interface AccountingInput {
  readonly sourceKeys: readonly string[];
  readonly destinationKeys: readonly string[];
  /** Source keys whose message is in the DLQ. */
  readonly deadLetteredKeys: readonly string[];
  readonly destPrefix: string;
  readonly sourcePrefix: string;
  /** The job's own answer: what a done source leaves under DEST_PREFIX, from its key minus SOURCE_PREFIX. */
  readonly expectedOutputs: (relativeKey: string) => ExpectedOutputs;
}

export function account(input: AccountingInput): Accounting {
  const outputs = new Set(input.destinationKeys);
  const sortedOutputs = [...outputs].sort();
  const dead = new Set(input.deadLetteredKeys);
  let done = 0;
  let deadLettered = 0;
  const pending: string[] = [];
  for (const key of input.sourceKeys) {
    if (key.endsWith('/')) continue;
    const expected = input.expectedOutputs(relativeSourceKey(key, input.sourcePrefix));
    if ('ignored' in expected) continue;
    const isDone = 'names' in expected
      ? expected.names.every((name) => outputs.has(`${input.destPrefix}${name}`))
      : hasKeyWithPrefix(sortedOutputs, `${input.destPrefix}${expected.prefix}`);
    if (isDone) done++;
    else if (dead.has(key)) deadLettered++;
    else pending.push(key);
  }
  return { loaded: done + deadLettered + pending.length, done, deadLettered, pending, outputs: outputs.size };
}

/** Binary search over sorted keys: thousands of sources against thousands of outputs stay cheap every tick. */
function hasKeyWithPrefix(sorted: readonly string[], prefix: string): boolean {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < prefix) low = middle + 1;
    else high = middle;
  }
  return low < sorted.length && sorted[low]!.startsWith(prefix);
}
