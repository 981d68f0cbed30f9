import { outputKey } from '../../app/jobs/resize/resize-output-key';

/** Where every source object stands: done (all outputs there), dead-lettered, or still pending. Pure. */
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
  readonly sizes: readonly string[];
  readonly extension: string;
  readonly destPrefix: string;
  readonly sourcePrefix: string;
}

export function account(input: AccountingInput): Accounting {
  const outputs = new Set(input.destinationKeys);
  const dead = new Set(input.deadLetteredKeys);
  let done = 0;
  let deadLettered = 0;
  const pending: string[] = [];
  for (const key of input.sourceKeys) {
    if (key.endsWith('/')) continue;
    const expected = input.sizes.map((size) =>
      outputKey({ destPrefix: input.destPrefix, sourcePrefix: input.sourcePrefix, sourceKey: key, outputName: size, extension: input.extension }),
    );
    if (expected.every((output) => outputs.has(output))) done++;
    else if (dead.has(key)) deadLettered++;
    else pending.push(key);
  }
  return { loaded: input.sourceKeys.filter((key) => !key.endsWith('/')).length, done, deadLettered, pending, outputs: outputs.size };
}
