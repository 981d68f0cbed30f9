import { formatProgress, type ProgressSnapshot } from '../src/progress';

const snapshot = (overrides: Partial<ProgressSnapshot>): ProgressSnapshot => ({
  elapsedSeconds: 0, visible: 0, inFlight: 0, deadLettered: 0, workers: 0, processed: 0, loaded: 0, ...overrides,
});

describe('formatProgress', () => {
  it('shows the queue, the workers and a rate measured from the first processed image, with the ETA it implies', () => {
    const line = formatProgress(snapshot({ elapsedSeconds: 30, visible: 50, inFlight: 8, deadLettered: 2, workers: 3, processed: 40, loaded: 102 }), { elapsedSeconds: 10, processed: 0 });
    expect(line).toBe('t=30s | queue visible 50 | in flight 8 | DLQ 2 | workers 3 | processed 40/102 | 2.0 files/s | ETA 30s');
  });

  it('says done once every file is processed or dead-lettered, and has no ETA before the first image', () => {
    expect(formatProgress(snapshot({ elapsedSeconds: 5, processed: 8, deadLettered: 2, loaded: 10 }), { elapsedSeconds: 1, processed: 0 })).toMatch(/ETA done$/);
    expect(formatProgress(snapshot({ elapsedSeconds: 5, visible: 10, loaded: 10 }))).toMatch(/0\.0 files\/s \| ETA -$/);
  });
});
