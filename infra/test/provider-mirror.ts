import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where machines without registry access keep Terraform providers (a `-plugin-dir` layout), checked in order. */
const CANDIDATES = ['/opt/tf-plugins', join(homedir(), '.terraform.d/plugins'), join(homedir(), '.local/share/terraform/plugins'), '/usr/local/share/terraform/plugins', '/usr/share/terraform/plugins'];
const AWS_PROVIDER = join('registry.terraform.io', 'hashicorp', 'aws');

/**
 * The plugin directory holding the AWS provider, for an offline `terraform init -plugin-dir`: TF_PROVIDER_MIRROR when
 * set, else a known location that has it, else the first `terraform-provider-aws_*` on this filesystem. Undefined on
 * a machine with none, where `terraform init` downloads from the registry as usual.
 */
export function findProviderMirror(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TF_PROVIDER_MIRROR) return env.TF_PROVIDER_MIRROR;
  const known = CANDIDATES.find((dir) => hasAwsProvider(dir));
  if (known !== undefined) return known;
  try {
    const found = execFileSync('find', ['/', '-xdev', '-path', '/proc', '-prune', '-o', '-name', 'terraform-provider-aws_*', '-print', '-quit'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 }).trim();
    const index = found.indexOf(`/${AWS_PROVIDER}/`);
    return index > 0 ? found.slice(0, index) : undefined;
  } catch {
    return undefined;
  }
}

function hasAwsProvider(dir: string): boolean {
  const versions = join(dir, AWS_PROVIDER);
  return existsSync(versions) && readdirSync(versions).length > 0;
}

/** The hashicorp/aws versions a plugin directory holds, unpacked (`<version>/<os_arch>/`) or packed (`…_<version>_<os>_<arch>.zip`). */
export function mirroredAwsVersions(mirror: string): string[] {
  const dir = join(mirror, AWS_PROVIDER);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((entry) => /^(?:terraform-provider-aws_)?(\d+\.\d+\.\d+)(?:_\w+_\w+\.zip)?$/.exec(entry)?.[1]).filter((version): version is string => version !== undefined);
}

/** Terraform's environment with no account: dummy credentials (nothing is refreshed), no checkpoint calls. */
export function offlineTerraformEnv(): NodeJS.ProcessEnv {
  return { ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };
}

/** What `terraform show -json` says a plan does to each resource. */
export interface PlannedChange {
  readonly type: string;
  readonly name: string;
  readonly change: { actions: string[]; after: Record<string, unknown> };
}

/**
 * `terraform init` (from the mirror when there is one), `validate` and `plan` of a synthesized stack directory, with
 * dummy credentials and no refresh, so no AWS account is needed. Returns the plan's resource changes.
 */
export function planOffline(stackDir: string, mirror: string | undefined): PlannedChange[] {
  const env = offlineTerraformEnv();
  execFileSync('terraform', ['init', '-input=false', ...(mirror ? [`-plugin-dir=${mirror}`] : [])], { cwd: stackDir, env, stdio: 'pipe' });
  execFileSync('terraform', ['validate'], { cwd: stackDir, env, stdio: 'pipe' });
  execFileSync('terraform', ['plan', '-input=false', '-refresh=false', '-lock=false', '-out=plan.bin'], { cwd: stackDir, env, stdio: 'pipe' });
  const plan = JSON.parse(execFileSync('terraform', ['show', '-json', 'plan.bin'], { cwd: stackDir, env, maxBuffer: 64 * 1024 * 1024 }).toString());
  return plan.resource_changes as PlannedChange[];
}

/**
 * Gives a stack synthesized by infra/main.ts (which sets no test-only provider settings) the settings that let the
 * AWS provider plan with no account, as a Terraform override file beside it: the synthesized JSON stays as deployed.
 */
export function addOfflineProviderOverride(stackDir: string, settings: Record<string, unknown>): void {
  const snakeCase = Object.fromEntries(Object.entries(settings).map(([key, value]) => [key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`), value]));
  writeFileSync(join(stackDir, 'offline_override.tf.json'), JSON.stringify({ provider: { aws: [snakeCase] } }, null, 2));
}
