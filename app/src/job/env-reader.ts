import { ConfigError } from '../../../shared/errors';

/**
 * Reads variables and collects every problem, so a bad deployment shows all its mistakes in one start, each naming
 * the variable, what it got, and the form expected. The worker and every job read their settings through one.
 */
export class EnvReader {
  private readonly problems: string[] = [];
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  required(name: string, expected: string): string {
    const value = this.env[name]?.trim();
    if (value === undefined || value === '') {
      this.problems.push(`${name} is missing: expected ${expected}`);
      return '';
    }
    return value;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.present(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < min || value > max) {
      this.invalid(name, raw, max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.present(name);
    if (raw === undefined) return fallback;
    const match = allowed.find((option) => option.toLowerCase() === raw.toLowerCase());
    if (match === undefined) this.invalid(name, raw, `one of ${allowed.join(', ')}`);
    return match ?? fallback;
  }

  subsetOf<T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[] {
    const items = this.list(name);
    if (items === undefined) return [...fallback];
    const chosen = items.map((item) => allowed.find((option) => option === item.toLowerCase()));
    if (chosen.some((item) => item === undefined)) {
      this.invalid(name, items.join(','), `a comma-separated list of ${allowed.join(', ')}`);
      return [...fallback];
    }
    return [...new Set(chosen as T[])];
  }

  list(name: string): string[] | undefined {
    const raw = this.present(name);
    if (raw === undefined) return undefined;
    const items = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    return items.length > 0 ? items : undefined;
  }

  /** A value in a job's own form: `parse` returns undefined when the text is not in it. */
  parsed<T>(name: string, fallback: T, parse: (raw: string) => T | undefined, expected: string): T {
    const raw = this.present(name);
    if (raw === undefined) return fallback;
    const value = parse(raw);
    if (value === undefined) this.invalid(name, raw, expected);
    return value ?? fallback;
  }

  throwIfInvalid(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems.join('\n'));
  }

  present(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  private invalid(name: string, raw: string, expected: string): void {
    this.problems.push(`${name}="${raw}" is invalid: expected ${expected}`);
  }
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
