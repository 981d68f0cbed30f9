/**
 * The worker-image port: which image the worker task definition runs now. Adapter: `SsmWorkerImage`, reading the
 * parameter the pipeline writes before it registers a task-definition revision (infra's ImagePointer).
 */
export interface WorkerImageSource {
  /** The image reference; throws when it cannot be read, so the run fails (and alarms) instead of guessing. */
  currentImage(): Promise<string>;
}
