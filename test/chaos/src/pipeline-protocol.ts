/** Messages between the chaos run and its pipeline process (over the Node IPC channel of `fork`). */
export interface PipelineSettings {
  readonly dataDir: string;
  readonly workerPath: string;
  /**
   * The worker pipelines the process runs, each with its own queue (the QUEUE_URL of its environment) and its own
   * workers: one for the resize and command runs, four for a fan-out group (the fan-out, each family, the aggregator).
   */
  readonly pipelines: readonly WorkerPipeline[];
  /** Log files are named `worker-<generation>-<n>.log`, so a restarted pipeline never appends to a killed one's file. */
  readonly generation: number;
  /** When set, each worker process runs in its own memory cgroup of this many bytes, as a Fargate task does. */
  readonly memoryLimitBytes?: number;
}

export interface WorkerPipeline {
  /**
   * Set when the process runs several: names the pipeline in its workers' messages, log files
   * (`worker-<name>-<generation>-<n>.log`) and cgroups. A single pipeline goes unnamed, as before.
   */
  readonly name?: string;
  /** The workers' environment, endpoint and queue included, passed as it is. */
  readonly workerEnv: Readonly<Record<string, string>>;
}

export type ToPipeline =
  /** Workers to keep running while the queue has visible work: of the named pipeline, or of every pipeline. */
  | { readonly type: 'scale'; readonly workers: number; readonly pipeline?: string }
  | { readonly type: 'shutdown' };

export type FromPipeline =
  | { readonly type: 'ready'; readonly endpoint: string }
  | { readonly type: 'worker-started'; readonly pid: number; readonly log: string; readonly at: number; readonly cgroup?: string; readonly pipeline?: string }
  | { readonly type: 'worker-exited'; readonly pid: number; readonly code: number | null; readonly signal: string | null; readonly at: number; readonly pipeline?: string };

export const SOURCE_BUCKET = 'source';
export const DESTINATION_BUCKET = 'destination';
