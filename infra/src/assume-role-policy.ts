/** The trust policy of a role that only the given AWS service may assume. */
export function assumableBy(service: string): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] });
}
