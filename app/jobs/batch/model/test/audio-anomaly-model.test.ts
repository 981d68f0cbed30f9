import { join } from 'node:path';
import { InputTooLargeError } from '../../../../../shared/errors';
import { AudioAnomalyModel, loadAudioAnomalyModel } from '../audio-anomaly-model';
import { ANOMALY_KINDS, machineSound, type MachineSoundKind } from '../machine-sounds';
import { between, seededRandom } from '../seeded-random';
import { UndecodableAudioError } from '../undecodable-audio-error';
import type { ScoreOutcome } from '../scoring-model';
import { input, RATE, tone, wav } from './factories';

const ARTIFACT = join(__dirname, '..', 'audio-anomaly-model.json');
const never = () => new AbortController().signal;

/** A held-out set: the training set's recipe with another seed. */
function heldOut(kind: MachineSoundKind, count: number, seed: number) {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, index) =>
    input(`${kind}-${index}`, wav(machineSound(kind, random, { sampleRate: RATE, seconds: between(random, 1, 2) }))));
}

const scores = (outcomes: readonly ScoreOutcome[]) => outcomes.map((outcome) => (outcome.ok ? outcome.score : Number.NaN));

describe('AudioAnomalyModel with the committed artifact', () => {
  let model: AudioAnomalyModel;
  beforeAll(async () => {
    model = await loadAudioAnomalyModel(ARTIFACT);
  });

  it('separates held-out normal clips from each kind of anomaly', async () => {
    const { threshold } = model.artifact.rule;
    const normal = scores(await model.score(heldOut('normal', 200, 4242), never()));
    expect(normal.every((score) => score <= threshold)).toBe(true);
    for (const kind of ANOMALY_KINDS) {
      const anomalous = scores(await model.score(heldOut(kind, 60, 4243 + kind.length), never()));
      expect(anomalous.every((score) => score > threshold)).toBe(true);
    }
  });

  it('reports the verdict, the threshold and the features with each score', async () => {
    const [normal, squeal] = await model.score([...heldOut('normal', 1, 7), ...heldOut('squeal', 1, 8)], never());
    expect(normal).toMatchObject({ ok: true, details: { anomalous: 'no', threshold: model.artifact.rule.threshold } });
    expect(squeal).toMatchObject({ ok: true, details: { anomalous: 'yes' } });
    if (!squeal.ok) throw new Error('unreachable');
    expect(Object.keys(squeal.details ?? {})).toEqual(['anomalous', 'threshold', ...model.artifact.features]);
    expect(squeal.details?.spectral_centroid_hz).toBeGreaterThan(500);
  });

  it('fails a bad input alone, in its place, and scores the others', async () => {
    const [good, bad, tooLong, alsoGood] = await new AudioAnomalyModel(model.artifact, { maxFrames: RATE * 3, minFrames: 1024 }).score([
      ...heldOut('normal', 1, 1),
      input('text', new TextEncoder().encode('not audio')),
      input('long', wav(tone(100, 4))),
      ...heldOut('normal', 1, 2),
    ], never());
    expect(good.ok).toBe(true);
    expect(bad).toEqual({ ok: false, error: expect.any(UndecodableAudioError) });
    expect(tooLong).toEqual({ ok: false, error: expect.any(InputTooLargeError) });
    expect(alsoGood.ok).toBe(true);
  });

  it('stops between inputs once the signal aborts, with the caller\'s reason', async () => {
    const controller = new AbortController();
    const reason = new Error('batch timeout');
    const inputs = heldOut('normal', 50, 3);
    let ticks = 0;
    const ticker = setInterval(() => {
      ticks++;
      if (ticks === 3) controller.abort(reason);
    }, 0);
    try {
      await expect(model.score(inputs, controller.signal)).rejects.toBe(reason);
    } finally {
      clearInterval(ticker);
    }
  });

  it('refuses to start on an aborted signal', async () => {
    await expect(model.score(heldOut('normal', 1, 3), AbortSignal.abort(new Error('stopping')))).rejects.toThrow('stopping');
  });

  it('lets the event loop run between inputs', async () => {
    // Counted in the event loop's check phase, once per turn: a 1 ms timer misses turns shorter than a millisecond
    // (Node 22 scores an input in less).
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    await model.score(heldOut('normal', 20, 9), never());
    counting = false;
    expect(turns).toBeGreaterThanOrEqual(10);
  });
});
