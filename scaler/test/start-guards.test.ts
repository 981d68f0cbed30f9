import { decideCrashLoop, DEFAULT_CRASH_LOOP } from '../src/crash-loop';
import { decideImageGate } from '../src/image-gate';
import { decideScaling } from '../src/policy';
import { applyStartGuards } from '../src/start-guards';
import { BOOTSTRAP_IMAGE, NOW, WORKER_IMAGE, scalingInput, taskRecord } from './factories';

describe('decideImageGate', () => {
  it('is ready once the pipeline has written a built image', () => {
    expect(decideImageGate(WORKER_IMAGE, BOOTSTRAP_IMAGE)).toEqual({ ready: true, image: WORKER_IMAGE });
  });

  it('holds while the parameter still names the bootstrap image, or is empty', () => {
    expect(decideImageGate(` ${BOOTSTRAP_IMAGE}\n`, BOOTSTRAP_IMAGE)).toEqual({
      ready: false, image: BOOTSTRAP_IMAGE,
      reason: `worker image is still the bootstrap image ${BOOTSTRAP_IMAGE} (no pipeline build has replaced it yet) -> launch 0`,
    });
    expect(decideImageGate('', BOOTSTRAP_IMAGE)).toMatchObject({ ready: false, reason: 'the worker image parameter is empty -> launch 0' });
  });
});

describe('applyStartGuards', () => {
  // The s3:TestEvent alone in the queue, nothing running: the backlog asks for one task.
  const testEventOnly = decideScaling(scalingInput({ visible: 1 }));
  const backlog = decideScaling(scalingInput({ visible: 95 }));

  it('passes the decision through when no guard has anything to say', () => {
    expect(applyStartGuards(backlog, {})).toEqual({ ...backlog, wanted: 10 });
    const ok = decideCrashLoop([], NOW, DEFAULT_CRASH_LOOP);
    expect(applyStartGuards(backlog, { image: decideImageGate(WORKER_IMAGE, BOOTSTRAP_IMAGE), crashLoop: ok })).toMatchObject({ launch: 10, wanted: 10, reasons: backlog.reasons });
  });

  it('launches nothing for the TestEvent while the bootstrap image runs', () => {
    const guarded = applyStartGuards(testEventOnly, { image: decideImageGate(BOOTSTRAP_IMAGE, BOOTSTRAP_IMAGE) });
    expect(guarded).toMatchObject({ launch: 0, wanted: 1, heldBy: 'bootstrap-image' });
    expect(guarded.reasons).toEqual([
      'backlog 1 visible / 10 per task -> 1',
      'none running or pending -> launch 1',
      `worker image is still the bootstrap image ${BOOTSTRAP_IMAGE} (no pipeline build has replaced it yet) -> launch 0`,
    ]);
  });

  it('holds during a crash-loop pause and cuts the launch to the probe after it', () => {
    const backingOff = decideCrashLoop(Array.from({ length: 10 }, () => taskRecord({ ageSeconds: 100 })), NOW, DEFAULT_CRASH_LOOP);
    expect(applyStartGuards(backlog, { crashLoop: backingOff })).toMatchObject({ launch: 0, wanted: 10, heldBy: 'crash-loop' });

    const probing = decideCrashLoop(Array.from({ length: 10 }, () => taskRecord({ ageSeconds: 600 })), NOW, DEFAULT_CRASH_LOOP);
    const guarded = applyStartGuards(backlog, { crashLoop: probing });
    expect(guarded).toMatchObject({ launch: 1, wanted: 10, heldBy: 'crash-loop' });
    expect(guarded.reasons[guarded.reasons.length - 1]).toMatch(/^crash loop: the last 10 stopped tasks failed at start/);
  });

  it('never raises a launch', () => {
    const probing = decideCrashLoop(Array.from({ length: 10 }, () => taskRecord({ ageSeconds: 600 })), NOW, DEFAULT_CRASH_LOOP);
    const nothing = decideScaling(scalingInput({ visible: 0 }));
    expect(applyStartGuards(nothing, { crashLoop: probing })).toMatchObject({ launch: 0, wanted: 0 });
    expect(applyStartGuards(nothing, { crashLoop: probing }).heldBy).toBeUndefined();
  });
});
