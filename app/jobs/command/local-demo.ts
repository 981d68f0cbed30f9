import { join } from 'node:path';
import type { JobDemo } from '../../src/job/job-demo';
import { writeGeojsonDemoSet } from './example/demo-set';

/**
 * `npm start -- --job command`: the GeoJSON statistics program over 20 GeoJSON files with awkward keys and seven
 * broken ones, each broken one dead-lettered with the program's own one-line reason.
 */
export const commandDemo: JobDemo = {
  job: 'command',
  noun: 'GeoJSON files',
  defaultSettings: ({ distDir }) => ({
    COMMAND: JSON.stringify(['node', join(distDir, 'app/jobs/command/geojson-stats.js'), '{input}', '{outputDir}']),
  }),
  settingNames: [
    'COMMAND', 'COMMAND_TRANSIENT_EXIT_CODES', 'COMMAND_TIMEOUT_SECONDS', 'COMMAND_KILL_GRACE_SECONDS', 'COMMAND_ENV_PASSTHROUGH',
  ],
  writeDemoSet: writeGeojsonDemoSet,
  // A program's outputs depend on its input: any file under the source's folder means it ran to the end.
  expectedOutputs: () => (relativeKey) => ({ prefix: `${relativeKey}/` }),
};
