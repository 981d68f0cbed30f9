/**
 * geojson-stats: per-file statistics of one GeoJSON file, written as JSON. It stands for "the program you already
 * have": it knows nothing about queues or S3, and the `command` job runs it once per uploaded file.
 *
 *   node geojson-stats.js <inputFile> <outputDir>        writes <outputDir>/stats.json
 *
 * The input is a FeatureCollection, a Feature or a bare geometry (GeometryCollection included). stats.json holds:
 *   featureCount           Features in the file (a bare geometry counts as one)
 *   nullGeometries         Features whose geometry is null
 *   geometryTypes          each Feature's geometry type → how many ({ "Point": 1, "Polygon": 3 }); a
 *                          GeometryCollection counts as one, its members are not counted again
 *   positionCount          coordinate positions in all geometries
 *   bbox                   [minX, minY, maxX, maxY] (longitude/latitude), or null when there is no position at
 *                          all; recomputed, never taken from the file; not split at the antimeridian
 *   totalAreaSquareMetres  geodesic area of the polygons (holes subtracted), by @turf/area
 *
 * Exit codes are the contract with the worker (sysexits.h numbers):
 *   0   done, stats.json written
 *   64  EX_USAGE     wrong arguments;  78 EX_CONFIG: GEOJSON_MAX_BYTES is not a positive whole number
 *   65  EX_DATAERR   the input can never work: empty, over the size limit, not valid JSON, not GeoJSON, invalid
 *                    coordinates (not numbers, longitude outside [-180, 180], latitude outside [-90, 90]), a line
 *                    with fewer than 2 positions, a polygon ring with fewer than 4 positions or not closed
 *   66  EX_NOINPUT   the input file is missing or cannot be read
 *   70  EX_SOFTWARE  a bug in this program
 *   74  EX_IOERR     stats.json could not be written
 *   75  EX_TEMPFAIL  the worker retries this code; this program never uses it, because bad data fails the same way
 *                    on every retry. With the worker's default set of transient codes (75), every
 *                    other failing code sends the message to the dead-letter queue at once.
 * On failure, one line on stderr names the problem and at most where it is (line and column, or a JSONPath such as
 * $.features[3].geometry.coordinates[0][5]); the file's content is never printed.
 *
 * GEOJSON_MAX_BYTES (default 256 MiB) refuses larger files with 65: the whole file is read and parsed at once, which
 * takes about 8 times its size in memory (a 37 MB file: 2.6 s, 280 MB resident), and V8 cannot hold a string much
 * over 512 MiB anyway. Near the limit, give node a larger heap in COMMAND (--max-old-space-size=<MiB>) and the task
 * the memory; a program for bigger files would stream the features instead. The work is linear in the file size.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { area } from '@turf/area';
import { bbox } from '@turf/bbox';

const EX_USAGE = 64;
const EX_DATAERR = 65;
const EX_NOINPUT = 66;
const EX_SOFTWARE = 70;
const EX_IOERR = 74;
const EX_CONFIG = 78;
const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
/** RFC 7946 advises against nesting GeometryCollections; a bound keeps recursion away from the stack limit. */
const MAX_COLLECTION_NESTING = 16;
/** How deep each geometry type's coordinates nest: 0 is one position. */
const COORDINATE_DEPTH = new Map([
  ['Point', 0], ['MultiPoint', 1], ['LineString', 1], ['MultiLineString', 2], ['Polygon', 2], ['MultiPolygon', 3],
]);

export interface Stats {
  type: string;
  featureCount: number;
  nullGeometries: number;
  geometryTypes: Record<string, number>;
  positionCount: number;
  bbox: [number, number, number, number] | null;
  totalAreaSquareMetres: number;
}

class ExitError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'ExitError';
  }
}
const dataError = (message: string) => new ExitError(EX_DATAERR, message);
type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

async function main(args: string[]): Promise<void> {
  if (args.length !== 2) throw new ExitError(EX_USAGE, 'usage: geojson-stats <inputFile> <outputDir>');
  const [input, outputDir] = args as [string, string];
  const text = await readInput(input, maxBytes(process.env.GEOJSON_MAX_BYTES));
  const stats = analyse(parseJson(text));
  const output = join(outputDir, 'stats.json');
  try {
    await mkdir(outputDir, { recursive: true });
    await writeFile(output, `${JSON.stringify(stats, null, 2)}\n`);
  } catch (error) {
    throw new ExitError(EX_IOERR, `cannot write ${output}: ${errorCode(error)}`);
  }
}

function maxBytes(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_MAX_BYTES;
  if (!/^[1-9]\d*$/.test(raw)) throw new ExitError(EX_CONFIG, 'GEOJSON_MAX_BYTES must be a positive whole number of bytes');
  return Number(raw);
}

async function readInput(path: string, limit: number): Promise<string> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new ExitError(EX_NOINPUT, 'the input is not a regular file');
    if (info.size === 0) throw dataError('empty file');
    if (info.size > limit) throw dataError(`file too large: ${info.size} bytes, over the limit of ${limit} (GEOJSON_MAX_BYTES)`);
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof ExitError) throw error;
    if (errorCode(error) === 'ERR_STRING_TOO_LONG') throw dataError('file too large to hold as one string (lower GEOJSON_MAX_BYTES)');
    if (errorCode(error) === 'ENOENT') throw new ExitError(EX_NOINPUT, 'input file not found');
    throw new ExitError(EX_NOINPUT, `cannot read the input file: ${errorCode(error)}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw dataError('empty file (only whitespace)');
  return text;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // V8's message quotes the text around the error, so it is never shown: locate the error ourselves.
    let offset: number | undefined;
    try {
      offset = syntaxErrorOffset(text);
    } catch {
      // A single string of millions of escapes can overflow the regular expression's stack: no position then.
    }
    if (offset === undefined) throw dataError('not valid JSON');
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    throw dataError(`not valid JSON: ${offset === text.length ? 'unexpected end' : 'syntax error'} at line ${line}, column ${column}`);
  }
}

function analyse(root: unknown): Stats {
  if (!isObject(root) || typeof root.type !== 'string') throw dataError('not GeoJSON: the top level is not an object with a "type"');
  let features: { geometry: unknown; path: string }[];
  if (root.type === 'FeatureCollection') {
    if (!Array.isArray(root.features)) throw dataError('not GeoJSON: a FeatureCollection without a "features" array');
    features = root.features.map((feature, i) => ({ geometry: geometryOf(feature, `$.features[${i}]`), path: `$.features[${i}].geometry` }));
  } else if (root.type === 'Feature') {
    features = [{ geometry: geometryOf(root, '$'), path: '$.geometry' }];
  } else if (root.type === 'GeometryCollection' || COORDINATE_DEPTH.has(root.type)) {
    features = [{ geometry: root, path: '$' }];
  } else {
    throw dataError('not GeoJSON: unknown "type" at the top level');
  }

  const stats: Stats = { type: root.type, featureCount: features.length, nullGeometries: 0, geometryTypes: {}, positionCount: 0, bbox: null, totalAreaSquareMetres: 0 };
  const types = new Map<string, number>();
  for (const { geometry, path } of features) {
    if (geometry === null) {
      stats.nullGeometries++;
      continue;
    }
    const positions = checkGeometry(geometry, path, 0);
    const type = (geometry as Json).type as string;
    types.set(type, (types.get(type) ?? 0) + 1);
    stats.positionCount += positions;
    // Per geometry rather than for the whole file: turf's area() throws on a Feature whose geometry is null.
    stats.totalAreaSquareMetres += area(geometry as Parameters<typeof area>[0]);
    if (positions > 0) stats.bbox = union(stats.bbox, bbox(geometry as Parameters<typeof bbox>[0], { recompute: true }));
  }
  stats.geometryTypes = Object.fromEntries([...types].sort(([a], [b]) => a.localeCompare(b)));
  stats.totalAreaSquareMetres = Math.round(stats.totalAreaSquareMetres * 100) / 100;
  return stats;
}

function geometryOf(feature: unknown, path: string): unknown {
  if (!isObject(feature) || feature.type !== 'Feature') throw dataError(`not GeoJSON: ${path} is not a Feature`);
  if (!('geometry' in feature)) throw dataError(`not GeoJSON: ${path} has no "geometry" member`);
  return feature.geometry;
}

/** Validates one geometry and returns how many positions it holds. */
function checkGeometry(geometry: unknown, path: string, nesting: number): number {
  if (!isObject(geometry) || typeof geometry.type !== 'string') throw dataError(`not GeoJSON: ${path} is not a geometry with a "type"`);
  if (geometry.type === 'GeometryCollection') {
    if (!Array.isArray(geometry.geometries)) throw dataError(`not GeoJSON: ${path} has no "geometries" array`);
    if (nesting >= MAX_COLLECTION_NESTING) throw dataError(`not GeoJSON: GeometryCollections nested over ${MAX_COLLECTION_NESTING} deep at ${path}`);
    let positions = 0;
    geometry.geometries.forEach((member, i) => (positions += checkGeometry(member, `${path}.geometries[${i}]`, nesting + 1)));
    return positions;
  }
  const depth = COORDINATE_DEPTH.get(geometry.type);
  if (depth === undefined) throw dataError(`not GeoJSON: unknown geometry type at ${path}`);
  if (!Array.isArray(geometry.coordinates)) throw dataError(`not GeoJSON: ${path} has no "coordinates" array`);
  if (geometry.coordinates.length === 0) return 0; // an empty geometry (RFC 7946 §3.1)
  return checkCoordinates(geometry.coordinates, depth, geometry.type, `${path}.coordinates`, []);
}

/** Walks the nested coordinate arrays once; `at` holds the indices on the way down, for the error message only. */
function checkCoordinates(node: unknown, depth: number, type: string, path: string, at: number[]): number {
  if (depth === 0) {
    const problem = positionProblem(node);
    if (problem) throw dataError(`invalid coordinates: ${problem} at ${where(path, at)}`);
    return 1;
  }
  if (!Array.isArray(node)) throw dataError(`invalid coordinates: expected an array at ${where(path, at)}`);
  let positions = 0;
  for (let i = 0; i < node.length; i++) {
    at.push(i);
    positions += checkCoordinates(node[i], depth - 1, type, path, at);
    at.pop();
  }
  if (depth === 1 && (type === 'Polygon' || type === 'MultiPolygon')) {
    if (node.length < 4) throw dataError(`invalid coordinates: a polygon ring has fewer than 4 positions at ${where(path, at)}`);
    if (!samePosition(node[0], node[node.length - 1])) throw dataError(`invalid coordinates: a polygon ring is not closed (its first and last positions differ) at ${where(path, at)}`);
  }
  if (depth === 1 && (type === 'LineString' || type === 'MultiLineString') && node.length < 2) {
    throw dataError(`invalid coordinates: a line has fewer than 2 positions at ${where(path, at)}`);
  }
  return positions;
}

const where = (path: string, at: number[]) => `${path}${at.map((i) => `[${i}]`).join('')}`;

function positionProblem(position: unknown): string | undefined {
  if (!Array.isArray(position) || position.length < 2) return 'a position is not an array of at least 2 numbers';
  // JSON.parse turns 1e999 into Infinity, hence finite and not just a number.
  if (!position.every((value) => typeof value === 'number' && Number.isFinite(value))) return 'a coordinate is not a finite number';
  if (position[0] < -180 || position[0] > 180) return 'longitude outside [-180, 180]';
  if (position[1] < -90 || position[1] > 90) return 'latitude outside [-90, 90]';
  return undefined;
}

const samePosition = (a: number[], b: number[]) => a.length === b.length && a.every((value, i) => value === b[i]);

function union(box: Stats['bbox'], next: number[]): Stats['bbox'] {
  const [minX, minY, maxX, maxY] = next as [number, number, number, number];
  return box === null ? [minX, minY, maxX, maxY] : [Math.min(box[0], minX), Math.min(box[1], minY), Math.max(box[2], maxX), Math.max(box[3], maxY)];
}

/**
 * Offset of the first JSON syntax error, found by a small tokenizer (only run after JSON.parse failed), or undefined
 * if it finds none. The offset counts UTF-16 code units, like JavaScript string indices.
 */
function syntaxErrorOffset(text: string): number | undefined {
  const space = /[ \t\n\r]*/y;
  // eslint-disable-next-line no-control-regex -- JSON strings may not hold raw control characters
  const token = /[{}[\]:,]|"(?:[^"\\\x00-\x1f]+|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
  const open: string[] = [];
  let expect: 'value' | 'valueOrClose' | 'key' | 'keyOrClose' | 'colon' | 'commaOrClose' | 'end' = 'value';
  let i = 0;
  for (;;) {
    space.lastIndex = i;
    space.exec(text);
    i = space.lastIndex;
    if (i === text.length) return expect === 'end' ? undefined : i;
    token.lastIndex = i;
    const found = token.exec(text)?.[0];
    if (found === undefined || expect === 'end') return i;
    const first = found[0]!;
    const closes = (first === '}' && open.at(-1) === '{') || (first === ']' && open.at(-1) === '[');
    const afterValue = () => (open.length === 0 ? 'end' : 'commaOrClose');
    if (expect === 'colon') {
      if (first !== ':') return i;
      expect = 'value';
    } else if (expect === 'commaOrClose' || ((expect === 'keyOrClose' || expect === 'valueOrClose') && closes)) {
      if (closes) {
        open.pop();
        expect = afterValue();
      } else if (first === ',' && expect === 'commaOrClose') {
        expect = open.at(-1) === '{' ? 'key' : 'value';
      } else {
        return i;
      }
    } else if (expect === 'key' || expect === 'keyOrClose') {
      if (first !== '"') return i;
      expect = 'colon';
    } else if (first === '{' || first === '[') {
      open.push(first);
      expect = first === '{' ? 'keyOrClose' : 'valueOrClose';
    } else if ('}]:,'.includes(first)) {
      return i;
    } else {
      expect = afterValue();
    }
    i += found.length;
  }
}

function errorCode(error: unknown): string {
  return (isObject(error) && typeof error.code === 'string' && error.code) || (error instanceof Error ? error.name : 'unknown error');
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const known = error instanceof ExitError;
  // An unexpected error's message could quote data, so only its name goes out.
  const message = known ? error.message : `internal error (${error instanceof Error ? error.name : typeof error})`;
  process.stderr.write(`geojson-stats: ${message}\n`);
  process.exitCode = known ? error.code : EX_SOFTWARE;
});
