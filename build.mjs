// Bundles each entry point into one file with esbuild: fast cold starts for the worker, a single-file Lambda for
// the scaler. Native modules stay external and are installed next to the bundle (see app/Dockerfile).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const entries = [
  { in: 'app/src/main.ts', out: 'dist/app/main.js', target: 'node20' },
  // The command job's example program: a user's program, bundled on its own (it imports nothing of the worker).
  { in: 'app/jobs/command/example/geojson-stats.ts', out: 'dist/app/jobs/command/geojson-stats.js', target: 'node20' },
  // The fan-out example's two analysis families: stand-ins for model containers, run by the command job.
  { in: 'app/jobs/fanout/example/loudness.ts', out: 'dist/app/jobs/fanout/loudness.js', target: 'node20' },
  { in: 'app/jobs/fanout/example/spectrum.ts', out: 'dist/app/jobs/fanout/spectrum.js', target: 'node20' },
  // The batch job's discovery (a one-off or scheduled task in the worker image) and the model's refit script.
  { in: 'app/jobs/batch/discovery/discover-cli.ts', out: 'dist/app/discover.js', target: 'node20' },
  { in: 'app/jobs/batch/model/fit-model-cli.ts', out: 'dist/app/jobs/batch/fit-model.js', target: 'node20' },
  { in: 'scaler/src/handler.ts', out: 'dist/scaler/index.js', target: 'node22' },
  { in: 'scaler/src/cli.ts', out: 'dist/scaler/cli.js', target: 'node20' },
  { in: 'local/src/cli.ts', out: 'dist/local/cli.js', target: 'node20' },
];

await Promise.all(
  entries
    .filter((entry) => existsSync(entry.in))
    .map((entry) =>
      build({
        entryPoints: [entry.in],
        outfile: entry.out,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: entry.target,
        sourcemap: 'linked',
        // dynalite (the local demo's embedded DynamoDB) loads its LevelDB binding relative to its own files.
        external: ['sharp', 'better-sqlite3', 'dynalite'],
        logLevel: 'warning',
      }),
    ),
);
