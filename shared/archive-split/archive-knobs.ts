/**
 * The archive split's sizing variables and their ranges, in one place: the worker checks them at start
 * (app/jobs/archive-split/archive-settings.ts) and the infra at synth (infra/src/pipelines/archive-split-settings.ts),
 * so a value the synth accepts is never one the worker refuses.
 */
const MiB = 1024 * 1024;

export const ARCHIVE_KNOBS = {
  /** Manifest rows per batch ZIP. */
  BATCH_SIZE: { min: 1, max: 100_000, fallback: 2000 },
  MAX_MANIFEST_BYTES: { min: 1024, max: 1024 * MiB, fallback: 64 * MiB },
  /**
   * Rows and entries cost memory while the plan is made and the parts are built (the bench measured about 1.1 KiB a
   * row in all: 200,000 rows peaked at 453 MiB): the defaults keep a split under 512 MiB; raise them with the task's
   * memory for larger exports.
   */
  MAX_MANIFEST_ROWS: { min: 1, max: 5_000_000, fallback: 200_000 },
  MAX_ARCHIVE_ENTRIES: { min: 1, max: 5_000_000, fallback: 200_000 },
} as const;

export type ArchiveKnob = keyof typeof ARCHIVE_KNOBS;
