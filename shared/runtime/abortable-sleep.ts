import { setTimeout as sleep } from 'node:timers/promises';

/** Waits `ms`, or less when the signal aborts first; never rejects, so a stop simply ends the wait. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleep(ms, undefined, signal === undefined ? undefined : { signal }).then(
    () => undefined,
    () => undefined,
  );
}
