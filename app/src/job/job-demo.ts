/**
 * How a job shows itself on a laptop (`npm start -- --job <name>`): the settings a task definition would give it, a
 * demo set with deliberately broken files, and how to tell from the destination's keys that a source is done.
 */
export type ExpectedOutputs =
  /** Every one of these keys (relative to DEST_PREFIX) exists once the source is done. */
  | { readonly names: readonly string[] }
  /** Not an input of this job (a file a manifest names): neither counted nor waited for. */
  | { readonly ignored: true }
  /** At least one key under this prefix (relative to DEST_PREFIX) exists once the source is done. */
  | { readonly prefix: string };

/**
 * A pipeline a job's local run needs beside its own, fed by the job's messages rather than by uploads (a fan-out's
 * families and its aggregator): its own queue file, workers and S3 role, as each is its own pipeline in the infra.
 */
export interface CompanionPipeline {
  readonly name: string;
  /** Its workers' settings (JOB, the family's COMMAND, FANOUT_FAMILY, ...), on top of the shared local ones. */
  readonly settings: Readonly<Record<string, string>>;
  /** Which task role the infra gives it; the local S3 front enforces that role's statements. */
  readonly role: DemoRole;
  readonly maxTasks?: number;
}

/** The task roles the infra writes (infra/src/policies): an object job's, or a fan-out group member's. */
export type DemoRole =
  | { readonly kind: 'object' }
  | { readonly kind: 'fanout'; readonly families: readonly string[] }
  | { readonly kind: 'family'; readonly family: string; readonly aggregator: string }
  | { readonly kind: 'aggregator' }
  /** The archive split's: reads archives under SOURCE_PREFIX, writes batch ZIPs under its output prefix, same bucket. */
  | { readonly kind: 'archive-split'; readonly outputPrefix: string };

export interface DemoWiring {
  readonly distDir: string;
  /** The local queue file of a companion pipeline, by name: what its QUEUE_URL (and its senders' URL) is. */
  queueFile(name: string): string;
  readonly sourceBucket: string;
  readonly destBucket: string;
}

/**
 * A job whose work is records in a database found by a discovery step, not files announced by S3 events (the batch
 * job): the local run starts an embedded DynamoDB on 127.0.0.1 and hands it here. Uploads are then the records'
 * input files only; no event reaches the queue.
 */
export interface DemoDatabase {
  /** Worker settings pointing at the embedded store (its tables, its endpoint). */
  settings(endpoint: string): Readonly<Record<string, string>>;
  /** Creates the tables, writes a record per input file in the source bucket, and runs discovery into the queue. */
  discover(context: DemoDatabaseContext & { readonly queueFile: string; readonly inputKeys: readonly string[]; write(text: string): void }): Promise<void>;
  /** Where every record stands: done (a result stored), dead-lettered (its message in the DLQ), pending. */
  account(context: DemoDatabaseContext & { readonly deadLetterBodies: readonly string[] }): Promise<{ loaded: number; done: number; deadLettered: number; pending: readonly string[]; outputs: number }>;
  /** The lines the summary ends with: the rate, what the store holds, a few results. */
  summary(context: DemoDatabaseContext & { readonly durationSeconds: number; readonly since: Date }): Promise<readonly string[]>;
}

export interface DemoDatabaseContext {
  readonly endpoint: string;
  readonly sourceBucket: string;
}

export interface JobDemo {
  readonly job: string;
  /** What the demo files are, for the progress lines: `images`, `GeoJSON files`. */
  readonly noun: string;
  /** Worker settings this job's local run sets unless the environment sets them (its task definition's). */
  defaultSettings(context: DemoWiring): Readonly<Record<string, string>>;
  /** S3 notification suffixes for the demo's uploads (the infra's sourceSuffixes): none means every upload. */
  readonly sourceSuffixes?: readonly string[];
  /** Pipelines run beside this job's own (see CompanionPipeline). */
  companions?(context: DemoWiring): readonly CompanionPipeline[];
  /** This job's own task role, when it is not an object job's. */
  readonly role?: DemoRole;
  /** Set for a job fed from a database by discovery (see DemoDatabase). */
  readonly database?: DemoDatabase;
  /** Worker settings passed through from the environment when set. */
  readonly settingNames: readonly string[];
  /**
   * Where the job's outputs go: the destination bucket (default), or the source bucket beside its inputs (the archive
   * split writes batch ZIPs next to the archive, as its original system did). Accounting and the plain-file mirror
   * follow it; only keys under SOURCE_PREFIX then count as inputs.
   */
  readonly outputsIn?: 'destination' | 'source';
  /** Queues the job sends to that no local worker reads (a callback queue), by name: created before the workers start. */
  readonly callbackQueues?: readonly string[];
  /** Lines the summary ends with, read once the run is over (the callbacks a consumer would receive). */
  closingLines?(context: { readonly queueFile: (name: string) => string; readonly outputsDir: string }): Promise<readonly string[]>;
  writeDemoSet(dir: string): Promise<{ good: number; broken: number }>;
  /**
   * Pure: given the workers' settings (read once here, not per key), what a done source leaves in the destination,
   * from its key minus SOURCE_PREFIX.
   */
  expectedOutputs(settings: NodeJS.ProcessEnv): (relativeKey: string) => ExpectedOutputs;
}
