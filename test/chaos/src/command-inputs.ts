import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROKEN_GEOJSON, GOOD_GEOJSON_KEYS, writeGeojsonDemoSet } from '../../../app/jobs/command/example/demo-set';
import { BAD_INPUT_MATRIX, notification, type ExpectedOutcome, type MatrixCase } from './bad-input-matrix';
import { keyOfBytes } from './heavy-inputs';

/**
 * The command job's chaos inputs: GeoJSON files for its example program (geojson-stats), the demo set's good and
 * broken files, keys that trip naive shells and pipelines, and the cases of the resize matrix that do not depend on
 * the job (bodies that are no S3 event, a test event). Everything is made in memory from fixed seeds.
 */

/** What every success of geojson-stats leaves in its output directory. */
export const STATS_FILE = 'stats.json';
/** What the chaos COMMAND also leaves for keys under LARGE_PREFIX: a copy of the input, large enough to go up in parts. */
export const COPY_FILE = 'source-copy.geojson';
export const LARGE_PREFIX = 'large/';
/** The worker's multipart part size (app/src/store/s3-object-store.ts): a copy over it is uploaded in parts. */
export const UPLOAD_PART_BYTES = 8 * 1024 * 1024;
/** geojson-stats's exit code for data that can never work (sysexits.h EX_DATAERR). */
export const EX_DATAERR = 65;

/**
 * Planted in every GeoJSON file the suite writes (a property of good files, the text of broken ones it adds), so the
 * log check proves no file content reaches a log line: not the program's stderr tail, not the worker's own lines.
 */
export const FILE_CANARY = 'chaos-file-canary-5c1e';
/** Text of the demo set's broken files that must never be logged either (their content is fixed by the demo set). */
export const DEMO_FILE_CONTENT = ['meeting notes saved with a .geojson name', '"values":[1,2,3]'];

/**
 * The chaos run's COMMAND, in the shell form: the example program, and for keys under `large/` a copy of the input
 * into the output directory, so that large inputs also make the worker upload in parts (multipart) under faults.
 * The shell form also puts every hostile key through the template (`{key}` in the `case` word and `{input}` as an
 * argument; the worker passes them as quoted references to variables holding the values): a key such as
 * `$(kill -KILL $$) a'b;c.geojson` that reached the shell as syntax would kill it, and the input would end in the DLQ
 * instead of processed. The program's own exit code is the script's (`&&`): a broken file still exits 65.
 */
export function chaosCommand(nodePath: string, programPath: string): string {
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  return `${quote(nodePath)} ${quote(programPath)} {input} {outputDir} && case {key} in ${LARGE_PREFIX}*) cp {input} {outputDir}/${COPY_FILE} ;; esac`;
}

/** The features of a GeoJSON text as geojson-stats counts them (a bare geometry or a Feature is one); undefined when broken. */
export function featureCountOf(bytes: Buffer): number | undefined {
  try {
    const root = JSON.parse(bytes.toString('utf8')) as { type?: unknown; features?: unknown };
    if (root.type === 'FeatureCollection') return Array.isArray(root.features) ? root.features.length : undefined;
    return typeof root.type === 'string' ? 1 : undefined;
  } catch {
    return undefined;
  }
}

const point = (x: number, y: number, properties: Record<string, unknown>) => ({ type: 'Feature', properties, geometry: { type: 'Point', coordinates: [x, y] } });
const cell = (x: number, y: number, size: number, properties: Record<string, unknown>) => ({
  type: 'Feature',
  properties,
  geometry: { type: 'Polygon', coordinates: [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]] },
});
const collection = (features: unknown[]) => Buffer.from(`${JSON.stringify({ type: 'FeatureCollection', features })}\n`);

/** A small valid file, different for every n (1 to 9 features): two outputs can never be confused. */
export function goodGeojson(n: number): Buffer {
  const count = 1 + (n % 9);
  return collection(Array.from({ length: count }, (_, i) => point(-170 + ((n * 7 + i) % 340), -80 + ((n * 3 + i) % 160), { n, i, note: FILE_CANARY })));
}

/**
 * The older version of a raced key: a grid of polygons that keeps geojson-stats busy for a good fraction of a second
 * (after node's own start), so the newer version, written as soon as a worker has read this one, lands between the
 * worker's GET and its read-back of the source after writing.
 */
export function slowOlderGeojson(): Buffer {
  return collection(Array.from({ length: 6000 }, (_, i) => cell(-30 + (i % 100) * 0.5, (Math.floor(i / 100) % 60) * 0.5, 0.5, { i, note: FILE_CANARY })));
}

/** A valid file over the multipart part size, `n` making each one different: a hundred features with long properties. */
export function largeGeojson(n: number, bytes = UPLOAD_PART_BYTES + 1024 * 1024): Buffer {
  const features = 100;
  const filler = `${FILE_CANARY} `.repeat(Math.ceil(bytes / features / (FILE_CANARY.length + 1)));
  return collection(Array.from({ length: features }, (_, i) => point(i % 180, (i + n) % 90, { n, i, filler })));
}

export interface DemoGeojson {
  readonly good: ReadonlyMap<string, Buffer>;
  readonly broken: ReadonlyMap<string, Buffer>;
}

/** The demo set's files, written once to a scratch directory and read back (writeGeojsonDemoSet writes files). */
let demoSet: Promise<DemoGeojson> | undefined;
export function demoGeojson(): Promise<DemoGeojson> {
  demoSet ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chaos-geojson-demo-'));
    try {
      await writeGeojsonDemoSet(dir);
      const read = (key: string) => readFileSync(join(dir, key));
      return {
        good: new Map(GOOD_GEOJSON_KEYS.map((key) => [key, read(key)])),
        broken: new Map(BROKEN_GEOJSON.map(({ key }) => [key, read(key)])),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return demoSet;
}

/** A command-matrix case: what the dead-lettering `failed` line's detail must say, on top of the reason. */
export interface CommandMatrixCase extends MatrixCase {
  readonly detailIncludes?: readonly string[];
}

const event = { kind: 'event' } as const;
const exited65 = `exited with code ${EX_DATAERR}`;
/** Its output key (`<key>/stats.json`, 11 bytes more) is 1026 bytes: one past S3's limit, while the source key is legal. */
export const COMMAND_OVERLONG_KEY = keyOfBytes('matrix/long/', 1015, 'k', '.geojson', 194);
/** About 300 CJK characters, 920 bytes: legal as a key and in `<key>/stats.json`, but 2.7 KB URL-encoded. */
export const COMMAND_CJK_KEY = keyOfBytes('matrix/cjk/', 920, '漢', '.geojson', 194);
/** Shell syntax in a key: if any of it ran, `kill -KILL $$` would kill the program's shell and the input would be dead-lettered. */
export const SHELL_KEY = "matrix/shell/$(kill -KILL $$) a'b;c`x`.geojson";
const sameAsResize = (id: string): MatrixCase => {
  const found = BAD_INPUT_MATRIX.find((c) => c.id === id);
  if (found === undefined) throw new Error(`no resize matrix case ${id}`);
  return found;
};

function brokenCases(): CommandMatrixCase[] {
  return BROKEN_GEOJSON.map((broken) => ({
    id: `broken-${broken.key.replace(/^broken\//, '').replace(/\.geojson$/, '').replace(/\s+/g, '-')}`,
    title: `Demo set's broken file \`${broken.key}\` (${broken.reason})`,
    objects: [{ key: broken.key, bytes: async () => (await demoGeojson()).broken.get(broken.key)! }],
    delivery: event,
    expected: 'dlq' as ExpectedOutcome,
    reason: 'command-failed',
    why: `geojson-stats exits ${broken.exitCode}: the worker dead-letters it at once, the code and the program's stderr line in the log`,
    detailIncludes: [`exited with code ${broken.exitCode}`, broken.reason],
  }));
}

export const COMMAND_MATRIX: readonly CommandMatrixCase[] = [
  ...brokenCases(),
  {
    id: 'broken-json-with-canary', title: 'Truncated JSON whose text carries the file canary', objects: [{ key: 'matrix/broken/cut.geojson', bytes: async () => Buffer.from(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"note":"${FILE_CANARY}"`) }],
    delivery: event, expected: 'dlq', reason: 'command-failed', why: 'exit 65; the stderr tail names a line and column, never the text', detailIncludes: [exited65, 'unexpected end'],
  },
  {
    id: 'not-geojson-with-canary', title: 'JSON that is not GeoJSON, the canary in it', objects: [{ key: 'matrix/broken/not-geo.geojson', bytes: async () => Buffer.from(JSON.stringify({ title: FILE_CANARY, rows: [1, 2] })) }],
    delivery: event, expected: 'dlq', reason: 'command-failed', why: 'exit 65 (not GeoJSON); nothing of the file reaches the log', detailIncludes: [exited65, 'not GeoJSON'],
  },
  { id: 'key-spaces', title: 'Key with spaces', objects: [{ key: 'matrix/with spaces/a file.geojson', bytes: async () => goodGeojson(1001) }], delivery: event, expected: 'processed', why: '`+` in the event decodes to a space; the path reaches the program as one argument' },
  { id: 'key-plus', title: 'Key with +', objects: [{ key: 'matrix/a+b.geojson', bytes: async () => goodGeojson(1002) }], delivery: event, expected: 'processed', why: '`%2B` decodes to a plus, not a space' },
  { id: 'key-percent', title: 'Key with %', objects: [{ key: 'matrix/100%25 off%.geojson', bytes: async () => goodGeojson(1003) }], delivery: event, expected: 'processed', why: 'a literal % survives encoding and decoding' },
  { id: 'key-unicode', title: 'Key with unicode', objects: [{ key: 'matrix/ünïcödé/日本語 ☃.geojson', bytes: async () => goodGeojson(1004) }], delivery: event, expected: 'processed', why: 'UTF-8 file names on disk and in the output key' },
  { id: 'key-deep', title: 'Deep folders', objects: [{ key: 'matrix/a/b/c/d/e/f/g/h/i/j/deep.geojson', bytes: async () => goodGeojson(1005) }], delivery: event, expected: 'processed', why: 'folders are kept in the output key' },
  { id: 'key-shell-syntax', title: 'Key with shell syntax: `$(...)`, backquotes, `;` and a quote', objects: [{ key: SHELL_KEY, bytes: async () => goodGeojson(1006) }], delivery: event, expected: 'processed', why: 'the shell form gets `{key}` and `{input}` as quoted variable references: literal text, never syntax' },
  { id: 'key-cjk-920-bytes', title: 'Key of 300 CJK characters (920 bytes)', objects: [{ key: COMMAND_CJK_KEY, bytes: async () => goodGeojson(1007) }], delivery: event, expected: 'processed', why: 'legal; URL-encoded it would pass 2 KB of metadata, so outputs name it in `source-key-base64url`' },
  { id: 'output-key-too-long', title: 'Source key of 1015 bytes (its output key `<key>/stats.json` would be 1026)', objects: [{ key: COMMAND_OVERLONG_KEY, bytes: async () => goodGeojson(1008) }], delivery: event, expected: 'dlq', reason: 'output-key-too-long', why: 'the program runs (its outputs are not known before), then the upload is refused before a byte is sent: S3 keys are at most 1024 bytes' },
  { id: 'deleted-before-processing', title: 'Object deleted before it is processed', objects: [{ key: 'matrix/deleted.geojson', bytes: async () => goodGeojson(1009) }], delivery: { kind: 'deleted-before-processing' }, expected: 'skipped', why: 'the download answers 404: acknowledged and logged as source missing, the program never runs' },
  {
    id: 'several-records-one-broken',
    title: 'One message with three records, the second broken',
    objects: [
      { key: 'matrix/mixed/good-1.geojson', bytes: async () => goodGeojson(1010) },
      { key: 'matrix/mixed/broken.geojson', bytes: async () => Buffer.from(`{"type":"Point","coordinates":["${FILE_CANARY}",1]}`), expected: 'dlq', reason: 'command-failed' },
      { key: 'matrix/mixed/good-2.geojson', bytes: async () => goodGeojson(1011) },
    ],
    delivery: { kind: 'raw-body', body: (uploaded) => notification(uploaded) },
    expected: 'processed',
    why: 'each record on its own: the good ones get outputs, a dead letter holds the broken record only',
  },
  { id: 'overwrite-race-queued', title: 'Key overwritten before processing, the older event delivered last', objects: [{ key: 'matrix/race/queued.geojson', bytes: async () => goodGeojson(1012) }], delivery: { kind: 'overwrite-race', newer: async () => goodGeojson(1013), when: 'before-workers' }, expected: 'processed', why: 'stats.json carries the newer version\'s ETag and counts its features' },
  { id: 'overwrite-race-live', title: 'Key overwritten while the program runs on its older version (6000 polygons)', objects: [{ key: 'matrix/race/live.geojson', bytes: async () => slowOlderGeojson() }], delivery: { kind: 'overwrite-race', newer: async () => goodGeojson(1014), when: 'while-processing' }, expected: 'processed', why: 'the worker reads the source back after uploading and runs the program again on a changed one' },
  ...['malformed-json', 'non-s3-json', 'foreign-bucket', 's3-test-event'].map(sameAsResize),
];

/** The command matrix as the Markdown table README-chaos.md carries; a test keeps the two identical. */
export function commandMatrixTable(): string {
  const outcome = (expected: ExpectedOutcome, reason: string | undefined) => `${expected}${reason !== undefined ? ` (\`${reason}\`)` : ''}`;
  const rows = COMMAND_MATRIX.map((c) => {
    const own = c.objects.filter((o) => o.expected !== undefined).map((o) => `; \`${o.key.split('/').pop() ?? o.key}\`: ${outcome(o.expected!, o.reason)}`);
    return `| ${c.title.replace(/\|/g, '\\|')} | ${outcome(c.expected, c.reason)}${own.join('')} | ${c.why} |`;
  });
  return ['| Input | Expected outcome | Why |', '| --- | --- | --- |', ...rows].join('\n');
}
