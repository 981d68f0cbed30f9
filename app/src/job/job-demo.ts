/**
 * How a job shows itself on a laptop (`npm start -- --job <name>`): the settings a task definition would give it, a
 * demo set with deliberately broken files, and how to tell from the destination's keys that a source is done.
 */
export type ExpectedOutputs =
  /** Every one of these keys (relative to DEST_PREFIX) exists once the source is done. */
  | { readonly names: readonly string[] }
  /** At least one key under this prefix (relative to DEST_PREFIX) exists once the source is done. */
  | { readonly prefix: string };

export interface JobDemo {
  readonly job: string;
  /** What the demo files are, for the progress lines: `images`, `GeoJSON files`. */
  readonly noun: string;
  /** Worker settings this job's local run sets unless the environment sets them (its task definition's). */
  defaultSettings(context: { readonly distDir: string }): Readonly<Record<string, string>>;
  /** Worker settings passed through from the environment when set. */
  readonly settingNames: readonly string[];
  writeDemoSet(dir: string): Promise<{ good: number; broken: number }>;
  /**
   * Pure: given the workers' settings (read once here, not per key), what a done source leaves in the destination,
   * from its key minus SOURCE_PREFIX.
   */
  expectedOutputs(settings: NodeJS.ProcessEnv): (relativeKey: string) => ExpectedOutputs;
}
