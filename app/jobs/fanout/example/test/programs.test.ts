import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { BROKEN_WAVS, MIN_WAV_DEMO_COUNT, WAV_DEMO_EXPECTATIONS, writeWavDemoSet, type WavDemoSet } from '../demo-set';

/**
 * loudness and spectrum as the command job runs them: each esbuild bundle (the same options as build.mjs) as a real
 * child process, on the smallest demo set (the showcase files with known results, and every broken file).
 */
const PROGRAMS = ['loudness', 'spectrum'] as const;
type Program = (typeof PROGRAMS)[number];

interface Run { code: number | null; stdout: string; stderr: string }

let dir: string;
let demo: string;
let set: WavDemoSet;
const bundledInputs = new Map<Program, string[]>();

function run(program: Program, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dir, `${program}.js`), ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A few at a time: every run is a node process, and the machine may be busy with other suites. */
async function inPool<T>(items: readonly T[], work: (item: T) => Promise<void>, size = 4): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: size }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  }));
}

const outputOf = (program: Program, key: string) => join(dir, 'out', program, key);
const runOn = (program: Program, key: string, env: Record<string, string> = {}) => run(program, [join(demo, key), outputOf(program, key)], env);
const summaryOf = async (program: Program, key: string) => JSON.parse(await readFile(join(outputOf(program, key), 'summary.json'), 'utf8')) as Record<string, unknown>;
const csvOf = async (program: Program, key: string) => (await readFile(join(outputOf(program, key), 'per-second.csv'), 'utf8')).trimEnd().split('\n').map((line) => line.split(','));

function expectOneLine(result: Run, program: Program, code: number, reason: string) {
  expect(result.code).toBe(code);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(new RegExp(`^${program}: [^\\n]+\\n$`));
  expect(result.stderr).toContain(reason);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fanout-example-'));
  for (const program of PROGRAMS) {
    const result = await build({
      entryPoints: [join(__dirname, '..', `${program}.ts`)],
      outfile: join(dir, `${program}.js`), bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning', metafile: true,
    });
    bundledInputs.set(program, Object.keys(result.metafile.inputs));
  }
  demo = join(dir, 'demo');
  set = await writeWavDemoSet(demo, { count: MIN_WAV_DEMO_COUNT });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test.each(PROGRAMS)('build.mjs bundles %s where the command job is pointed at it', async (program) => {
  const script = await readFile(join(__dirname, '..', '..', '..', '..', '..', 'build.mjs'), 'utf8');
  expect(script).toContain(`{ in: 'app/jobs/fanout/example/${program}.ts', out: 'dist/app/jobs/fanout/${program}.js', target: 'node20' }`);
});

test.each(PROGRAMS)('%s stands alone: its bundle holds only this folder and its DSP library', (program) => {
  const inputs = bundledInputs.get(program) ?? [];
  const own = inputs.filter((input) => !input.includes('node_modules/')).map((input) => relative(process.cwd(), input));
  expect(own.every((input) => input.startsWith('app/jobs/fanout/example/') && !input.includes('/test/'))).toBe(true);
  const library = program === 'loudness' ? /node_modules\/wavefile\// : /node_modules\/(wavefile|fft\.js)\//;
  expect(inputs.filter((input) => input.includes('node_modules/')).every((input) => library.test(input))).toBe(true);
});

describe('on the demo set', () => {
  const results = new Map<string, Run>();
  beforeAll(async () => {
    await inPool(set.keys.flatMap((key) => PROGRAMS.map((program) => [program, key] as const)), async ([program, key]) => {
      results.set(`${program} ${key}`, await runOn(program, key));
    });
  }, 120_000);

  test('every good file exits 0 silently and leaves exactly per-second.csv and summary.json', async () => {
    const good = set.keys.filter((key) => !set.brokenKeys.includes(key));
    expect(good).toHaveLength(WAV_DEMO_EXPECTATIONS.length);
    for (const key of good) {
      for (const program of PROGRAMS) {
        expect({ program, key, ...results.get(`${program} ${key}`) }).toEqual({ program, key, code: 0, stdout: '', stderr: '' });
        expect((await readdir(outputOf(program, key))).sort()).toEqual(['per-second.csv', 'summary.json']);
      }
    }
  });

  test.each(WAV_DEMO_EXPECTATIONS.map((expectation) => [expectation.key, expectation] as const))('%s: the documented results', async (key, expectation) => {
    expect(await summaryOf('loudness', key)).toMatchObject(expectation.loudness);
    expect(await summaryOf('spectrum', key)).toMatchObject(expectation.spectrum);
    expect((await csvOf('spectrum', key)).slice(1).map((row) => row[2])).toEqual(expectation.bands);
  });

  test('the CSVs have the documented header and one row per second', async () => {
    const key = 'audio/bursts/burst 1 s on 2 s off.wav';
    const loudness = await csvOf('loudness', key);
    expect(loudness[0]).toEqual(['second', 'rms_dbfs', 'peak_dbfs', 'active']);
    expect(loudness.slice(1).map((row) => [row[0], row[3]])).toEqual([['0', 'true'], ['1', 'false'], ['2', 'false']]);
    expect(loudness[2].slice(1, 3)).toEqual(['-120', '-120']);
    const spectrum = await csvOf('spectrum', key);
    expect(spectrum[0]).toEqual(['second', 'dominant_hz', 'dominant_band', 'band_energy_db']);
    expect(spectrum.slice(1)).toEqual([['0', '500', '500', expect.stringMatching(/^-9\.0\d$/)], ['1', '0', 'none', '-120'], ['2', '0', 'none', '-120']]);
  });

  test('every summary is a flat object of finite numbers and strings, with the documented fields', async () => {
    for (const key of set.keys.filter((key) => !set.brokenKeys.includes(key))) {
      const loudness = await summaryOf('loudness', key);
      const spectrum = await summaryOf('spectrum', key);
      for (const value of [...Object.values(loudness), ...Object.values(spectrum)]) {
        expect(typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))).toBe(true);
      }
      expect(Object.keys(loudness)).toEqual([
        'duration_s', 'sample_rate', 'channels', 'sample_format', 'seconds', 'activity_threshold_dbfs', 'mean_rms_dbfs', 'max_peak_dbfs', 'active_seconds', 'active_fraction',
      ]);
      expect(Object.keys(spectrum)).toEqual([
        'duration_s', 'sample_rate', 'channels', 'sample_format', 'seconds', 'frame_size', 'silent_seconds', 'dominant_band', 'dominant_band_seconds',
        'dominant_hz_median', 'spectral_centroid_hz_mean', 'spectral_flatness_mean', 'max_band_energy_db',
      ]);
    }
  });

  test.each(BROKEN_WAVS.flatMap((broken) => PROGRAMS.map((program) => [program, broken.key, broken] as const)))(
    '%s on %s: the documented exit code and one-line reason, no output',
    (program, key, broken) => {
      expectOneLine(results.get(`${program} ${key}`)!, program, broken.exitCode, broken.reason);
      expect(existsSync(outputOf(program, key))).toBe(false);
    },
  );
});

describe('settings, arguments and the environment', () => {
  const quiet = 'audio/levels/100% quiet -50 dB.wav';
  const tone = 'audio/tones/sine 1000 Hz.wav';

  test('ACTIVITY_THRESHOLD_DB moves the line between quiet and active', async () => {
    const result = await run('loudness', [join(demo, quiet), join(dir, 'threshold-out')], { ACTIVITY_THRESHOLD_DB: '-55' });
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(JSON.parse(await readFile(join(dir, 'threshold-out', 'summary.json'), 'utf8'))).toMatchObject({ activity_threshold_dbfs: -55, active_seconds: 1 });
  });

  test.each(['loud', '10', '-200', '-45dB', 'NaN'])('ACTIVITY_THRESHOLD_DB=%s is refused with 78 before any work', async (value) => {
    const result = await run('loudness', [join(demo, tone), join(dir, 'bad-threshold-out')], { ACTIVITY_THRESHOLD_DB: value });
    expectOneLine(result, 'loudness', 78, `ACTIVITY_THRESHOLD_DB must be a level in dBFS from -120 to 0 (such as -45), got "${value}"`);
    expect(existsSync(join(dir, 'bad-threshold-out'))).toBe(false);
  });

  test.each(PROGRAMS)('%s: WAV_MAX_BYTES refuses a larger file with 65, a malformed one with 78', async (program) => {
    const [tooLarge, malformed] = await Promise.all([
      run(program, [join(demo, tone), join(dir, `${program}-limit-out`)], { WAV_MAX_BYTES: '1000' }),
      run(program, [join(demo, tone), join(dir, `${program}-limit-out`)], { WAV_MAX_BYTES: '2e6' }),
    ]);
    expectOneLine(tooLarge, program, 65, 'file too large: 64044 bytes, over the limit of 1000 (WAV_MAX_BYTES)');
    expectOneLine(malformed, program, 78, 'WAV_MAX_BYTES must be a whole number of bytes');
  });

  test.each(PROGRAMS)('%s: usage 64, missing input 66, unwritable output 74', async (program) => {
    const good = join(demo, tone);
    await writeFile(join(dir, `${program}-a-file`), '');
    const [noArgs, oneArg, missing, fileAsDir] = await Promise.all([
      run(program, []),
      run(program, [good]),
      run(program, [join(dir, 'nope.wav'), join(dir, 'nope-out')]),
      run(program, [good, join(dir, `${program}-a-file`, 'out')]), // a file where a directory should be
    ]);
    expectOneLine(noArgs, program, 64, `usage: ${program} <input.wav> <outputDir>`);
    expectOneLine(oneArg, program, 64, 'usage');
    expectOneLine(missing, program, 66, 'input file not found');
    expectOneLine(fileAsDir, program, 74, 'cannot write');
  });

  test('the file content never reaches stdout or stderr', async () => {
    const marker = 'SECRET_7f3a91';
    const input = join(dir, 'marker.wav');
    await writeFile(input, `${marker} ${marker}`);
    for (const program of PROGRAMS) {
      const result = await run(program, [input, join(dir, 'marker-out')]);
      expectOneLine(result, program, 65, 'not a WAV file');
      expect(result.stderr).not.toContain(marker);
    }
  });
});
