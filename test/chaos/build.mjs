// Bundles the chaos CLI and the pipeline process it forks, like the root build.mjs does for the worker; run after it
// (the chaos run starts dist/app/main.js as its worker).
import { build } from 'esbuild';

const outdir = process.argv[2] ?? 'dist/test/chaos';
await Promise.all(
  ['cli', 'pipeline-process'].map((name) =>
    build({
      entryPoints: [`test/chaos/src/${name}.ts`],
      outfile: `${outdir}/${name}.js`,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'linked',
      // Native or file-relative packages load from node_modules.
      external: ['sharp', 'better-sqlite3', 's3rver'],
      logLevel: 'warning',
    }),
  ),
);
