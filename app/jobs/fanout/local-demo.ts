import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobDemo } from '../../src/job/job-demo';
import { writeWavDemoSet } from './example/demo-set';

/** The demo's run: its manifest sits in a folder of the run's name, which is how the local accounting finds the run. */
const DEMO_RUN = 'dawn-chorus';
const RUNS_ROOT = 'runs/';
const FAMILIES = ['loudness', 'spectrum'] as const;
const AGGREGATOR = 'summary';
const MANIFEST_SUFFIX = 'manifest.json';

/**
 * `npm start -- --job fanout`: a manifest of 240 WAV files (tones, chirps, noise, silence, and broken files) is
 * dispatched in batches to two families, each its own pipeline with its own queue and workers, running the example
 * DSP programs through the command job; the aggregator then runs once and writes `runs/dawn-chorus/summary.csv`.
 */
export const fanoutDemo: JobDemo = {
  job: 'fanout',
  noun: 'WAV files',
  sourceSuffixes: [MANIFEST_SUFFIX],
  role: { kind: 'fanout', families: FAMILIES },
  defaultSettings: ({ queueFile }) => ({
    DEST_PREFIX: RUNS_ROOT,
    FANOUT_FAMILIES: JSON.stringify(Object.fromEntries(FAMILIES.map((family) => [family, queueFile(family)]))),
    BATCH_SIZE: '20',
  }),
  settingNames: ['FANOUT_FAMILIES', 'BATCH_SIZE', 'MAX_MANIFEST_BYTES'],
  companions: ({ distDir, queueFile }) => [
    ...FAMILIES.map((family) => ({
      name: family,
      role: { kind: 'family' as const, family, aggregator: AGGREGATOR },
      maxTasks: 2,
      settings: {
        JOB: 'command',
        COMMAND: JSON.stringify(['node', join(distDir, `app/jobs/fanout/${family}.js`), '{input}', '{outputDir}']),
        FANOUT_FAMILY: family,
        AGGREGATE_QUEUE_URL: queueFile(AGGREGATOR),
        RUNS_PREFIX: RUNS_ROOT,
        // A batch is 20 files one after another: give it the time a slow laptop needs.
        MESSAGE_DEADLINE_SECONDS: '600',
      },
    })),
    { name: AGGREGATOR, role: { kind: 'aggregator' as const }, maxTasks: 1, settings: { JOB: 'aggregate', RUNS_PREFIX: RUNS_ROOT } },
  ],
  async writeDemoSet(dir) {
    const set = await writeWavDemoSet(dir);
    const manifestDir = join(dir, 'manifests', DEMO_RUN);
    mkdirSync(manifestDir, { recursive: true });
    // The manifest is written last and uploaded with the rest; its files are there before its event is handled,
    // since an upload finishes before the next one starts.
    writeFileSync(join(manifestDir, MANIFEST_SUFFIX), `${JSON.stringify({ runId: DEMO_RUN, keys: set.keys, settings: { ACTIVITY_THRESHOLD_DB: '-45' } }, null, 2)}\n`);
    return { good: set.good, broken: set.broken };
  },
  // A manifest is done when its run's report exists; the audio files are its data, not inputs of their own.
  expectedOutputs: () => (relativeKey) => {
    if (!relativeKey.endsWith(MANIFEST_SUFFIX)) return { ignored: true };
    const folder = relativeKey.split('/').slice(-2, -1)[0] ?? '';
    return { names: [`${folder}/report.json`] };
  },
};
