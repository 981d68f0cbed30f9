import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchResults } from '../src/bench-results';
import { fanoutTarget, fanoutText } from '../src/report/fanout-report';
import { summaryMarkdown } from '../src/report/summary';
import { runFanoutOnly } from '../src/run-bench';
import { fanoutSimulation, type FanoutSimulation } from '../src/simulation/fanout-scenarios';
import { formatVerdict } from '../src/targets';
import { benchResults, simulationParameters } from './factories';

const simulated = fanoutSimulation(simulationParameters());

function withLarge(overrides: Partial<FanoutSimulation['scenarios'][number]>): FanoutSimulation {
  return { ...simulated, scenarios: simulated.scenarios.map((scenario) => (scenario.files === 20_000 ? { ...scenario, ...overrides } : scenario)) };
}

describe('fan-out target (issue 12)', () => {
  it('judges the largest run at its worst phase, and holds for the bench\'s scenarios', () => {
    const check = fanoutTarget(simulated);
    expect(check.target).toContain('20,000 files x 2 families');
    expect(check.target).toContain('1.5x');
    expect(check.holds).toBe(true);
    expect(check.measured).toMatch(/^1\.\d\dx at the worst phase, 1\.\d\dx at the bench's \(60\.1 min vs 50\.2 min\); 1\.\d\dx with exact counts$/);
  });

  it('misses above 1.5x at any phase, or when the run is not aggregated exactly once after its last batch', () => {
    expect(fanoutTarget(withLarge({ worstPhaseRatio: 1.51 })).holds).toBe(false);
    const twice = fanoutTarget(withLarge({ aggregations: 2 }));
    expect(twice).toMatchObject({ holds: false, note: 'aggregated 2 times' });
    const early = withLarge({ aggregationStartedAt: 100 });
    expect(fanoutTarget(early).holds).toBe(false);
  });

  it('is not measured in results written before the fan-out simulation', () => {
    const check = fanoutTarget(undefined);
    expect(formatVerdict(check)).toBe('not measured');
    expect(check.measured).toBe('n/a');
  });
});

describe('fan-out section of the summary', () => {
  it('gives each scenario\'s simulated time against the ideal, where the rest goes, and each pipeline\'s part', () => {
    const text = fanoutText(simulated);
    expect(text).toContain('| 20,000 files x 2 families | fast (0.5 s/file): 10 x 2; slow (3 s/file): 10 x 2 | 400 x 2 | 50.2 min | 60.1 min | 1.20x |');
    expect(text).toContain('runs missed to the lagging count');
    expect(text).toContain('| 1,000 files x 2 families | slow (3 s/file) (last) | 20 |');
    expect(text).toContain('Every run was aggregated exactly once, after the last batch of its last family.');
  });

  it('says how to add it when a results.json has none', () => {
    expect(fanoutText(undefined)).toMatch(/--only fanout/);
  });

  it('is part 5 of the summary', () => {
    const base = benchResults();
    const results: BenchResults = { ...base, simulation: { ...base.simulation, fanout: simulated }, targets: [fanoutTarget(simulated)] };
    const summary = summaryMarkdown(results);
    expect(summary).toContain('#### Fan-out run: manifest upload to the aggregated result (issue 12)');
    expect(summary.indexOf('#### Fan-out run')).toBeLessThan(summary.indexOf('### 6. Cost per million images'));
    expect(summary).toMatch(/\| fan-out run \(20,000 files x 2 families\).*\| holds \|/);
  });
});

describe('npm run bench -- --only fanout', () => {
  const dirs: string[] = [];
  const outDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-fanout-only-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('adds the fan-out runs to the results.json already there, keeping its other parts, and checks the targets again', () => {
    const dir = outDir();
    const stored = { ...benchResults(), targets: [] };
    writeFileSync(join(dir, 'results.json'), JSON.stringify(stored));
    const lines: string[] = [];
    const results = runFanoutOnly({ outDir: dir, log: (line) => lines.push(line) });

    const written = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchResults;
    expect(written.simulation.fanout?.scenarios.map((scenario) => scenario.name)).toEqual(simulated.scenarios.map((scenario) => scenario.name));
    expect(written.simulation.scenarios).toEqual(JSON.parse(JSON.stringify(stored.simulation.scenarios)));
    expect(written.coldStart).toEqual(stored.coldStart);
    expect(written.targets.find((check) => check.target.startsWith('fan-out run'))?.holds).toBe(true);
    expect(written.targets.length).toBeGreaterThan(5);
    expect(results?.simulation.fanout).toBeDefined();
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toContain('#### Fan-out run');
    expect(lines.some((line) => line.startsWith('  fan-out 20,000 files x 2 families: aggregated after 60.1 min'))).toBe(true);
  });

  it('writes fanout.json alone when there is no results.json, and prints its section and target', () => {
    const dir = outDir();
    const lines: string[] = [];
    expect(runFanoutOnly({ outDir: dir, log: (line) => lines.push(line) })).toBeUndefined();
    expect(existsSync(join(dir, 'results.json'))).toBe(false);
    const alone = JSON.parse(readFileSync(join(dir, 'fanout.json'), 'utf8')) as FanoutSimulation;
    expect(alone.scenarios).toHaveLength(3);
    expect(lines.join('\n')).toMatch(/target: fan-out run .* -> holds/);
  });
});
