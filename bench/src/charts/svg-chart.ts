/**
 * Minimal SVG charts (line panels and horizontal bars) so the bench can draw PNGs with sharp alone: no browser,
 * no charting dependency. Pure string building; rendering to PNG is render-png.ts's job.
 */
export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  /** Draw as steps (value holds until the next point), which is how queue depth and task counts change. */
  readonly step?: boolean;
  readonly dashed?: boolean;
}

export interface LinePanel {
  readonly yLabel: string;
  readonly series: readonly Series[];
}

export interface LineChart {
  readonly title: string;
  readonly xLabel: string;
  readonly panels: readonly LinePanel[];
  readonly width?: number;
  readonly panelHeight?: number;
  /** The x axis's end; a round number above the data when omitted. */
  readonly xMax?: number;
  /** Grid lines and labels along x (5 when omitted): 6 over 24 hours gives one every 4 hours. */
  readonly xTicks?: number;
}

export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly color: string;
  /** Printed at the bar's end; the value itself when omitted. */
  readonly text?: string;
}

export interface BarChart {
  readonly title: string;
  readonly unit: string;
  readonly bars: readonly Bar[];
  readonly width?: number;
}

const FONT = 'DejaVu Sans, Arial, Helvetica, sans-serif';
const MARGIN = { left: 80, right: 30, top: 50, bottom: 50 };

export function lineChartSvg(chart: LineChart): string {
  const width = chart.width ?? 1000;
  const panelHeight = chart.panelHeight ?? 260;
  const gap = 40;
  const height = MARGIN.top + chart.panels.length * panelHeight + (chart.panels.length - 1) * gap + MARGIN.bottom;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const allX = chart.panels.flatMap((panel) => panel.series.flatMap((series) => series.points.map(([x]) => x)));
  const xMax = chart.xMax ?? niceCeiling(Math.max(1, ...allX));
  const xTicks = chart.xTicks ?? 5;
  const parts: string[] = [header(width, height), text(width / 2, 28, chart.title, 18, 'middle', 'bold')];

  chart.panels.forEach((panel, index) => {
    const top = MARGIN.top + index * (panelHeight + gap);
    const yMax = niceCeiling(Math.max(1, ...panel.series.flatMap((series) => series.points.map(([, y]) => y))));
    const toX = (x: number): number => MARGIN.left + (x / xMax) * plotWidth;
    const toY = (y: number): number => top + panelHeight - (y / yMax) * panelHeight;
    parts.push(...axes(MARGIN.left, top, plotWidth, panelHeight, xMax, yMax, toX, toY, xTicks));
    parts.push(text(18, top + panelHeight / 2, panel.yLabel, 13, 'middle', 'normal', -90));
    let legendX = MARGIN.left + 10;
    panel.series.forEach((series) => {
      parts.push(polyline(series, toX, toY));
      parts.push(
        `<line x1="${legendX}" y1="${top + 12}" x2="${legendX + 24}" y2="${top + 12}" stroke="${series.color}" stroke-width="3"${series.dashed ? ' stroke-dasharray="8 5"' : ''}/>`,
        text(legendX + 30, top + 16, series.name, 12, 'start'),
      );
      // 230 px a legend entry, more for a long name (about 7 px a character at 12 px).
      legendX += Math.max(230, 30 + series.name.length * 7 + 20);
    });
  });
  parts.push(text(MARGIN.left + plotWidth / 2, height - 12, chart.xLabel, 13, 'middle'));
  parts.push('</svg>');
  return parts.join('\n');
}

export function barChartSvg(chart: BarChart): string {
  const width = chart.width ?? 1100;
  const barHeight = 26;
  const labelWidth = 420;
  const height = MARGIN.top + chart.bars.length * (barHeight + 10) + MARGIN.bottom;
  const plotWidth = width - labelWidth - 150;
  const max = Math.max(...chart.bars.map((bar) => bar.value), Number.MIN_VALUE);
  const parts: string[] = [header(width, height), text(width / 2, 28, chart.title, 18, 'middle', 'bold')];
  chart.bars.forEach((bar, index) => {
    const y = MARGIN.top + index * (barHeight + 10);
    const length = Math.max(1, (bar.value / max) * plotWidth);
    parts.push(
      text(labelWidth - 10, y + barHeight * 0.7, bar.label, 13, 'end'),
      `<rect x="${labelWidth}" y="${y}" width="${length.toFixed(1)}" height="${barHeight}" fill="${bar.color}"/>`,
      text(labelWidth + length + 8, y + barHeight * 0.7, bar.text ?? `${formatNumber(bar.value)} ${chart.unit}`, 13, 'start'),
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function polyline(series: Series, toX: (x: number) => number, toY: (y: number) => number): string {
  const coordinates: string[] = [];
  series.points.forEach(([x, y], index) => {
    if (series.step && index > 0) coordinates.push(`${toX(x).toFixed(1)},${toY(series.points[index - 1]![1]).toFixed(1)}`);
    coordinates.push(`${toX(x).toFixed(1)},${toY(y).toFixed(1)}`);
  });
  return (
    `<polyline fill="none" stroke="${series.color}" stroke-width="2.5"${series.dashed ? ' stroke-dasharray="8 5"' : ''} ` +
    `points="${coordinates.join(' ')}"/>`
  );
}

function axes(
  left: number,
  top: number,
  plotWidth: number,
  plotHeight: number,
  xMax: number,
  yMax: number,
  toX: (x: number) => number,
  toY: (y: number) => number,
  xTicks = 5,
): string[] {
  const parts = [
    `<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999"/>`,
  ];
  for (let i = 0; i <= xTicks; i++) {
    const xValue = (xMax / xTicks) * i;
    parts.push(
      `<line x1="${toX(xValue).toFixed(1)}" y1="${top}" x2="${toX(xValue).toFixed(1)}" y2="${top + plotHeight}" stroke="#eee"/>`,
      text(toX(xValue), top + plotHeight + 18, formatNumber(xValue), 12, 'middle'),
    );
  }
  for (let i = 0; i <= 5; i++) {
    const yValue = (yMax / 5) * i;
    parts.push(
      `<line x1="${left}" y1="${toY(yValue).toFixed(1)}" x2="${left + plotWidth}" y2="${toY(yValue).toFixed(1)}" stroke="#eee"/>`,
      text(left - 8, toY(yValue) + 4, formatNumber(yValue), 12, 'end'),
    );
  }
  return parts;
}

function header(width: number, height: number): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n` +
    `<rect width="100%" height="100%" fill="white"/>`
  );
}

function text(
  x: number,
  y: number,
  content: string,
  size: number,
  anchor: 'start' | 'middle' | 'end',
  weight: 'normal' | 'bold' = 'normal',
  rotate?: number,
): string {
  const transform = rotate === undefined ? '' : ` transform="rotate(${rotate} ${x.toFixed(1)} ${y.toFixed(1)})"`;
  return (
    `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-family="${FONT}" font-size="${size}" font-weight="${weight}" ` +
    `text-anchor="${anchor}"${transform}>${escapeXml(content)}</text>`
  );
}

export function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2 or 5 times a power of ten, at or above the value, so axis ticks land on round numbers. */
export function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  if (value >= 10) return value.toFixed(0);
  if (value >= 1) return value.toFixed(1);
  return value.toPrecision(2);
}
