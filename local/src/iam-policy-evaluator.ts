/**
 * The part of IAM's policy evaluation that one role's identity policy needs, pure and without I/O, so the local S3
 * front can refuse what AWS would refuse: default deny, an explicit Deny wins over any Allow, `*` and `?` globs in
 * Action (case-insensitive) and Resource (case-sensitive), and the condition key `s3:prefix` under StringLike
 * (globs) and StringEquals (exact). A condition on a key the request does not carry never matches, as in IAM.
 *
 * Anything else (NotAction, NotResource, Principal, other operators or keys, policy variables) is not evaluated:
 * `assertSupportedPolicy` names it, and `evaluate` fails closed (an Allow it cannot read does not apply, a Deny it
 * cannot read does).
 */

/** Structurally what `infra/src/policies/worker-task-policy.ts` exports as `PolicyStatement`, read-only. */
export interface IamStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

/** What the request carries for condition keys; only `s3:prefix` (ListObjects' `prefix` parameter) so far. */
export interface RequestContext {
  readonly prefix?: string;
}

export type Decision =
  | { readonly allowed: true; readonly statement: number }
  | { readonly allowed: false; readonly reason: 'implicit-deny' }
  | { readonly allowed: false; readonly reason: 'explicit-deny'; readonly statement: number };

export class UnsupportedPolicyError extends Error {
  override readonly name = 'UnsupportedPolicyError';
}

const SUPPORTED_OPERATORS = new Set(['StringLike', 'StringEquals']);
const SUPPORTED_KEYS = new Set(['s3:prefix']);
const KNOWN_FIELDS = new Set(['Sid', 'Effect', 'Action', 'Resource', 'Condition']);

/** True when the statements allow `action` on `resourceArn` and no statement denies it. */
export function isAllowed(statements: readonly IamStatement[], action: string, resourceArn: string, context: RequestContext = {}): boolean {
  return evaluate(statements, action, resourceArn, context).allowed;
}

/** As `isAllowed`, with the statement (by index) that decided, for error messages and logs. */
export function evaluate(statements: readonly IamStatement[], action: string, resourceArn: string, context: RequestContext = {}): Decision {
  let allowedBy: number | undefined;
  for (let i = 0; i < statements.length; i++) {
    const statement = statements[i]!;
    const readable = problemsOf(statement).length === 0;
    if (statement.Effect === 'Deny') {
      // A Deny this evaluator cannot read applies: refusing too much is the safe side.
      if (!readable || applies(statement, action, resourceArn, context)) return { allowed: false, reason: 'explicit-deny', statement: i };
    } else if (readable && allowedBy === undefined && applies(statement, action, resourceArn, context)) {
      allowedBy = i;
    }
  }
  return allowedBy !== undefined ? { allowed: true, statement: allowedBy } : { allowed: false, reason: 'implicit-deny' };
}

/** Throws an `UnsupportedPolicyError` naming every statement part this evaluator would not read as IAM does. */
export function assertSupportedPolicy(statements: readonly IamStatement[]): void {
  const problems = statements.flatMap((statement, i) => problemsOf(statement).map((problem) => `statement ${statement.Sid ?? i}: ${problem}`));
  if (problems.length > 0) throw new UnsupportedPolicyError(`the IAM policy uses what the local evaluator does not support: ${problems.join('; ')}`);
}

function problemsOf(statement: IamStatement): string[] {
  const problems: string[] = [];
  for (const field of Object.keys(statement)) if (!KNOWN_FIELDS.has(field)) problems.push(`field ${field} is not supported`);
  if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') problems.push(`Effect must be Allow or Deny, got ${String(statement.Effect)}`);
  if (list(statement.Action).length === 0) problems.push('Action is empty');
  if (list(statement.Resource).length === 0) problems.push('Resource is empty');
  if (list(statement.Resource).some((value) => value.includes('${'))) problems.push('policy variables in Resource are not supported');
  for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
    if (!SUPPORTED_OPERATORS.has(operator)) {
      problems.push(`condition operator ${operator} is not supported (only ${[...SUPPORTED_OPERATORS].join(', ')})`);
      continue;
    }
    for (const [key, values] of Object.entries(block)) {
      if (!SUPPORTED_KEYS.has(key.toLowerCase())) problems.push(`condition key ${key} is not supported (only ${[...SUPPORTED_KEYS].join(', ')})`);
      if (list(values).some((value) => value.includes('${'))) problems.push(`policy variables in ${operator} ${key} are not supported`);
    }
  }
  return problems;
}

function applies(statement: IamStatement, action: string, resourceArn: string, context: RequestContext): boolean {
  return (
    list(statement.Action).some((pattern) => globMatches(pattern.toLowerCase(), action.toLowerCase())) &&
    list(statement.Resource).some((pattern) => globMatches(pattern, resourceArn)) &&
    conditionsHold(statement.Condition ?? {}, context)
  );
}

/** Every operator block holds, every key in a block holds, and a key holds when any of its values matches. */
function conditionsHold(condition: NonNullable<IamStatement['Condition']>, context: RequestContext): boolean {
  return Object.entries(condition).every(([operator, block]) =>
    Object.entries(block).every(([key, values]) => {
      const actual = contextValue(key, context);
      if (actual === undefined) return false;
      if (operator === 'StringEquals') return list(values).some((value) => value === actual);
      if (operator === 'StringLike') return list(values).some((value) => globMatches(value, actual));
      return false;
    }),
  );
}

function contextValue(key: string, context: RequestContext): string | undefined {
  // Condition key names are case-insensitive in IAM; their values are not.
  return key.toLowerCase() === 's3:prefix' ? context.prefix : undefined;
}

function list(value: string | readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : value;
}

const compiled = new Map<string, RegExp>();

/** IAM's wildcards: `*` any run of characters (`/` included, possibly none), `?` exactly one; nothing else is special. */
export function globMatches(pattern: string, value: string): boolean {
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    const body = Array.from(pattern, (char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
    regex = new RegExp(`^${body}$`, 'su');
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex.test(value);
}
