import { App } from './src/framework/core';
import { resolveInfraConfig } from './src/config';
import { BlueprintStack } from './src/stacks/blueprint-stack';

// Settings come as JSON in BLUEPRINT_CONFIG (cdktf has no per-run context flags); defaults are in src/config.ts.
function readOverrides(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`BLUEPRINT_CONFIG is not valid JSON (${(error as Error).message}); expected e.g. {"githubRepository":"my-org/my-copy"}`);
  }
}

const app = new App();
new BlueprintStack(app, 'blueprint', { config: resolveInfraConfig(readOverrides(process.env.BLUEPRINT_CONFIG)) });
app.synth();
