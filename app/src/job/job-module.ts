import type { Job } from './message-job';

/** What a job may know of the task it runs in. */
export interface JobRuntime {
  readonly cpuCount: number;
  /** The task's real memory limit (its cgroup), else TASK_MEMORY_MIB, else the host's. */
  readonly memoryLimitBytes: number;
}

/**
 * A job as the worker finds it by name (JOB). The module itself stays light: its settings are read with the
 * worker's at start, so a bad deployment shows every mistake at once, and the heavy part (sharp, a program runner)
 * is imported only by `create`, so a task loads just the job it runs.
 */
export interface JobModule<Settings = unknown, Made extends Job = Job> {
  readonly name: string;
  /** One line for `--help` and the README's list of jobs. */
  readonly summary: string;
  /** False for a job that writes nothing to S3 (its results go elsewhere): DEST_BUCKET is then not required. */
  readonly writesToDestination?: boolean;
  /**
   * Messages one task holds at once when CONCURRENCY is not set. `env` is for a job whose slots follow its own
   * settings (the batch job's buffer is BATCH_SIZE × MAX_CONCURRENCY plus a batch filling); read leniently, since
   * readSettings reports bad values.
   */
  defaultConcurrency(cpuCount: number, env: NodeJS.ProcessEnv): number;
  /**
   * libuv pool threads one message may keep busy at once (sharp renders every size on its own pool thread); the
   * supervisor sizes UV_THREADPOOL_SIZE from it before the worker starts. Undefined: none beyond file I/O.
   */
  poolThreadsPerMessage?(settings: Settings): number;
  /** Reads the job's own variables; throws a ConfigError naming every bad one and the form expected. */
  readSettings(env: NodeJS.ProcessEnv, runtime: JobRuntime): Settings;
  create(settings: Settings): Promise<Made>;
}
