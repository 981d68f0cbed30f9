/**
 * What the two analysis programs share as command-line programs: arguments, settings from the environment, writing
 * the outputs, and the exit-code contract with the `command` job (sysexits.h numbers):
 *   0   done, every output written
 *   64  EX_USAGE     wrong arguments
 *   65  EX_DATAERR   the input can never work (not a WAV file, truncated, unsupported encoding, too large, ...)
 *   66  EX_NOINPUT   the input file is missing or cannot be read
 *   70  EX_SOFTWARE  a bug in the program
 *   74  EX_IOERR     an output could not be written
 *   78  EX_CONFIG    a setting in the environment is malformed (as geojson-stats does for its own)
 * 75 (EX_TEMPFAIL, which the worker retries) is never used: every failure above repeats identically on a retry.
 * A failure writes exactly one line to stderr, the last thing the program writes, so it becomes the DLQ reason.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_MAX_WAV_BYTES, InputFileError, WavInputError } from './wav-input';

export const EX_USAGE = 64;
export const EX_DATAERR = 65;
export const EX_NOINPUT = 66;
export const EX_SOFTWARE = 70;
export const EX_IOERR = 74;
export const EX_CONFIG = 78;

export class ExitError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'ExitError';
  }
}

export interface ProgramArguments {
  readonly input: string;
  readonly outputDir: string;
}

export function programArguments(name: string, args: readonly string[]): ProgramArguments {
  if (args.length !== 2 || args.some((arg) => arg === '')) throw new ExitError(EX_USAGE, `usage: ${name} <input.wav> <outputDir>`);
  return { input: args[0], outputDir: args[1] };
}

/** WAV_MAX_BYTES: the largest input accepted; a Buffer cannot hold more than 2 GiB - 1 anyway. */
export function maxWavBytes(env: NodeJS.ProcessEnv): number {
  const raw = env.WAV_MAX_BYTES;
  if (raw === undefined || raw === '') return DEFAULT_MAX_WAV_BYTES;
  const value = /^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(value <= 2 ** 31 - 1)) throw new ExitError(EX_CONFIG, `WAV_MAX_BYTES must be a whole number of bytes from 1 to 2147483647, got "${raw.slice(0, 40)}"`);
  return value;
}

/** Writes each named file under outputDir, creating it; the worker uploads whatever is there after exit 0. */
export async function writeOutputs(outputDir: string, files: Readonly<Record<string, string>>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const path = join(outputDir, name);
    try {
      await mkdir(outputDir, { recursive: true });
      await writeFile(path, content);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new ExitError(EX_IOERR, `cannot write ${path}: ${typeof code === 'string' ? code : 'unknown error'}`);
    }
  }
}

/** One CSV line; every field here is a number, a boolean or a band label, none of which needs quoting. */
export const csvLine = (fields: readonly (string | number | boolean)[]) => `${fields.join(',')}\n`;

export const jsonFile = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** Runs a program's main and turns its outcome into the exit code and, on failure, the one stderr line. */
export function runProgram(name: string, main: (args: string[]) => Promise<void>): void {
  main(process.argv.slice(2)).catch((error: unknown) => {
    const [code, message] = outcome(error);
    process.stderr.write(`${name}: ${message}\n`);
    process.exitCode = code;
  });
}

function outcome(error: unknown): [number, string] {
  if (error instanceof ExitError) return [error.code, error.message];
  if (error instanceof WavInputError) return [EX_DATAERR, error.message];
  if (error instanceof InputFileError) return [EX_NOINPUT, error.message];
  // An unexpected error's message could quote data, so only its name goes out.
  return [EX_SOFTWARE, `internal error (${error instanceof Error ? error.name : typeof error})`];
}
