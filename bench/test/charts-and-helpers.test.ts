import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { startFailureSlug, tasksPerHourSvg } from '../src/charts/bench-charts';
import { barChartSvg, escapeXml, lineChartSvg, niceCeiling } from '../src/charts/svg-chart';
import { ensureGeojsonSet, featureCollection } from '../src/inputs/geojson-files';
import { photoLikeImage, seededRandom } from '../src/inputs/photo-like-images';
import { roundRanges } from '../src/measure/command-job';
import { median, rssGrowthPercent } from '../src/measure/process-sampler';
import { runPool } from '../src/measure/run-pool';
import { markdownTable } from '../src/report/markdown-table';
import { commandJobText } from '../src/report/summary';
import { commandJobMeasurement, realStartFailures } from './factories';

describe('svg charts', () => {
  it('rounds axis maxima up to 1, 2 or 5 times a power of ten', () => {
    expect([0.7, 1, 1.2, 3, 7, 101, 10_000].map(niceCeiling)).toEqual([1, 1, 2, 5, 10, 200, 10_000]);
  });

  it('escapes labels so a scenario name cannot break the SVG', () => {
    expect(escapeXml('a < b & "c"')).toBe('a &lt; b &amp; &quot;c&quot;');
    const svg = barChartSvg({ title: 'x <y>', unit: 'u', bars: [{ label: 'a&b', value: 1, color: '#000' }] });
    expect(svg).not.toMatch(/<y>|a&b/);
  });

  it('draws step series with a corner at each change, and rasterises with sharp', async () => {
    const svg = lineChartSvg({
      title: 'steps',
      xLabel: 'x',
      panels: [{ yLabel: 'y', series: [{ name: 's', color: '#f00', step: true, points: [[0, 0], [5, 10]] }] }],
    });
    // Two points as steps: start, the corner at the old value, then the new value.
    expect(svg.match(/points="([^"]+)"/)![1]!.split(' ')).toHaveLength(3);
    const png = await sharp(Buffer.from(svg)).png().toBuffer();
    expect((await sharp(png).metadata()).width).toBe(1000);
  });
});

describe('tasks started per hour (issue 10 start failures)', () => {
  it('draws the old and the new rule over the 24 hours, with a zoomed panel for the new rule\'s probes in a crash loop', async () => {
    const [idle, crash10, crash500] = realStartFailures();
    expect([idle, crash10, crash500].map((failure) => startFailureSlug(failure!))).toEqual([
      'idle-after-deploy',
      'crash-loop-max-tasks-10',
      'crash-loop-max-tasks-500',
    ]);
    const svg = tasksPerHourSvg(crash10!);
    expect(svg).toContain('crash loop, MAX_TASKS 10');
    expect(svg).toContain('before: 7,200 tasks');
    expect(svg).toContain('now: 90 tasks');
    // One tick every 4 hours, 0 to 24, on the x axis of each of the two panels.
    expect(svg.match(/>20<\/text>/g)).toHaveLength(2);
    // 24 hourly steps and the closing point: 25 points and 24 corners for each full-day series.
    const series = [...svg.matchAll(/points="([^"]+)"/g)].map((match) => match[1]!.split(' ').length);
    expect(series).toEqual([49, 49, 47]);
    // With nothing started after deploy there are no probes to zoom in on: one panel.
    expect(tasksPerHourSvg(idle!).match(/<polyline/g)).toHaveLength(2);
    expect((await sharp(Buffer.from(svg)).png().toBuffer()).length).toBeGreaterThan(1000);
  });

  it('spaces legend entries by their length so long names do not overlap', () => {
    const svg = lineChartSvg({
      title: 't',
      xLabel: 'x',
      panels: [{ yLabel: 'y', series: [{ name: 'x'.repeat(60), color: '#000', points: [[0, 1]] }, { name: 'b', color: '#f00', points: [[0, 2]] }] }],
    });
    const legendX = [...svg.matchAll(/<line x1="([\d.]+)" y1="(\d+)" x2="[\d.]+" y2="\2" stroke="#(000|f00)"/g)].map((match) => Number(match[1]));
    expect(legendX[1]! - legendX[0]!).toBeGreaterThanOrEqual(30 + 60 * 7);
  });
});

describe('photo-like inputs', () => {
  it('are the same bytes for the same seed and differ between seeds', async () => {
    expect(Array.from({ length: 3 }, seededRandom(7))).toEqual(Array.from({ length: 3 }, seededRandom(7)));
    const [a, b, c] = await Promise.all([photoLikeImage(160, 120, 1, 'jpeg'), photoLikeImage(160, 120, 1, 'jpeg'), photoLikeImage(160, 120, 2, 'jpeg')]);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it('give PNGs an alpha channel with transparent regions', async () => {
    const png = await photoLikeImage(200, 150, 3, 'png');
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(4);
    expect(data.some((value, index) => index % 4 === 3 && value < 128)).toBe(true);
  });
});

describe('measurement helpers', () => {
  it('reports RSS growth of the last quarter against the second, ignoring warm-up', () => {
    const samples = [50, 50, 100, 100, 100, 100, 110, 110].map((rssMiB, atSeconds) => ({ atSeconds, rssMiB }));
    expect(rssGrowthPercent(samples)).toBeCloseTo(10, 9);
    expect(rssGrowthPercent(samples.slice(0, 4))).toBeUndefined();
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });

  it('never has more than the given number of tasks in flight and runs each index once', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await runPool(20, 3, async (index) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      seen.push(index);
      inFlight--;
    });
    expect(peak).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, index) => index));
  });

  it('escapes pipes in Markdown cells', () => {
    expect(markdownTable(['a'], [['x|y']])).toBe('| a |\n| --- |\n| x\\|y |');
  });
});

describe('GeoJSON inputs (part 7)', () => {
  it('are the same bytes for the same index, valid FeatureCollections of about the size asked for, every n-th one large', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-geojson-'));
    try {
      const options = { count: 6, largeEvery: 3, largeBytes: 200_000, smallMinBytes: 2_000, smallMaxBytes: 20_000 };
      const files = ensureGeojsonSet(dir, options);
      expect(files.map((file) => file.large)).toEqual([true, false, false, true, false, false]);
      for (const file of files) {
        const [low, high] = file.large ? [0.9 * 200_000, 1.1 * 200_000 + 5_000] : [2_000, 20_000 + 5_000];
        expect(file.bytes).toBeGreaterThanOrEqual(low);
        expect(file.bytes).toBeLessThanOrEqual(high);
        const parsed = JSON.parse(readFileSync(file.path, 'utf8')) as { type: string; features: { geometry: { type: string; coordinates: unknown } }[] };
        expect(parsed.type).toBe('FeatureCollection');
        for (const { geometry } of parsed.features) {
          if (geometry.type !== 'Polygon') continue;
          for (const ring of geometry.coordinates as number[][][]) expect(ring[0]).toEqual(ring[ring.length - 1]);
        }
      }
      // Parcels, roads and points of interest.
      const first = JSON.parse(readFileSync(files[0]!.path, 'utf8')) as { features: { geometry: { type: string } }[] };
      expect(new Set(first.features.map((feature) => feature.geometry.type))).toEqual(new Set(['Polygon', 'LineString', 'Point']));
      // Cached: a second call rewrites nothing; and the generator itself is deterministic.
      const again = ensureGeojsonSet(dir, options);
      expect(again).toEqual(files);
      expect(featureCollection(7, 30_000, seededRandom(1))).toBe(featureCollection(7, 30_000, seededRandom(1)));
      expect(featureCollection(7, 30_000, seededRandom(1))).not.toBe(featureCollection(7, 30_000, seededRandom(2)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('split into rounds of nearly equal size that cover every file once', () => {
    expect(roundRanges(200, 4)).toEqual([{ start: 0, end: 50 }, { start: 50, end: 100 }, { start: 100, end: 150 }, { start: 150, end: 200 }]);
    expect(roundRanges(10, 3).map((range) => range.end - range.start)).toEqual([3, 4, 3]);
    expect(roundRanges(2, 5)).toEqual([{ start: 0, end: 1 }, { start: 1, end: 2 }]);
    expect(roundRanges(5, 0)).toEqual([{ start: 0, end: 5 }]);
  });
});

describe('command job section of the summary', () => {
  it('shows both ways per file, the overhead and the ratio, with each round\'s ratio', () => {
    const text = commandJobText({ commandJob: commandJobMeasurement(), machine: { cores: 2 } });
    expect(text).toContain('| directly | 20.00 | 10.00 | 200 | 150 |  |  |');
    expect(text).toContain('| worker (JOB=command) | 25.00 | 8.00 | 250 | 190 | 150 / 40 | 30 |');
    expect(text).toContain('| overhead per file (worker - directly) |  |  | +50 | +40 |  |  |');
    expect(text).toContain('| ratio (worker / directly) | 1.25x |  | 1.25x | 1.27x |  |  |');
    expect(text).toContain('the ratio by round: 1.25x, 1.25x wall, 1.27x, 1.27x CPU');
    expect(text).toContain('S3 calls per file: GET 1.00, PUT 1.00, HEAD 1.00');
    expect(text).not.toContain('on its own');
    expect(commandJobText({ commandJob: { ...commandJobMeasurement(), alone: true }, machine: { cores: 2 } })).toContain(
      'Measured 2025-06-01 00:10 UTC on its own (`--only command`)',
    );
    expect(commandJobText({ commandJob: undefined, machine: { cores: 2 } })).toMatch(/^Not measured/);
  });
});
