/**
 * A Processor turns one source object into named outputs. The queue loop knows nothing else about the work,
 * so other jobs (run a command on the file, expand a manifest, split an archive) plug in here.
 */
export interface ProcessorSource {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  readonly contentType?: string;
}

export interface ProcessorInput {
  readonly bytes: Buffer;
  readonly source: ProcessorSource;
}

/** What an output will be called before it exists: lets the worker skip work whose outputs are already there. */
export interface OutputSpec {
  /** A path segment such as `224x224`; outputs land under DEST_PREFIX/<name>/. */
  readonly name: string;
  /** With the dot, e.g. `.jpg`. */
  readonly extension: string;
  readonly contentType: string;
}

export interface ProcessorOutput extends OutputSpec {
  readonly body: Buffer;
  /** Facts worth logging (dimensions, format); never file content. */
  readonly info?: Readonly<Record<string, string | number>>;
}

export interface Processor {
  readonly name: string;
  /** The outputs every successful run produces, known up front; undefined when they depend on the input. */
  plannedOutputs(): readonly OutputSpec[] | undefined;
  /**
   * Throws a PermanentError subclass for input that can never be processed. `signal` aborts when the worker gives the
   * message up: work not yet started should not start.
   */
  process(input: ProcessorInput, signal?: AbortSignal): Promise<ProcessorOutput[]>;
}
