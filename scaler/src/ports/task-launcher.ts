/**
 * The task-launcher port: how the scaler counts and starts workers. Adapters: `EcsTaskLauncher` (ECS RunTask on
 * Fargate) and, in the local pipeline, child processes running the worker entry point.
 */
export interface LaunchFailure {
  /** Short and stable enough to group by, e.g. `capacity-unavailable`, `throttled`, `not-returned`, `deadline`. */
  readonly reason: string;
  /** The provider's own words (an ECS failure reason, an error message). */
  readonly detail?: string;
}

export interface LaunchReport {
  /** Tasks actually started. */
  readonly launched: number;
  /** One entry per task that was asked for and not started, so launched + failures.length is the count asked for. */
  readonly failures: readonly LaunchFailure[];
  /** Started tasks per capacity provider (FARGATE_SPOT, FARGATE), when the launcher knows. */
  readonly byCapacityProvider?: Readonly<Record<string, number>>;
  /** Of `launched`, how many were relaunched on on-demand capacity after Spot had none. */
  readonly spotFallbackLaunched?: number;
}

export interface LaunchOptions {
  /**
   * Epoch milliseconds after which no further launch call is started (the invocation's remaining time, less a margin):
   * what is left is reported as not attempted, for the next run to launch, instead of the run being killed mid-way.
   */
  readonly stopLaunchingAt?: number;
}

export interface TaskLauncher {
  /** Tasks of the worker's family running or on their way (provisioning, pending). */
  countRunning(): Promise<number>;
  /** Starts at most `count` tasks, never more, and reports what happened; launch failures are reported, not thrown. */
  launch(count: number, options?: LaunchOptions): Promise<LaunchReport>;
}
