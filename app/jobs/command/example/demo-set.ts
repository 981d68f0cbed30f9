import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The GeoJSON demo set for the `command` job's example (geojson-stats): valid files under keys that trip naive
 * pipelines (spaces, plus signs, percent signs, unicode, deep folders) with every geometry type, and broken files
 * under `broken/` that the program refuses for a reason it names. All coordinates are generated from fixed seeds, so
 * every run writes the same bytes.
 */

type Position = number[];
type Geometry = { type: string; coordinates?: unknown; geometries?: Geometry[] };
type Feature = { type: 'Feature'; properties: Record<string, unknown>; geometry: Geometry | null };

/** A small linear congruential generator: the same seed gives the same coordinates everywhere. */
function seeded(seed: number): (min: number, max: number) => number {
  let state = (seed * 2654435761) >>> 0;
  return (min, max) => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return Math.round((min + (state / 2 ** 32) * (max - min)) * 1e6) / 1e6;
  };
}

/** A closed rectangular ring, counter-clockwise as RFC 7946 asks of exterior rings. */
const box = (west: number, south: number, east: number, north: number): Position[] =>
  [[west, south], [east, south], [east, north], [west, north], [west, south]];
/** The same rectangle clockwise: how a hole is wound. */
const hole = (west: number, south: number, east: number, north: number): Position[] => box(west, south, east, north).reverse();
const feature = (geometry: Geometry | null, properties: Record<string, unknown> = {}): Feature => ({ type: 'Feature', properties, geometry });
const collection = (features: Feature[], extra: Record<string, unknown> = {}) => ({ type: 'FeatureCollection', ...extra, features });

function randomWalk(seed: number, start: Position, steps: number, stride: number): Position[] {
  const random = seeded(seed);
  const line: Position[] = [start];
  for (let i = 1; i < steps; i++) {
    const [x, y] = line[i - 1] as [number, number];
    line.push([Math.round((x + random(-stride, stride)) * 1e6) / 1e6, Math.round((y + random(-stride, stride)) * 1e6) / 1e6]);
  }
  return line;
}

/**
 * Valid files. The first few carry values a person can check by hand (the tests assert them): a 1° × 1° cell on
 * the equator is about 1.2364e10 m² on turf's sphere (R = 6371008.8 m: R² · π/180 · sin 1°).
 */
const GOOD: Record<string, () => unknown> = {
  'equator/one degree cell.geojson': () => ({ type: 'Polygon', coordinates: [box(0, 0, 1, 1)] }),
  'equator/cell with a hole.geojson': () => feature(
    { type: 'Polygon', coordinates: [box(0, 0, 1, 1), hole(0.25, 0.25, 0.75, 0.75)] },
    { note: 'the hole takes a quarter of the cell' },
  ),
  'bbox/known box.geojson': () => collection([
    feature({ type: 'Point', coordinates: [-10.5, 12] }),
    feature({ type: 'LineString', coordinates: [[0, -20.25], [30.75, 0]] }),
    feature({ type: 'Polygon', coordinates: [box(1, 40, 2, 45)] }),
  ]),
  'misc/stale bbox.geojson': () => collection(
    [feature({ type: 'MultiPoint', coordinates: [[5, 5], [6, 7]] })],
    { bbox: [-180, -90, 180, 90] }, // wrong on purpose: the program recomputes
  ),
  'mixed/nulls and points.geojson': () => collection([
    feature(null, { name: 'not yet surveyed' }),
    feature({ type: 'Point', coordinates: [13.4, 52.52] }, { name: 'Berlin' }),
    feature(null, { name: 'lost' }),
    feature({ type: 'Point', coordinates: [2.35, 48.86] }, { name: 'Paris' }),
    feature({ type: 'Point', coordinates: [-0.13, 51.51] }, { name: 'London' }),
  ]),
  'mixed/geometry collection.geojson': () => ({
    type: 'GeometryCollection',
    geometries: [
      { type: 'Point', coordinates: [10.5, 0.5] },
      { type: 'LineString', coordinates: [[10, 0], [11, 1]] },
      { type: 'Polygon', coordinates: [box(10, 0, 11, 1)] },
    ],
  }),
  'empty/no features.geojson': () => collection([]),
  'misc/empty geometry.geojson': () => feature({ type: 'Polygon', coordinates: [] }, { note: 'RFC 7946 §3.1: an empty geometry' }),
  'parks/central park.geojson': () => collection([
    feature(
      { type: 'Polygon', coordinates: [box(-73.9814, 40.7681, -73.9496, 40.8003), hole(-73.9685, 40.7808, -73.9580, 40.7895)] },
      { name: 'Central Park', hole: 'Jacqueline Kennedy Onassis Reservoir' },
    ),
  ]),
  'rivers/donau+inn.geojson': () => collection([
    feature({ type: 'LineString', coordinates: randomWalk(11, [13.3, 48.6], 60, 0.02) }, { name: 'Donau' }),
    feature({ type: 'LineString', coordinates: randomWalk(12, [13.2, 48.4], 60, 0.02) }, { name: 'Inn' }),
    feature({ type: 'MultiLineString', coordinates: [randomWalk(13, [13.5, 48.5], 20, 0.01), randomWalk(14, [13.4, 48.5], 20, 0.01)] }, { name: 'Ilz' }),
  ]),
  'städte/köln.geojson': () => feature({ type: 'Point', coordinates: [6.9603, 50.9375] }, { name: 'Köln', einwohner: 1084831 }),
  '東京/区 境界.geojson': () => feature({ type: 'Polygon', coordinates: [box(139.69, 35.68, 139.71, 35.7)] }, { name: '新宿区' }),
  'a/b/c/points.geojson': () => {
    const random = seeded(21);
    return feature({ type: 'MultiPoint', coordinates: Array.from({ length: 50 }, () => [random(-180, 180), random(-90, 90)]) });
  },
  'world/islands.geojson': () => {
    const random = seeded(31);
    const islands = Array.from({ length: 3 }, () => {
      const [x, y] = [random(-170, 160), random(-60, 50)];
      return [box(x, y, x + random(0.5, 3), y + random(0.5, 3))];
    });
    return feature({ type: 'MultiPolygon', coordinates: islands }, { name: 'three islands' });
  },
  'grid/cells 1000.geojson': () => {
    const random = seeded(41);
    return collection(Array.from({ length: 1000 }, (_, i) => {
      const [x, y] = [-20 + (i % 40) * 0.5, 30 + Math.floor(i / 40) * 0.5];
      return feature({ type: 'Polygon', coordinates: [box(x, y, x + 0.5, y + 0.5)] }, { cell: i, value: random(0, 100) });
    }));
  },
  'tracks/gps track 2024-05-01.geojson': () => feature({ type: 'LineString', coordinates: randomWalk(51, [8.54, 47.37], 500, 0.001) }, { device: 'gpx+export' }),
  'misc/3d points.geojson': () => collection([
    feature({ type: 'Point', coordinates: [7.6586, 45.9763, 4478] }, { name: 'Matterhorn' }),
    feature({ type: 'Point', coordinates: [86.925, 27.9881, 8849] }, { name: 'Everest' }),
  ]),
  'misc/100% coverage.geojson': () => feature({ type: 'Polygon', coordinates: [box(-180, -90, 180, 90)] }, { note: 'the whole globe' }),
  'misc/über größe (copy).geojson': () => feature({ type: 'MultiLineString', coordinates: [[[0, 0], [1, 1]], [[2, 2], [3, 3], [4, 2]]] }),
  'misc/UPPER/Case Folder.geojson': () => feature({ type: 'MultiPoint', coordinates: [] }),
};

export interface BrokenGeojson {
  readonly key: string;
  /** The exit code geojson-stats gives for the file. */
  readonly exitCode: number;
  /** Part of the one line geojson-stats writes on stderr for the file: what the DLQ reason must contain. */
  readonly reason: string;
}

const BROKEN: (BrokenGeojson & { readonly content: string })[] = [
  { key: 'broken/empty.geojson', exitCode: 65, reason: 'empty file', content: '' },
  { key: 'broken/notes.geojson', exitCode: 65, reason: 'not valid JSON', content: 'these are meeting notes saved with a .geojson name\n' },
  { key: 'broken/truncated.geojson', exitCode: 65, reason: 'not valid JSON: unexpected end', content: JSON.stringify(collection([feature({ type: 'Point', coordinates: [1, 2] })])).slice(0, 40) },
  { key: 'broken/not geojson.geojson', exitCode: 65, reason: 'not GeoJSON', content: '{"name":"a JSON file","values":[1,2,3]}\n' },
  {
    key: 'broken/latitude out of range.geojson', exitCode: 65, reason: 'latitude outside [-90, 90]',
    content: JSON.stringify(collection([feature({ type: 'Point', coordinates: [10, 45] }), feature({ type: 'Point', coordinates: [45, 100] })])),
  },
  {
    key: 'broken/unclosed ring.geojson', exitCode: 65, reason: 'polygon ring is not closed',
    content: JSON.stringify(feature({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0.5]]] })),
  },
  {
    key: 'broken/text coordinates.geojson', exitCode: 65, reason: 'coordinate is not a finite number',
    content: JSON.stringify(feature({ type: 'Point', coordinates: ['13.4', '52.5'] })),
  },
];

/** The valid files' keys. */
export const GOOD_GEOJSON_KEYS: readonly string[] = Object.keys(GOOD);
/** The broken files, each with the exit code and the reason geojson-stats gives for it. */
export const BROKEN_GEOJSON: readonly BrokenGeojson[] = BROKEN.map(({ key, exitCode, reason }) => ({ key, exitCode, reason }));

/** Writes the GeoJSON demo set into `dir` once (files that exist are kept) and returns how many good and broken. */
export async function writeGeojsonDemoSet(dir: string): Promise<{ good: number; broken: number }> {
  const files: [string, () => string][] = [
    ...Object.entries(GOOD).map(([key, make]): [string, () => string] => [key, () => `${JSON.stringify(make(), null, key.startsWith('grid/') ? 0 : 2)}\n`]),
    ...BROKEN.map(({ key, content }): [string, () => string] => [key, () => content]),
  ];
  for (const [key, make] of files) {
    const path = join(dir, key);
    if (existsSync(path)) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, make());
  }
  return { good: GOOD_GEOJSON_KEYS.length, broken: BROKEN.length };
}
