import { parseLogLines, planActions, summariseResources, type ChaosResult } from '../src/chaos-run';
import { formatChaosReport, resourceProblems } from '../src/chaos-report';
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
    report: checkInvariants(finishedRun()),
    logLeaks: [],
    faults: { requests: 10, forwarded: 9, upstreamErrors: 0, held: 0, faults: { 'slow-down-503': 1, 'internal-error-500': 0, 'connection-reset': 0, 'slow-response': 0 } },
    actions: { workersStarted: 1, sigkills: 0, sigterms: 0, sigtermsWithReleases: 0, pipelineKills: 0 },
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
