import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { loadRun, startHarness, type Harness, type LoadedRun } from '../../../../test/integration/worker-harness';
import {
  allGone, argvCommand, etagOf, exitOf, killLeftovers, linesWith, listKeys, liveGroupMembers, messageDirOf, newCase, readLines, readPids, sq,
  startCommandWorker, until, workerPid,
} from './command-worker-kit';

/**
 * The command job through the real worker process: the esbuild bundle the container runs (supervisor and worker),
 * s3rver on 127.0.0.1 and a local queue file, with JOB=command running tiny /bin/sh programs. Each program writes
 * what the test needs to know about it (its pids, its {input} path, its runs) to files outside WORK_DIR.
 */
let harness: Harness;
const runs: LoadedRun[] = [];

beforeAll(async () => {
  harness = await startHarness('command-it-');
}, 60_000);

afterAll(async () => {
  killLeftovers();
  await Promise.all(runs.map((run) => run.queue.close().catch(() => undefined)));
  await harness?.close();
});

async function load(name: string, inputs: readonly { key: string; body: Buffer }[], maxReceiveCount = 2): Promise<LoadedRun> {
  const run = await loadRun(harness, name, inputs, maxReceiveCount);
  runs.push(run);
  return run;
}

const ZERO_DEPTH = { visible: 0, inFlight: 0, delayed: 0 };

it('names outputs DEST_PREFIX/<key minus SOURCE_PREFIX>/<path> with the source ETag and a content type, and removes the message directory after success', async () => {
  const c = newCase(harness, 'naming');
  const key = 'in/a b/ü+x.geojson';
  const body = Buffer.from('{"type":"FeatureCollection","features":[]}\n');
  const run = await load('naming', [{ key, body }]);
  const inputs = c.file('inputs');
  const script = c.script('prog.sh', `
set -e
printf '%s\\n' "$1" >> ${sq(inputs)}
mkdir -p "$2/nested/deep"
printf '{"bytes":%s}\\n' "$(($(wc -c < "$1")))" > "$2/stats.json"
printf '%s' "$3" > "$2/nested/deep/part-1.txt"
`);
  const worker = startCommandWorker(harness, run, c, argvCommand(script), { SOURCE_PREFIX: 'in/', DEST_PREFIX: 'out/' });

  await until('the processed line', () => linesWith(worker, 'processed')[0], 10_000, worker);
  // Checked while the worker still runs: its process directory is there, the message's own directory is not.
  const [inputPath] = readLines(inputs);
  expect(basename(inputPath!)).toBe('ü+x.geojson');
  expect({ messageDir: existsSync(messageDirOf(inputPath!)), processDir: existsSync(dirname(messageDirOf(inputPath!))) }).toEqual({ messageDir: false, processDir: true });
  expect(await exitOf(worker)).toEqual({ code: 0, stderr: '' });

  const prefix = 'out/a b/ü+x.geojson/';
  expect(await listKeys(harness, run.dest)).toEqual([`${prefix}nested/deep/part-1.txt`, `${prefix}stats.json`]);
  const etag = await etagOf(harness, run.source, key);
  const stats = await harness.s3.send(new GetObjectCommand({ Bucket: run.dest, Key: `${prefix}stats.json` }));
  expect({ type: stats.ContentType, etag: stats.Metadata?.['source-etag'], body: JSON.parse(await stats.Body!.transformToString()) }).toEqual({
    type: 'application/json', etag, body: { bytes: body.length },
  });
  const part = await harness.s3.send(new GetObjectCommand({ Bucket: run.dest, Key: `${prefix}nested/deep/part-1.txt` }));
  expect({ type: part.ContentType, etag: part.Metadata?.['source-etag'], body: await part.Body!.transformToString() }).toEqual({ type: 'text/plain', etag, body: key });

  expect(await run.queue.depth()).toEqual(ZERO_DEPTH);
  expect(await run.queue.dlqDepth()).toBe(0);
  expect(readdirSync(c.workDir)).toEqual([]);
}, 20_000);

it('dead-letters exit 65 after one attempt as command-failed, logging the code and the stderr tail but never the file', async () => {
  const c = newCase(harness, 'exit65');
  const marker = `MARKER-${randomBytes(8).toString('hex')}`;
  const run = await load('exit65', [{ key: 'bad.geojson', body: Buffer.from(`${marker}\n`.repeat(50)) }]);
  const inputs = c.file('inputs');
  const script = c.script('prog.sh', `
printf '%s\\n' "$1" >> ${sq(inputs)}
cat "$1"
echo "reading features" >&2
echo "no FeatureCollection in this file" >&2
exit 65
`);
  const worker = startCommandWorker(harness, run, c, argvCommand(script));

  const failed = await until('the failed line', () => linesWith(worker, 'failed')[0], 10_000, worker);
  expect(existsSync(messageDirOf(readLines(inputs)[0]!))).toBe(false);
  expect(await exitOf(worker)).toEqual({ code: 0, stderr: '' });

  expect(failed).toMatchObject({ key: 'bad.geojson', kind: 'permanent', reason: 'command-failed', outcome: 'dead-lettered', receiveCount: 1, attempts: 1 });
  expect(failed.detail).toEqual(expect.stringContaining('exited with code 65'));
  expect(failed.detail).toEqual(expect.stringContaining('reading features\nno FeatureCollection in this file'));
  expect(linesWith(worker, 'failed')).toHaveLength(1);
  expect(readLines(inputs)).toHaveLength(1);

  const dead = await run.queue.peekDeadLetters(10);
  expect(dead).toHaveLength(1);
  expect(dead[0]!.attributes).toMatchObject({ 'failure-reasons': 'command-failed', 'attempts-used': '1' });
  expect(JSON.parse(dead[0]!.attributes.failures!)[0].detail).toEqual(expect.stringContaining('exited with code 65'));
  expect(await run.queue.depth()).toEqual(ZERO_DEPTH);

  // stdout (the program cat'ed the whole file there) and the file itself reach neither the log nor the dead letter.
  expect(JSON.stringify(worker.lines)).not.toContain(marker);
  expect(worker.stderr()).not.toContain(marker);
  expect(JSON.stringify(dead)).not.toContain(marker);
  expect(readdirSync(c.workDir)).toEqual([]);
}, 20_000);

it('retries exit 75 (command-tempfail) with a growing receive count, and dead-letters it after MAX_RECEIVE_COUNT=2 attempts', async () => {
  const c = newCase(harness, 'exit75');
  const run = await load('exit75', [{ key: 'busy.geojson', body: Buffer.from('{}') }], 2);
  const inputs = c.file('inputs');
  const script = c.script('prog.sh', `
printf '%s\\n' "$1" >> ${sq(inputs)}
echo "licence server busy" >&2
exit 75
`);
  // Enough idle polls to be there when the released message comes back (after 5 s), then stopped once it is dead.
  const worker = startCommandWorker(harness, run, c, argvCommand(script), { IDLE_POLLS: '20' });

  await until('the first failure', () => linesWith(worker, 'failed')[0], 10_000, worker);
  // Each attempt's directory is gone once it failed, while the worker (and its process directory) is still there.
  const [firstInput] = readLines(inputs);
  expect({ messageDir: existsSync(messageDirOf(firstInput!)), processDir: existsSync(dirname(messageDirOf(firstInput!))) }).toEqual({ messageDir: false, processDir: true });
  await until('the dead letter', async () => (await run.queue.dlqDepth()) === 1, 15_000, worker);
  const seen = readLines(inputs);
  expect(seen).toHaveLength(2);
  expect(seen.filter((path) => existsSync(messageDirOf(path)))).toEqual([]);
  worker.child.kill('SIGTERM');
  expect(await exitOf(worker)).toEqual({ code: 0, stderr: '' });

  const failed = linesWith(worker, 'failed');
  expect(failed).toEqual([
    expect.objectContaining({ key: 'busy.geojson', kind: 'transient', reason: 'command-tempfail', outcome: 'retry', receiveCount: 1, attempts: 1 }),
    expect.objectContaining({ key: 'busy.geojson', kind: 'transient', reason: 'command-tempfail', outcome: 'dead-lettered', receiveCount: 2, attempts: 2 }),
  ]);
  expect(failed[1]!.detail).toEqual(expect.stringContaining('licence server busy'));
  const dead = await run.queue.peekDeadLetters(10);
  expect(dead.map((letter) => letter.attributes)).toEqual([expect.objectContaining({ 'failure-reasons': 'command-tempfail', 'attempts-used': '2' })]);
  expect(await run.queue.depth()).toEqual(ZERO_DEPTH);

  expect(readdirSync(c.workDir)).toEqual([]);
}, 25_000);

it('kills a program past COMMAND_TIMEOUT_SECONDS with its whole process group: command-timeout once transient, then dead-lettered even with maxReceiveCount 5', async () => {
  const c = newCase(harness, 'timeout');
  const run = await load('timeout', [{ key: 'slow.geojson', body: Buffer.from('{}') }], 5);
  const pids = c.file('pids');
  const inputs = c.file('inputs');
  // The shell form, as a user would write it; the backgrounded sleep is a grandchild the runner must still reach.
  const command = `printf '%s\\n' {input} >> ${sq(inputs)}; echo $$ >> ${sq(pids)}; sleep 300 & echo $! >> ${sq(pids)}; sleep 300`;
  const worker = startCommandWorker(harness, run, c, command, { COMMAND_TIMEOUT_SECONDS: '1', IDLE_POLLS: '20' });

  await until('the first failure', () => linesWith(worker, 'failed')[0], 10_000, worker);
  const firstRun = readPids(pids);
  expect(firstRun).toHaveLength(2);
  await until('the first run\'s processes to be gone', () => allGone(firstRun) && liveGroupMembers(firstRun[0]!).length === 0, 2_000, worker);

  await until('the dead letter', async () => (await run.queue.dlqDepth()) === 1, 15_000, worker);
  const seen = readLines(inputs);
  expect(seen).toHaveLength(2);
  expect(seen.filter((path) => existsSync(messageDirOf(path)))).toEqual([]);
  worker.child.kill('SIGTERM');
  expect(await exitOf(worker)).toEqual({ code: 0, stderr: '' });

  expect(linesWith(worker, 'failed')).toEqual([
    expect.objectContaining({ key: 'slow.geojson', kind: 'transient', reason: 'command-timeout', outcome: 'retry', receiveCount: 1 }),
    expect.objectContaining({ key: 'slow.geojson', kind: 'transient', reason: 'command-timeout', outcome: 'dead-lettered', receiveCount: 2 }),
  ]);
  expect(linesWith(worker, 'failed')[0]!.detail).toEqual(expect.stringContaining('COMMAND_TIMEOUT_SECONDS=1'));
  const dead = await run.queue.peekDeadLetters(10);
  expect(dead.map((letter) => letter.attributes)).toEqual([expect.objectContaining({ 'failure-reasons': 'command-timeout', 'attempts-used': '2' })]);
  expect(await run.queue.depth()).toEqual(ZERO_DEPTH);

  const all = readPids(pids);
  expect(all).toHaveLength(4);
  expect(all.filter((pid) => !allGone([pid]))).toEqual([]);
  expect(liveGroupMembers(all[2]!)).toEqual([]);
  expect(readdirSync(c.workDir)).toEqual([]);
}, 30_000);

describe('SIGTERM to the worker (the Spot notice)', () => {
  it('is forwarded to the program, which finishes its output within the grace: uploaded and deleted', async () => {
    const c = newCase(harness, 'term-ok');
    const run = await load('term-ok', [{ key: 'spot.geojson', body: Buffer.from('{}') }]);
    const pids = c.file('pids');
    const marker = c.file('got-term');
    const script = c.script('prog.sh', `
out="$2"
on_term() { echo finished > "$out/result.txt"; echo term > ${sq(marker)}; exit 0; }
trap on_term TERM
echo $$ >> ${sq(pids)}
sleep 300 & echo $! >> ${sq(pids)}
wait
`);
    const worker = startCommandWorker(harness, run, c, argvCommand(script), { SHUTDOWN_GRACE_SECONDS: '8' });

    await until('the program to run', () => readPids(pids).length === 2, 10_000, worker);
    expect(existsSync(marker)).toBe(false);
    const sentAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await exitOf(worker)).toEqual({ code: 0, stderr: '' });
    expect(Date.now() - sentAt).toBeLessThan(5_000);

    expect(existsSync(marker)).toBe(true);
    expect(linesWith(worker, 'failed')).toEqual([]);
    expect(linesWith(worker, 'processed')).toEqual([expect.objectContaining({ key: 'spot.geojson', outputs: 1 })]);
    expect(await listKeys(harness, run.dest)).toEqual(['spot.geojson/result.txt']);
    const head = await harness.s3.send(new HeadObjectCommand({ Bucket: run.dest, Key: 'spot.geojson/result.txt' }));
    expect(head.Metadata?.['source-etag']).toBe(await etagOf(harness, run.source, 'spot.geojson'));
    expect(await run.queue.depth()).toEqual(ZERO_DEPTH);
    expect(await run.queue.dlqDepth()).toBe(0);
    expect(allGone(readPids(pids))).toBe(true);
    expect(readdirSync(c.workDir)).toEqual([]);
  }, 20_000);

  it('kills a program that ignores it once SHUTDOWN_GRACE_SECONDS is over and releases its message; the worker exits 0', async () => {
    const c = newCase(harness, 'term-ignored');
    const run = await load('term-ignored', [{ key: 'stubborn.geojson', body: Buffer.from('{}') }]);
    const pids = c.file('pids');
    const script = c.script('prog.sh', `
trap '' TERM
echo $$ >> ${sq(pids)}
sleep 300 & echo $! >> ${sq(pids)}
wait
echo never > "$2/result.txt"
`);
    const worker = startCommandWorker(harness, run, c, argvCommand(script), { SHUTDOWN_GRACE_SECONDS: '2' });

    await until('the program to run', () => readPids(pids).length === 2, 10_000, worker);
    const sentAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await exitOf(worker)).toEqual({ code: 0, stderr: '' });
    const tookMs = Date.now() - sentAt;
    // The 2 s grace, then the kill and the release; well before the supervisor's own deadline (grace + margin).
    expect(tookMs).toBeGreaterThanOrEqual(1_900);
    expect(tookMs).toBeLessThan(6_000);

    await until('the program\'s processes to be gone', () => allGone(readPids(pids)) && liveGroupMembers(readPids(pids)[0]!).length === 0, 2_000, worker);
    expect(linesWith(worker, 'worker exiting')).toEqual([expect.objectContaining({ reason: 'stopped', released: 1 })]);
    expect(linesWith(worker, 'processed')).toEqual([]);
    expect(await run.queue.depth()).toEqual({ visible: 1, inFlight: 0, delayed: 0 });
    expect(await run.queue.dlqDepth()).toBe(0);
    expect(await listKeys(harness, run.dest)).toEqual([]);
    expect(readdirSync(c.workDir)).toEqual([]);
  }, 20_000);
});

it('after kill -9 of the worker, its work directory is left behind and the next worker on the same WORK_DIR removes it', async () => {
  const c = newCase(harness, 'kill9');
  const run = await load('kill9', [{ key: 'long.geojson', body: Buffer.from('{}') }]);
  const pids = c.file('pids');
  const inputs = c.file('inputs');
  const script = c.script('prog.sh', `
printf '%s\\n' "$1" >> ${sq(inputs)}
echo $$ >> ${sq(pids)}
sleep 300 & echo $! >> ${sq(pids)}
wait
`);
  const first = startCommandWorker(harness, run, c, argvCommand(script));
  await until('the program to run', () => readPids(pids).length === 2, 10_000, first);
  const killedPid = workerPid(first)!;
  expect(killedPid).toEqual(expect.any(Number));

  // The container dying: supervisor, worker and the program (which leads its own process group) all at once.
  const [programGroup] = readPids(pids);
  for (const target of [first.child.pid!, killedPid, -programGroup!]) process.kill(target, 'SIGKILL');
  await first.exited;
  await until('the killed processes to be gone', () => allGone([killedPid, ...readPids(pids)]), 2_000, first);

  const leftover = readdirSync(c.workDir);
  expect(leftover).toEqual([expect.stringMatching(new RegExp(`^${killedPid}-`))]);
  const inputPath = readLines(inputs)[0]!;
  expect(existsSync(inputPath)).toBe(true);
  expect(dirname(messageDirOf(inputPath))).toBe(`${c.workDir}/${leftover[0]}`);

  const next = await load('kill9-next', [{ key: 'quick.geojson', body: Buffer.from('{}') }]);
  const quick = c.script('quick.sh', 'echo ok > "$2/ok.txt"');
  const second = startCommandWorker(harness, next, c, argvCommand(quick));
  expect(await exitOf(second)).toEqual({ code: 0, stderr: '' });
  expect(linesWith(second, 'removed work directories left by killed workers')).toEqual([expect.objectContaining({ count: 1 })]);
  expect(linesWith(second, 'processed')).toHaveLength(1);
  expect(existsSync(`${c.workDir}/${leftover[0]}`)).toBe(false);
  expect(readdirSync(c.workDir)).toEqual([]);
}, 25_000);

describe('the disk budget', () => {
  it('dead-letters an object that cannot fit even alone as disk-budget-exceeded, naming both sizes, without running the program', async () => {
    const c = newCase(harness, 'disk-big');
    const run = await load('disk-big', [{ key: 'big.geojson', body: Buffer.alloc(1024 * 1024, 0x20) }]);
    const inputs = c.file('inputs');
    const script = c.script('prog.sh', `printf '%s\\n' "$1" >> ${sq(inputs)}`);
    const worker = startCommandWorker(harness, run, c, argvCommand(script), { DISK_BUDGET_MIB: '1', DISK_RESERVE_FACTOR: '2' });
    expect(await exitOf(worker)).toEqual({ code: 0, stderr: '' });

    const failed = linesWith(worker, 'failed');
    expect(failed).toEqual([expect.objectContaining({ key: 'big.geojson', kind: 'permanent', reason: 'disk-budget-exceeded', outcome: 'dead-lettered', receiveCount: 1 })]);
    expect(failed[0]!.detail).toEqual(expect.stringContaining('(2097152 bytes)'));
    expect(failed[0]!.detail).toEqual(expect.stringContaining('disk budget of 1 MiB (1048576 bytes)'));
    const dead = await run.queue.peekDeadLetters(10);
    expect(dead.map((letter) => letter.attributes['failure-reasons'])).toEqual(['disk-budget-exceeded']);
    expect(await run.queue.depth()).toEqual(ZERO_DEPTH);
    expect(readLines(inputs)).toEqual([]);
    expect(readdirSync(c.workDir)).toEqual([]);
  }, 20_000);

  it('runs two objects that fit only one at a time one after the other, and both are done', async () => {
    const c = newCase(harness, 'disk-fifo');
    const run = await load('disk-fifo', [{ key: 'one.geojson', body: Buffer.from('{}') }, { key: 'two.geojson', body: Buffer.from('{}') }]);
    const log = c.file('runs');
    const script = c.script('prog.sh', `
echo "start $3" >> ${sq(log)}
sleep 0.4
echo done > "$2/out.txt"
echo "end $3" >> ${sq(log)}
`);
    // Each object reserves at least 1 MiB: a 1 MiB budget holds one at a time, whatever CONCURRENCY allows.
    const worker = startCommandWorker(harness, run, c, argvCommand(script), { DISK_BUDGET_MIB: '1', CONCURRENCY: '4' });
    expect(await exitOf(worker)).toEqual({ code: 0, stderr: '' });

    // Both were in flight at once (received before either was done): the budget, not the queue, kept them apart.
    const received = worker.lines.filter((line) => line.message === 'received').map((line) => worker.lines.indexOf(line));
    const firstProcessed = worker.lines.findIndex((line) => line.message === 'processed');
    expect(received).toHaveLength(2);
    expect(Math.max(...received)).toBeLessThan(firstProcessed);

    const lines = readLines(log);
    expect(lines).toHaveLength(4);
    const [a, b] = [lines[0]!.slice('start '.length), lines[2]!.slice('start '.length)];
    expect(lines).toEqual([`start ${a}`, `end ${a}`, `start ${b}`, `end ${b}`]);
    expect([a, b].sort()).toEqual(['one.geojson', 'two.geojson']);
    expect(await listKeys(harness, run.dest)).toEqual(['one.geojson/out.txt', 'two.geojson/out.txt']);
    expect(await run.queue.depth()).toEqual(ZERO_DEPTH);
    expect(await run.queue.dlqDepth()).toBe(0);
    expect(readdirSync(c.workDir)).toEqual([]);
  }, 20_000);
});
