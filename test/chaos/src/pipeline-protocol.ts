/** Messages between the chaos run and its pipeline process (over the Node IPC channel of `fork`). */
export interface PipelineSettings {
  readonly dataDir: string;
  readonly workerPath: string;
  /** The workers' environment, endpoint and queue included, passed as it is. */
  readonly workerEnv: Readonly<Record<string, string>>;
  /** Log files are named `worker-<generation>-<n>.log`, so a restarted pipeline never appends to a killed one's file. */
  readonly generation: number;
  /** When set, each worker process runs in its own memory cgroup of this many bytes, as a Fargate task does. */
  readonly memoryLimitBytes?: number;
}

export type ToPipeline =
  | { readonly type: 'scale'; readonly workers: number }
  | { readonly type: 'shutdown' };

export type FromPipeline =
  | { readonly type: 'ready'; readonly endpoint: string }
  | { readonly type: 'worker-started'; readonly pid: number; readonly log: string; readonly at: number; readonly cgroup?: string }
  | { readonly type: 'worker-exited'; readonly pid: number; readonly code: number | null; readonly signal: string | null; readonly at: number };

export const SOURCE_BUCKET = 'source';
export const DESTINATION_BUCKET = 'destination';
