/**
 * `npm run chaos`: the full reliability run (300 good images + the bad-input matrix under faults and kills), then the
 * load run (5,000 images, resources sampled), then the infrastructure policy tests. Exits 1 when anything breaks.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runChaos, type ChaosOptions } from './chaos-run';
import { formatChaosReport, resourceProblems } from './chaos-report';

const POLICY_TESTS = ['infra/test/blueprint-stack.test.ts', 'infra/test/security-policy.test.ts'];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: '300' },
      'load-images': { type: 'string', default: '5000' },
      workers: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: '2' },
      'fault-rate': { type: 'string', default: '0.05' },
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      sigkills: { type: 'string', default: '6' },
      sigterms: { type: 'string', default: '3' },
      'skip-load': { type: 'boolean', default: false },
      'skip-policy': { type: 'boolean', default: false },
      'keep-data': { type: 'boolean', default: false },
    },
  });
  const root = process.cwd();
  const common = {
    workerPath: resolve(root, 'dist/app/main.js'),
    pipelinePath: resolve(__dirname, 'pipeline-process.js'),
    nodeModules: resolve(root, 'node_modules'),
    workers: Number(values.workers),
    concurrency: Number(values.concurrency),
    faultRate: Number(values['fault-rate']),
    seed: Number(values.seed),
    progress: (line: string) => process.stderr.write(`chaos: ${line}\n`),
  };
  let failed = false;
  const run = async (title: string, options: Omit<ChaosOptions, 'dataDir' | keyof typeof common>, extraChecks: (r: Awaited<ReturnType<typeof runChaos>>) => string[] = () => []) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'chaos-'));
    try {
      const result = await runChaos({ ...common, ...options, dataDir });
      process.stdout.write(`${formatChaosReport(`${title} (seed ${values.seed})`, result)}\n`);
      const extra = extraChecks(result);
      for (const problem of extra) process.stdout.write(`  - ${problem}\n`);
      if (result.report.violations.length + result.logLeaks.length + extra.length > 0 || result.report.counts.lost !== 0) failed = true;
      if (result.actions.sigkills + result.actions.sigterms + result.actions.pipelineKills < options.sigkills + options.sigterms + options.pipelineKills) {
        process.stdout.write('  - the queue drained before every planned kill ran\n');
        failed = true;
      }
    } finally {
      if (values['keep-data']) process.stderr.write(`chaos: data kept in ${dataDir}\n`);
      else rmSync(dataDir, { recursive: true, force: true });
    }
  };
  await run('chaos', {
    goodImages: Number(values.images), matrix: true, sigkills: Number(values.sigkills), sigterms: Number(values.sigterms), pipelineKills: 1, timeoutSeconds: 900,
  });
  if (!values['skip-load']) {
    await run('load', {
      goodImages: Number(values['load-images']), matrix: false, sigkills: 0, sigterms: 0, pipelineKills: 0, timeoutSeconds: 1800, sampleResources: true,
    }, resourceProblems);
  }
  if (!values['skip-policy']) {
    // The infrastructure's security policy tests (least privilege, encryption, TLS-only, no public access or IPs).
    process.stdout.write('== infrastructure policy tests ==\n');
    const jest = spawnSync(process.execPath, [resolve(root, 'node_modules/jest/bin/jest.js'), ...POLICY_TESTS], { cwd: root, stdio: 'inherit' });
    if (jest.status !== 0) failed = true;
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
