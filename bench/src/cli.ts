/**
 * `npm run bench [-- --quick]`: measures the transform ceiling, the worker end to end, its cold start, simulates
 * scaling under both rules, and writes results.json, summary.md and the charts. Targets are printed, not enforced.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runArchiveOnly, runBatchOnly, runBench, runCommandJobOnly, runFanoutOnly } from './run-bench';

const USAGE = `usage: node dist/bench/cli.js [--quick] [--only command|fanout|batch|archive] [--out DIR] [--worker dist/app/main.js]
                               [--program dist/app/jobs/command/geojson-stats.js] [--input-dir DIR] [--input-size 4000x3000]
  --quick       a smoke run of the whole harness in under two minutes (default out: a temporary directory)
  --only        command: only part 7 (the command job against its program run directly, about a minute), added to
                the results.json already in --out (summary.md rendered again), or written alone as command-job.json;
                fanout: only part 5's fan-out runs (issue 12, simulated, under a second), added the same way or
                written alone as fanout.json; batch: only part 8 (issue 13: the batch job's records/s per vCPU
                and bulk writes against one per record, a few minutes), added the same way or written alone as batch-job.json;
                archive: only part 9 (issue 14: the archive-split job on a generated 2 GiB export, ZIP and TAR.GZ, peak
                RSS and MB/s against the raw S3 read rate; 10-15 minutes, the first run also generates the exports),
                added the same way or written alone as archive-split.json
  --out         where results.json, summary.md and the PNGs go (default bench/results)
  --worker      the bundled worker to run end to end (default dist/app/main.js; npm run build makes it)
  --program     the command job's example program (default dist/app/jobs/command/geojson-stats.js; npm run build)
  --input-dir   where generated inputs are cached between runs (default <tmp>/s3-queue-bench-inputs)
  --input-size  generated image size (default 4000x3000)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      worker: { type: 'string', default: 'dist/app/main.js' },
      program: { type: 'string', default: 'dist/app/jobs/command/geojson-stats.js' },
      'input-dir': { type: 'string', default: join(tmpdir(), 's3-queue-bench-inputs') },
      'input-size': { type: 'string', default: '4000x3000' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  // `npm run bench --quick` (without `--`) reaches the script only as npm's config variable.
  const quick = values.quick || process.env.npm_config_quick === 'true';
  if (values.only !== undefined && !['command', 'fanout', 'batch', 'archive'].includes(values.only)) {
    console.error(`--only takes one part, command, fanout, batch or archive; got "${values.only}"\n${USAGE}`);
    return 2;
  }
  const size = /^(\d+)x(\d+)$/.exec(values['input-size']);
  if (size === null) {
    console.error(`--input-size must be WIDTHxHEIGHT, got "${values['input-size']}"\n${USAGE}`);
    return 2;
  }
  // libuv sizes its pool on first use: one thread per image in flight for the widest concurrency the bench sweeps.
  process.env.UV_THREADPOOL_SIZE ??= String(Math.max(8, availableParallelism()) + 2);
  const outDir = values.out ?? (quick ? join(tmpdir(), 's3-queue-bench-quick') : 'bench/results');
  const options = {
    quick,
    outDir: resolve(outDir),
    workerScript: resolve(values.worker),
    programScript: resolve(values.program),
    inputDir: resolve(values['input-dir']),
    inputWidth: Number(size[1]),
    inputHeight: Number(size[2]),
    log: (line: string) => console.log(line),
  };
  if (values.only === 'fanout') runFanoutOnly(options);
  else if (values.only === 'batch') await runBatchOnly(options);
  else if (values.only === 'archive') await runArchiveOnly(options);
  else await (values.only === 'command' ? runCommandJobOnly(options) : runBench(options));
  console.log(`results written to ${resolve(outDir)}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
