import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs the buildspec's post_build phase (the rollout) for real, with jq and a fake `aws` that records its calls and
 * answers like AWS: the new revision must carry the new image, the blueprint tag and nothing AWS would refuse, and
 * the image parameter must be written before the revision is registered.
 */
const buildspec = readFileSync(join(__dirname, '../../buildspec.yml'), 'utf8');

function phaseCommands(phase: string): string[] {
  const block = buildspec.split(new RegExp(`^  ${phase}:\\n`, 'm'))[1]!.split(/^(?: {2}\w|\w)/m)[0]!;
  return [...block.matchAll(/^ {6}- (.+)$/gm)].map((match) => match[1]!);
}

const CURRENT_REVISION = {
  taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/s3-queue-worker:7', family: 's3-queue-worker', revision: 7, status: 'ACTIVE',
  taskRoleArn: 'arn:aws:iam::123456789012:role/s3-queue-worker-task', executionRoleArn: 'arn:aws:iam::123456789012:role/s3-queue-worker-execution',
  networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], cpu: '2048', memory: '4096', runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
  containerDefinitions: [{ name: 'worker', image: 'public.ecr.aws/docker/library/node:22-slim', environment: [{ name: 'SIZES', value: '224x224' }] }],
  registeredAt: '2026-11-01T00:00:00Z', registeredBy: 'arn:aws:sts::123456789012:assumed-role/x', compatibilities: ['EC2', 'FARGATE'], requiresAttributes: [],
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rollout-'));
  writeFileSync(join(dir, 'current-revision.json'), JSON.stringify(CURRENT_REVISION));
  const fakeAws = join(dir, 'aws');
  writeFileSync(fakeAws, `#!/usr/bin/env bash
echo "$*" >> "${dir}/calls.log"
case "$1 $2" in
  "ecs describe-task-definition") cat "${dir}/current-revision.json" ;;
  "ecs register-task-definition") cp "\${4#file://}" "${dir}/registered-input.json"; echo "arn:aws:ecs:us-east-1:123456789012:task-definition/s3-queue-worker:8" ;;
esac
`);
  chmodSync(fakeAws, 0o755);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function runPostBuild(succeeding: '0' | '1') {
  const script = ['set -euo pipefail', ...phaseCommands('post_build')].join('\n');
  return spawnSync('bash', ['--norc', '--noprofile', '-c', script], {
    cwd: dir,
    encoding: 'utf8',
    env: {
      HOME: dir, PATH: `${dir}:${process.env.PATH}`, CODEBUILD_BUILD_SUCCEEDING: succeeding, IMAGE: '123456789012.dkr.ecr.us-east-1.amazonaws.com/s3-queue-worker:abc123def456',
      ECR_REPOSITORY_URL: '123456789012.dkr.ecr.us-east-1.amazonaws.com/s3-queue-worker', TASK_FAMILY: 's3-queue-worker', IMAGE_PARAMETER: '/s3-queue/worker-image',
      REVISION_TAG_KEY: 'Blueprint', REVISION_TAG_VALUE: 's3-queue', AWS_REGION: 'us-east-1',
    },
  });
}

it('points the parameter at the new image, then registers a tagged revision that differs from the last only in its image', () => {
  const result = runPostBuild('1');
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  const calls = readFileSync(join(dir, 'calls.log'), 'utf8').trim().split('\n');
  expect(calls.map((call) => call.split(' ').slice(0, 2).join(' '))).toEqual(['ssm put-parameter', 'ecs describe-task-definition', 'ecs register-task-definition']);
  expect(calls[0]).toContain('--name /s3-queue/worker-image --value 123456789012.dkr.ecr.us-east-1.amazonaws.com/s3-queue-worker:abc123def456 --type String --overwrite');

  const registered = JSON.parse(readFileSync(join(dir, 'registered-input.json'), 'utf8'));
  // Only the fields RegisterTaskDefinition accepts: the read-only ones describe returns would make it fail.
  const registrable: Record<string, unknown> = { ...CURRENT_REVISION };
  for (const readOnly of ['taskDefinitionArn', 'revision', 'status', 'registeredAt', 'registeredBy', 'compatibilities', 'requiresAttributes']) delete registrable[readOnly];
  expect(registered).toEqual({
    ...registrable,
    containerDefinitions: [{ ...CURRENT_REVISION.containerDefinitions[0], image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/s3-queue-worker:abc123def456' }],
    tags: [{ key: 'Blueprint', value: 's3-queue' }],
  });
  expect(readFileSync(join(dir, 'registered.txt'), 'utf8').trim()).toBe('arn:aws:ecs:us-east-1:123456789012:task-definition/s3-queue-worker:8');
});

it('rolls out nothing after a failed build', () => {
  const result = runPostBuild('0');
  expect(result.status).not.toBe(0);
  expect(existsSync(join(dir, 'calls.log'))).toBe(false);
});
