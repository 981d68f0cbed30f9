import type { IConstruct } from 'constructs';
import { Annotations, type IAspect } from 'cdktf';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { IamPolicy } from '@cdktf/provider-aws/lib/iam-policy';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { Subnet } from '@cdktf/provider-aws/lib/subnet';

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
    if (actions.some((a) => a.toLowerCase() === 'iam:passrole') && (resources.includes('*') || statement.Condition?.StringEquals?.['iam:PassedToService'] === undefined)) {
      problems.push('iam:PassRole must name the roles it passes and the service (iam:PassedToService) it passes them to');
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
 * IAM, encrypted queues, log groups that expire, subnets that hand out no public IPs. Whether a grant is one the code
 * needs is checked where the code can be read: infra/test/code-needs-policy.test.ts compares the worker's and the
 * scaler's roles with the AWS SDK commands their sources send, and infra/test/policy-wildcards.test.ts lists every
 * `*` in a policy resource with its reason.
 */
export class SecurityPolicyChecks implements IAspect {
  visit(node: IConstruct): void {
    const error = (message: string) => Annotations.of(node).addError(`security policy: ${message}`);
    if (node instanceof IamRolePolicy || node instanceof IamPolicy) {
      const policy = node.policyInput;
      if (policy === undefined) return;
      const document = readPolicy(policy);
      // The blueprint writes its policies as JSON at synth time; one built from tokens would slip past every rule.
      if (document === undefined) error('an IAM policy that is not plain JSON at synth time cannot be checked: build it with JSON.stringify');
      else for (const problem of iamPolicyProblems(document)) error(problem);
    } else if (node instanceof SqsQueue) {
      if (node.sqsManagedSseEnabledInput !== true && node.kmsMasterKeyIdInput === undefined) error('queue without encryption at rest (SSE-SQS or KMS)');
    } else if (node instanceof CloudwatchLogGroup) {
      // 0 means "never expire" to CloudWatch.
      if (node.retentionInDaysInput === undefined || node.retentionInDaysInput === 0) error('log group without a retention period');
    } else if (node instanceof Subnet) {
      if (node.mapPublicIpOnLaunchInput === true && node.node.id.startsWith('private')) error('a private subnet maps public IPs');
    }
  }
}
