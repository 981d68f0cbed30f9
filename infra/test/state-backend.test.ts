import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App } from '../src/framework/core';
import { resolveInfraConfig } from '../src/config';
import { resolveStateBackend, stateAccessStatements } from '../src/state-backend';
import { LOCAL_CREDENTIALS, startS3Server, type LocalS3Server } from '../../local/src/s3-server';
import { startStrictS3Front, type Refusal, type StrictS3Front } from '../../local/src/strict-s3-front';
import { GITHUB, scalerBundleDir, synthBlueprint } from './factories';
import { findProviderMirror, offlineTerraformEnv } from './provider-mirror';

const run = promisify(execFile);
const STATE = { bucket: 'team-state', key: 'blueprint/terraform.tfstate', region: 'us-east-1' };

describe('the state backend a config describes', () => {
  it('is local state when unset, and S3 with encryption and S3-native locking (no DynamoDB table) when set', () => {
    const bundleDir = scalerBundleDir();
    try {
      const local = synthBlueprint({}, { bundleDir }) as unknown as { terraform: { backend?: unknown } };
      expect(local.terraform.backend).toBeUndefined();
      const team = synthBlueprint({ stateBackend: { bucket: 'team-state' } }, { bundleDir }) as unknown as { terraform: { backend: { s3: Record<string, unknown> } } };
      expect(team.terraform.backend.s3).toEqual({ bucket: 'team-state', key: 's3-queue/terraform.tfstate', region: 'us-east-1', encrypt: true, use_lockfile: true });
    } finally {
      rmSync(bundleDir, { recursive: true, force: true });
    }
  });

  it('takes the key and region given, and fails the synth naming each bad field', () => {
    expect(resolveStateBackend({ bucket: 'b.team-state', key: 'x/y.tfstate', region: 'eu-west-1' }, { name: 'n', region: 'us-east-1' }).backend)
      .toEqual({ bucket: 'b.team-state', key: 'x/y.tfstate', region: 'eu-west-1' });
    expect(() => resolveInfraConfig({ ...GITHUB, stateBackend: { bucket: 'Team_State', key: '/abs', region: 'mars', table: 'locks' } as never })).toThrow(
      /stateBackend\.table: not a setting[\s\S]*stateBackend\.bucket="Team_State"[\s\S]*stateBackend\.key="\/abs"[\s\S]*stateBackend\.region="mars"/,
    );
    expect(() => resolveInfraConfig({ ...GITHUB, stateBackend: 'team-state' as never })).toThrow(/stateBackend: an object/);
    expect(() => resolveInfraConfig({ ...GITHUB, stateBackend: { bucket: 'ok-bucket', key: 'k'.repeat(1018) } })).toThrow(/stateBackend\.key=.*at most 1017 bytes/);
  });
});

/**
 * Real Terraform with the synthesized backend, against an S3-protocol server behind the strict front that answers as
 * S3 does for an identity holding only the README's state policy: init reads the state, plan takes and releases the
 * lock with a conditional PUT, and a lock someone else holds stops the plan.
 */
describe('terraform with the S3 backend, offline', () => {
  let dir: string;
  let bundleDir: string;
  let server: LocalS3Server;
  let front: StrictS3Front;
  let s3: S3Client;
  const refusals: Refusal[] = [];
  const env = offlineTerraformEnv();
  let stackDir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'state-backend-'));
    bundleDir = scalerBundleDir();
    server = await startS3Server({ dataDir: join(dir, 's3'), port: 0, buckets: [STATE.bucket] });
    front = await startStrictS3Front({ upstream: server.endpoint, statements: stateAccessStatements(STATE), onRefused: (refusal) => refusals.push(refusal) });
    s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
    const app = new App({ outdir: join(dir, 'out') });
    synthBlueprint({ stateBackend: STATE }, { bundleDir, app });
    app.synth();
    stackDir = join(dir, 'out', 'stacks', 'blueprint');
    // What a real user's init takes from the synthesized backend block; these lines only point it at the local server.
    writeFileSync(join(stackDir, 'local.s3.tfbackend'), [
      `endpoints = { s3 = "${front.endpoint}" }`, 'use_path_style = true', 'skip_credentials_validation = true', 'skip_requesting_account_id = true',
      'skip_region_validation = true', 'skip_metadata_api_check = true', 'skip_s3_checksum = true',
      `access_key = "${LOCAL_CREDENTIALS.accessKeyId}"`, `secret_key = "${LOCAL_CREDENTIALS.secretAccessKey}"`,
    ].join('\n'));
    const mirror = findProviderMirror();
    await run('terraform', ['init', '-input=false', '-backend-config=local.s3.tfbackend', ...(mirror ? [`-plugin-dir=${mirror}`] : [])], { cwd: stackDir, env });
  }, 120_000);

  afterAll(async () => {
    s3?.destroy();
    await front?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(bundleDir, { recursive: true, force: true });
  });

  const lockKey = `${STATE.key}.tflock`;
  const lockExists = () => s3.send(new HeadObjectCommand({ Bucket: STATE.bucket, Key: lockKey })).then(() => true, () => false);

  it('plans with the state in S3, taking the lock and releasing it, with nothing beyond the documented state policy', async () => {
    const { stdout } = await run('terraform', ['plan', '-input=false', '-refresh=false', '-no-color'], { cwd: stackDir, env, maxBuffer: 64 * 1024 * 1024 });
    expect(stdout).toMatch(/Plan: \d+ to add, 0 to change, 0 to destroy/);
    expect(await lockExists()).toBe(false);
    expect(refusals).toEqual([]);
  }, 180_000);

  it('stops when another run holds the lock, naming the lock, and leaves that lock alone', async () => {
    const holder = JSON.stringify({ ID: 'other-run', Operation: 'OperationTypeApply', Who: 'teammate@laptop', Path: `${STATE.bucket}/${STATE.key}` });
    await s3.send(new PutObjectCommand({ Bucket: STATE.bucket, Key: lockKey, Body: holder }));
    try {
      const failure = await run('terraform', ['plan', '-input=false', '-refresh=false', '-no-color', '-lock-timeout=0s'], { cwd: stackDir, env, maxBuffer: 64 * 1024 * 1024 })
        .then(() => undefined, (error: { stderr: string }) => error.stderr);
      expect(failure).toMatch(/Error acquiring the state lock/);
      expect(await lockExists()).toBe(true);
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: STATE.bucket, Key: lockKey }));
    }
  }, 120_000);
});
