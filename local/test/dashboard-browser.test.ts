import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { LocalQueue } from '../../shared/queue/local-queue';
import { describeDeadLetters } from '../src/dead-letter-report';
import { LOCAL_CREDENTIALS } from '../src/s3-server';

/**
 * The dashboard as a person sees it: `npm start`'s bundle runs the resize demo (40 images, 3 broken files), the
 * system's headless Chromium opens the page, and what the page shows is held against the pipeline's own numbers.
 * DASHBOARD_SCREENSHOT=<path> also saves the drained page there (npm run dashboard:screenshot, for the README).
 */
const ROOT = resolve(__dirname, '../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium-headless-shell';
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT;
/** What would betray a message body on the page: the S3 event's own field names. */
const BODY_MARKERS = ['"Records"', 'eventSource', 'sequencer', 'eventName', 'awsRegion'];
const WAIT = { timeout: 60_000 };
/** The page's own globals, for the functions that run inside the browser (the project compiles without the DOM lib). */
declare const document: {
  getElementById(id: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): ArrayLike<{ complete: boolean; naturalWidth: number }>;
};

let dir: string;
let pipeline: ChildProcessWithoutNullStreams;
let stdout = '';
let browser: Browser;
let page: Page;
let dataDir: string;
const jsonBodies: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium-headless-shell (npm test's setup does: bash test/setup/system-tools.sh) or set CHROMIUM_PATH`);
  }
  dir = mkdtempSync(join(tmpdir(), 'dashboard-browser-'));
  dataDir = join(dir, 'data');
  const bundle = (entry: string, out: string) =>
    build({ entryPoints: [join(ROOT, entry)], outfile: join(dir, 'dist', out), bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['sharp', 'better-sqlite3', 'dynalite'], logLevel: 'error' });
  await Promise.all([bundle('local/src/cli.ts', 'local/cli.js'), bundle('app/src/main.ts', 'app/main.js')]);

  pipeline = spawn(process.execPath, [join(dir, 'dist/local/cli.js'), 'start', '--data-dir', dataDir, '--port', '0', '--ui-port', '0', '--max-tasks', '2'], {
    env: { PATH: process.env.PATH, NODE_PATH: join(ROOT, 'node_modules'), NODE_NO_WARNINGS: '1' },
  });
  pipeline.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  pipeline.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const url = await until(() => /^dashboard (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(stdout)?.[1], 'the dashboard URL');

  browser = await chromium.launch({ executablePath: CHROMIUM });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('response', (response) => {
    if (response.url().includes('/api/')) void response.text().then((text) => jsonBodies.push(text), () => undefined);
  });
  await page.goto(url);
  // Drained: every good file processed, the broken ones dead-lettered, the workers gone.
  await page.waitForFunction(() => {
    const text = (id: string) => document.getElementById(id)?.textContent ?? '';
    const count = (id: string) => Number(text(id));
    return text('visible') === '0' && text('in-flight') === '0' && text('workers') === '0' && count('loaded') > 0 && count('processed') + count('dlq') === count('loaded');
  }, undefined, WAIT);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (pipeline !== undefined && pipeline.exitCode === null) {
    const exited = new Promise((resolveExit) => pipeline.once('exit', resolveExit));
    pipeline.kill('SIGTERM');
    await exited;
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function until<T>(read: () => T | undefined, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} after ${timeoutMs} ms; the pipeline said:\n${stdout}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
}

async function shown(id: string): Promise<number> {
  return Number(await page.locator(`#${id}`).textContent());
}

async function withQueue<T>(use: (queue: LocalQueue) => Promise<T>): Promise<T> {
  const queue = LocalQueue.open(join(dataDir, 'queue.db'));
  try {
    return await use(queue);
  } finally {
    await queue.close();
  }
}

it('shows the numbers the pipeline has: processed, loaded, DLQ and queue depth', async () => {
  const demo = /loaded the resize demo set: (\d+) files \((\d+) images, (\d+) deliberately broken\)/.exec(stdout);
  expect(demo).not.toBeNull();
  const [, loaded, good, broken] = demo!.map(Number) as [number, number, number, number];
  // The pipeline's own progress line, printed (every 5 s) after the page showed the drained state.
  const printedBefore = stdout.length;
  const progress = await until(() => /^t=\d+s \|.* processed (\d+)\/(\d+) .*$/m.exec(stdout.slice(printedBefore)) ?? undefined, 'progress line after the drain');
  const line = progress[0];
  const printed = (label: string) => Number(new RegExp(`${label} (\\d+)`).exec(line)?.[1]);
  const [depth, dlq] = await withQueue(async (queue) => [await queue.depth(), await queue.dlqDepth()] as const);

  const onPage = { processed: await shown('processed'), loaded: await shown('loaded'), dlq: await shown('dlq'), visible: await shown('visible'), inFlight: await shown('in-flight'), workers: await shown('workers') };
  expect(onPage).toEqual({ processed: good, loaded, dlq: broken, visible: 0, inFlight: 0, workers: 0 });
  expect(onPage).toEqual({
    processed: printed('processed'), loaded: Number(progress[2]), dlq: printed('DLQ'), visible: printed('queue visible'), inFlight: printed('in flight'), workers: printed('workers'),
  });
  expect({ dlq: onPage.dlq, visible: onPage.visible, inFlight: onPage.inFlight }).toEqual({ dlq, visible: depth.visible, inFlight: depth.inFlight });
  // The charts and the scaler's panel have this run's data.
  expect(await page.locator('#decisions li .launch').count()).toBeGreaterThan(0);
  expect(await page.locator('#throughput-chart canvas').count()).toBe(1);
  expect(Number(await page.locator('body').getAttribute('data-renders'))).toBeGreaterThan(1);
  if (SCREENSHOT !== undefined) await page.screenshot({ path: resolve(ROOT, SCREENSHOT), fullPage: true });
}, 60_000);

it('lists each dead letter by key with its reason, and never a secret or a message body', async () => {
  const lines = await withQueue(async (queue) => describeDeadLetters(await queue.peekDeadLetters(100)));
  const items = await page.locator('#dead-letters li.dead-letter').evaluateAll((nodes) => nodes.map((node) => ({
    key: node.querySelector('.key')?.textContent, reason: node.querySelector('.reason')?.textContent,
  })));
  expect(items).toEqual(lines.map(({ key, reason }) => ({ key, reason })));

  const html = await page.content();
  expect(jsonBodies.length).toBeGreaterThan(1);
  for (const text of [html, ...jsonBodies]) {
    for (const secret of [LOCAL_CREDENTIALS.accessKeyId, LOCAL_CREDENTIALS.secretAccessKey]) expect(text).not.toContain(secret);
    for (const marker of BODY_MARKERS) expect(text).not.toContain(marker);
  }
}, 30_000);

it('loads thumbnails of the outputs from the outputs bucket', async () => {
  const thumbnail = page.locator('#gallery img').first();
  await thumbnail.scrollIntoViewIfNeeded();
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#gallery img')).some((image) => image.complete && image.naturalWidth > 0), undefined, WAIT);
  expect(await thumbnail.getAttribute('src')).toMatch(/^\/output\?key=224x224%2F|^\/output\?key=299x299%2F/);
}, 60_000);

it('keeps the outputs as plain files under the data folder while the run still serves, byte for byte as the page serves them', async () => {
  const good = Number(/\((\d+) images,/.exec(stdout)?.[1]);
  const outDir = join(dataDir, 'out');
  const mirrored = () => (existsSync(outDir) ? readdirSync(outDir, { recursive: true, encoding: 'utf8' }).filter((path) => path.endsWith('.jpg')) : []);
  // Two sizes per good image, copied within a mirror pass (5 s) of their upload; the run is still serving.
  await until(() => (mirrored().length === 2 * good ? true : undefined), `${2 * good} outputs in ${outDir}`);
  expect(pipeline.exitCode).toBeNull();
  const [first] = mirrored().sort();
  const served = await page.request.get(new URL(`/output?key=${encodeURIComponent(first!)}`, page.url()).toString());
  expect(Buffer.from(await served.body()).equals(readFileSync(join(outDir, first!)))).toBe(true);
}, 60_000);

it('redrives the dead letters from its button: the queue has them again and a worker receives them again', async () => {
  const before = await shown('dlq');
  const [response] = await Promise.all([page.waitForResponse((answer) => answer.url().endsWith('/api/redrive')), page.click('#redrive')]);
  expect(await response.json()).toEqual({ moved: before });
  // At once, before any worker can start: the dead letters are back on the queue.
  const afterRedrive = await withQueue(async (queue) => ({ dlq: await queue.dlqDepth(), queued: ((depth) => depth.visible + depth.inFlight)(await queue.depth()) }));
  expect(afterRedrive).toEqual({ dlq: 0, queued: before });
  // The page's own DLQ 0 may last only until the scaler's next tick starts a worker, shorter than a poll on a loaded
  // machine: the page's answer to the click is what is checked here, the numbers in the first test.
  await expect(page.locator('#redrive-result').textContent()).resolves.toBe(`moved ${before} back to the queue`);
  // The scaler starts a worker for them; broken files are dead-lettered again, each with its reason.
  await page.waitForFunction((count) => document.getElementById('dlq')?.textContent === String(count), before, WAIT);
  expect(await page.locator('#dead-letters li.dead-letter .reason').count()).toBe(before);
}, 90_000);
