// cdktf runs this to synthesize: esbuild bundles infra/main.ts (no ts-node needed) into dist/ and runs it there,
// so its packages resolve from the project's node_modules.
import { buildSync } from 'esbuild';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const out = resolve('dist/infra/main.cjs');
buildSync({ entryPoints: ['infra/main.ts'], outfile: out, bundle: true, platform: 'node', format: 'cjs', target: 'node20', packages: 'external', logLevel: 'warning' });
createRequire(import.meta.url)(out);
