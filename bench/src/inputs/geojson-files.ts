import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from './photo-like-images';

/**
 * Deterministic GeoJSON inputs for the command job's overhead measurement: FeatureCollections shaped like a GIS
 * export (one feature per line, 7 decimals), holding land parcels (irregular polygons, some with a courtyard hole),
 * roads (lines) and points of interest, each with a few properties. Most files are small (a few KB to tens of KB);
 * every `largeEvery`-th is about `largeBytes` (1 MB by default). Same seed, same bytes, on any machine; every file is
 * valid for geojson-stats (rings closed and counter-clockwise, coordinates in range).
 */
export interface GeojsonInput {
  readonly path: string;
  readonly bytes: number;
  readonly large: boolean;
}

export interface GeojsonSetOptions {
  readonly count: number;
  /** Every n-th file (the 1st, the n+1-th, ...) is a large one; the others are small. */
  readonly largeEvery: number;
  /** A large file's size, within ±10%. */
  readonly largeBytes: number;
  /** Small files' sizes are spread log-uniformly between these. */
  readonly smallMinBytes: number;
  readonly smallMaxBytes: number;
}

export const DEFAULT_GEOJSON_SET: Omit<GeojsonSetOptions, 'count'> = Object.freeze({
  largeEvery: 4,
  largeBytes: 1_000_000,
  smallMinBytes: 2_000,
  smallMaxBytes: 60_000,
});

/** Bumped whenever the generator changes, so a cached set is never mistaken for the new one. */
const GENERATOR_VERSION = 1;

/** Writes the set into `dir` once (cached by its parameters) and returns the files in order. */
export function ensureGeojsonSet(dir: string, options: GeojsonSetOptions): GeojsonInput[] {
  const { count, largeEvery, largeBytes, smallMinBytes, smallMaxBytes } = options;
  const setDir = join(dir, `geojson-v${GENERATOR_VERSION}-${largeEvery}-${largeBytes}-${smallMinBytes}-${smallMaxBytes}`);
  mkdirSync(setDir, { recursive: true });
  const inputs: GeojsonInput[] = [];
  for (let index = 0; index < count; index++) {
    const large = index % largeEvery === 0;
    const path = join(setDir, `${String(index).padStart(4, '0')}-${large ? 'large' : 'small'}.geojson`);
    if (!existsSync(path)) {
      const random = seededRandom(0x6e0 + index);
      const target = large
        ? largeBytes * (0.9 + 0.2 * random())
        : smallMinBytes * Math.pow(smallMaxBytes / smallMinBytes, random());
      // Written whole under a temporary name: an interrupted run never leaves a truncated file in the cache.
      writeFileSync(`${path}.partial`, featureCollection(index, Math.round(target), random));
      renameSync(`${path}.partial`, path);
    }
    inputs.push({ path, bytes: statSync(path).size, large });
  }
  return inputs;
}

const LANDUSE = ['residential', 'farmland', 'forest', 'meadow', 'industrial', 'retail', 'park', 'cemetery'] as const;
const HIGHWAY = ['residential', 'tertiary', 'secondary', 'track', 'footway', 'service'] as const;
const AMENITY = ['school', 'pharmacy', 'bench', 'cafe', 'post_box', 'fuel', 'library'] as const;

/** A FeatureCollection of about `targetBytes`, grown feature by feature. */
export function featureCollection(index: number, targetBytes: number, random: () => number): string {
  const round = (value: number): number => Math.round(value * 1e7) / 1e7;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  // A town somewhere on land-ish latitudes; its features scatter over about 0.2 degrees.
  const centre = [-150 + random() * 300, -55 + random() * 110] as const;
  const near = (spread: number): [number, number] => [centre[0] + (random() - 0.5) * spread, centre[1] + (random() - 0.5) * spread];
  /** A star-shaped ring around `at`, counter-clockwise (increasing angle), closed. */
  const ring = (at: readonly [number, number], radius: number, vertices: number, clockwise = false): number[][] => {
    const points: number[][] = [];
    for (let vertex = 0; vertex < vertices; vertex++) {
      const angle = (2 * Math.PI * vertex) / vertices;
      const r = radius * (0.6 + 0.4 * random());
      points.push([round(at[0] + r * Math.cos(angle)), round(at[1] + r * Math.sin(angle))]);
    }
    if (clockwise) points.reverse();
    points.push([...points[0]!]);
    return points;
  };
  const header = `{\n"type": "FeatureCollection",\n"name": "bench-${String(index).padStart(4, '0')}",\n"features": [\n`;
  const footer = '\n]\n}\n';
  const features: string[] = [];
  let bytes = header.length + footer.length;
  for (let id = 1; bytes < targetBytes; id++) {
    const kind = random();
    let feature: unknown;
    if (kind < 0.6) {
      const at = near(0.2);
      const radius = 0.0002 + random() * 0.002;
      const rings = [ring(at, radius, 6 + Math.floor(random() * 35))];
      if (random() < 0.15) rings.push(ring(at, radius * 0.3, 5, true));
      feature = {
        type: 'Feature',
        properties: { id, landuse: pick(LANDUSE), name: `parcel ${index}-${id}`, levels: Math.floor(random() * 6), surveyed: `20${10 + Math.floor(random() * 15)}-0${1 + Math.floor(random() * 9)}-1${Math.floor(random() * 10)}` },
        geometry: { type: 'Polygon', coordinates: rings },
      };
    } else if (kind < 0.85) {
      const start = near(0.2);
      const line = [start];
      for (let step = 1 + Math.floor(random() * 60); step > 0; step--) {
        const [x, y] = line[line.length - 1]!;
        line.push([x + (random() - 0.5) * 0.001, y + (random() - 0.5) * 0.001]);
      }
      feature = {
        type: 'Feature',
        properties: { id, highway: pick(HIGHWAY), name: `road ${index}-${id}`, lanes: 1 + Math.floor(random() * 3), oneway: random() < 0.2 },
        geometry: { type: 'LineString', coordinates: line.map(([x, y]) => [round(x), round(y)]) },
      };
    } else {
      const [x, y] = near(0.2);
      feature = {
        type: 'Feature',
        properties: { id, amenity: pick(AMENITY), name: `poi ${index}-${id}`, opening_hours: random() < 0.5 ? 'Mo-Fr 08:00-18:00' : null },
        geometry: { type: 'Point', coordinates: [round(x), round(y)] },
      };
    }
    const text = JSON.stringify(feature);
    features.push(text);
    bytes += text.length + 2;
  }
  return `${header}${features.join(',\n')}${footer}`;
}
