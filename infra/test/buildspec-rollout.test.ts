import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs the buildspec's image loop (build) and rollout (post_build) for real, with jq and a fake `aws` and `docker`
 * that record their calls and answer like AWS: each new revision must carry its family's new image, the blueprint
 * tag and nothing AWS would refuse, each image parameter must be written before any revision is registered, and
 * derived images must be built after, and from, the worker image. One image with the three one-pipeline variables,
 * and two images for two families with IMAGES.
 */
const buildspec = readFileSync(join(__dirname, '../../buildspec.yml'), 'utf8');

function phaseCommands(phase: string): string[] {
  const block = buildspec.split(new RegExp(`^  ${phase}:\\n`, 'm'))[1]!.split(/^(?: {2}\w|\w)/m)[0]!;
  return [...block.matchAll(/^ {6}- (.+)$/gm)].map((match) => match[1]!);
}
/** pre_build's lines that only compute variables (not `npm test`, not the registry login). */
const preBuildVariables = () => phaseCommands('pre_build').filter((command) => /^[A-Z_]+=/.test(command));

const ACCOUNT = '123456789012';
const REGISTRY = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const COMMIT = 'abc123def4567890';
const TAG = 'abc123def456';

/** What describe-task-definition answers for a family: a revision as AWS returns it, read-only fields included. */
function currentRevision(family: string, extra: Record<string, unknown> = {}) {
  return {
    taskDefinitionArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/${family}:7`, family, revision: 7, status: 'ACTIVE',
    taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/${family}-task`, executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/${family}-execution`,
    networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], cpu: '2048', memory: '4096', runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
    containerDefinitions: [{ name: 'worker', image: 'public.ecr.aws/docker/library/node:22-slim', environment: [{ name: 'SIZES', value: '224x224' }] }],
    volumes: [], registeredAt: '2026-11-01T00:00:00Z', registeredBy: `arn:aws:sts::${ACCOUNT}:assumed-role/x`, compatibilities: ['EC2', 'FARGATE'], requiresAttributes: [],
    ...extra,
  };
}
const READ_ONLY = ['taskDefinitionArn', 'revision', 'status', 'registeredAt', 'registeredBy', 'compatibilities', 'requiresAttributes', 'volumes'];
const registrable = (revision: Record<string, unknown>, image: string) => {
  const fields: Record<string, unknown> = { ...revision };
  for (const field of READ_ONLY) delete fields[field];
  if ((revision.volumes as unknown[]).length > 0) fields.volumes = revision.volumes;
  return { ...fields, containerDefinitions: [{ ...(revision.containerDefinitions as object[])[0], image }], tags: [{ key: 'Blueprint', value: 's3-queue' }] };
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rollout-'));
  // describe answers from revisions/<family>.json; register keeps each input as registered/<family>.json.
  writeFileSync(join(dir, 'aws'), `#!/usr/bin/env bash
echo "aws $*" >> "${dir}/calls.log"
case "$1 $2" in
  "ecs describe-task-definition") cat "${dir}/revisions/$4.json" ;;
  "ecs register-task-definition") family="$(jq -r .family "\${4#file://}")"; cp "\${4#file://}" "${dir}/registered-$family.json"; echo "arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/$family:8" ;;
  "ecr describe-images") [ -e "${dir}/pushed-\${4}" ] ;;
esac
`);
  writeFileSync(join(dir, 'docker'), `#!/usr/bin/env bash
echo "docker $*" >> "${dir}/calls.log"
`);
  chmodSync(join(dir, 'aws'), 0o755);
  chmodSync(join(dir, 'docker'), 0o755);
  spawnSync('mkdir', [join(dir, 'revisions')]);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(commands: string[], env: Record<string, string>) {
  const script = ['set -euo pipefail', ...commands].join('\n');
  return spawnSync('bash', ['--norc', '--noprofile', '-c', script], {
    cwd: dir,
    encoding: 'utf8',
    env: { HOME: dir, PATH: `${dir}:${process.env.PATH}`, AWS_REGION: 'us-east-1', COMMIT_ID: COMMIT, REVISION_TAG_KEY: 'Blueprint', REVISION_TAG_VALUE: 's3-queue', ...env },
  });
}
const calls = () => readFileSync(join(dir, 'calls.log'), 'utf8').trim().split('\n');
const registered = (family: string) => JSON.parse(readFileSync(join(dir, `registered-${family}.json`), 'utf8')) as Record<string, unknown>;

describe('one pipeline (ECR_REPOSITORY_URL, TASK_FAMILY, IMAGE_PARAMETER)', () => {
  const ONE = { ECR_REPOSITORY_URL: `${REGISTRY}/s3-queue-worker`, TASK_FAMILY: 's3-queue-worker', IMAGE_PARAMETER: '/s3-queue/worker-image' };
  const IMAGE = `${REGISTRY}/s3-queue-worker:${TAG}`;

  it('points the parameter at the new image, then registers a tagged revision that differs from the last only in its image', () => {
    const current = currentRevision('s3-queue-worker');
    writeFileSync(join(dir, 'revisions', 's3-queue-worker.json'), JSON.stringify(current));
    const result = run([...preBuildVariables(), 'export CODEBUILD_BUILD_SUCCEEDING=1', ...phaseCommands('post_build')], ONE);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(calls().map((call) => call.split(' ').slice(0, 3).join(' '))).toEqual(['aws ssm put-parameter', 'aws ecs describe-task-definition', 'aws ecs register-task-definition']);
    expect(calls()[0]).toContain(`--name /s3-queue/worker-image --value ${IMAGE} --type String --overwrite`);
    // Only the fields RegisterTaskDefinition accepts: the read-only ones describe returns would make it fail.
    expect(registered('s3-queue-worker')).toEqual(registrable(current, IMAGE));
    expect(readFileSync(join(dir, 'registered.txt'), 'utf8').trim()).toBe(`arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/s3-queue-worker:8`);
    expect(JSON.parse(readFileSync(join(dir, 'imagedefinitions.json'), 'utf8'))).toEqual([{ name: 'worker', imageUri: IMAGE }]);
  });

  it('builds the worker image from app/Dockerfile with no build argument, and pushes it', () => {
    const result = run([...preBuildVariables(), ...phaseCommands('build')], ONE);
    expect(result.status).toBe(0);
    expect(calls()).toEqual([
      `aws ecr describe-images --repository-name s3-queue-worker --image-ids imageTag=${TAG}`,
      `docker build --platform linux/amd64 -f app/Dockerfile -t ${IMAGE} .`,
      `docker push ${IMAGE}`,
    ]);
  });

  it('rolls out nothing after a failed build', () => {
    const result = run([...preBuildVariables(), 'export CODEBUILD_BUILD_SUCCEEDING=0', ...phaseCommands('post_build')], ONE);
    expect(result.status).not.toBe(0);
    expect(existsSync(join(dir, 'calls.log'))).toBe(false);
  });
});

describe('two images for two families (IMAGES)', () => {
  const IMAGES = JSON.stringify([
    { name: 'worker', dockerfile: 'app/Dockerfile', repository: `${REGISTRY}/s3-queue-worker`, parameter: '/s3-queue/worker-image', families: ['s3-queue-worker'] },
    {
      name: 'geojson', dockerfile: 'app/jobs/command/example/Dockerfile', repository: `${REGISTRY}/s3-queue-geojson`, parameter: '/s3-queue/geojson-image',
      families: ['s3-queue-geojson-worker'],
    },
  ]);
  const WORKER = `${REGISTRY}/s3-queue-worker:${TAG}`;
  const GEOJSON = `${REGISTRY}/s3-queue-geojson:${TAG}`;

  it('builds the worker image first, then the derived one FROM it, skipping any image this commit already pushed', () => {
    const first = run([...preBuildVariables(), ...phaseCommands('build')], { IMAGES });
    expect(first.status).toBe(0);
    expect(calls().filter((call) => call.startsWith('docker'))).toEqual([
      `docker build --platform linux/amd64 -f app/Dockerfile -t ${WORKER} .`,
      `docker push ${WORKER}`,
      `docker build --platform linux/amd64 --build-arg WORKER_IMAGE=${WORKER} -f app/jobs/command/example/Dockerfile -t ${GEOJSON} .`,
      `docker push ${GEOJSON}`,
    ]);
    rmSync(join(dir, 'calls.log'));
    writeFileSync(join(dir, 'pushed-s3-queue-worker'), '');
    const rerun = run([...preBuildVariables(), ...phaseCommands('build')], { IMAGES });
    expect(rerun.stdout).toContain(`image ${WORKER} exists, not rebuilt`);
    expect(calls().filter((call) => call.startsWith('docker'))).toEqual([
      `docker build --platform linux/amd64 --build-arg WORKER_IMAGE=${WORKER} -f app/jobs/command/example/Dockerfile -t ${GEOJSON} .`,
      `docker push ${GEOJSON}`,
    ]);
  });

  it('fails the build when one image fails to build, and pushes nothing after it', () => {
    writeFileSync(join(dir, 'docker'), `#!/usr/bin/env bash
echo "docker $*" >> "${dir}/calls.log"
[ "$1 $4" != "build --build-arg" ]
`);
    const result = run([...preBuildVariables(), ...phaseCommands('build')], { IMAGES });
    expect(result.status).not.toBe(0);
    expect(calls().filter((call) => call.startsWith('docker push'))).toEqual([`docker push ${WORKER}`]);
  });

  it('writes both parameters before registering, then a revision of each family with its own image, keeping its disk and volume', () => {
    const worker = currentRevision('s3-queue-worker');
    const geojson = currentRevision('s3-queue-geojson-worker', {
      cpu: '1024', memory: '2048', ephemeralStorage: { sizeInGiB: 50 }, volumes: [{ name: 'scratch' }],
      containerDefinitions: [{ name: 'worker', image: 'public.ecr.aws/docker/library/node:22-slim', mountPoints: [{ sourceVolume: 'scratch', containerPath: '/tmp' }] }],
    });
    writeFileSync(join(dir, 'revisions', 's3-queue-worker.json'), JSON.stringify(worker));
    writeFileSync(join(dir, 'revisions', 's3-queue-geojson-worker.json'), JSON.stringify(geojson));
    const result = run([...preBuildVariables(), 'export CODEBUILD_BUILD_SUCCEEDING=1', ...phaseCommands('post_build')], { IMAGES });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(calls().map((call) => call.split(' ').slice(0, 5).join(' '))).toEqual([
      'aws ssm put-parameter --name /s3-queue/worker-image', 'aws ssm put-parameter --name /s3-queue/geojson-image',
      'aws ecs describe-task-definition --task-definition s3-queue-worker', 'aws ecs register-task-definition --cli-input-json file://next.json',
      'aws ecs describe-task-definition --task-definition s3-queue-geojson-worker', 'aws ecs register-task-definition --cli-input-json file://next.json',
    ]);
    expect(calls()[0]).toContain(`--value ${WORKER} `);
    expect(calls()[1]).toContain(`--value ${GEOJSON} `);
    expect(registered('s3-queue-worker')).toEqual(registrable(worker, WORKER));
    expect(registered('s3-queue-geojson-worker')).toEqual(registrable(geojson, GEOJSON));
    expect(registered('s3-queue-geojson-worker')).toMatchObject({ ephemeralStorage: { sizeInGiB: 50 }, volumes: [{ name: 'scratch' }] });
    expect(readFileSync(join(dir, 'registered.txt'), 'utf8').trim().split('\n')).toEqual([
      `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/s3-queue-worker:8`, `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/s3-queue-geojson-worker:8`,
    ]);
  });

  it('stops the rollout at the first family it cannot register', () => {
    writeFileSync(join(dir, 'revisions', 's3-queue-worker.json'), 'not json');
    writeFileSync(join(dir, 'revisions', 's3-queue-geojson-worker.json'), JSON.stringify(currentRevision('s3-queue-geojson-worker')));
    const result = run([...preBuildVariables(), 'export CODEBUILD_BUILD_SUCCEEDING=1', ...phaseCommands('post_build')], { IMAGES });
    expect(result.status).not.toBe(0);
    expect(calls().filter((call) => call.startsWith('aws ecs register'))).toEqual([]);
  });
});
