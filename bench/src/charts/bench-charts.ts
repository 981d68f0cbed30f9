import { join } from 'node:path';
import type { BenchResults, StoredStartFailure } from '../bench-results';
import type { ScenarioComparison } from '../simulation/scenarios';
import { writeSvgAsPng } from './render-png';
import { barChartSvg, formatNumber, lineChartSvg, type Bar } from './svg-chart';

const OURS = '#1f77b4';
const ORIGINAL = '#d62728';

/** The PNGs the README shows: throughput side by side, and queue depth and tasks over time for both rules. */
export async function writeBenchCharts(results: BenchResults, outDir: string): Promise<string[]> {
  const written: string[] = [];
  const throughputPath = join(outDir, 'throughput.png');
  await writeSvgAsPng(throughputSvg(results), throughputPath);
  written.push(throughputPath);
  for (const scenario of results.simulation.scenarios.filter((candidate) => candidate.idealDrainSeconds !== undefined)) {
    const path = join(outDir, `scaling-${slug(scenario.name)}.png`);
    await writeSvgAsPng(scalingSvg(scenario), path);
    written.push(path);
  }
  for (const failure of results.simulation.startFailures) {
    const path = join(outDir, `tasks-per-hour-${startFailureSlug(failure)}.png`);
    await writeSvgAsPng(tasksPerHourSvg(failure), path);
    written.push(path);
  }
  const costPath = join(outDir, 'cost-per-million.png');
  await writeSvgAsPng(costSvg(results), costPath);
  written.push(costPath);
  return written;
}

export function throughputSvg(results: BenchResults): string {
  const bars: Bar[] = [
    ...results.transformCeiling.rows.map((row) => ({ label: `${row.label} @${row.concurrency}`, value: row.imagesPerSecond, color: OURS })),
    ...results.transformCeiling.vipsthumbnailRows.map((row) => ({
      label: `${row.label} @${row.concurrency}`,
      value: row.imagesPerSecond,
      color: '#7f7f7f',
    })),
    ...results.workerEndToEnd.sweep.map((run) => ({
      label: `worker end to end, CONCURRENCY=${run.concurrency}`,
      value: run.imagesPerSecond,
      color: '#2ca02c',
    })),
  ];
  return barChartSvg({
    title: `Images per second, ${results.inputs.width}x${results.inputs.height} input, ${results.machine.cores} cores`,
    unit: 'images/s',
    bars,
  });
}

export function scalingSvg(scenario: ScenarioComparison): string {
  const depth = (rule: 'ours' | 'original'): [number, number][] =>
    scenario[rule].timeline.map((sample) => [sample.atSeconds / 60, sample.visible + sample.inFlight]);
  const tasks = (rule: 'ours' | 'original'): [number, number][] =>
    scenario[rule].timeline.map((sample) => [sample.atSeconds / 60, sample.tasks]);
  return lineChartSvg({
    title: `${scenario.name}: queue depth and tasks, original rule vs ours`,
    xLabel: 'minutes after the burst',
    panels: [
      {
        yLabel: 'messages (visible + in flight)',
        series: [
          // Depth is sampled every few seconds while it drains, so straight lines between samples, not steps.
          { name: 'ours', color: OURS, points: depth('ours') },
          { name: 'original', color: ORIGINAL, points: depth('original'), dashed: true },
        ],
      },
      {
        yLabel: 'tasks pending or running',
        series: [
          { name: `ours (${scenario.ours.tasksLaunched} launched)`, color: OURS, points: tasks('ours'), step: true },
          {
            name: `original (${scenario.original.tasksLaunched} launched)`,
            color: ORIGINAL,
            points: tasks('original'),
            step: true,
            dashed: true,
          },
        ],
      },
    ],
  });
}

/** A file name part for a start failure: `idle-after-deploy`, `crash-loop-max-tasks-10`. */
export function startFailureSlug(failure: StoredStartFailure): string {
  if (failure.world.image === 'bootstrap') return 'idle-after-deploy';
  if (failure.world.image === 'crash-at-start') return `crash-loop-max-tasks-${failure.parameters.maxTasks}`;
  return slug(failure.name);
}

/**
 * Tasks started in each hour of the simulated day, the scaler before its start guards against now; a second panel
 * shows the new rule alone after the first hour, whose few probes would sit on the axis at the old rule's scale.
 */
export function tasksPerHourSvg(failure: StoredStartFailure): string {
  const hourly = (counts: readonly number[], from = 0): [number, number][] => [
    ...counts.slice(from).map((count, index): [number, number] => [from + index, count]),
    // The last hour's step runs to the end of the day.
    [counts.length, counts[counts.length - 1] ?? 0],
  ];
  const label = failure.world.image === 'bootstrap' ? 'idle after deploy (s3:TestEvent, bootstrap image)' : `crash loop, MAX_TASKS ${failure.parameters.maxTasks} (image exits 1 at start)`;
  const before = {
    name: `before: ${failure.before.tasksLaunched.toLocaleString('en-US')} tasks, ${money(failure.beforeFargatePerDay)}/day`,
    color: ORIGINAL,
    points: hourly(failure.beforeTasksByHour),
    step: true,
    dashed: true,
  };
  const after = {
    name: `now: ${failure.after.tasksLaunched.toLocaleString('en-US')} tasks, ${money(failure.afterFargatePerDay)}/day`,
    color: OURS,
    points: hourly(failure.afterTasksByHour),
    step: true,
  };
  const laterHours = failure.afterTasksByHour.slice(1);
  return lineChartSvg({
    title: `Tasks started per hour, ${failure.hours} h: ${label}`,
    xLabel: 'hours into the simulated day',
    xMax: failure.hours,
    xTicks: failure.hours % 4 === 0 ? failure.hours / 4 : 5,
    panels: [
      { yLabel: 'tasks started per hour', series: [before, after] },
      ...(laterHours.some((count) => count > 0)
        ? [{ yLabel: 'now, after the first hour', series: [{ ...after, name: `now, hours 1-${failure.hours}`, points: hourly(failure.afterTasksByHour, 1) }] }]
        : []),
    ],
  });
}

export function costSvg(results: BenchResults): string {
  const bars: Bar[] = [];
  for (const scenario of results.simulation.scenarios.filter((candidate) => candidate.ours.files >= 10_000)) {
    bars.push(
      { label: `Fargate Spot, ${scenario.name}`, value: scenario.oursCost.perMillionFilesAllSpot, color: OURS },
      { label: `Fargate on-demand, ${scenario.name}`, value: scenario.oursCost.perMillionFilesAllOnDemand, color: '#9467bd' },
    );
  }
  bars.push({ label: `Lambda ${results.cost.lambda.memoryGb} GB`, value: results.cost.lambdaPerMillion.total, color: '#ff7f0e' });
  return barChartSvg({
    title: `Cost per million images (prices ${results.cost.pricesAsOf.slice(0, 7)}, us-east-1)`,
    unit: '$',
    bars: bars.map((bar) => ({ ...bar, text: `$${formatNumber(bar.value)}` })),
  });
}

/** Two significant figures under a dollar, cents above: $0.071, $0.53, $5.65, $226. */
function money(value: number): string {
  if (value === 0) return '$0';
  return value >= 100 ? `$${value.toFixed(0)}` : value >= 1 ? `$${value.toFixed(2)}` : `$${value.toPrecision(2)}`;
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}
