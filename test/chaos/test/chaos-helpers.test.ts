import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLogLines, planActions, summariseResources, type ChaosResult } from '../src/chaos-run';
import { deadLetterRecord, recordKeys } from '../src/dead-letters';
import { LogTail } from '../src/log-tail';
import { formatChaosReport, resourceProblems } from '../src/chaos-report';
import { descendantsOf, isAlive, killTask } from '../src/process-probe';
import { seededRandom } from '../src/seeded-random';
import { finishedRun } from './factories';
import { checkInvariants } from '../src/invariants';

const MiB = 1024 * 1024;

describe('planActions', () => {
  it('plans every kill once, the pipeline kill in the middle, all within the first 70% of the run', () => {
    const plan = planActions(seededRandom(5), { sigkills: 6, sigterms: 3, pipelineKills: 1 });
    expect(plan.filter((step) => step.action === 'sigkill')).toHaveLength(6);
    expect(plan.filter((step) => step.action === 'sigterm')).toHaveLength(3);
    expect(plan.findIndex((step) => step.action === 'pipeline-kill')).toBe(4);
    const fractions = plan.map((step) => step.atFraction);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(Math.max(...fractions)).toBeLessThan(0.7);
  });

  it('shuffles worker kills by seed', () => {
    const order = (seed: number) => planActions(seededRandom(seed), { sigkills: 5, sigterms: 5, pipelineKills: 0 }).map((step) => step.action).join();
    expect(order(1)).toBe(order(1));
    expect(new Set([1, 2, 3, 4, 5].map(order)).size).toBeGreaterThan(1);
  });
});

describe('parseLogLines', () => {
  it('keeps JSON events and drops the cut-off last line of a killed worker and non-JSON noise', () => {
    const text = ['{"message":"received","messageId":"a"}', 'worker: fatal: boom', '{"message":"processed","key":"k"}', '{"message":"proc'].join('\n');
    expect(parseLogLines(text)).toEqual([{ message: 'received', messageId: 'a' }, { message: 'processed', key: 'k' }]);
  });
});

describe('resources', () => {
  const samples = (rssMiB: number[], fds: number[]) => rssMiB.map((rss, i) => ({ at: i, rssBytes: rss * MiB, fds: fds[i] }));

  it('compares the peak of the first quarter of samples with the last', () => {
    expect(summariseResources(1, samples([50, 60, 55, 55, 55, 55, 70, 58], [20, 21, 21, 21, 21, 21, 22, 30]))).toEqual({
      pid: 1, samples: 8, firstQuarterPeakRssBytes: 60 * MiB, lastQuarterPeakRssBytes: 70 * MiB, firstQuarterMaxFds: 21, lastQuarterMaxFds: 30,
    });
  });

  const result = (resources: ChaosResult['resources'], tempFilesLeft: string[] = []): ChaosResult => ({
    job: 'resize',
    pass: 'main',
    report: checkInvariants(finishedRun()),
    logLeaks: [],
    faults: { requests: 10, forwarded: 9, upstreamErrors: 0, held: 0, abortsAnswered: 0, faults: { 'slow-down-503': 1, 'internal-error-500': 0, 'connection-reset': 0, 'slow-response': 0 }, outage: { 'slow-down-503': 0, 'connection-reset': 0 },
      byOperation: { GET: { requests: 5, faults: 1 }, PUT: { requests: 3, faults: 0 }, HEAD: { requests: 2, faults: 0 }, multipart: { requests: 0, faults: 0 }, other: { requests: 0, faults: 0 } },
    },
    actions: { workersStarted: 1, sigkills: 0, sigterms: 0, sigtermsWithReleases: 0, pipelineKills: 0, renderSigterms: 0, overwrites: 0 },
    memory: [],
    decodeHeavyEstimates: [],
    base64KeyOutputs: [],
    durationSeconds: 1,
    logLineCount: 6,
    resources,
    tempFilesLeft,
  });

  it('accepts flat memory and descriptors and flags growth and temp files', () => {
    const flat = { pid: 1, samples: 40, firstQuarterPeakRssBytes: 100 * MiB, lastQuarterPeakRssBytes: 110 * MiB, firstQuarterMaxFds: 24, lastQuarterMaxFds: 25 };
    expect(resourceProblems(result([flat]))).toEqual([]);
    const leaky = { ...flat, pid: 2, lastQuarterPeakRssBytes: 200 * MiB, lastQuarterMaxFds: 60 };
    expect(resourceProblems(result([flat, leaky], ['sharp-123.tmp']))).toEqual([
      'worker 2: peak RSS grew from 100.0 to 200.0 MiB',
      'worker 2: open fds grew from 24 to 60',
      'temp files left behind: sharp-123.tmp',
    ]);
  });

  it('prints the figures and says when every invariant holds', () => {
    const text = formatChaosReport('t', result([{ pid: 1, samples: 8, firstQuarterPeakRssBytes: MiB, lastQuarterPeakRssBytes: MiB, firstQuarterMaxFds: 1, lastQuarterMaxFds: 1 }]));
    expect(text).toContain('outcome: 6 outputs, 1 dead letters, lost 0');
    expect(text).toContain('faults injected: 1 of 10 S3 requests (slow-down-503 1, internal-error-500 0');
    expect(text).toContain('pid 1: 1.0 MiB -> 1.0 MiB, fds 1 -> 1');
    expect(text).toMatch(/invariants: all hold$/);
  });
});

describe('LogTail', () => {
  it('returns the lines completed since the last read, holding back a line still being written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chaos-tail-'));
    try {
      const path = join(dir, 'w.log');
      const tail = new LogTail(path);
      expect(tail.read()).toEqual([]);
      writeFileSync(path, '{"message":"received","messageId":"a"}\nnoise\n{"message":"rec');
      expect(tail.read()).toEqual([{ message: 'received', messageId: 'a' }]);
      appendFileSync(path, 'eived","messageId":"b"}\n');
      expect(tail.read()).toEqual([{ message: 'received', messageId: 'b' }]);
      expect(tail.read()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deadLetterRecord', () => {
  const event = (keys: string[]) => JSON.stringify({ Records: keys.map((key) => ({ s3: { bucket: { name: 'source' }, object: { key } } })) });

  it('names the first message, the keys its body holds (decoded as S3 encodes them) and its reasons', () => {
    expect(deadLetterRecord({
      messageId: 'dl-1', body: event(['a+b/%C3%BC%2Bx.jpg', 'c.jpg']),
      attributes: { 'source-message-id': 'm-1', 'failure-reasons': 'corrupt-image,render-timeout' },
    })).toEqual({ messageId: 'm-1', keys: ['a b/ü+x.jpg', 'c.jpg'], reasons: ['corrupt-image', 'render-timeout'] });
  });

  it('unwraps an SNS envelope, and names no keys for a body that is no S3 event', () => {
    const sns = JSON.stringify({ Type: 'Notification', Message: event(['k.jpg']) });
    expect(deadLetterRecord({ messageId: 'dl-2', body: sns, attributes: {} })).toEqual({ messageId: 'dl-2', keys: ['k.jpg'] });
    expect(deadLetterRecord({ messageId: 'dl-3', body: '{"Records": [', attributes: { 'failure-reasons': 'malformed-message' } })).toEqual({ messageId: 'dl-3', reasons: ['malformed-message'] });
    expect(recordKeys(JSON.stringify({ hello: 1 }))).toBeUndefined();
  });
});

describe('killTask', () => {
  it('SIGKILLs a worker and everything below it at once, as a task dies', async () => {
    // A shell that runs a program and waits for it: the worker and the program it runs.
    const worker = spawn('sh', ['-c', 'sleep 60 & wait'], { stdio: 'ignore' });
    const pid = worker.pid!;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    let below: number[] = [];
    for (let i = 0; i < 100 && below.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      below = descendantsOf(pid);
    }
    expect(below).toHaveLength(1);
    expect(killTask(pid).sort()).toEqual([pid, ...below].sort());
    await exited;
    for (let i = 0; i < 100 && isAlive(below[0]!); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(isAlive(below[0]!)).toBe(false);
    expect(killTask(pid)).toEqual([]);
  });
});
