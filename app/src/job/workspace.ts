/** A private directory on the task's disk for one object of a `file` job, within the task's disk budget. */
export interface ObjectWorkspace {
  /** Where the object is downloaded to: its key's last segment, made safe as a file name. */
  readonly inputPath: string;
  /** Empty; the job leaves its outputs here. */
  readonly outputDir: string;
  /** Scratch space (a program's TMPDIR): removed with the rest, counted in the same budget. */
  readonly tmpDir: string;
  /** Removes the directory and gives its bytes back to the budget; safe to call twice. */
  dispose(): Promise<void>;
}

export interface Workspaces {
  /** The bytes all objects on disk at once may take (DISK_BUDGET_MIB). */
  readonly budgetBytes: number;
  /**
   * Resolves once an object of `sourceBytes` fits the budget (it reserves room for its outputs too, DISK_RESERVE_FACTOR),
   * first come first served; rejects at once (permanent) when it never can, and when `signal` aborts while waiting.
   */
  open(key: string, sourceBytes: number, signal: AbortSignal): Promise<ObjectWorkspace>;
  /** Removes this process's directories (at the end of a run). */
  close(): Promise<void>;
}
