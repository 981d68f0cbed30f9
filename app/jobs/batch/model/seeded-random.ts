/**
 * mulberry32: a small, well-distributed 32-bit generator. The training set, the demo set and the tests must come out
 * the same on every machine and every run, which Math.random cannot promise.
 */
export type Random = () => number;

/** Bound once: a global lookup per draw is slow in a vm context (jest), and clips draw one per sample. */
const { imul } = Math;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export const between = (random: Random, low: number, high: number): number => low + (high - low) * random();
export const integerBetween = (random: Random, low: number, high: number): number => Math.floor(between(random, low, high + 1));
