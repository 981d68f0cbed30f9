import type { ChartedSeries, CloudWatchReport } from './cloudwatch-report';
import type { AgeTrend, DeadLetterGrowth } from './queue-trends';
import { GAP, sparkline } from './sparkline';

const LABEL_WIDTH = 16;

/** The chart `npm run status -- --aws` prints after the queue counts: one line per series, then where "processed" comes from. */
export function formatCloudWatchReport(report: CloudWatchReport): string[] {
  if (report.status === 'unavailable') return [`CloudWatch metrics not shown: ${report.message}`];
  const lines = [`CloudWatch, last hour (${clockTime(report.from)}-${clockTime(report.to)} UTC, one column a minute, ${GAP} no datapoint):`];
  for (const series of report.series) {
    const note = series.id === 'oldestAge' ? ageNote(report.oldestMessageAge) : series.id === 'deadLetters' ? growthNote(report.deadLetterGrowth) : '';
    lines.push(`  ${series.label.padEnd(LABEL_WIDTH)}${chart(series)}${note}`);
  }
  const processed = report.series.find((series) => series.id === 'processed');
  if (processed !== undefined) lines.push(`  processed = ${processed.source}`);
  return lines;
}

function chart(series: ChartedSeries): string {
  if (series.problem !== undefined) return `not read: ${series.problem}`;
  const values = series.minutes.map((minute) => minute.value);
  const present = values.filter((value): value is number => value !== null);
  if (present.length === 0) return 'no datapoints in the last hour';
  let lastIndex = values.length - 1;
  while (values[lastIndex] === null) lastIndex--;
  const minutesAgo = values.length - 1 - lastIndex;
  const format = (value: number) => formatValue(value, series.unit);
  return `${sparkline(values)}  min ${format(Math.min(...present))}  max ${format(Math.max(...present))}  last ${format(values[lastIndex]!)}` +
    `${series.unit === 's' ? '' : ` ${series.unit}`}${minutesAgo > 0 ? ` (${minutesAgo} min before the end)` : ''}`;
}

function ageNote(trend: AgeTrend | undefined): string {
  if (trend === undefined || trend.trend === 'unknown') return '';
  const over = `in the last ${trend.overMinutes} min`;
  if (trend.trend === 'steady') return `; steady ${over}`;
  const change = `${trend.changeSeconds > 0 ? '+' : '-'}${formatDuration(Math.abs(trend.changeSeconds))}`;
  const stuck = trend.stuck ? ': as fast as the clock, nothing took it (no task running, or it keeps failing)' : '';
  return `; ${trend.trend} ${change} ${over}${stuck}`;
}

function growthNote(growth: DeadLetterGrowth | undefined): string {
  if (growth === undefined) return '';
  const span = `${formatNumber(growth.first)} → ${formatNumber(growth.last)}`;
  if (growth.grew) return `; GROWING ${span} (+${formatNumber(growth.change)}) this hour: the reasons are in the worker logs; fix, then npm run redrive`;
  if (growth.change < 0) return `; ${span} (${formatNumber(growth.change)}) this hour`;
  return `; unchanged this hour`;
}

function formatValue(value: number, unit: string): string {
  return unit === 's' ? formatDuration(value) : formatNumber(value);
}

/** Ages span seconds to days: each in the unit that keeps it short. */
export function formatDuration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 2 * 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function clockTime(at: Date): string {
  return at.toISOString().slice(11, 16);
}
