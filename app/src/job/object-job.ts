import type { Log, LogFields } from '../../../shared/log/logger';

/**
 * The job model. The queue loop (receive, heartbeat, graceful stop, retries, DLQ routing, idempotency) is the
 * worker's and is the same for every job; a job only says how it consumes one object and what it produces.
 *
 * An object job is run once per S3 object named by a message. It declares how it wants the object:
 * - `bytes`: the whole object in memory (at most MAX_INPUT_BYTES), for work that needs it all at once (an image);
 * - `file`: the object streamed to a private directory on the task's disk, never whole in memory, within the disk
 *   budget (WORK_DIR, DISK_BUDGET_MIB, DISK_RESERVE_FACTOR: the worker's, the same for every such job), for programs
 *   that read files; the directory is removed whatever happens.
 * "Done" for an object job means its outputs are written under DEST_PREFIX, each carrying the source's ETag, and the
 * source still has that ETag afterwards. Jobs that produce messages or rows instead come with their own kinds.
 */
export type ObjectInputKind = 'bytes' | 'file';

/** The object being worked on, as read (its ETag is the version actually processed). */
export interface JobSource {
  readonly bucket: string;
  readonly key: string;
  /** The key minus SOURCE_PREFIX: what outputs are named after, so `a/x.jpg` and `b/x.jpg` never collide. */
  readonly relativeKey: string;
  readonly etag: string;
  readonly size: number;
  readonly contentType?: string;
}

export interface BytesInput {
  readonly kind: 'bytes';
  readonly source: JobSource;
  readonly bytes: Buffer;
}

export interface FileInput {
  readonly kind: 'file';
  readonly source: JobSource;
  /** The object on disk, named like its key's last segment. */
  readonly path: string;
  /** An empty private directory for the job's outputs; removed with the input once the outputs are uploaded. */
  readonly outputDir: string;
  /** Private scratch space, removed with the rest. */
  readonly tmpDir: string;
}

export type ObjectInput = BytesInput | FileInput;

/** An output's name is its key relative to DEST_PREFIX (`224x224/cats/tabby.jpg`); the worker adds the prefix. */
export interface PlannedOutput {
  readonly name: string;
}

interface OutputBase extends PlannedOutput {
  readonly contentType: string;
  /** Facts worth logging (dimensions, format); never file content. */
  readonly info?: Readonly<Record<string, string | number>>;
}

export interface BytesOutput extends OutputBase {
  readonly body: Buffer;
}

export interface FileOutput extends OutputBase {
  /** A file under the input's `outputDir`; uploaded as a stream (multipart when large). */
  readonly path: string;
  readonly size: number;
}

export type JobOutput = BytesOutput | FileOutput;

export interface JobContext {
  /** Aborts when the worker gives the message up (deadline, outage, lost visibility, stop grace over): stop now. */
  readonly signal: AbortSignal;
  /** Aborts when the task is asked to stop (the Spot notice): finish quickly if you can, or let `signal` end you. */
  readonly stopping: AbortSignal;
  readonly log: Log;
  /** Settings that came with the request (a fan-out manifest's `settings`), for the job to hand its program. */
  readonly settings?: Readonly<Record<string, string>>;
}

export interface ObjectJob {
  readonly name: string;
  readonly consumes: ObjectInputKind;
  /**
   * The outputs every success writes, known before any work; undefined when they depend on the input (a program's
   * output directory). Known outputs let a redelivery skip work already done, and let a key S3 would refuse fail
   * before a byte is read.
   */
  plannedOutputs(source: Pick<JobSource, 'bucket' | 'key' | 'relativeKey'>): readonly PlannedOutput[] | undefined;
  /**
   * Throws a PermanentError subclass for input that can never be processed and a TransientError for a failure worth
   * another attempt (shared/errors.ts); anything else counts as transient.
   */
  process(input: ObjectInput, context: JobContext): Promise<readonly JobOutput[]>;
  /** Settings worth one line in the `worker started` log; never secrets. */
  describe(): LogFields;
}

export function isFileOutput(output: JobOutput): output is FileOutput {
  return 'path' in output;
}
