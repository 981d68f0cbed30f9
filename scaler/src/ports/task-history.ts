/**
 * The task-history port: what the crash-loop guard needs to know about the worker family's recent tasks, free of AWS
 * types. Adapter: `EcsTaskHistory` (ListTasks + DescribeTasks). Times are epoch milliseconds.
 */
export interface TaskRecord {
  readonly arn: string;
  /** `stopped` once ECS wants the task stopped (desired status STOPPED), else `running` (which includes pending). */
  readonly status: 'running' | 'stopped';
  readonly createdAt: number;
  /** Undefined for a task that never started (a pull or ENI failure, say). */
  readonly startedAt?: number;
  readonly stoppedAt?: number;
  /** ECS's stopCode: TaskFailedToStart, EssentialContainerExited, UserInitiated, SpotInterruption, ... */
  readonly stopCode?: string;
  readonly stoppedReason?: string;
  /** The worker container's exit code, when it ran far enough to have one. */
  readonly exitCode?: number;
  /** The worker container's own reason (CannotPullContainerError: ..., OutOfMemoryError: ...). */
  readonly containerReason?: string;
  /** The worker container's image reference, as the task definition named it. */
  readonly image?: string;
}

export interface TaskHistory {
  /** The family's tasks ECS still reports: recently stopped ones (ECS keeps them at least an hour) and running ones. */
  recentTasks(): Promise<readonly TaskRecord[]>;
}
