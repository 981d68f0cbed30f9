import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Testing } from 'cdktf';
import { resolveInfraConfig } from '../src/config';
import { BlueprintStack } from '../src/stacks/blueprint-stack';

/**
 * The synthesized stack: each property the blueprint promises, the security policy over every statement, and an
 * offline `terraform plan` (the provider comes from TF_PROVIDER_MIRROR when set, as `.ci/run` does on offline machines).
 */
let dir: string;
let outdir: string;
let synthesized: { resource: Record<string, Record<string, Record<string, unknown>>>; output: Record<string, unknown> };

const OFFLINE_PROVIDER = {
  accessKey: 'test', secretKey: 'test', skipCredentialsValidation: true, skipRequestingAccountId: true, skipMetadataApiCheck: 'true', skipRegionValidation: true,
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'infra-test-'));
  const bundleDir = join(dir, 'scaler-bundle');
  mkdirSync(bundleDir);
  writeFileSync(join(bundleDir, 'index.js'), 'exports.handler = async () => ({});\n');
  outdir = join(dir, 'cdktf.out');
  const app = new App({ outdir });
  const stack = new BlueprintStack(app, 'blueprint', { config: resolveInfraConfig({ scalerBundleDir: bundleDir }), providerOverrides: OFFLINE_PROVIDER });
  synthesized = JSON.parse(Testing.synth(stack));
  app.synth();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const resources = (type: string) => Object.values(synthesized.resource[type] ?? {});
const statements = () =>
  [...resources('aws_iam_role_policy'), ...resources('aws_s3_bucket_policy')].flatMap((policy) => {
    const document = JSON.parse(String(policy.policy)) as { Statement: { Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: unknown }[] };
    return document.Statement;
  });
const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);

describe('the blueprint stack', () => {
  it('makes every bucket private, owner-enforced, encrypted and TLS-only', () => {
    const buckets = resources('aws_s3_bucket');
    expect(buckets).toHaveLength(2);
    expect(resources('aws_s3_bucket_public_access_block')).toEqual(
      Array(2).fill(expect.objectContaining({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true })),
    );
    expect(resources('aws_s3_bucket_ownership_controls').map((c) => c.rule)).toEqual(Array(2).fill({ object_ownership: 'BucketOwnerEnforced' }));
    expect(resources('aws_s3_bucket_server_side_encryption_configuration')).toHaveLength(2);
    const tlsDenies = resources('aws_s3_bucket_policy').map((policy) => JSON.parse(String(policy.policy)).Statement[0]);
    expect(tlsDenies).toEqual(Array(2).fill(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })));
    expect(buckets.every((bucket) => bucket.force_destroy === false)).toBe(true);
  });

  it('sends ObjectCreated:* (multipart included) per suffix, after the queue policy exists', () => {
    const [notification] = resources('aws_s3_bucket_notification');
    const rules = notification!.queue as { events: string[]; filter_suffix: string }[];
    expect(rules.map((rule) => rule.filter_suffix)).toEqual(['.jpg', '.jpeg', '.JPG', '.JPEG', '.png', '.PNG']);
    expect(rules.every((rule) => rule.events.join() === 's3:ObjectCreated:*')).toBe(true);
    expect(notification!.depends_on).toEqual([expect.stringContaining('aws_sqs_queue_policy')]);
  });

  it('encrypts the queue and DLQ, long-polls, keeps 14 days and redrives after 5 receives', () => {
    const queues = resources('aws_sqs_queue');
    expect(queues.every((queue) => queue.sqs_managed_sse_enabled === true && queue.message_retention_seconds === 1209600)).toBe(true);
    const main = queues.find((queue) => queue.redrive_policy !== undefined)!;
    expect(main).toMatchObject({ receive_wait_time_seconds: 20, visibility_timeout_seconds: 120 });
    expect(JSON.parse(String(main.redrive_policy))).toMatchObject({ maxReceiveCount: 5 });
    expect(resources('aws_sqs_queue_redrive_allow_policy')).toHaveLength(1);
  });

  it('runs the worker as non-root with a read-only root filesystem, a 120 s stop timeout and x86_64 for Spot', () => {
    const [task] = resources('aws_ecs_task_definition');
    const [container] = JSON.parse(String(task!.container_definitions));
    expect(container).toMatchObject({ user: '1000:1000', readonlyRootFilesystem: true, stopTimeout: 120, logConfiguration: { logDriver: 'awslogs' } });
    expect(task).toMatchObject({ runtime_platform: { cpu_architecture: 'X86_64' }, lifecycle: { ignore_changes: ['container_definitions'] } });
    expect(resources('aws_ecs_cluster_capacity_providers')[0]).toMatchObject({ capacity_providers: ['FARGATE_SPOT', 'FARGATE'] });
  });

  it('schedules the scaler every two minutes on nodejs22.x with reserved concurrency 1', () => {
    expect(resources('aws_lambda_function')[0]).toMatchObject({ runtime: 'nodejs22.x', handler: 'index.handler', reserved_concurrent_executions: 1 });
    expect(resources('aws_cloudwatch_event_rule')[0]).toMatchObject({ schedule_expression: 'rate(2 minutes)' });
  });

  it('grants least privilege: no "*" action, no write on "*", PassRole only on the two task roles for ECS tasks', () => {
    for (const statement of statements().filter((s) => s.Effect === 'Allow')) {
      const actions = list(statement.Action);
      expect(actions).not.toContain('*');
      expect(actions.some((action) => action.endsWith(':*'))).toBe(false);
      if (list(statement.Resource).includes('*')) {
        expect(actions.every((action) => /^(ecr:GetAuthorizationToken|ecs:ListTasks)$/.test(action))).toBe(true);
      }
    }
    const passRole = statements().filter((s) => list(s.Action).includes('iam:PassRole'));
    expect(passRole).toHaveLength(1);
    expect(list(passRole[0]!.Resource)).toHaveLength(2);
    expect(passRole[0]!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  });

  it('gives no public IPs to task subnets and sets a retention on every log group', () => {
    expect(resources('aws_subnet').filter((subnet) => String(subnet.tags && (subnet.tags as Record<string, string>).Name).includes('private')).every((subnet) => subnet.map_public_ip_on_launch === false)).toBe(true);
    expect(resources('aws_cloudwatch_log_group').every((group) => typeof group.retention_in_days === 'number')).toBe(true);
    const scalerEnv = (resources('aws_lambda_function')[0]!.environment as { variables: Record<string, string> }).variables;
    expect(scalerEnv.SUBNETS).toMatch(/aws_subnet\.network_private-0.*aws_subnet\.network_private-1/);
  });

  it('exposes the outputs operators need', () => {
    expect(Object.keys(synthesized.output).sort()).toEqual(
      ['cluster_name', 'destination_bucket', 'dlq_arn', 'dlq_url', 'queue_url', 'scaler_function_name', 'source_bucket', 'task_family', 'upload_command'].sort(),
    );
  });

  it('rejects invalid configuration naming the field', () => {
    expect(() => resolveInfraConfig({ taskCpu: 3000, availabilityZones: ['a'] })).toThrow(/availabilityZones: at least two[\s\S]*taskCpu=3000/);
  });

  it('validates and plans offline with terraform', () => {
    const stackDir = join(outdir, 'stacks', 'blueprint');
    const env = { ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };
    const mirror = process.env.TF_PROVIDER_MIRROR;
    execFileSync('terraform', ['init', '-input=false', ...(mirror ? [`-plugin-dir=${mirror}`] : [])], { cwd: stackDir, env, stdio: 'pipe' });
    execFileSync('terraform', ['validate'], { cwd: stackDir, env, stdio: 'pipe' });
    execFileSync('terraform', ['plan', '-input=false', '-refresh=false', '-lock=false', '-out=plan.bin'], { cwd: stackDir, env, stdio: 'pipe' });
    const plan = JSON.parse(execFileSync('terraform', ['show', '-json', 'plan.bin'], { cwd: stackDir, env, maxBuffer: 64 * 1024 * 1024 }).toString());
    const creates = (plan.resource_changes as { change: { actions: string[] } }[]).filter((change) => change.change.actions.includes('create'));
    const synthesizedCount = Object.values(synthesized.resource).reduce((total, byName) => total + Object.keys(byName).length, 0);
    expect(synthesizedCount).toBe(47);
    expect(creates).toHaveLength(synthesizedCount);
  }, 120_000);
});
