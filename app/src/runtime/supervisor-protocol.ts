/** What the supervisor and its worker child say to each other (over Node's IPC channel). */
export const SUPERVISED_CHILD_ENV = 'WORKER_SUPERVISED_CHILD';

/** Sent by the child when its work is handed off and its logs written: from then on it may be ended at any time. */
export interface ExitingNotice {
  readonly type: 'exiting';
  readonly code: number;
}

export function isExitingNotice(value: unknown): value is ExitingNotice {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'exiting' && typeof (value as { code?: unknown }).code === 'number';
}

/**
 * How long the child may take to exit after saying it is exiting. Long enough for Node's own teardown, short
 * enough that a render still running in a native thread cannot hold the task past ECS's stopTimeout.
 */
export const EXIT_AFTER_NOTICE_MS = 3000;
/** Beyond the child's own grace period, before the supervisor stops waiting for its notice (stopTimeout is 120 s). */
export const NOTICE_MARGIN_MS = 5000;
