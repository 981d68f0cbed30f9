import { Annotations, DefaultTokenResolver, type IAspect, type IConstruct, StringConcat, TerraformStack, Tokenization } from '../framework/core';
import { CloudwatchLogGroup, DynamodbTable, IamPolicy, IamRolePolicy, SqsQueue, Subnet } from '../framework/aws';
import { keyRangesOverlap, type KeyRange } from '../pipelines/key-ranges';
import { ARCHIVE_SPLIT_STATEMENT_IDS } from '../policies/archive-split-task-policy';
import { BATCH_STATEMENT_IDS } from '../policies/batch-task-policy';
import { FANOUT_STATEMENT_IDS } from '../policies/fanout-task-policy';
import { WORKER_STATEMENT_IDS } from '../policies/worker-task-policy';

/**
 * Actions AWS offers no resource-level permission for, so "*" is the only possible resource. Each is a read, or a
 * write that is narrowed by a condition the check demands.
 */
const STAR_RESOURCE_ALLOWED: Record<string, (condition: Record<string, Record<string, unknown>> | undefined) => boolean> = {
  'ecr:GetAuthorizationToken': () => true,
  'ecs:DescribeTaskDefinition': () => true,
  'ecs:ListTasks': (condition) => condition?.ArnEquals?.['ecs:cluster'] !== undefined,
  'ecs:RegisterTaskDefinition': (condition) => Object.keys(condition?.StringEquals ?? {}).some((key) => key.startsWith('aws:RequestTag/')),
};

interface Statement {
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: string | string[];
  readonly NotResource?: string | string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

const list = (value: string | string[] | undefined) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** The problems of one IAM policy document against the blueprint's least-privilege rules; empty when it complies. */
export function iamPolicyProblems(document: { Statement: Statement[] }): string[] {
  const problems: string[] = [];
  for (const statement of document.Statement.filter((s) => s.Effect === 'Allow')) {
    // An Allow with NotAction or NotResource grants everything it does not name: never least privilege.
    if (statement.NotAction !== undefined || statement.NotResource !== undefined) {
      problems.push('an Allow with NotAction or NotResource grants everything it does not list');
      continue;
    }
    const actions = list(statement.Action);
    const resources = list(statement.Resource);
    // IAM matches actions case-insensitively and expands any `*`, so `s3:Put*` is a wildcard like `s3:*`.
    for (const action of actions.filter((a) => a.includes('*'))) problems.push(`action "${action}" is a wildcard: list the actions`);
    if (resources.includes('*')) {
      for (const action of actions.filter((a) => !(STAR_RESOURCE_ALLOWED[a]?.(statement.Condition) ?? false))) {
        problems.push(`"${action}" on resource "*": name the resources, or (where AWS allows nothing else) add the narrowing condition`);
      }
    }
    if (actions.some((a) => a.toLowerCase() === 'iam:passrole') && (resources.some((r) => r.includes('*')) || statement.Condition?.StringEquals?.['iam:PassedToService'] === undefined)) {
      problems.push('iam:PassRole must name each role it passes (no wildcard) and the service (iam:PassedToService) it passes them to');
    }
  }
  return problems;
}

const TOKEN_RESOLVER = new DefaultTokenResolver(new StringConcat());

/** A worker task role's grants, as the pipeline, fan-out, batch and archive-split policy builders write them (found by statement id). */
export interface WorkerGrants {
  readonly queues: readonly string[];
  readonly reads: readonly string[];
  readonly writes: readonly string[];
}

function workerGrants(document: { Statement: (Statement & { Sid?: string })[] }): WorkerGrants | undefined {
  const resourcesOf = (...sids: string[]) => document.Statement.filter((s) => s.Effect === 'Allow' && sids.includes(s.Sid ?? '')).flatMap((s) => list(s.Resource));
  const queues = resourcesOf(WORKER_STATEMENT_IDS.consume);
  if (queues.length === 0) return undefined;
  return {
    queues,
    reads: resourcesOf(WORKER_STATEMENT_IDS.readSource, FANOUT_STATEMENT_IDS.readSources, FANOUT_STATEMENT_IDS.readRuns, BATCH_STATEMENT_IDS.readAudio, ARCHIVE_SPLIT_STATEMENT_IDS.readArchives),
    writes: resourcesOf(WORKER_STATEMENT_IDS.writeOutputs, FANOUT_STATEMENT_IDS.writeRuns, ARCHIVE_SPLIT_STATEMENT_IDS.writeBatches),
  };
}

/** `<bucket>/<prefix>*<suffix>` as the keys it matches; the bucket (an ARN or a reference) leads the prefix. */
function objectRange(resource: string): KeyRange {
  const star = resource.indexOf('*');
  return star === -1 ? { prefix: resource, suffix: '' } : { prefix: resource.slice(0, star), suffix: resource.slice(star + 1) };
}

const overlapping = (a: readonly string[], b: readonly string[]) =>
  a.flatMap((x) => b.filter((y) => keyRangesOverlap(objectRange(x), objectRange(y))).map((y) => `${x} and ${y}`));

/**
 * The least privilege between pipelines, over the worker task roles of a whole stack: each consumes only its own
 * queue, and no two may read or write the same object (each reads only its pipeline's source keys and writes only
 * its destination prefix), so one pipeline's tasks can neither take another's work nor overwrite its outputs. The
 * roles of one fan-out group (same `group`) share their runs by design (the families read the batches the fan-out
 * worker writes, and so on), so between them only the queues are compared; which run keys each of them may write is
 * fanout-task-policy.ts's, and tested there. Empty when it holds; each problem names the two policies.
 */
export function workerIsolationProblems(
  roles: readonly { readonly name: string; readonly grants: WorkerGrants; readonly group?: string }[],
): { name: string; problem: string }[] {
  const problems: { name: string; problem: string }[] = [];
  for (const [i, { name: nameA, grants: a, group: groupA }] of roles.entries()) {
    for (const { name: nameB, grants: b, group: groupB } of roles.slice(i + 1)) {
      const report = (what: string, pairs: string[]) => {
        if (pairs.length > 0) problems.push({ name: nameA, problem: `worker roles ${nameA} and ${nameB} ${what}: ${pairs.join('; ')}` });
      };
      report('share a queue', a.queues.filter((queue) => b.queues.includes(queue)));
      if (groupA !== undefined && groupA === groupB) continue;
      report('may read the same objects', overlapping(a.reads, b.reads));
      report('may write the same objects', overlapping(a.writes, b.writes));
      report('may write objects the other reads', [...overlapping(a.writes, b.reads), ...overlapping(b.writes, a.reads)]);
    }
  }
  return problems;
}

/** The document, or undefined when the policy is computed at apply time and so cannot be read at synth. */
function readPolicy(policy: string): { Statement: Statement[] } | undefined {
  try {
    const { Statement: statements } = JSON.parse(policy) as { Statement: Statement | Statement[] };
    return { Statement: Array.isArray(statements) ? statements : [statements] };
  } catch {
    return undefined;
  }
}

/**
 * Fails `cdktf synth` (an error annotation) when a change to the blueprint breaks its security rules: least-privilege
 * IAM, encrypted queues and tables (tables with point-in-time recovery too), log groups that expire, subnets that hand out no public IPs. Whether a grant is one the code
 * needs is checked where the code can be read: infra/test/code-needs-policy.test.ts compares the worker's and the
 * scaler's roles with the AWS SDK commands their sources send, and infra/test/policy-wildcards.test.ts lists every
 * `*` in a policy resource with its reason.
 */
export interface SecurityPolicyChecksOptions {
  /** The task-role policies of each fan-out group, by group name: they share their group's runs by design. */
  readonly fanoutGroups?: Readonly<Record<string, readonly IConstruct[]>>;
}

export class SecurityPolicyChecks implements IAspect {
  constructor(private readonly options: SecurityPolicyChecksOptions = {}) {}

  visit(node: IConstruct): void {
    const error = (message: string) => Annotations.of(node).addError(`security policy: ${message}`);
    if (node instanceof TerraformStack) this.checkWorkerIsolation(node);
    else if (node instanceof IamRolePolicy || node instanceof IamPolicy) {
      const policy = node.policyInput;
      if (policy === undefined) return;
      const document = readPolicy(policy);
      // The blueprint writes its policies as JSON at synth time; one built from tokens would slip past every rule.
      if (document === undefined) error('an IAM policy that is not plain JSON at synth time cannot be checked: build it with JSON.stringify');
      else for (const problem of iamPolicyProblems(document)) error(problem);
    } else if (node instanceof SqsQueue) {
      if (node.sqsManagedSseEnabledInput !== true && node.kmsMasterKeyIdInput === undefined) error('queue without encryption at rest (SSE-SQS or KMS)');
    } else if (node instanceof DynamodbTable) {
      // DynamoDB always encrypts; `enabled` makes it KMS (the AWS-managed key, or the blueprint's), auditable and revocable.
      if (node.serverSideEncryptionInput?.enabled !== true) error('DynamoDB table without KMS encryption at rest (server_side_encryption { enabled = true })');
      if (node.pointInTimeRecoveryInput?.enabled !== true) error('DynamoDB table without point-in-time recovery (point_in_time_recovery { enabled = true })');
    } else if (node instanceof CloudwatchLogGroup) {
      // 0 means "never expire" to CloudWatch.
      if (node.retentionInDaysInput === undefined || node.retentionInDaysInput === 0) error('log group without a retention period');
    } else if (node instanceof Subnet) {
      if (node.mapPublicIpOnLaunchInput === true && node.node.id.startsWith('private')) error('a private subnet maps public IPs');
    }
  }

  /** Needs every worker role at once, so it runs when the stack itself is visited, over the stack's policies. */
  private checkWorkerIsolation(stack: TerraformStack): void {
    const roles = stack.node.findAll().flatMap((node) => {
      if (!(node instanceof IamRolePolicy) || node.policyInput === undefined) return [];
      // Each read of an attribute is a token of its own: resolved, one bucket's ARN is one `${aws_s3_bucket.….arn}`.
      const document = readPolicy(Tokenization.resolve(node.policyInput, { scope: stack, preparing: false, resolver: TOKEN_RESOLVER }) as string);
      const grants = document === undefined ? undefined : workerGrants(document);
      const group = Object.entries(this.options.fanoutGroups ?? {}).find(([, members]) => members.includes(node))?.[0];
      return grants === undefined ? [] : [{ node, name: node.node.path, grants, ...(group !== undefined ? { group } : {}) }];
    });
    for (const { name, problem } of workerIsolationProblems(roles)) {
      Annotations.of(roles.find((role) => role.name === name)!.node).addError(`security policy: ${problem}`);
    }
  }
}
