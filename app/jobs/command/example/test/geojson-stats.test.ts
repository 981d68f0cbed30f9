import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { BROKEN_GEOJSON, GOOD_GEOJSON_KEYS, writeGeojsonDemoSet } from '../demo-set';
import type { Stats } from '../geojson-stats';

/**
 * geojson-stats as the worker runs it: the esbuild bundle as a real child process, on the demo set in a temporary
 * directory. Expected values are known figures, never computed with turf here (that would test turf against itself):
 * on turf's sphere (R = 6371008.8 m) a 1° × 1° cell at the equator is R² · π/180 · sin 1° ≈ 1.2364e10 m², and the
 * whole globe is 4πR² ≈ 5.1007e14 m² (the Earth's 510 million km²).
 */
const EQUATOR_CELL_M2 = 1.2364e10;
const GLOBE_M2 = 5.1007e14;

interface Run { code: number | null; stdout: string; stderr: string }

let dir: string;
let program: string;
let demo: string;
let bundledInputs: string[];

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [program, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const outputOf = (key: string) => join(dir, 'out', key);
const statsOf = async (key: string): Promise<Stats> => JSON.parse(await readFile(join(outputOf(key), 'stats.json'), 'utf8'));
const runOn = (key: string) => run([join(demo, key), outputOf(key)]);

function expectOneLine(result: Run, code: number, reason: string) {
  expect(result.code).toBe(code);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^geojson-stats: [^\n]+\n$/);
  expect(result.stderr).toContain(reason);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'geojson-stats-'));
  program = join(dir, 'geojson-stats.js');
  const result = await build({
    entryPoints: [join(__dirname, '..', 'geojson-stats.ts')],
    outfile: program, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning', metafile: true,
  });
  bundledInputs = Object.keys(result.metafile.inputs);
  demo = join(dir, 'demo');
  await writeGeojsonDemoSet(demo);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the program stands alone: its bundle holds only itself and the turf packages', () => {
  const own = bundledInputs.filter((input) => !input.includes('node_modules/'));
  expect(own.map((input) => relative(process.cwd(), input))).toEqual(['app/jobs/command/example/geojson-stats.ts']);
  expect(bundledInputs.filter((input) => input.includes('node_modules/')).every((input) => /node_modules\/(@turf|@types|tslib)\//.test(input))).toBe(true);
});

describe('valid files', () => {
  const results = new Map<string, Run>();
  beforeAll(async () => {
    await Promise.all(GOOD_GEOJSON_KEYS.map(async (key) => results.set(key, await runOn(key))));
  });

  test('every valid file exits 0 silently and leaves one stats.json', async () => {
    expect(GOOD_GEOJSON_KEYS.length).toBeGreaterThanOrEqual(18);
    for (const key of GOOD_GEOJSON_KEYS) {
      expect({ key, ...results.get(key) }).toEqual({ key, code: 0, stdout: '', stderr: '' });
      const stats = await statsOf(key);
      expect(stats).toEqual(expect.objectContaining({ featureCount: expect.any(Number), positionCount: expect.any(Number), totalAreaSquareMetres: expect.any(Number) }));
    }
  });

  test('a 1° × 1° cell at the equator: area, bbox, types', async () => {
    const stats = await statsOf('equator/one degree cell.geojson');
    expect(Math.abs(stats.totalAreaSquareMetres / EQUATOR_CELL_M2 - 1)).toBeLessThan(0.01);
    expect(stats).toMatchObject({ type: 'Polygon', featureCount: 1, nullGeometries: 0, geometryTypes: { Polygon: 1 }, positionCount: 5, bbox: [0, 0, 1, 1] });
  });

  test('a hole is subtracted: a quarter of the cell', async () => {
    const stats = await statsOf('equator/cell with a hole.geojson');
    expect(Math.abs(stats.totalAreaSquareMetres / (0.75 * EQUATOR_CELL_M2) - 1)).toBeLessThan(0.01);
    expect(stats).toMatchObject({ type: 'Feature', featureCount: 1, positionCount: 10 });
  });

  test('the whole globe is 4πR²', async () => {
    const stats = await statsOf('misc/100% coverage.geojson');
    expect(Math.abs(stats.totalAreaSquareMetres / GLOBE_M2 - 1)).toBeLessThan(0.01);
    expect(stats.bbox).toEqual([-180, -90, 180, 90]);
  });

  test('the bbox of a known file spans every geometry type in it', async () => {
    const stats = await statsOf('bbox/known box.geojson');
    expect(stats.bbox).toEqual([-10.5, -20.25, 30.75, 45]);
    expect(stats.geometryTypes).toEqual({ LineString: 1, Point: 1, Polygon: 1 });
    expect(stats.featureCount).toBe(3);
  });

  test('a stale bbox member in the file is ignored and recomputed', async () => {
    expect((await statsOf('misc/stale bbox.geojson')).bbox).toEqual([5, 5, 6, 7]);
  });

  test('null geometries are counted and left out of the types and the bbox', async () => {
    const stats = await statsOf('mixed/nulls and points.geojson');
    expect(stats).toMatchObject({ featureCount: 5, nullGeometries: 2, geometryTypes: { Point: 3 }, positionCount: 3, bbox: [-0.13, 48.86, 13.4, 52.52] });
  });

  test('a bare GeometryCollection counts as one feature and its polygon gives the area', async () => {
    const stats = await statsOf('mixed/geometry collection.geojson');
    expect(stats).toMatchObject({ type: 'GeometryCollection', featureCount: 1, geometryTypes: { GeometryCollection: 1 }, positionCount: 8, bbox: [10, 0, 11, 1] });
    expect(Math.abs(stats.totalAreaSquareMetres / EQUATOR_CELL_M2 - 1)).toBeLessThan(0.01);
  });

  test('no positions at all: bbox null, area 0', async () => {
    expect(await statsOf('empty/no features.geojson')).toEqual({
      type: 'FeatureCollection', featureCount: 0, nullGeometries: 0, geometryTypes: {}, positionCount: 0, bbox: null, totalAreaSquareMetres: 0,
    });
    expect(await statsOf('misc/empty geometry.geojson')).toMatchObject({ featureCount: 1, geometryTypes: { Polygon: 1 }, positionCount: 0, bbox: null });
  });

  test('a thousand features, and 3D positions keep a 2D bbox', async () => {
    expect(await statsOf('grid/cells 1000.geojson')).toMatchObject({ featureCount: 1000, geometryTypes: { Polygon: 1000 }, bbox: [-20, 30, 0, 42.5] });
    expect((await statsOf('misc/3d points.geojson')).bbox).toEqual([7.6586, 27.9881, 86.925, 45.9763]);
    expect((await statsOf('world/islands.geojson')).geometryTypes).toEqual({ MultiPolygon: 1 });
    expect((await statsOf('rivers/donau+inn.geojson')).geometryTypes).toEqual({ LineString: 2, MultiLineString: 1 });
  });
});

test.each(BROKEN_GEOJSON.map((broken) => [broken.key, broken] as const))('%s: the documented exit code and reason, no output', async (key, broken) => {
  const result = await runOn(key);
  expectOneLine(result, broken.exitCode, broken.reason);
  expect(existsSync(join(outputOf(key), 'stats.json'))).toBe(false);
});

test('the file content never reaches stderr or stdout, wherever it is wrong', async () => {
  const marker = 'SECRET_7f3a91';
  const cases = [
    `${marker} is not JSON`,
    `{"type": "FeatureCollection", "features": [${marker}]}`,
    `{"type":"${marker}"}`,
    `{"${marker}": 1}`,
    `{"type":"FeatureCollection","features":[{"type":"${marker}"}]}`,
    `{"type":"Feature","geometry":{"type":"${marker}","coordinates":[]}}`,
    `{"type":"Point","coordinates":["${marker}",1]}`,
    `{"type":"Point","coordinates":[1,2],"x":"${marker}`,
  ];
  await mkdir(join(dir, 'marker'), { recursive: true });
  const results = await Promise.all(cases.map(async (content, i) => {
    const input = join(dir, 'marker', `${i}.geojson`);
    await writeFile(input, content);
    return run([input, join(dir, 'marker', `${i}-out`)]);
  }));
  for (const result of results) {
    expectOneLine(result, 65, 'not ');
    expect(result.stderr).not.toContain(marker);
  }
});

test('a JSON syntax error is located by line and column', async () => {
  const input = join(dir, 'syntax.geojson');
  await writeFile(input, '{"type": "Point",\n  "coordinates": [1, 2,]}');
  expectOneLine(await run([input, join(dir, 'syntax-out')]), 65, 'not valid JSON: syntax error at line 2, column 24');
});

test('missing input 66, unwritable output 74, size limit 65, bad limit 78, bad arguments 64', async () => {
  const good = join(demo, 'städte/köln.geojson');
  const [missing, unwritable, tooLarge, badLimit, noArgs] = await Promise.all([
    run([join(dir, 'nope.geojson'), join(dir, 'nope-out')]),
    run([good, join(good, 'out')]), // a file where a directory should be
    run([good, join(dir, 'limit-out')], { GEOJSON_MAX_BYTES: '100' }),
    run([good, join(dir, 'limit-out')], { GEOJSON_MAX_BYTES: '1e6' }),
    run([]),
  ]);
  expectOneLine(missing, 66, 'input file not found');
  expectOneLine(unwritable, 74, 'cannot write');
  expectOneLine(tooLarge, 65, 'over the limit of 100 (GEOJSON_MAX_BYTES)');
  expectOneLine(badLimit, 78, 'GEOJSON_MAX_BYTES');
  expectOneLine(noArgs, 64, 'usage');
});

describe('the demo set', () => {
  test('is written once: existing files are kept', async () => {
    const target = join(demo, 'städte/köln.geojson');
    await writeFile(target, 'edited');
    expect(await writeGeojsonDemoSet(demo)).toEqual({ good: GOOD_GEOJSON_KEYS.length, broken: BROKEN_GEOJSON.length });
    expect(await readFile(target, 'utf8')).toBe('edited');
  });

  test('is deterministic and holds tricky keys', async () => {
    const again = join(dir, 'demo-again');
    await writeGeojsonDemoSet(again);
    for (const key of ['a/b/c/points.geojson', 'rivers/donau+inn.geojson', 'grid/cells 1000.geojson', 'broken/truncated.geojson']) {
      expect(await readFile(join(again, key))).toEqual(await readFile(join(demo, key)));
    }
    expect(GOOD_GEOJSON_KEYS).toEqual(expect.arrayContaining(['parks/central park.geojson', 'rivers/donau+inn.geojson', 'städte/köln.geojson', 'a/b/c/points.geojson']));
    expect(BROKEN_GEOJSON.every(({ key }) => key.startsWith('broken/'))).toBe(true);
  });
});
