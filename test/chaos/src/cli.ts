/**
 * `npm run chaos`: the full reliability run. `npm run chaos -- --job command` runs the command job's pass instead: the
 * GeoJSON example program on every object under the same kills, faults, outage and overwrites, with its bad inputs;
 * `--job fanout` the fan-out group's run (four pipelines, several manifests, kills aimed at the ledger's windows, an
 * outage: fanout-chaos.ts); `--job batch` the batch job's run (discovery killed mid-run and rerun, workers killed at random and
 * at the result write, S3 and store faults, a store outage: batch-chaos.ts); `--job archive` the archive-split job's run
 * (generated ZIP and TAR.GZ exports and two broken uploads split by two workers, killed at random while they build
 * batch ZIPs and at an UploadPart, a completed upload and the callback marker, archive reads cut mid-body, S3 faults
 * on every kind of call:
 * archive-chaos.ts). The main pass (300 good images, the bad-input matrix, overwrite races and
 * decode-heavy images under faults, kills and a multi-minute S3 outage), the slow-render pass (renders that outlive a
 * short RENDER_TIMEOUT_SECONDS, a SIGTERM during one), the memory control (the decode-heavy images with the memory
 * budget lifted must get a worker OOM-killed, or the memory invariant proves nothing), the load run (5,000 images,
 * resources sampled), then the infrastructure policy tests. Every worker process runs in a memory cgroup the size of
 * a task. Exits 1 when anything breaks.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runChaos, TASK_MEMORY_MIB, type ChaosJob, type ChaosOptions, type ChaosResult } from './chaos-run';
import { commandProblems, formatChaosReport, memoryTable, resourceProblems } from './chaos-report';
import type { OutageMode } from './fault-proxy';
import { archiveRunProblems, formatArchiveReport, planArchiveExports, runArchiveChaos } from './archive-chaos';
import { runBatchChaos } from './batch-chaos';
import { batchProblems, formatBatchReport } from './batch-report';
import { runFanoutChaos } from './fanout-chaos';
import { fanoutProblems, formatFanoutReport } from './fanout-report';
import type { StoreOutageMode } from './store-fault-proxy';

const POLICY_TESTS = ['infra/test/blueprint-stack.test.ts', 'infra/test/security-policy.test.ts'];
const MiB = 1024 * 1024;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: '300' },
      'load-images': { type: 'string', default: '5000' },
      // 3 workers (2 per pipeline for the fan-out group of four pipelines).
      workers: { type: 'string' },
      // 4 images at once per worker; 2 programs for the command job (its default is the task's vCPUs).
      concurrency: { type: 'string' },
      job: { type: 'string', default: 'resize' },
      large: { type: 'string', default: '5' },
      'fault-rate': { type: 'string', default: '0.05' },
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      sigkills: { type: 'string', default: '6' },
      sigterms: { type: 'string', default: '3' },
      races: { type: 'string', default: '10' },
      'heavy-png16': { type: 'string', default: '12' },
      'heavy-progressive': { type: 'string', default: '3' },
      'heavy-side': { type: 'string', default: '10000' },
      // 180 s (60 s for the fan-out run).
      'outage-seconds': { type: 'string' },
      'outage-at': { type: 'string', default: '0.3' },
      'outage-mode': { type: 'string', default: 'mixed' },
      'memory-mib': { type: 'string', default: String(TASK_MEMORY_MIB) },
      'control-concurrency': { type: 'string', default: '6' },
      'skip-main': { type: 'boolean', default: false },
      'skip-slow-render': { type: 'boolean', default: false },
      'skip-memory-control': { type: 'boolean', default: false },
      'skip-load': { type: 'boolean', default: false },
      'skip-policy': { type: 'boolean', default: false },
      'keep-data': { type: 'boolean', default: false },
      // The fan-out run (--job fanout): its manifests and the kills aimed at its windows.
      runs: { type: 'string', default: '3' },
      files: { type: 'string', default: '50' },
      broken: { type: 'string', default: '3' },
      // 5 for the fan-out (files per batch message), 10 for the batch job (BATCH_SIZE), 250 for the archive split (rows per batch ZIP).
      'batch-size': { type: 'string' },
      'window-kills': { type: 'string', default: '2' },
      'trigger-kills': { type: 'string', default: '1' },
      'aggregator-kills': { type: 'string', default: '2' },
      'dispatch-kills': { type: 'string', default: '1' },
      'pipeline-kills': { type: 'string', default: '1' },
      'poisoned-batches': { type: 'string', default: '1' },
      'poisoned-triggers': { type: 'string', default: '0' },
      // The batch run (--job batch): records, discovery's kill, kills aimed at the result write, store faults and outage.
      records: { type: 'string', default: '300' },
      'missing-inputs': { type: 'string', default: '3' },
      'max-concurrency': { type: 'string', default: '2' },
      'download-timeout-ms': { type: 'string', default: '1000' },
      'slow-ms': { type: 'string', default: '1500' },
      'before-write-kills': { type: 'string', default: '2' },
      'after-write-kills': { type: 'string', default: '2' },
      'discovery-kill-at': { type: 'string', default: '0.35' },
      'store-fault-rate': { type: 'string', default: '0.05' },
      'store-write-fault-rate': { type: 'string', default: '0.2' },
      'store-outage-seconds': { type: 'string', default: '15' },
      'store-outage-at': { type: 'string', default: '0.4' },
      'store-outage-mode': { type: 'string', default: 'mixed' },
      // The archive-split run (--job archive): its exports, the disk a TAR.GZ may spill to, kills aimed at its windows, fault rates per call.
      exports: { type: 'string', default: '8' },
      'min-images': { type: 'string', default: '300' },
      'max-images': { type: 'string', default: '2000' },
      'disk-budget-mib': { type: 'string', default: '16' },
      'mid-upload-kills': { type: 'string', default: '2' },
      'after-complete-kills': { type: 'string', default: '2' },
      'before-marker-kills': { type: 'string', default: '2' },
      'after-marker-kills': { type: 'string', default: '1' },
      'body-cuts': { type: 'string', default: '3' },
      'get-fault-rate': { type: 'string', default: '0.1' },
      'head-fault-rate': { type: 'string', default: '0.1' },
      'put-fault-rate': { type: 'string', default: '0.15' },
      'multipart-fault-rate': { type: 'string', default: '0.2' },
    },
  });
  const job = values.job as ChaosJob | 'fanout' | 'batch' | 'archive';
  if (job !== 'resize' && job !== 'command' && job !== 'fanout' && job !== 'batch' && job !== 'archive') throw new Error(`--job must be resize, command, fanout, batch or archive, got ${JSON.stringify(values.job)}`);
  const concurrency = Number(values.concurrency ?? (job === 'resize' ? '4' : '2'));
  const workers = Number(values.workers ?? (job === 'fanout' || job === 'archive' ? '2' : '3'));
  const root = process.cwd();
  const memoryMiB = Number(values['memory-mib']);
  const heavySide = Number(values['heavy-side']);
  const outageSeconds = Number(values['outage-seconds'] ?? (job === 'fanout' ? '60' : '180'));
  const common = {
    workerPath: resolve(root, 'dist/app/main.js'),
    pipelinePath: resolve(__dirname, 'pipeline-process.js'),
    nodeModules: resolve(root, 'node_modules'),
    seed: Number(values.seed),
    memoryLimitMiB: memoryMiB,
    progress: (line: string) => process.stderr.write(`chaos: ${line}\n`),
  };
  let failed = false;
  const run = async (
    title: string,
    options: Omit<ChaosOptions, 'dataDir' | keyof typeof common>,
    extraChecks: (r: ChaosResult) => string[] = () => [],
    judge: 'invariants' | 'extra-only' = 'invariants',
  ): Promise<ChaosResult | undefined> => {
    const dataDir = mkdtempSync(join(tmpdir(), 'chaos-'));
    try {
      const result = await runChaos({ ...common, ...options, dataDir });
      if (judge === 'invariants') process.stdout.write(`${formatChaosReport(`${title} (seed ${values.seed})`, result)}\n`);
      const extra = extraChecks(result);
      for (const problem of extra) process.stdout.write(`  - ${problem}\n`);
      if (extra.length > 0) failed = true;
      if (judge === 'invariants') {
        if (result.report.violations.length + result.logLeaks.length > 0 || result.report.counts.lost !== 0) failed = true;
        if (result.actions.sigkills + result.actions.sigterms + result.actions.pipelineKills < options.sigkills + options.sigterms + options.pipelineKills) {
          process.stdout.write('  - the queue drained before every planned kill ran\n');
          failed = true;
        }
        if (result.memory.length > 0) process.stdout.write(`${memoryTable(result.memory).join('\n')}\n`);
      }
      return result;
    } catch (error) {
      process.stdout.write(`== ${title}: did not finish: ${error instanceof Error ? error.message : String(error)}\n`);
      failed = true;
      return undefined;
    } finally {
      if (values['keep-data']) process.stderr.write(`chaos: data kept in ${dataDir}\n`);
      else rmSync(dataDir, { recursive: true, force: true });
    }
  };

  const outage = outageSeconds > 0 ? { outage: { seconds: outageSeconds, atFraction: Number(values['outage-at']), mode: values['outage-mode'] as OutageMode } } : {};
  // What every job's main pass takes from the command line: its inputs, the kills, the faults and the outage.
  const mainPass = {
    goodImages: Number(values.images),
    matrix: true,
    workers,
    concurrency,
    faultRate: Number(values['fault-rate']),
    sigkills: Number(values.sigkills),
    sigterms: Number(values.sigterms),
    pipelineKills: 1,
    races: Number(values.races),
    ...outage,
    timeoutSeconds: 1200,
  };
  if (job === 'command') {
    // The same kinds of chaos for the command job: its GeoJSON inputs and matrix, large files uploaded in parts.
    await run('chaos, command job', {
      ...mainPass,
      job: 'command',
      commandProgramPath: resolve(root, 'dist/app/jobs/command/geojson-stats.js'),
      largeInputs: Number(values.large),
    }, commandProblems);
  }
  if (job === 'fanout') {
    // The fan-out group: four pipelines, several manifests, kills aimed at the windows that matter, an outage.
    const planned = {
      windowKills: Number(values['window-kills']), triggerKills: Number(values['trigger-kills']),
      aggregatorKills: Number(values['aggregator-kills']), dispatchKills: Number(values['dispatch-kills']),
      poisonedBatches: Number(values['poisoned-batches']),
    };
    const dataDir = mkdtempSync(join(tmpdir(), 'chaos-fanout-'));
    try {
      const result = await runFanoutChaos({
        ...common,
        dataDir,
        programDir: resolve(__dirname, 'fanout'),
        runs: Number(values.runs),
        filesPerRun: Number(values.files),
        brokenPerRun: Number(values.broken),
        batchSize: Number(values['batch-size'] ?? '5'),
        workers,
        concurrency,
        faultRate: Number(values['fault-rate']),
        sigkills: Number(values.sigkills),
        ...planned,
        pipelineKills: Number(values['pipeline-kills']),
        poisonedTriggers: Number(values['poisoned-triggers']),
        ...(outageSeconds > 0 ? { outage: { seconds: outageSeconds, atFraction: Number(values['outage-at']), mode: values['outage-mode'] as OutageMode } } : {}),
        timeoutSeconds: 1200,
      });
      process.stdout.write(`${formatFanoutReport(`chaos, fan-out (seed ${values.seed})`, result)}\n`);
      const extra = fanoutProblems(result, planned);
      for (const problem of extra) process.stdout.write(`  - ${problem}\n`);
      if (result.memory.length > 0) process.stdout.write(`${memoryTable(result.memory).join('\n')}\n`);
      if (extra.length + result.report.violations.length + result.logLeaks.length > 0 || result.report.counts.lost !== 0) failed = true;
    } catch (error) {
      process.stdout.write(`== chaos, fan-out: did not finish: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      failed = true;
    } finally {
      if (values['keep-data']) process.stderr.write(`chaos: data kept in ${dataDir}\n`);
      else rmSync(dataDir, { recursive: true, force: true });
    }
  }
  if (job === 'batch') {
    // The batch job: discovery killed mid-run and rerun, workers killed at random and at the result write, S3 and
    // store faults (a write applied but answered 500 among them), a store outage.
    const planned = {
      sigkills: Number(values.sigkills), beforeWriteKills: Number(values['before-write-kills']), afterWriteKills: Number(values['after-write-kills']),
      discoveryKill: Number(values['discovery-kill-at']) > 0,
    };
    const dataDir = mkdtempSync(join(tmpdir(), 'chaos-batch-'));
    const storeOutageSeconds = Number(values['store-outage-seconds']);
    try {
      const result = await runBatchChaos({
        ...common,
        dataDir,
        discoverPath: resolve(root, 'dist/app/discover.js'),
        records: Number(values.records),
        missingInputs: Number(values['missing-inputs']),
        workers,
        batchSize: Number(values['batch-size'] ?? '10'),
        maxConcurrentBatches: Number(values['max-concurrency']),
        s3FaultRate: Number(values['fault-rate']),
        downloadTimeoutMs: Number(values['download-timeout-ms']),
        slowMs: Number(values['slow-ms']),
        storeFaultRate: Number(values['store-fault-rate']),
        storeWriteFaultRate: Number(values['store-write-fault-rate']),
        ...planned,
        discoveryKillAt: Number(values['discovery-kill-at']),
        ...(storeOutageSeconds > 0 ? { storeOutage: { seconds: storeOutageSeconds, atFraction: Number(values['store-outage-at']), mode: values['store-outage-mode'] as StoreOutageMode } } : {}),
        timeoutSeconds: 900,
      });
      process.stdout.write(`${formatBatchReport(`chaos, batch job (seed ${values.seed})`, result)}\n`);
      const extra = batchProblems(result, planned);
      for (const problem of extra) process.stdout.write(`  - ${problem}\n`);
      if (extra.length + result.report.violations.length + result.logLeaks.length > 0 || result.report.counts.lost !== 0) failed = true;
    } catch (error) {
      process.stdout.write(`== chaos, batch job: did not finish: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      failed = true;
    } finally {
      if (values['keep-data']) process.stderr.write(`chaos: data kept in ${dataDir}\n`);
      else rmSync(dataDir, { recursive: true, force: true });
    }
  }
  if (job === 'archive') {
    // The archive-split job: exports split into batch ZIPs under random and aimed SIGKILLs and S3 faults on every call.
    const planned = {
      randomKills: Number(values.sigkills), midUploadKills: Number(values['mid-upload-kills']),
      afterCompleteKills: Number(values['after-complete-kills']), beforeMarkerKills: Number(values['before-marker-kills']),
      afterMarkerKills: Number(values['after-marker-kills']), bodyCuts: Number(values['body-cuts']),
    };
    const dataDir = mkdtempSync(join(tmpdir(), 'chaos-archive-'));
    try {
      const result = await runArchiveChaos({
        ...common,
        dataDir,
        exports: planArchiveExports(Number(values.seed), Number(values.exports), Number(values['min-images']), Number(values['max-images'])),
        workers,
        batchSize: Number(values['batch-size'] ?? '250'),
        diskBudgetMiB: Number(values['disk-budget-mib']),
        s3FaultRate: Number(values['get-fault-rate']),
        headFaultRate: Number(values['head-fault-rate']),
        putFaultRate: Number(values['put-fault-rate']),
        multipartFaultRate: Number(values['multipart-fault-rate']),
        slowMs: Number(values['slow-ms']),
        ...planned,
        timeoutSeconds: 1200,
      });
      process.stdout.write(`${formatArchiveReport(`chaos, archive-split job (seed ${values.seed})`, result)}\n`);
      const extra = archiveRunProblems(result, planned);
      for (const problem of extra) process.stdout.write(`  - ${problem}\n`);
      if (extra.length + result.report.violations.length + result.logLeaks.length > 0 || result.report.counts.lost !== 0) failed = true;
    } catch (error) {
      process.stdout.write(`== chaos, archive-split job: did not finish: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      failed = true;
    } finally {
      if (values['keep-data']) process.stderr.write(`chaos: data kept in ${dataDir}\n`);
      else rmSync(dataDir, { recursive: true, force: true });
    }
  }
  if (job === 'resize' && !values['skip-main']) await run('chaos, main pass', {
    ...mainPass,
    pass: 'main',
    decodeHeavy: { png16: Number(values['heavy-png16']), progressive: Number(values['heavy-progressive']), side: heavySide },
  });
  if (job === 'resize' && !values['skip-slow-render']) {
    await run('chaos, slow-render pass', {
      pass: 'slow-render', goodImages: 50, matrix: true, workers: 2, concurrency: 1, faultRate: 0, sigkills: 0, sigterms: 0, pipelineKills: 0, timeoutSeconds: 300,
    });
  }
  if (job === 'resize' && !values['skip-memory-control']) {
    // The same decode-heavy PNGs, as many at once in one worker as its CONCURRENCY, with the budget lifted. At the
    // main pass's concurrency this shows what the budget saves; at --control-concurrency the kernel must kill the
    // worker (each restarted worker is killed again until the queue gives up on the messages), or the memory
    // invariant proves nothing. UV_THREADPOOL_SIZE is set before the worker starts so that every one of them really
    // renders at once: the worker's own setting, made at run time, comes after libuv has sized its pool at 4.
    const levels = [...new Set([concurrency, Number(values['control-concurrency'])])];
    for (const concurrency of levels) {
      const mustKill = concurrency === Number(values['control-concurrency']);
      process.stdout.write(`== memory control: ${concurrency} PNGs of ${heavySide}x${heavySide} at CONCURRENCY=${concurrency}, MEMORY_BUDGET_MIB lifted, ${memoryMiB} MiB cgroup ==\n`);
      await run(`memory control x${concurrency}`, {
        goodImages: 0, matrix: false, workers: 1, concurrency, faultRate: 0, sigkills: 0, sigterms: 0, pipelineKills: 0, timeoutSeconds: 900,
        decodeHeavy: { png16: concurrency, progressive: 0, side: heavySide },
        workerEnv: { MEMORY_BUDGET_MIB: '1000000', UV_THREADPOOL_SIZE: String(concurrency + 2) },
      }, (result) => {
        const kills = result.memory.reduce((sum, m) => sum + m.oomKills, 0);
        const peak = Math.max(0, ...result.memory.map((m) => m.peakBytes));
        const estimated = result.decodeHeavyEstimates.reduce((sum, bytes) => sum + bytes, 0);
        process.stdout.write(`OOM kills: ${kills} in ${result.memory.filter((m) => m.oomKills > 0).length} of ${result.memory.length} worker cgroups; ` +
          `highest peak ${(peak / MiB).toFixed(0)} MiB; the worker's estimate for them together ${(estimated / MiB).toFixed(0)} MiB\n`);
        return !mustKill || kills > 0 ? [] : [`no worker was OOM-killed with ${concurrency} at once and the budget lifted: these inputs do not prove the memory budget is needed`];
      }, 'extra-only');
    }
  }
  if (job === 'resize' && !values['skip-load']) {
    await run('load', {
      goodImages: Number(values['load-images']), matrix: false, workers, concurrency, faultRate: Number(values['fault-rate']),
      sigkills: 0, sigterms: 0, pipelineKills: 0, timeoutSeconds: 1800, sampleResources: true,
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
