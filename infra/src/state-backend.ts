import { type Construct, S3Backend } from './framework/core';

/** Where a team keeps the stack's Terraform state: one S3 object, locked by a `<key>.tflock` object beside it. */
export interface StateBackend {
  readonly bucket: string;
  readonly key: string;
  readonly region: string;
}

/** What BLUEPRINT_CONFIG's `stateBackend` may hold: the bucket, and the key and region when the defaults don't fit. */
export interface StateBackendInput {
  readonly bucket?: unknown;
  readonly key?: unknown;
  readonly region?: unknown;
}

const FIELDS = ['bucket', 'key', 'region'];
const S3_MAX_KEY_BYTES = 1024;

/** The backend a config describes, its defaults filled in (key `<name>/terraform.tfstate`, the stack's region), or why not. */
export function resolveStateBackend(input: StateBackendInput, defaults: { name: string; region: string }): { backend?: StateBackend; problems: string[] } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { problems: ['stateBackend: an object such as {"bucket":"my-team-tfstate"}'] };
  const problems = Object.keys(input).filter((field) => !FIELDS.includes(field)).map((field) => `stateBackend.${field}: not a setting (known: ${FIELDS.join(', ')})`);
  const { bucket, key = `${defaults.name}/terraform.tfstate`, region = defaults.region } = input;
  // S3's bucket naming rules, so a typo fails the synth rather than the first `terraform init`.
  if (typeof bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
    problems.push(`stateBackend.bucket=${JSON.stringify(bucket)}: the name of an existing S3 bucket (3-63 lower-case letters, digits, dots or dashes)`);
  }
  if (typeof key !== 'string' || key === '' || key.startsWith('/') || key.endsWith('/') || Buffer.byteLength(`${key}.tflock`) > S3_MAX_KEY_BYTES) {
    problems.push(`stateBackend.key=${JSON.stringify(key)}: an object key such as s3-queue/terraform.tfstate (no leading or trailing slash, at most ${S3_MAX_KEY_BYTES - '.tflock'.length} bytes)`);
  }
  if (typeof region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) problems.push(`stateBackend.region=${JSON.stringify(region)}: an AWS region such as eu-west-1`);
  if (problems.length > 0) return { problems };
  return { backend: { bucket: bucket as string, key: key as string, region: region as string }, problems };
}

/**
 * Puts the stack's state in S3, encrypted, with Terraform's native S3 locking (`use_lockfile`, Terraform 1.10+: a
 * conditional PUT of `<key>.tflock`), so no DynamoDB table is needed. cdktf 0.21's S3Backend has no `useLockfile`
 * prop (its fork cdktn has), so the setting is an override: the same JSON under either framework.
 */
export function useS3StateBackend(scope: Construct, backend: StateBackend): S3Backend {
  const s3Backend = new S3Backend(scope, { bucket: backend.bucket, key: backend.key, region: backend.region, encrypt: true });
  s3Backend.addOverride('use_lockfile', true);
  return s3Backend;
}

/**
 * What the identity running `cdktf deploy` needs on the state, and nothing more on that bucket: Terraform's documented
 * minimum for the S3 backend with lockfile locking (list the bucket, read and write the state, write and delete the
 * lock). Printed in the README's bootstrap and checked against a real `terraform plan` in the tests.
 */
export function stateAccessStatements(backend: StateBackend): { Effect: 'Allow'; Action: string[]; Resource: string[] }[] {
  const bucketArn = `arn:aws:s3:::${backend.bucket}`;
  return [
    { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [bucketArn] },
    { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: [`${bucketArn}/${backend.key}`] },
    { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: [`${bucketArn}/${backend.key}.tflock`] },
  ];
}
