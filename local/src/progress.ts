/** One snapshot of the local pipeline, as the progress display and the summary show it. */
export interface ProgressSnapshot {
  readonly elapsedSeconds: number;
  readonly visible: number;
  readonly inFlight: number;
  readonly deadLettered: number;
  readonly workers: number;
  readonly processed: number;
  readonly loaded: number;
}

/** `processed` per second since the first file done, and the time the rest would take at that rate. Pure. */
export function formatProgress(now: ProgressSnapshot, startedProcessingAt?: { elapsedSeconds: number; processed: number }): string {
  const since = startedProcessingAt ?? { elapsedSeconds: 0, processed: 0 };
  const seconds = Math.max(0.001, now.elapsedSeconds - since.elapsedSeconds);
  const rate = (now.processed - since.processed) / seconds;
  const remaining = Math.max(0, now.loaded - now.processed - now.deadLettered);
  const eta = rate > 0 && remaining > 0 ? `${Math.ceil(remaining / rate)}s` : remaining === 0 ? 'done' : '-';
  return [
    `t=${now.elapsedSeconds.toFixed(0)}s`,
    `queue visible ${now.visible}`,
    `in flight ${now.inFlight}`,
    `DLQ ${now.deadLettered}`,
    `workers ${now.workers}`,
    `processed ${now.processed}/${now.loaded}`,
    `${rate.toFixed(1)} files/s`,
    `ETA ${eta}`,
  ].join(' | ');
}
