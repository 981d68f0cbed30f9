import { App } from 'cdktf';
import { resolveInfraConfig } from './src/config';
import { BlueprintStack } from './src/stacks/blueprint-stack';

// Overrides come from cdktf.json's context or `-c key=value` is not available in cdktf; edit DEFAULT_INFRA_CONFIG or
// pass BLUEPRINT_CONFIG as JSON for a one-off.
const app = new App();
new BlueprintStack(app, 'blueprint', { config: resolveInfraConfig(JSON.parse(process.env.BLUEPRINT_CONFIG ?? '{}')) });
app.synth();
