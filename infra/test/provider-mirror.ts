import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
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
