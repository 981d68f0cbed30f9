import { MemoryLog } from '../../app/src/log/logger';
import { runScaler, type RunScalerConfig } from '../src/run-scaler';
import type { ScalerSample } from '../src/scaler-metrics';
import { FakeLauncher, fixedDepthReader } from './factories';

const enabled: RunScalerConfig = { maxTasks: 10, messagesPerTask: 10, enabled: true, dryRun: false };

function collectingMetrics(): { samples: ScalerSample[]; publish(sample: ScalerSample): void } {
  const samples: ScalerSample[] = [];
  return { samples, publish: (sample) => samples.push(sample) };
}

describe('runScaler', () => {
  it('launches what the policy decides and logs one decision line saying why', async () => {
    const launcher = new FakeLauncher(2);
    const log = new MemoryLog();
    const metrics = collectingMetrics();
    const run = await runScaler({ depthReader: fixedDepthReader({ visible: 45, inFlight: 20 }), launcher, config: enabled, log, metrics });

    expect(launcher.launchCalls).toEqual([3]);
    expect(run.decision).toMatchObject({ desired: 5, launch: 3 });
    expect(run.launchReport).toEqual({ launched: 3, failures: [] });
    expect(log.lines).toHaveLength(1);
    expect(log.messages('scaling decision')[0]).toMatchObject({
      visible: 45, inFlight: 20, running: 2, desired: 5, launch: 3, launched: 3, failures: 0, dryRun: false,
      reasons: ['backlog 45 visible / 10 per task -> 5', '2 already running or pending -> launch 3'],
    });
    expect(metrics.samples).toEqual([{ visible: 45, inFlight: 20, running: 2, launched: 3, failures: 0 }]);
  });

  it('launches nothing on a dry run but still decides and logs', async () => {
    const launcher = new FakeLauncher(0);
    const log = new MemoryLog();
    const run = await runScaler({ depthReader: fixedDepthReader({ visible: 45 }), launcher, config: { ...enabled, dryRun: true }, log });

    expect(launcher.launchCalls).toEqual([]);
    expect(run).toMatchObject({ dryRun: true, decision: { launch: 5 }, launchReport: { launched: 0, failures: [] } });
    expect(log.messages('scaling decision')[0]).toMatchObject({ launch: 5, launched: 0, dryRun: true });
  });

  it('launches nothing when disabled', async () => {
    const launcher = new FakeLauncher(0);
    const run = await runScaler({ depthReader: fixedDepthReader({ visible: 500 }), launcher, config: { ...enabled, enabled: false }, log: new MemoryLog() });
    expect(launcher.launchCalls).toEqual([]);
    expect(run.decision.reasons[0]).toMatch(/disabled/);
  });

  it('does not call the launcher for an empty queue', async () => {
    const launcher = new FakeLauncher(1);
    await runScaler({ depthReader: fixedDepthReader({ visible: 0, inFlight: 3 }), launcher, config: enabled, log: new MemoryLog() });
    expect(launcher.launchCalls).toEqual([]);
  });

  it('reports launch failures in the log line and the metrics', async () => {
    const launcher = new FakeLauncher(0, 4);
    const log = new MemoryLog();
    const metrics = collectingMetrics();
    await runScaler({ depthReader: fixedDepthReader({ visible: 100 }), launcher, config: enabled, log, metrics });
    expect(log.messages('scaling decision')[0]).toMatchObject({ launch: 10, launched: 4, failures: 6, failureReasons: ['capacity-unavailable'] });
    expect(metrics.samples[0]).toMatchObject({ launched: 4, failures: 6 });
  });

  it('stops a backlog from being launched twice by consecutive runs', async () => {
    const launcher = new FakeLauncher(0);
    const depthReader = fixedDepthReader({ visible: 25 });
    for (let run = 0; run < 3; run++) await runScaler({ depthReader, launcher, config: enabled, log: new MemoryLog() });
    expect(launcher.launchCalls).toEqual([3]);
  });

  it('fails the run when the depth cannot be read, launching nothing', async () => {
    const launcher = new FakeLauncher(0);
    const depthReader = { depth: () => Promise.reject(new Error('AccessDenied')) };
    await expect(runScaler({ depthReader, launcher, config: enabled, log: new MemoryLog() })).rejects.toThrow('AccessDenied');
    expect(launcher.launchCalls).toEqual([]);
  });
});
