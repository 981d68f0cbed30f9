import { processIsAlive } from '../../../src/job/work-dirs';
import { basename, join } from 'node:path';

/** True once `pid` no longer runs: gone, or a zombie nobody has reaped yet (PID 1 in a container may never reap). */
export function processIsGone(pid: number): boolean {
  return !processIsAlive(pid);
}

/** Polls `check` every 20 ms until it holds or `ms` pass; returns its last answer. */
export async function eventually(check: () => boolean, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** The environment test programs run with: enough to find sh, sleep and node. */
export const TEST_ENV: Readonly<Record<string, string>> = Object.freeze({ PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' });

/** Bundles a TypeScript fixture (and the real modules it imports) into one script node can run, under `dir`. */
export function bundleFixture(entry: string, dir: string): string {
  // Loaded lazily: only the tests that start a real worker-like process need it.
  const esbuild = require('esbuild') as typeof import('esbuild');
  const outfile = join(dir, `${basename(entry, '.ts')}.js`);
  esbuild.buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'silent' });
  return outfile;
}
