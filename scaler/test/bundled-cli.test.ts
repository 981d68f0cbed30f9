import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle, runNode, sdkEnvFor, startFakeAwsEndpoint, type FakeAwsEndpoint } from './fakes/fake-aws-endpoint';

let endpoint: FakeAwsEndpoint;
let bundleDir: string;
let cliPath: string;

beforeAll(async () => {
  endpoint = await startFakeAwsEndpoint({ visible: 45, inFlight: 0, runningTaskArns: [] });
  bundleDir = mkdtempSync(join(tmpdir(), 'scaler-cli-'));
  cliPath = join(bundleDir, 'cli.js');
  await bundle(join(__dirname, '../src/cli.ts'), cliPath);
});

afterAll(async () => {
  await endpoint.close();
  rmSync(bundleDir, { recursive: true, force: true });
});

function scalerEnv(): NodeJS.ProcessEnv {
  return {
    ...sdkEnvFor(endpoint, bundleDir),
    QUEUE_URL: `${endpoint.url}/123456789012/jobs`,
    CLUSTER: 'workers',
    TASK_FAMILY: 'image-worker',
    SUBNETS: 'subnet-a',
    SECURITY_GROUPS: 'sg-worker',
  };
}

describe('npm run scale (the bundled CLI)', () => {
  it('prints usage and exits 2 without --once', async () => {
    const result = await runNode([cliPath], scalerEnv(), bundleDir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Usage: npm run scale -- --once \[--dry-run\]/);
    expect(endpoint.requests).toEqual([]);
  });

  it('--once --dry-run prints the decision and launches nothing', async () => {
    const result = await runNode([cliPath, '--once', '--dry-run'], scalerEnv(), bundleDir);
    expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stderr: '' });
    const [json, line] = result.stdout.trim().split('\n');
    expect(JSON.parse(json ?? '{}')).toMatchObject({ desired: 5, launch: 5, dryRun: true, launchReport: { launched: 0, failures: [] } });
    expect(line).toBe('[dry run] desired 5, launch 5, launched 0, failures 0: backlog 45 visible / 10 per task -> 5; none running or pending -> launch 5');
    expect(endpoint.requests.map((request) => request.target)).not.toContain('AmazonEC2ContainerServiceV20141113.RunTask');
  });

  it('names the missing variable and exits 1', async () => {
    const result = await runNode([cliPath, '--once'], { ...scalerEnv(), CLUSTER: '' }, bundleDir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ConfigError: CLUSTER is required/);
  });
});
