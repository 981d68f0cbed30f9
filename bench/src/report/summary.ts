import type { BenchResults, MachineInfo } from '../bench-results';
import { DEFAULT_SIMULATION } from '../parameters';
import { SCALER_TIMEOUT_SECONDS } from '../simulation/scaling-rules';
import { formatVerdict } from '../targets';
import { archiveSplitText } from './archive-report';
import { batchJobText } from './batch-report';
import { fanoutText } from './fanout-report';
import { dollars, duration, fixed, markdownTable } from './markdown-table';

/** The run as Markdown: printed at the end of `npm run bench` and written to summary.md for the README. */
export function summaryMarkdown(results: BenchResults): string {
  const { machine } = results;
  const sections: string[] = [
    `## Bench results (${machine.mode} run, ${machine.takenAt.slice(0, 10)})`,
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, sharp ${machine.sharp} ` +
      `(libvips ${machine.libvipsInSharp}), vipsthumbnail ${machine.vipsthumbnail ?? 'not installed'}. ` +
      `1-minute load average: ${machine.loadAverageAtStart.toFixed(2)} at start, up to ${machine.loadAverageMax.toFixed(2)} during the run` +
      (machine.loadAverageMax > machine.cores * 0.5 ? ' (a loaded machine: throughput figures are low and noisy).' : '.'),
    `Inputs: ${results.inputs.jpegs} photo-like JPEGs and ${results.inputs.pngs} PNGs with alpha, ${results.inputs.width}x${results.inputs.height}, generated deterministically.`,
    '### 1. Transform ceiling (in memory)',
    markdownTable(
      ['measurement', 'concurrency', 'images', 'images/s', 'images/s per core', 'CPU ms/image'],
      [...results.transformCeiling.rows, ...results.transformCeiling.vipsthumbnailRows, ...results.transformCeiling.byConcurrency].map((row) => [
        row.label,
        String(row.concurrency),
        String(row.images),
        fixed(row.imagesPerSecond, 2),
        fixed(row.imagesPerSecond / Math.min(row.concurrency, machine.cores), 2),
        fixed(row.cpuSecondsPerImage * 1000, 0),
      ]),
    ),
    `### 2. Worker end to end (${results.workerEndToEnd.sizes}, S3-protocol server and local queue on loopback)`,
    markdownTable(
      [
        'CONCURRENCY',
        'images',
        'images/s',
        'share of ceiling',
        'peak RSS MiB',
        'CPU ms/image: worker, ceiling, harness',
        'CPU overhead (worker / ceiling)',
        'S3 calls/image',
      ],
      [...results.workerEndToEnd.sweep, ...(results.workerEndToEnd.longRun ? [results.workerEndToEnd.longRun] : [])].map((run) => {
        const ceiling = results.transformCeiling.byConcurrency.find((row) => row.concurrency === run.concurrency);
        const overhead = results.workerEndToEnd.cpuOverhead.find((item) => item.concurrency === run.concurrency && item.images === run.images);
        return [
          String(run.concurrency),
          String(run.images),
          fixed(run.imagesPerSecond, 2),
          ceiling ? `${((run.imagesPerSecond / ceiling.imagesPerSecond) * 100).toFixed(0)}%` : 'n/a',
          fixed(run.peakRssMiB, 0),
          `${fixed(run.workerCpuSecondsPerImage * 1000, 0)}, ${ceiling ? fixed(ceiling.cpuSecondsPerImage * 1000, 0) : 'n/a'}, ` +
            fixed(run.harnessCpuSecondsPerImage * 1000, 0),
          overhead !== undefined ? `${fixed(overhead.ratio, 2)}x` : 'n/a',
          `${fixed(run.s3CallsPerImage, 2)} (${Object.entries(run.s3CallsByMethod)
            .map(([method, count]) => `${method} ${(count / run.images).toFixed(2)}`)
            .join(', ')})`,
        ];
      }),
    ),
    `Best CONCURRENCY on this machine: ${results.workerEndToEnd.bestConcurrency}. Events cycle over ${results.workerEndToEnd.distinctObjects} distinct source objects. ` +
      `The harness (S3-protocol server, counting proxy, queue watcher) shares the machine's cores with the worker: its CPU per image ` +
      `is time the worker could not use, and is absent in AWS, where S3 runs elsewhere. So besides the wall-clock share, ` +
      `the CPU overhead compares CPU per image: the worker's (its whole process tree, the supervisor and the worker, from ` +
      `the first receive to the empty queue) against the in-memory ceiling's (the same files, sizes and concurrency). ` +
      `Peak RSS is the peak of the process tree's summed RSS.`,
    `Queue calls (the worker's own loop in-process at CONCURRENCY=${results.workerEndToEnd.queueCalls.concurrency}, ` +
      `${results.workerEndToEnd.queueCalls.images} images): ${fixed(results.workerEndToEnd.queueCalls.sqsRequestsPerImage, 3)} SQS requests per image ` +
      `(${results.workerEndToEnd.queueCalls.calls.receives} receives, ${results.workerEndToEnd.queueCalls.calls.deleteBatches} delete batches, ` +
      `${results.workerEndToEnd.queueCalls.calls.visibilityBatches} visibility batches), plus S3's own SendMessage per event.`,
    `### 3. Decode-heavy inputs in a memory cgroup (CONCURRENCY=${results.decodeHeavy.concurrency}, limit ${results.decodeHeavy.limitMiB} MiB)`,
    decodeHeavyText(results),
    '### 4. Cold start',
    `Process spawn to first receive: median ${fixed(results.coldStart.medianMs, 0)} ms over ${results.coldStart.runs.length} runs ` +
      `(${results.coldStart.runs.map((ms) => ms.toFixed(0)).join(', ')}).`,
    '### 5. Scaling simulation: original rule vs ours',
    `Per-task throughput ${fixed(results.simulation.perTaskImagesPerSecond, 2)} images/s (best end-to-end rate per core x ` +
      `${results.simulation.taskSize.vcpu} vCPU). Schedule every ${DEFAULT_SIMULATION.scheduleIntervalSeconds} s, first run ` +
      `${DEFAULT_SIMULATION.firstTickSeconds} s after the burst, Fargate start ${DEFAULT_SIMULATION.startLatencySeconds} s, ` +
      `IDLE_POLLS ${DEFAULT_SIMULATION.idlePolls} x ${DEFAULT_SIMULATION.waitSeconds} s, MAX_TASKS ${DEFAULT_SIMULATION.maxTasks} unless named.`,
    markdownTable(
      ['scenario', 'rule', 'drain', 'ideal', 'tasks', 'empty starts', 'task hours', 'cost', '$/M files (Spot / on-demand)'],
      results.simulation.scenarios.flatMap((scenario) =>
        (['ours', 'original'] as const).map((rule) => {
          const run = scenario[rule];
          const cost = rule === 'ours' ? scenario.oursCost : scenario.originalCost;
          return [
            scenario.name,
            rule,
            duration(run.drainSeconds),
            scenario.idealDrainSeconds === undefined ? '-' : duration(scenario.idealDrainSeconds),
            String(run.tasksLaunched),
            `${run.emptyStarts} (${run.emptyStartsWhileDraining} while draining)`,
            fixed(run.taskSeconds / 3600, 2),
            dollars(cost.total),
            `${dollars(cost.perMillionFiles)} (${dollars(cost.perMillionFilesAllSpot)} / ${dollars(cost.perMillionFilesAllOnDemand)})`,
          ];
        }),
      ),
    ),
    `#### Launching MAX_TASKS=${results.simulation.largeLaunch.maxTasks} from an empty fleet (issue 10)`,
    largeLaunchText(results),
    '#### Start failures over 24 h: the scaler before its start guards vs now (issue 10)',
    startFailuresText(results),
    '#### Fan-out run: manifest upload to the aggregated result (issue 12)',
    fanoutText(results.simulation.fanout),
    '### 6. Cost per million images',
    costTable(results),
    `Prices: ${results.cost.pricesAsOf}. Fargate cost is at the capacity-provider mix (${results.simulation.taskSize.spotShare * 100}% Spot) ` +
      `for a ${results.simulation.taskSize.vcpu} vCPU / ${results.simulation.taskSize.memoryGb} GB task; see bench/src/parameters.ts.`,
    '### 7. Command job: per-file overhead against the program run directly',
    commandJobText(results),
    '### 8. Batch job: records per second per vCPU, and bulk writes against one write per record (issue 13)',
    batchJobText(results.batchJob),
    '### 9. Archive split: a generated export into batch ZIPs, against the raw S3 read rate (issue 14)',
    archiveSplitText(results.archiveSplit),
    '### Targets',
    markdownTable(
      ['target', 'measured', 'verdict', 'note'],
      results.targets.map((check) => [check.target, check.measured, formatVerdict(check), check.note ?? '']),
    ),
  ];
  return `${sections.join('\n\n')}\n`;
}

function decodeHeavyText(results: BenchResults): string {
  const { runs, limitMiB } = results.decodeHeavy;
  const intro =
    `One worker drains a queue of valid images that decode whole (no shrink-on-load): CONCURRENCY copies of each queued ` +
    `together, inside a cgroup v1 memory group limited to the default task memory (${limitMiB} MiB), which is also the ` +
    `worker's TASK_MEMORY_MIB. Past the limit the kernel kills with SIGKILL, as Fargate does. Peak is the cgroup's ` +
    `memory.max_usage_in_bytes; killed means an OOM kill in the group or exit 137.`;
  if (runs.length === 0) return `${intro}

Not run.`;
  const rows = runs.map((run) => {
    const inputs = run.inputs
      .map((input) => `${input.name} (${fixed(input.bytes / 2 ** 20, 1)} MiB on disk, ${fixed(input.decodedMiB, 0)} MiB decoded)`)
      .join('; ');
    const name = `${run.name}${Object.keys(run.extraEnv).length > 0 ? ` [${Object.entries(run.extraEnv).map(([key, value]) => `${key}=${value}`).join(' ')}]` : ''}`;
    if (!run.measured) return [name, inputs, String(run.images), `not measured: ${run.reason}`, '', '', '', ''];
    return [
      name,
      inputs,
      String(run.images),
      `${fixed(run.peakMiB, 0)} / ${run.limitMiB} (${((run.peakMiB / run.limitMiB) * 100).toFixed(0)}%)`,
      fixed(run.peakTreeRssMiB, 0),
      run.killed ? `yes (oom_kill ${run.oomKills ?? 'n/a'}, exit ${run.exitCode ?? run.signal})` : `no (exit ${run.exitCode ?? run.signal})`,
      `${run.processed} / ${run.deadLettered} / ${run.leftInQueue}`,
      fixed(run.seconds, 1),
    ];
  });
  return `${intro}

${markdownTable(
    ['run', 'inputs', 'images', 'peak MiB / limit', 'peak tree RSS MiB', 'killed', 'processed / dead-lettered / left', 'seconds'],
    rows,
  )}`;
}

function largeLaunchText(results: BenchResults): string {
  const { maxTasks, runTaskCallSeconds, before, after } = results.simulation.largeLaunch;
  const intro =
    `${maxTasks} tasks' worth of messages land at once with nothing running; the first scheduled run's launches. Before: ` +
    `chunks of 10 one after another, each waiting for the previous RunTask's answer, in a ${before.timeoutSeconds} s Lambda ` +
    `(calls not made by the timeout never happen). Now: the scaler's rate plan (scaler/src/launch-plan.ts, AWS's launch ` +
    `rates), calls in parallel, none started after ${after.budgetSeconds} s (the ${SCALER_TIMEOUT_SECONDS} s timeout less its margin). ` +
    `**One RunTask call's round trip is assumed to be ${runTaskCallSeconds} s, not measured.**`;
  return `${intro}

${markdownTable(
    ['scaler', 'wanted', 'launched in the run', 'not launched in time', 'last call answered at'],
    [
      [`before (sequential, ${before.timeoutSeconds} s timeout)`, String(before.wanted), String(before.launched), String(before.notLaunchedInTime), `${fixed(before.launchSpanSeconds, 1)} s`],
      [`now (rate plan, ${after.budgetSeconds} s budget)`, String(after.wanted), String(after.launched), String(after.notLaunchedInTime), `${fixed(after.launchSpanSeconds, 1)} s`],
    ],
  )}`;
}

function startFailuresText(results: BenchResults): string {
  const failures = results.simulation.startFailures;
  const intro =
    'A day of each start failure, simulated: the idle stack right after the first deploy (only the s3:TestEvent in the ' +
    'queue, the task definition still on the bootstrap image, which exits 0 at once) and an image that exits 1 five ' +
    'seconds after starting with a backlog waiting. Before: the same scaling policy with no start guards, launching ' +
    'one chunk after another in 60 s. Now: the deployed scaler, which launches nothing while the image is the ' +
    'bootstrap one and backs off a crash loop to one probe after each pause (scaler/src/crash-loop.ts, called as is). ' +
    'Fargate per day is at the capacity-provider mix; every task that dies at start bills the one-minute minimum. ' +
    'Queue and S3 requests (nothing is processed) and the scaler\'s own runs (the same either way) are left out. ' +
    'At MAX_TASKS 500 the old scaler\'s runs are cut by its 60 s timeout, as in the launch above.';
  if (failures.length === 0) return `${intro}

Not run.`;
  const table = markdownTable(
    [
      'scenario',
      'tasks/h before',
      'tasks/h now (day average)',
      'now: first hour, then at most per hour',
      'tasks in 24 h before / now',
      'runs held now',
      'Fargate $/day before',
      'now',
      'saved $/day',
    ],
    failures.map((failure) => [
      failure.name,
      count(failure.beforeTasksPerHour),
      fixed(failure.afterTasksPerHour, 2),
      `${failure.afterTasksByHour[0] ?? 0}, then ${Math.max(0, ...failure.afterTasksByHour.slice(1))}`,
      `${failure.before.tasksLaunched.toLocaleString('en-US')} / ${failure.after.tasksLaunched.toLocaleString('en-US')}`,
      `${failure.after.heldRuns ?? 0} of ${failure.after.scalerRuns}`,
      dollars(failure.beforeFargatePerDay),
      dollars(failure.afterFargatePerDay),
      dollars(failure.savedPerDay),
    ]),
  );
  const hourly = failures
    .map(
      (failure) =>
        `- ${failure.name}: before ${hourlyCounts(failure.beforeTasksByHour)}; now ${hourlyCounts(failure.afterTasksByHour)}`,
    )
    .join('\n');
  return `${intro}

${table}

Tasks started in each hour of the day:

${hourly}`;
}

function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** The tasks started in each hour, or "N every hour" when they are all alike. */
function hourlyCounts(byHour: readonly number[]): string {
  const [first] = byHour;
  if (first !== undefined && byHour.every((value) => value === first)) return `${count(first)} every hour`;
  return byHour.map(count).join(' ');
}

/** Part 7, also rendered alone by `--only command` when there is no full run to add it to. */
export function commandJobText(results: { readonly commandJob: BenchResults['commandJob']; readonly machine: Pick<MachineInfo, 'cores'> }): string {
  const run = results.commandJob;
  if (run === undefined) return 'Not measured in this run (`npm run bench -- --only command` adds it).';
  const { direct, worker } = run;
  const when = run.alone ? ` Measured ${run.measuredAt.slice(0, 16).replace('T', ' ')} UTC on its own (\`--only command\`), not in the run the other parts come from.` : '';
  const intro =
    `The command job's example program, ${run.program}, on ${run.files} GeoJSON files generated deterministically ` +
    `(${run.largeFiles} of ${fixed(run.largeKiB.min, 0)}-${fixed(run.largeKiB.max, 0)} KiB, ${run.files - run.largeFiles} of ` +
    `${fixed(run.smallKiB.min, 0)}-${fixed(run.smallKiB.max, 0)} KiB; ` +
    `${fixed(run.totalMiB, 1)} MiB in all), ${run.concurrency} at a time both ways (the command job's default CONCURRENCY, one per core). ` +
    `**Directly**: \`node geojson-stats.js <file> <outDir>\` per file, the files already on local disk, each process spawned as the ` +
    `worker spawns it and with the environment the worker gives a program. **Worker**: the bundled worker with JOB=command ` +
    `draining a local queue of S3 events for the same files stored in the S3-protocol server on loopback, timed from the first ` +
    `receive to the empty queue. ${roundsText(run)} 1-minute load average ${fixed(run.loadAverageAtStart, 2)} at the start of this part, up to ` +
    `${fixed(run.loadAverageMax, 2)}.${when}`;
  const table = markdownTable(
    ['', 'seconds', 'files/s', 'wall ms per file', 'CPU ms per file', 'of which: programs / worker itself', 'harness CPU ms per file'],
    [
      ['directly', fixed(direct.seconds, 2), fixed(direct.filesPerSecond, 2), fixed(direct.wallMsPerFile, 0), fixed(direct.cpuMsPerFile, 0), '', ''],
      [
        'worker (JOB=command)',
        fixed(worker.seconds, 2),
        fixed(worker.filesPerSecond, 2),
        fixed(worker.wallMsPerFile, 0),
        fixed(worker.cpuMsPerFile, 0),
        `${fixed(worker.programCpuMsPerFile, 0)} / ${fixed(worker.workerOwnCpuMsPerFile, 0)}`,
        fixed(worker.harnessCpuMsPerFile, 0),
      ],
      ['overhead per file (worker - directly)', '', '', signed(run.overheadMsPerFile), signed(run.overheadCpuMsPerFile), '', ''],
      ['ratio (worker / directly)', `${fixed(run.ratio, 2)}x`, '', `${fixed(run.ratio, 2)}x`, `${fixed(run.cpuRatio, 2)}x`, '', ''],
    ],
  );
  const calls = Object.entries(worker.s3CallsByMethod)
    .map(([method, count]) => `${method} ${fixed(count / run.files, 2)}`)
    .join(', ');
  const explanation =
    `Wall ms per file is seconds x concurrency / files: how long one file holds one of the ${run.concurrency} slots. ` +
    `Starting the program is paid per file both ways and so is not in the overhead: spawn to exit with no work (its usage ` +
    `error) takes a median ${fixed(run.programStartMs, 0)} ms and ${fixed(run.programStartCpuMs, 0)} ms CPU. ` +
    `The overhead is what the worker does around each run: receive the message and delete it (in batches), ` +
    `look the source up to reserve disk for its current size (HEAD), create and remove the file's private directories, ` +
    `stream the object to disk (GET), list the output directory, upload stats.json with the source's ETag (PUT), read ` +
    `the source back to check it did not change meanwhile (HEAD), and log; ` +
    `S3 calls per file: ${calls}. Its CPU is the worker's own ${fixed(worker.workerOwnCpuMsPerFile, 0)} ms per file ` +
    `(the programs inside the worker used ${fixed(worker.programCpuMsPerFile, 0)} ms, directly ${fixed(direct.cpuMsPerFile, 0)} ms ` +
    `with the launcher's). The wall-clock overhead is larger than the CPU one: the S3-protocol server, the counting proxy ` +
    `and the queue watcher (harness) run on the same ${results.machine.cores} cores, so the worker's files cost ` +
    `${fixed(worker.cpuMsPerFile + worker.harnessCpuMsPerFile, 0)} ms of the machine's CPU each against ${fixed(direct.cpuMsPerFile, 0)} directly; ` +
    `with one program per core, a slot that waits for S3 or the queue leaves its core idle; and other work on the machine ` +
    `stretches every CPU ms into more wall time, both ways. In AWS, S3 runs elsewhere, but each call has network latency. ` +
    `Outputs: ${worker.outputs} stats.json under DEST_BUCKET/<key>/, ${worker.outputsMatchingDirect} of them byte for byte ` +
    `the direct run's; the worker reported ${worker.processed ?? 'n/a'} processed and ${worker.failed ?? 'n/a'} failed.`;
  return `${intro}\n\n${table}\n\n${explanation}`;
}

function roundsText(run: NonNullable<BenchResults['commandJob']>): string {
  if (run.rounds.length <= 1) return '';
  return (
    `In ${run.rounds.length} rounds of about ${Math.round(run.files / run.rounds.length)} files, each directly and then through a new worker, ` +
    `summed below, so that other load on the machine weighs on both ways alike; the ratio by round: ` +
    `${run.rounds.map((round) => `${fixed(round.ratio, 2)}x`).join(', ')} wall, ${run.rounds.map((round) => `${fixed(round.cpuRatio, 2)}x`).join(', ')} CPU.`
  );
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${fixed(value, 0)}`;
}

function costTable(results: BenchResults): string {
  const rows: string[][] = [];
  for (const scenario of results.simulation.scenarios.filter((candidate) => candidate.ours.files >= 10_000)) {
    rows.push([
      `Fargate, this blueprint: ${scenario.name}`,
      dollars(scenario.oursCost.perMillionFiles),
      dollars(scenario.oursCost.perMillionFilesAllSpot),
      dollars(scenario.oursCost.perMillionFilesAllOnDemand),
    ]);
  }
  const lambda = results.cost.lambdaPerMillion;
  const lambdaLabel =
    `Lambda, ${results.cost.lambda.memoryGb} GB (${lambda.vcpus.toFixed(2)} vCPU), batch ${results.cost.lambda.batchSize}, ` +
    `${(lambda.secondsPerImage * 1000).toFixed(0)} ms/image`;
  rows.push([lambdaLabel, dollars(lambda.total), '', '']);
  return markdownTable(['option', '$/M images', 'all Spot', 'all on-demand'], rows);
}
