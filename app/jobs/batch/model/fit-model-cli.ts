/**
 * `npm run model:fit [-- <output path>]`: refits the shipped model from its deterministic training set and writes the
 * artifact (by default over the committed one, from the repository root). Regenerating without changing the recipe
 * gives the same bytes; a test checks it.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { serialiseModelArtifact } from './model-artifact';
import { fitShippedModel } from './training-set';

const DEFAULT_ARTIFACT_PATH = 'app/jobs/batch/model/audio-anomaly-model.json';

async function main(): Promise<void> {
  const path = resolve(process.argv[2] ?? DEFAULT_ARTIFACT_PATH);
  const started = Date.now();
  const artifact = fitShippedModel();
  await writeFile(path, serialiseModelArtifact(artifact));
  console.log(`wrote ${path}: version ${artifact.version}, threshold ${artifact.rule.threshold} (${artifact.rule.percentile}th percentile of ${artifact.training?.clips} training clips × ${artifact.rule.margin}), ${Date.now() - started} ms`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
