import type { IConstruct } from 'constructs';
import { Annotations, type IAspect } from 'cdktf';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
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
  readonly Action: string | string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);

/** The problems of one IAM policy document against the blueprint's least-privilege rules; empty when it complies. */
export function iamPolicyProblems(document: { Statement: Statement[] }): string[] {
  const problems: string[] = [];
  for (const statement of document.Statement.filter((s) => s.Effect === 'Allow')) {
    const actions = list(statement.Action);
    const resources = list(statement.Resource);
    for (const action of actions.filter((a) => a === '*' || a.endsWith(':*'))) problems.push(`action "${action}" grants a whole service`);
    if (resources.includes('*')) {
      for (const action of actions.filter((a) => !(STAR_RESOURCE_ALLOWED[a]?.(statement.Condition) ?? false))) {
        problems.push(`"${action}" on resource "*": name the resources, or (where AWS allows nothing else) add the narrowing condition`);
      }
    }
    if (actions.includes('iam:PassRole') && (resources.includes('*') || statement.Condition?.StringEquals?.['iam:PassedToService'] === undefined)) {
      problems.push('iam:PassRole must name the roles it passes and the service (iam:PassedToService) it passes them to');
    }
  }
  return problems;
}

/**
 * Fails `cdktf synth` (an error annotation) when a change to the blueprint breaks its security rules: least-privilege
 * IAM, encrypted queues, log groups that expire, subnets that hand out no public IPs.
 */
export class SecurityPolicyChecks implements IAspect {
  visit(node: IConstruct): void {
    const error = (message: string) => Annotations.of(node).addError(`security policy: ${message}`);
    if (node instanceof IamRolePolicy) {
      const policy = node.policyInput;
      if (policy === undefined) return;
      for (const problem of iamPolicyProblems(JSON.parse(policy) as { Statement: Statement[] })) error(problem);
    } else if (node instanceof SqsQueue) {
      if (node.sqsManagedSseEnabledInput !== true && node.kmsMasterKeyIdInput === undefined) error('queue without encryption at rest (SSE-SQS or KMS)');
    } else if (node instanceof CloudwatchLogGroup) {
      if (node.retentionInDaysInput === undefined) error('log group without a retention period');
    } else if (node instanceof Subnet) {
      if (node.mapPublicIpOnLaunchInput === true && node.node.id.startsWith('private')) error('a private subnet maps public IPs');
    }
  }
}
