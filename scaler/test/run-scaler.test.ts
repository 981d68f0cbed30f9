import { MemoryLog } from '../../shared/log/logger';
import { DEFAULT_CRASH_LOOP } from '../src/crash-loop';
import { runScaler, type RunScalerConfig } from '../src/run-scaler';
import type { ScalerSample } from '../src/scaler-metrics';
import { BOOTSTRAP_IMAGE, FakeLauncher, NOW, WORKER_IMAGE, fixedDepthReader, fixedHistory, taskRecord } from './factories';

const enabled: RunScalerConfig = { maxTasks: 10, messagesPerTask: 10, enabled: true, dryRun: false };
const guarded: RunScalerConfig = { ...enabled, bootstrapImage: BOOTSTRAP_IMAGE, crashLoop: DEFAULT_CRASH_LOOP };
const quiet = { waitingForImage: false, crashLoopBackoff: false, startFailures: 0 };

function collectingMetrics(): { samples: ScalerSample[]; publish(sample: ScalerSample): void } {
  const samples: ScalerSample[] = [];
  return { samples, publish: (sample) => samples.push(sample) };
}

function imageSource(image: string): { calls: number; currentImage(): Promise<string> } {
  const source = { calls: 0, async currentImage() { source.calls++; return image; } };
  return source;
}

/** Ten tasks that each died five seconds after starting, launched `ageSeconds` ago. */
const crashedRound = (ageSeconds: number) => Array.from({ length: 10 }, () => taskRecord({ ageSeconds }));

describe('runScaler', () => {
  it('launches what the policy decides, logging the decision before launching and the launch after', async () => {
    const launcher = new FakeLauncher(2);
    const log = new MemoryLog();
    const loggedBeforeLaunch: string[] = [];
    launcher.onLaunch = () => loggedBeforeLaunch.push(...log.lines.map((line) => line.message));
    const metrics = collectingMetrics();
    const run = await runScaler({ depthReader: fixedDepthReader({ visible: 45, inFlight: 20 }), launcher, config: enabled, log, metrics });

    expect(launcher.launchCalls).toEqual([3]);
    expect(loggedBeforeLaunch).toEqual(['scaling decision']);
    expect(run.decision).toMatchObject({ desired: 5, launch: 3, wanted: 3 });
    expect(run.launchReport).toEqual({ launched: 3, failures: [] });
    expect(log.lines.map((line) => line.message)).toEqual(['scaling decision', 'launch report']);
    expect(log.messages('scaling decision')[0]).toMatchObject({
      visible: 45, inFlight: 20, running: 2, desired: 5, wanted: 3, launch: 3, dryRun: false,
      reasons: ['backlog 45 visible / 10 per task -> 5', '2 already running or pending -> launch 3'],
    });
    expect(log.messages('launch report')[0]).toMatchObject({ launch: 3, launched: 3, failures: 0, failureReasons: [] });
    expect(metrics.samples).toEqual([{ visible: 45, inFlight: 20, running: 2, launched: 3, failures: 0, ...quiet }]);
  });

  it('launches nothing on a dry run but still decides and logs', async () => {
    const launcher = new FakeLauncher(0);
    const log = new MemoryLog();
    const run = await runScaler({ depthReader: fixedDepthReader({ visible: 45 }), launcher, config: { ...enabled, dryRun: true }, log });

    expect(launcher.launchCalls).toEqual([]);
    expect(run).toMatchObject({ dryRun: true, decision: { launch: 5 }, launchReport: { launched: 0, failures: [] } });
    expect(log.lines.map((line) => line.message)).toEqual(['scaling decision']);
    expect(log.messages('scaling decision')[0]).toMatchObject({ launch: 5, dryRun: true });
  });

  it('launches nothing when disabled', async () => {
    const launcher = new FakeLauncher(0);
    const run = await runScaler({ depthReader: fixedDepthReader({ visible: 500 }), launcher, config: { ...enabled, enabled: false }, log: new MemoryLog() });
    expect(launcher.launchCalls).toEqual([]);
    expect(run.decision.reasons[0]).toMatch(/disabled/);
  });

  it('does not call the launcher, the image source or the task history for an empty queue', async () => {
    const launcher = new FakeLauncher(1);
    const source = imageSource(WORKER_IMAGE);
    const history = fixedHistory(crashedRound(100));
    await runScaler({ depthReader: fixedDepthReader({ visible: 0, inFlight: 3 }), launcher, config: guarded, log: new MemoryLog(), imageSource: source, history });
    expect(launcher.launchCalls).toEqual([]);
    expect({ image: source.calls, history: history.calls }).toEqual({ image: 0, history: 0 });
  });

  it('reports launch failures in the launch report and the metrics', async () => {
    const launcher = new FakeLauncher(0, 4);
    const log = new MemoryLog();
    const metrics = collectingMetrics();
    await runScaler({ depthReader: fixedDepthReader({ visible: 100 }), launcher, config: enabled, log, metrics });
    expect(log.messages('launch report')[0]).toMatchObject({ launch: 10, launched: 4, failures: 6, failureReasons: ['capacity-unavailable'] });
    expect(metrics.samples[0]).toMatchObject({ launched: 4, failures: 6 });
  });

  it('hands the launcher the time after which no launch call may start', async () => {
    const launcher = new FakeLauncher(0);
    await runScaler({ depthReader: fixedDepthReader({ visible: 30 }), launcher, config: enabled, log: new MemoryLog(), stopLaunchingAt: NOW + 35_000 });
    expect(launcher.launchOptions).toEqual([{ stopLaunchingAt: NOW + 35_000 }]);
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

describe('runScaler with the start guards', () => {
  it('launches nothing for the s3:TestEvent while the task definition runs the bootstrap image, and says so', async () => {
    const launcher = new FakeLauncher(0);
    const log = new MemoryLog();
    const metrics = collectingMetrics();
    const history = fixedHistory([]);
    const run = await runScaler({
      depthReader: fixedDepthReader({ visible: 1 }), launcher, config: guarded, log, metrics, imageSource: imageSource(BOOTSTRAP_IMAGE), history, now: () => NOW,
    });

    expect(launcher.launchCalls).toEqual([]);
    expect(history.calls).toBe(0);
    expect(run.decision).toMatchObject({ wanted: 1, launch: 0, heldBy: 'bootstrap-image' });
    expect(log.messages('scaling decision')[0]).toMatchObject({ wanted: 1, launch: 0, heldBy: 'bootstrap-image', image: BOOTSTRAP_IMAGE });
    expect((log.messages('scaling decision')[0]!.reasons as string[]).at(-1)).toMatch(/^worker image is still the bootstrap image/);
    expect(metrics.samples[0]).toMatchObject({ waitingForImage: true, crashLoopBackoff: false, launched: 0 });
  });

  it('backs off from a crash loop with its reason in the decision line and the CrashLoopBackoff metric', async () => {
    const launcher = new FakeLauncher(0);
    const log = new MemoryLog();
    const metrics = collectingMetrics();
    const run = await runScaler({
      depthReader: fixedDepthReader({ visible: 400 }), launcher, config: guarded, log, metrics,
      imageSource: imageSource(WORKER_IMAGE), history: fixedHistory(crashedRound(100)), now: () => NOW,
    });

    expect(launcher.launchCalls).toEqual([]);
    expect(run.decision).toMatchObject({ wanted: 10, launch: 0, heldBy: 'crash-loop', crashLoop: { state: 'backing-off', startFailures: 10 } });
    expect(log.messages('scaling decision')[0]).toMatchObject({ launch: 0, heldBy: 'crash-loop', crashLoop: 'backing-off', startFailures: 10 });
    expect((log.messages('scaling decision')[0]!.reasons as string[]).at(-1)).toMatch(/^crash loop: the last 10 stopped tasks failed at start \(exit 1 x10\)/);
    expect(metrics.samples[0]).toMatchObject({ crashLoopBackoff: true, startFailures: 10 });
  });

  it('launches one probe task once the pause is over', async () => {
    const launcher = new FakeLauncher(0);
    await runScaler({
      depthReader: fixedDepthReader({ visible: 400 }), launcher, config: guarded, log: new MemoryLog(),
      imageSource: imageSource(WORKER_IMAGE), history: fixedHistory(crashedRound(600)), now: () => NOW,
    });
    expect(launcher.launchCalls).toEqual([1]);
  });

  it('launches freely for a new image, whatever the old one did', async () => {
    const launcher = new FakeLauncher(0);
    const history = fixedHistory(crashedRound(100).map((task) => ({ ...task, image: `${WORKER_IMAGE}-old` })));
    await runScaler({ depthReader: fixedDepthReader({ visible: 400 }), launcher, config: guarded, log: new MemoryLog(), imageSource: imageSource(WORKER_IMAGE), history, now: () => NOW });
    expect(launcher.launchCalls).toEqual([10]);
  });

  it('fails the run, launching nothing, when the image cannot be read', async () => {
    const launcher = new FakeLauncher(0);
    const imageSourceFailing = { currentImage: () => Promise.reject(new Error('ParameterNotFound')) };
    await expect(runScaler({ depthReader: fixedDepthReader({ visible: 50 }), launcher, config: guarded, log: new MemoryLog(), imageSource: imageSourceFailing }))
      .rejects.toThrow('ParameterNotFound');
    expect(launcher.launchCalls).toEqual([]);
  });
});
