import type { BenchResults } from '../bench-results';
import { DEFAULT_SIMULATION } from '../parameters';
import { formatVerdict } from '../targets';
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
      ['measurement', 'concurrency', 'images', 'images/s', 'images/s per core'],
      [...results.transformCeiling.rows, ...results.transformCeiling.vipsthumbnailRows, ...results.transformCeiling.byConcurrency].map((row) => [
        row.label,
        String(row.concurrency),
        String(row.images),
        fixed(row.imagesPerSecond, 2),
        fixed(row.imagesPerSecond / Math.min(row.concurrency, machine.cores), 2),
      ]),
    ),
    `### 2. Worker end to end (${results.workerEndToEnd.sizes}, S3-protocol server and local queue on loopback)`,
    markdownTable(
      ['CONCURRENCY', 'images', 'images/s', 'share of ceiling', 'peak RSS MiB', 'CPU ms/image: worker, harness', 'S3 calls/image'],
      [...results.workerEndToEnd.sweep, ...(results.workerEndToEnd.longRun ? [results.workerEndToEnd.longRun] : [])].map((run) => {
        const ceiling = results.transformCeiling.byConcurrency.find((row) => row.concurrency === run.concurrency);
        return [
          String(run.concurrency),
          String(run.images),
          fixed(run.imagesPerSecond, 2),
          ceiling ? `${((run.imagesPerSecond / ceiling.imagesPerSecond) * 100).toFixed(0)}%` : 'n/a',
          fixed(run.peakRssMiB, 0),
          `${fixed(run.workerCpuSecondsPerImage * 1000, 0)}, ${fixed(run.harnessCpuSecondsPerImage * 1000, 0)}`,
          `${fixed(run.s3CallsPerImage, 2)} (${Object.entries(run.s3CallsByMethod)
            .map(([method, count]) => `${method} ${(count / run.images).toFixed(2)}`)
            .join(', ')})`,
        ];
      }),
    ),
    `Best CONCURRENCY on this machine: ${results.workerEndToEnd.bestConcurrency}. Events cycle over ${results.workerEndToEnd.distinctObjects} distinct source objects. ` +
      `The harness (S3-protocol server, counting proxy, queue watcher) shares the machine's cores with the worker: its CPU per image ` +
      `is time the worker could not use, and is absent in AWS, where S3 runs elsewhere. The ceiling spends ` +
      `${ceilingCpuMs(results)} ms of CPU per image.`,
    `Queue calls (the worker's own loop in-process at CONCURRENCY=${results.workerEndToEnd.queueCalls.concurrency}, ` +
      `${results.workerEndToEnd.queueCalls.images} images): ${fixed(results.workerEndToEnd.queueCalls.sqsRequestsPerImage, 3)} SQS requests per image ` +
      `(${results.workerEndToEnd.queueCalls.calls.receives} receives, ${results.workerEndToEnd.queueCalls.calls.deleteBatches} delete batches, ` +
      `${results.workerEndToEnd.queueCalls.calls.visibilityBatches} visibility batches), plus S3's own SendMessage per event.`,
    '### 3. Cold start',
    `Process spawn to first receive: median ${fixed(results.coldStart.medianMs, 0)} ms over ${results.coldStart.runs.length} runs ` +
      `(${results.coldStart.runs.map((ms) => ms.toFixed(0)).join(', ')}).`,
    '### 4. Scaling simulation: original rule vs ours',
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
    '### 5. Cost per million images',
    costTable(results),
    `Prices: ${results.cost.pricesAsOf}. Fargate cost is at the capacity-provider mix (${results.simulation.taskSize.spotShare * 100}% Spot) ` +
      `for a ${results.simulation.taskSize.vcpu} vCPU / ${results.simulation.taskSize.memoryGb} GB task; see bench/src/parameters.ts.`,
    '### Targets',
    markdownTable(
      ['target', 'measured', 'verdict', 'note'],
      results.targets.map((check) => [check.target, check.measured, formatVerdict(check), check.note ?? '']),
    ),
  ];
  return `${sections.join('\n\n')}\n`;
}

/** CPU per image of the in-memory ceiling with the worker's sizes, from its rate with every core busy. */
function ceilingCpuMs(results: BenchResults): string {
  const reference = results.transformCeiling.rows.find((row) => row.label.endsWith(results.workerEndToEnd.sizes));
  if (reference === undefined) return 'n/a';
  return fixed((Math.min(reference.concurrency, results.machine.cores) / reference.imagesPerSecond) * 1000, 0);
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
