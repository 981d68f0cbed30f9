// Bundles the chaos CLI and the pipeline process it forks, like the root build.mjs does for the worker; run after it
// (the chaos run starts dist/app/main.js as its worker). The fan-out run's family programs (the example DSP programs)
// are bundled here too, into <outdir>/fanout/, so the run does not depend on which programs the root build ships.
import { build } from 'esbuild';

const outdir = process.argv[2] ?? 'dist/test/chaos';
const bundle = (entry, outfile) =>
  build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'linked',
    // Native or file-relative packages load from node_modules.
    // dynalite (the batch run's DynamoDB) loads its LevelDB binding relative to its own files.
    external: ['sharp', 'better-sqlite3', 's3rver', 'dynalite'],
    logLevel: 'warning',
  });
await Promise.all([
  ...['cli', 'pipeline-process'].map((name) => bundle(`test/chaos/src/${name}.ts`, `${outdir}/${name}.js`)),
  ...['loudness', 'spectrum'].map((name) => bundle(`app/jobs/fanout/example/${name}.ts`, `${outdir}/fanout/${name}.js`)),
]);
