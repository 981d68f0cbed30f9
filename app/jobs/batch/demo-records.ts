/**
 * The batch job's demo set: short machine recordings, mostly normal, some anomalous, a few broken files, with what
 * each should come out as. Deterministic for a seed, so the local demo and the tests can check every record's outcome.
 *
 * Clips are 1-2 s of 16 kHz mono 16-bit WAV (32-64 KB), so a few hundred upload and score in seconds. The proportions
 * are fixed (ANOMALOUS_SHARE, BROKEN_SHARE with at least one broken file; the kinds in turn within each) and the
 * positions shuffled, so the ids give no hint of the outcome.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ANOMALY_KINDS, machineSound, type MachineSoundKind } from './model/machine-sounds';
import { between, integerBetween, seededRandom, type Random } from './model/seeded-random';
import { encodeWav } from './model/wav-encoding';

export type ExpectedOutcome = 'normal' | 'anomalous' | 'broken';
export type BrokenKind = 'truncated' | 'text' | 'empty' | 'zero-channels';
const BROKEN_KINDS: readonly BrokenKind[] = ['truncated', 'text', 'empty', 'zero-channels'];

export interface DemoRecord {
  readonly id: string;
  readonly fileName: string;
  readonly bytes: Uint8Array;
  readonly expected: ExpectedOutcome;
  /** What was made: a machine sound kind, or how the file is broken. */
  readonly kind: MachineSoundKind | BrokenKind;
}

export interface DemoSetOptions {
  readonly count: number;
  readonly seed: number;
}

export const ANOMALOUS_SHARE = 0.15;
export const BROKEN_SHARE = 0.03;
const SAMPLE_RATE = 16000;

export function batchDemoRecords({ count, seed }: DemoSetOptions): DemoRecord[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a whole number, got ${count}`);
  const random = seededRandom(seed);
  const broken = count === 0 ? 0 : Math.max(1, Math.round(count * BROKEN_SHARE));
  const anomalous = Math.min(count - broken, Math.round(count * ANOMALOUS_SHARE));
  const plan: (MachineSoundKind | BrokenKind)[] = [
    ...Array.from({ length: broken }, (_, index) => BROKEN_KINDS[index % BROKEN_KINDS.length]),
    ...Array.from({ length: anomalous }, (_, index) => ANOMALY_KINDS[index % ANOMALY_KINDS.length]),
    ...Array.from({ length: count - broken - anomalous }, () => 'normal' as const),
  ];
  shuffle(plan, random);
  const digits = Math.max(6, String(count).length);
  return plan.map((kind, index) => {
    const id = `rec-${String(index + 1).padStart(digits, '0')}`;
    const expected: ExpectedOutcome = kind === 'normal' ? 'normal' : (BROKEN_KINDS as readonly string[]).includes(kind) ? 'broken' : 'anomalous';
    const bytes = expected === 'broken' ? brokenFile(kind as BrokenKind, random) : clip(kind as MachineSoundKind, random);
    return { id, fileName: `${id}.wav`, bytes, expected, kind };
  });
}

/** Writes the files into dir and returns the records without their bytes (the manifest a demo reports against). */
export async function writeBatchDemoSet(dir: string, options: DemoSetOptions): Promise<Omit<DemoRecord, 'bytes'>[]> {
  await mkdir(dir, { recursive: true });
  const records = batchDemoRecords(options);
  for (const record of records) await writeFile(join(dir, record.fileName), record.bytes);
  return records.map(({ bytes: _bytes, ...rest }) => rest);
}

function clip(kind: MachineSoundKind, random: Random): Uint8Array {
  const seconds = Math.round(between(random, 1, 2) * 100) / 100;
  return encodeWav([machineSound(kind, random, { sampleRate: SAMPLE_RATE, seconds })], SAMPLE_RATE);
}

function brokenFile(kind: BrokenKind, random: Random): Uint8Array {
  switch (kind) {
    case 'empty':
      return new Uint8Array(0);
    case 'text':
      return new TextEncoder().encode('meeting notes: the compressor on line 3 sounds odd, please check\n');
    case 'truncated': {
      // An upload cut short: the header promises more data than the file holds.
      const whole = clip('normal', random);
      return whole.slice(0, integerBetween(random, 60, Math.floor(whole.length / 2)));
    }
    case 'zero-channels': {
      const bytes = clip('normal', random).slice();
      new DataView(bytes.buffer).setUint16(22, 0, true); // fmt's channel count
      return bytes;
    }
  }
}

/** Fisher-Yates with the seeded generator. */
function shuffle<T>(items: T[], random: Random): void {
  for (let index = items.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [items[index], items[other]] = [items[other], items[index]];
  }
}
